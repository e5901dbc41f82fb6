"""One typed settings object: the environment read when a command or run starts, the CLI's flags over it,
never written back into `os.environ`, and a bad value stopping the command at once with the variable's name."""

import os
from datetime import UTC, datetime

import pytest

from flows import privacy, settings
from flows.settings import SettingsError, activated, current, load
from flows.sync import WorkerPool
from smsetl import cli


def test_the_environment_is_read_when_asked_not_when_imported(monkeypatch):
    monkeypatch.setenv("SMSETL_WORKERS", "7")
    monkeypatch.setenv("SMS_TIMEZONE", "Europe/Kyiv")
    assert current().workers == 7 and current().timezone == "Europe/Kyiv"
    monkeypatch.setenv("SMSETL_WORKERS", "2")
    assert current().workers == 2


def test_flags_that_were_given_are_laid_over_the_environment_and_the_rest_stay(monkeypatch):
    monkeypatch.setenv("SMS_API_URL", "https://api.mobizon.kz")
    monkeypatch.setenv("SMS_TIMEZONE", "Asia/Almaty")
    flagged = load().with_flags(api_url="http://127.0.0.1:8700", timezone=None, pii="")
    assert flagged.api_url == "http://127.0.0.1:8700"
    assert flagged.timezone == "Asia/Almaty" and flagged.pii == ""


def test_a_bad_value_names_the_variable_and_what_it_must_be(monkeypatch):
    monkeypatch.setenv("SMSETL_WORKERS", "0")
    with pytest.raises(SettingsError, match=r"SMSETL_WORKERS='0'.*greater than or equal to 1"):
        load()
    monkeypatch.setenv("SMSETL_WORKERS", "4")
    with pytest.raises(SettingsError, match=r"SMSETL_WORKERS='many'.*valid integer"):
        load().with_flags(workers="many")


def test_secrets_are_hidden_wherever_the_settings_are_shown(monkeypatch):
    monkeypatch.setenv("SMS_API_KEY", "k" * 40)
    monkeypatch.setenv("SMS_PII_KEY", "p" * 40)
    shown = repr(load()) + str(load()) + str(load().model_dump())
    assert "k" * 40 not in shown and "p" * 40 not in shown
    assert load().client_env()["SMS_API_KEY"] == "k" * 40  # what the client is built from


def test_the_command_runs_with_its_flags_and_leaves_the_environment_alone(monkeypatch, tmp_path):
    for name in ("SMS_API_URL", "SMS_TIMEZONE", "SMS_PII", "SMS_DATA_DIR", "SMS_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    seen = {}

    def fake_sync(args):
        seen.update(settings=current(), data_dir=cli.data_dir_from(args), pii=privacy.mode_from_env())
        return 0

    monkeypatch.setattr(cli, "cmd_sync", fake_sync)
    assert cli.main(["sync", "--api-url", "http://gw.test", "--timezone", "Europe/Kyiv", "--rate-limit", "3",
                     "--pii", "drop", "--data-dir", str(tmp_path / "d")]) == 0
    got = seen["settings"]
    assert (got.api_url, got.timezone, got.rate_limit) == ("http://gw.test", "Europe/Kyiv", "3")
    assert seen["data_dir"] == tmp_path / "d" and seen["pii"] == ("drop", True)
    assert not {"SMS_API_URL", "SMS_TIMEZONE", "SMS_PII", "SMS_DATA_DIR", "SMS_RATE_LIMIT"} & set(os.environ)
    assert current().api_url == ""  # the flags lived as long as the command


def test_a_bad_setting_stops_the_command_before_it_writes_anything(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SMSETL_WORKERS", "lots")
    data_dir = tmp_path / "data"
    assert cli.main(["rebuild", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "smsetl rebuild: SMSETL_WORKERS='lots'" in err and "README" in err
    assert not data_dir.exists()


def test_the_sync_threads_are_as_many_as_the_settings_say_when_the_run_starts():
    runner = WorkerPool()
    for workers in (3, 5):
        with activated(load(workers=workers)):
            with runner.duplicate() as pool:
                assert pool._executor._max_workers == workers


def test_the_lake_works_within_the_memory_the_settings_give(tmp_path):
    from flows.steps import RunContext

    with activated(load(duckdb_memory="300MB")):
        run = RunContext(tmp_path, "r1", datetime(2026, 1, 1, tzinfo=UTC), "Asia/Almaty")
        lake = run.lake
    assert lake.memory_limit == "300MB"
    con = lake.connect()
    try:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert limit.startswith("286") or limit.startswith("300")  # DuckDB shows it in MiB


def test_activated_settings_are_restored_after_use():
    outer, inner = load(workers=2), load(workers=9)
    with activated(outer):
        with activated(inner):
            assert current().workers == 9
        assert current().workers == 2
    assert settings._active.get() is None


def test_the_sandbox_rate_limit_flag_is_the_emulators_fault_not_the_clients_setting(monkeypatch):
    import sandbox.cli

    seen = {}
    monkeypatch.setattr(sandbox.cli, "run", lambda args: seen.update(limit=args.rate_limit, client=current()) or 0)
    monkeypatch.delenv("SMS_RATE_LIMIT", raising=False)
    assert cli.main(["sandbox", "--rate-limit", "5"]) == 0
    assert seen["limit"] == 5.0 and seen["client"].rate_limit == ""
