"""`smsetl sync --accounts FILE` against three sandbox gateways, each its own account (seed, key, port): one
account's key is wrong. The good accounts sync as they would alone, the bad one fails with the gateway's code 8
and where its key comes from, the command exits non-zero naming it, and the combined warehouse holds each good
account's rows with its `account`.

Flow-level calls cost seconds: the module runs one multi-account sync (two account subflows) and one
single-account sync per good account to compare with, and every test reads what they left."""

import contextlib
import io
import os
from types import SimpleNamespace

import duckdb
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, dump

KEYS = {"acme": "acme" + "1" * 36, "beta": "beta" + "2" * 36, "gamma": "gamma" + "3" * 35}
SEEDS = {"acme": 31, "beta": 32, "gamma": 33}
SINCE = "2026-05-01"
@pytest.fixture(scope="module")
def agency(prefect_harness, tmp_path_factory):
    from flows.settings import activated, load
    from flows.sync import sync
    from sandbox import Faults, Sandbox
    from smsetl import cli

    root = tmp_path_factory.mktemp("agency")
    sandboxes = {}
    for name, seed in SEEDS.items():
        sandboxes[name] = Sandbox.generate(seed=seed, campaigns=6, messages=600, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
        sandboxes[name].api_key = KEYS[name]
    saved = dict(os.environ)
    with contextlib.ExitStack() as stack:
        # gamma also answers code 13 on a second port (a wrong domain): its account names that one.
        servers = {name: stack.enter_context(sb.serve(port=0, faults=Faults(wrong_port=name == "gamma")))
                   for name, sb in sandboxes.items()}
        (root / "agency.toml").write_text(f"""
[[account]]
name = "acme"
api_url = "{servers['acme'].url}"
key_env = "ACME_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
rate_limit = "none"

[[account]]
name = "beta"
api_url = "{servers['beta'].url}"
key_env = "BETA_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
rate_limit = "none"

[[account]]
name = "gamma"
api_url = "{servers['gamma'].wrong_url}"
key_env = "GAMMA_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
""")
        os.environ.update(ACME_SMS_API_KEY=KEYS["acme"], BETA_SMS_API_KEY="wrong" + "0" * 35,
                          GAMMA_SMS_API_KEY=KEYS["gamma"], SMS_RATE_LIMIT="none")  # gamma's rate limit: the env's
        os.environ.pop("SMS_API_KEY", None)
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(["sync", "--accounts", str(root / "agency.toml"), "--data-dir", str(root / "multi"),
                                 "--since", SINCE])
            singles = {}
            for name in ("acme", "gamma"):
                singles[name] = tmp_path_factory.mktemp(f"single-{name}")
                settings = load().with_flags(api_url=servers[name].url, api_key=KEYS[name], timezone=SANDBOX_TZ,
                                             rate_limit="none", data_dir=singles[name])
                with activated(settings):
                    sync(str(singles[name]), since=cli._date(SINCE))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        yield SimpleNamespace(root=root / "multi", code=code, out=out.getvalue(), err=err.getvalue(), singles=singles,
                              servers=servers)


def test_the_command_exits_non_zero_naming_the_bad_account_and_its_cause(agency):
    assert agency.code == 1
    assert "smsetl sync: 1 of 3 accounts failed: beta" in agency.err
    assert ("account 'beta': API code 8: login failed (User/GetOwnBalance): failed.api.auth; check the key in "
            "$BETA_SMS_API_KEY") in agency.err
    assert "acme: synced in" in agency.out and "gamma: synced in" in agency.out


def test_no_key_is_printed(agency):
    for key in [*KEYS.values(), "wrong" + "0" * 35]:
        assert key not in agency.out + agency.err


def test_the_bad_account_writes_nothing(agency):
    assert not (agency.root / "accounts" / "beta").exists()


def test_each_good_accounts_warehouse_equals_a_single_account_sync_of_its_gateway(agency):
    for name in ("acme", "gamma"):
        alone = dump(agency.singles[name] / "warehouse.duckdb")
        assert dump(agency.root / "accounts" / name / "warehouse.duckdb") == alone
        assert len(alone["messages"]) > 100  # something was synced


def test_each_account_keeps_its_own_state_beside_its_data(agency):
    for name in ("acme", "gamma"):
        held = {p.name for p in (agency.root / "accounts" / name).iterdir()}
        assert {"raw", "lake", "warehouse.duckdb", "pii.json", ".sync.lock"} <= held
    assert not (agency.root / "lake").exists() and not (agency.root / "raw").exists()


def test_the_combined_warehouse_says_which_accounts_it_holds_and_how_their_syncs_ended(agency):
    con = duckdb.connect(str(agency.root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select account, outcome, has_data, error, as_of is not null from accounts "
                           "order by 1").fetchall()
    finally:
        con.close()
    assert [r[:3] for r in rows] == [("acme", "success", True), ("beta", "failed", False),
                                     ("gamma", "success", True)]
    assert rows[1][3].startswith("account 'beta': API code 8") and rows[0][4] and not rows[1][4]


def test_every_combined_table_and_view_carries_the_account_and_each_accounts_rows_equal_its_own(agency):
    con = duckdb.connect(str(agency.root / "warehouse.duckdb"), read_only=True)
    try:
        first = con.execute("select table_name, column_name from information_schema.columns where table_schema = "
                            "'main' and ordinal_position = 1 and table_name <> 'accounts'").fetchall()
        per_account = dict(con.execute("select account, count(*) from campaign_metrics group by 1").fetchall())
    finally:
        con.close()
    assert len(first) > 20 and {column for _, column in first} == {"account"}
    assert set(per_account) == {"acme", "gamma"}
    for name in ("acme", "gamma"):
        own = dump(agency.root / "accounts" / name / "warehouse.duckdb")
        assert dump(agency.root / "warehouse.duckdb", account=name) == own
        assert per_account[name] == len(own["campaign_metrics"])


def test_metrics_on_the_top_level_directory_shows_every_account(agency, capsys):
    from smsetl import cli

    assert cli.main(["metrics", "--format", "csv", "--data-dir", str(agency.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("account,campaign_id,")
    accounts = [line.split(",")[0] for line in lines[1:]]
    assert accounts == sorted(accounts) and set(accounts) == {"acme", "gamma"}


def test_report_and_single_account_sync_on_the_top_level_directory_say_what_to_run(agency, capsys):
    from smsetl import cli

    assert cli.main(["report", "--data-dir", str(agency.root)]) == 2
    assert f"run `smsetl report --data-dir {agency.root / 'accounts' / 'acme'}`" in capsys.readouterr().err
    assert cli.main(["sync", "--data-dir", str(agency.root)]) == 2
    err = capsys.readouterr().err
    assert "is a multi-account data directory (accounts: acme, gamma)" in err and "--accounts FILE" in err


def test_build_on_the_top_level_directory_says_to_name_the_accounts_file_and_then_rebuilds_the_combined_one(
        agency, capsys):
    from smsetl import cli

    assert cli.main(["build", "--data-dir", str(agency.root)]) == 2
    assert "smsetl build --accounts FILE" in capsys.readouterr().err
    before = dump(agency.root / "warehouse.duckdb", account="acme")
    code = cli.main(["build", "--accounts", str(agency.root.parent / "agency.toml"), "--data-dir", str(agency.root)])
    out, err = capsys.readouterr()
    assert code == 1 and "account 'beta': no lake in" in err  # its first sync failed: nothing to build from
    assert "acme: warehouse rebuilt from" in out and "(last run: success)" in out
    assert dump(agency.root / "warehouse.duckdb", account="acme") == before
