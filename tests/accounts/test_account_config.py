"""The accounts file: what a good one gives, and that every mistake is named with its line and its fix."""

import threading

import pytest

from flows import account_config
from flows.account_config import Account, AccountConfigError, parse

GOOD = """\
# two accounts of an agency
[[account]]
name = "acme"
api_url = "https://api.mobizon.kz/"
key_env = "ACME_SMS_API_KEY"
timezone = "Asia/Almaty"
rate_limit = 5

[[account]]
name = "beta-2"
domain = "api.mobizon.uz"
key_secret_block = "beta-sms-key"
timezone = "Asia/Tashkent"
"""


def problems(text: str) -> str:
    with pytest.raises(AccountConfigError) as caught:
        parse(text, "agency.toml")
    return str(caught.value)


def test_a_good_file_gives_each_account_its_url_key_source_zone_and_rate_limit():
    acme, beta = parse(GOOD)
    assert acme == Account(name="acme", api_url="https://api.mobizon.kz", timezone="Asia/Almaty",
                           key_env="ACME_SMS_API_KEY", rate_limit="5")
    assert beta == Account(name="beta-2", api_url="https://api.mobizon.uz", timezone="Asia/Tashkent",
                           key_secret_block="beta-sms-key")
    assert acme.key_source == "$ACME_SMS_API_KEY" and beta.key_source == "Prefect Secret block 'beta-sms-key'"


def test_a_toml_syntax_error_names_the_file_and_line():
    message = problems(GOOD.replace('timezone = "Asia/Tashkent"', 'timezone = Asia/Tashkent'))
    assert message.startswith("agency.toml:13: not valid TOML")


def test_each_problem_is_reported_with_its_line_account_and_fix():
    text = GOOD.replace('name = "beta-2"', 'name = "Beta 2"').replace('"Asia/Almaty"', '"Asia/Almty"')
    text = text.replace('rate_limit = 5', 'rate_limit = "fast"')
    lines = problems(text).splitlines()
    assert lines == [
        "agency.toml:6: account 'acme': timezone 'Asia/Almty' is not an IANA time zone: use one like "
        "\"Asia/Almaty\" (python -c 'import zoneinfo; print(zoneinfo.available_timezones())')",
        "agency.toml:7: account 'acme': rate_limit 'fast' is not a positive number: use the most calls per second "
        "per method (e.g. 5), \"auto\" (learn the gateway's limit) or \"none\"",
        "agency.toml:10: account 'Beta 2': name 'Beta 2' may hold only lower-case letters, digits, _ and - (64 at "
        "most): it names the account's data directory and its rows",
    ]


def test_a_duplicate_name_is_refused():
    message = problems(GOOD.replace('"beta-2"', '"acme"'))
    assert "agency.toml:10: account 'acme': name 'acme' is also account #1's" in message


def test_url_and_domain_are_one_or_the_other_and_well_formed():
    assert "give exactly one of api_url" in problems(GOOD.replace('domain = "api.mobizon.uz"\n', ""))
    both = GOOD.replace('domain = "api.mobizon.uz"', 'domain = "api.mobizon.uz"\napi_url = "https://x"')
    assert "agency.toml:11: account 'beta-2': give exactly one of api_url" in problems(both)
    assert "write it bare" in problems(GOOD.replace('"api.mobizon.uz"', '"https://api.mobizon.uz"'))
    assert "is not an http(s) URL" in problems(GOOD.replace('"https://api.mobizon.kz/"', '"ftp://api.mobizon.kz"'))


def test_a_key_written_into_the_file_is_refused_without_echoing_it():
    secret = "s3cr3t-key-value-123456"
    message = problems(GOOD.replace('key_env = "ACME_SMS_API_KEY"', f'api_key = "{secret}"'))
    assert secret not in message
    assert "agency.toml:5: account 'acme': unknown field 'api_key': keys are never kept in the accounts file" in message
    assert "give exactly one of key_env" in message  # and it still needs a key source


def test_a_key_source_must_be_a_variable_or_block_name_not_a_key():
    message = problems(GOOD.replace('"ACME_SMS_API_KEY"', '"abc-123:XYZ"'))
    assert "key_env 'abc-123:XYZ' is not an environment variable's name" in message
    assert "give exactly one of key_env" in problems(GOOD.replace('key_secret_block = "beta-sms-key"\n', ""))


def test_missing_fields_wrong_types_and_unknown_keys_are_named():
    assert "timezone is missing" in problems(GOOD.replace('timezone = "Asia/Tashkent"\n', ""))
    assert "name is missing" in problems(GOOD.replace('name = "acme"\n', ""))
    assert "agency.toml:4: account 'acme': api_url must be a string" in problems(
        GOOD.replace('"https://api.mobizon.kz/"', "42"))
    assert "unknown field 'time_zone'" in problems(GOOD.replace("timezone = \"Asia/Tashkent\"",
                                                                "time_zone = \"Asia/Tashkent\""))
    assert "agency.toml:1: unknown top-level key 'workers'" in problems("workers = 3\n" + GOOD)
    assert "no accounts" in problems("# nothing yet\n")
    assert "reserved" in problems(GOOD.replace('"beta-2"', '"main"'))


def test_a_missing_file_says_to_write_one(tmp_path):
    with pytest.raises(AccountConfigError, match="no such accounts file"):
        account_config.load(tmp_path / "absent.toml")


def test_an_accounts_key_comes_from_its_variable_and_a_missing_one_names_it(monkeypatch):
    acme = parse(GOOD)[0]
    monkeypatch.setenv("ACME_SMS_API_KEY", "k" * 40)
    assert account_config.resolve_key(acme) == "k" * 40
    monkeypatch.delenv("ACME_SMS_API_KEY")
    with pytest.raises(AccountConfigError, match="ACME_SMS_API_KEY is not set: export ACME_SMS_API_KEY="):
        account_config.resolve_key(acme)


def test_each_accounts_settings_hold_in_its_own_thread(tmp_path, monkeypatch):
    from flows.accounts import account_settings
    from flows.settings import activated, current, load

    monkeypatch.setenv("ACME_SMS_API_KEY", "a" * 40)
    monkeypatch.setenv("OTHER_KEY", "b" * 40)
    acme = parse(GOOD)[0]
    other = Account(name="other", api_url="http://127.0.0.1:1", timezone="Europe/Kyiv", key_env="OTHER_KEY")
    seen, barrier = {}, threading.Barrier(2)

    def run(account):
        with activated(account_settings(load(), account, tmp_path)):
            barrier.wait()  # both are active at once
            s = current()
            seen[account.name] = (s.api_url, s.api_key.get_secret_value(), s.timezone, s.rate_limit, s.data_dir)

    threads = [threading.Thread(target=run, args=(a,)) for a in (acme, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["acme"] == ("https://api.mobizon.kz", "a" * 40, "Asia/Almaty", "5", tmp_path / "accounts" / "acme")
    assert seen["other"][:3] == ("http://127.0.0.1:1", "b" * 40, "Europe/Kyiv")
    assert seen["other"][4] == tmp_path / "accounts" / "other"
