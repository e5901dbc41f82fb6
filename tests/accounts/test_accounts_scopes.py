"""`smsetl sync --accounts FILE --scope S`: each account's sync runs with the scope, so the calls per method at each
account's gateway differ by scope as they do for one account (tests/flows/test_sync_scopes.py): a frequent run
reads statuses and clicks but not the campaign counters or the link click series; an hourly one reads those too.

Two sandbox gateways, each its own account and key, synced full, then frequent 30 minutes on, then hourly 10
minutes after that (three multi-account runs: one module-scoped fixture, the tests read what it left)."""

import contextlib
import io
import os
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import duckdb
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ

KEYS = {"east": "east" + "4" * 36, "north": "north" + "5" * 35}
SINCE = "2026-07-01"  # about 120 days before the sandboxes' clock, as the single-account scope test reads
RUNS = (("full", timedelta(seconds=6670)), ("frequent", timedelta(minutes=30)), ("hourly", timedelta(minutes=10)))


@pytest.fixture(scope="module")
def scoped(prefect_harness, tmp_path_factory):
    from sandbox import Faults, Sandbox
    from smsetl import cli

    root = tmp_path_factory.mktemp("scoped")
    saved = dict(os.environ)
    with contextlib.ExitStack() as stack:
        # Seed 65, as the single-account test: a campaign sent after the sandbox's now, whose links take clicks
        # within 30 minutes of 6,670 s on. Each account its own gateway and key.
        sandboxes = {name: Sandbox.generate(seed=65, campaigns=12, messages=1200, now=SANDBOX_NOW,
                                            timezone=SANDBOX_TZ) for name in KEYS}
        for name, sb in sandboxes.items():
            sb.api_key = KEYS[name]
        servers = {name: stack.enter_context(sb.serve(port=0, faults=Faults())) for name, sb in sandboxes.items()}
        (root / "agency.toml").write_text("".join(f"""
[[account]]
name = "{name}"
api_url = "{server.url}"
key_env = "{name.upper()}_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
""" for name, server in servers.items()))
        os.environ.update(SMS_RATE_LIMIT="none", **{f"{name.upper()}_SMS_API_KEY": key for name, key in KEYS.items()})
        os.environ.pop("SMS_API_KEY", None)
        calls, codes, err = {}, [], io.StringIO()
        try:
            for scope, advance in RUNS:
                for sb in sandboxes.values():
                    sb.clock.advance(advance)
                before = {name: Counter(server.calls()) for name, server in servers.items()}
                args = ["sync", "--accounts", str(root / "agency.toml"), "--data-dir", str(root / "data"),
                        "--scope", scope] + (["--since", SINCE] if scope == "full" else [])
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    codes.append(cli.main(args))
                calls[scope] = {name: Counter(server.calls()) - before[name] for name, server in servers.items()}
        finally:
            os.environ.clear()
            os.environ.update(saved)
        yield SimpleNamespace(root=root / "data", codes=codes, calls=calls, err=err.getvalue())


def test_every_scoped_multi_account_sync_succeeds(scoped):
    assert scoped.codes == [0, 0, 0], scoped.err[-2000:]


def test_a_frequent_run_skips_each_accounts_counters_and_click_series(scoped):
    for name in KEYS:
        full, frequent = scoped.calls["full"][name], scoped.calls["frequent"][name]
        assert full["Link/GetStats"] > 0 and full["Campaign/List"] > 1
        assert frequent["Message/List"] > 0 and frequent["Link/List"] == 1 and frequent["Campaign/List"] == 1
        assert frequent["Link/GetStats"] == 0 and frequent["Campaign/GetInfo"] == 0


def test_an_hourly_run_reads_each_accounts_counters_and_the_click_series_the_frequent_run_kept(scoped):
    for name in KEYS:
        hourly = scoped.calls["hourly"][name]
        assert hourly["Campaign/List"] > scoped.calls["frequent"][name]["Campaign/List"]
        assert hourly["Link/GetStats"] > 0


def test_each_accounts_runs_record_their_scope_in_the_combined_warehouse(scoped):
    con = duckdb.connect(str(scoped.root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select account, list(summary->>'scope' order by started_at) from sync_runs "
                           "group by 1 order by 1").fetchall()
    finally:
        con.close()
    assert rows == [(name, ["full", "frequent", "hourly"]) for name in sorted(KEYS)]


def test_a_bad_scope_is_refused_before_any_account_starts(tmp_path):
    from flows.accounts import sync_accounts

    with pytest.raises(ValueError, match="scope 'often' is not one of full, hourly, frequent"):
        sync_accounts.fn(str(tmp_path / "missing.toml"), str(tmp_path / "data"), scope="often")
    assert not (tmp_path / "data").exists()
