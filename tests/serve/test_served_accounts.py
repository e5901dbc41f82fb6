"""`smsetl serve --accounts FILE` against a real local Prefect server: a scheduled run of the `sync-accounts`
deployment fires, syncs two sandbox accounts and builds the combined warehouse with both; once one account's
gateway revokes its key, a run fails naming that account, and the failure automation triggers.

Slow (a Prefect server with a fresh database, then scheduled runs): one test, skipped with the reason when the
server does not start (test_served_schedule.py is the single-account one)."""

import contextlib
import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
from server_support import BIN, _stop, deployment_runs, failure_alerts, server_api, wait_until

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"east": "east" + "6" * 36, "west": "west" + "7" * 36}


def test_a_served_accounts_schedule_fires_combines_every_account_and_alerts_naming_a_failed_one(prefect_server,
                                                                                               tmp_path):
    from sandbox import Faults, Sandbox

    url, server_env = prefect_server
    data_dir, accounts, serve_log = tmp_path / "data", tmp_path / "agency.toml", tmp_path / "serve.log"

    with contextlib.ExitStack() as stack:
        sandboxes, servers = {}, {}
        for seed, name in enumerate(KEYS, start=51):  # in this process: the runs reach them over loopback
            sb = Sandbox.generate(seed=seed, campaigns=4, messages=240, now=datetime(2026, 11, 1, 12, 0),
                                  timezone="Asia/Almaty")
            sb.api_key = KEYS[name]
            sandboxes[name], servers[name] = sb, stack.enter_context(sb.serve(port=0, faults=Faults()))
        accounts.write_text("".join(f"""
[[account]]
name = "{name}"
api_url = "{server.url}"
key_env = "{name.upper()}_SMS_API_KEY"
timezone = "Asia/Almaty"
""" for name, server in servers.items()))
        env = {**server_env, "PREFECT_API_URL": url, "PREFECT_RUNNER_POLL_FREQUENCY": "2", "SMS_RATE_LIMIT": "none",
               "SMS_PII_KEY_FILE": str(tmp_path / "pii-key"),
               **{f"{name.upper()}_SMS_API_KEY": key for name, key in KEYS.items()}}
        env.pop("SMS_API_KEY", None)
        log = stack.enter_context(open(serve_log, "w"))
        served = subprocess.Popen([str(BIN / "smsetl"), "serve", "--accounts", str(accounts), "--data-dir",
                                   str(data_dir), "--every-minutes", "0.1", "--nightly-at", "off",
                                   "--hourly-at-minute", "off", "--name", "test"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        stack.callback(_stop, served)
        completed = wait_until("no scheduled run completed", served, serve_log,
                               lambda: deployment_runs(url, "COMPLETED"))
        sandboxes["west"].api_key = "revoked" + "0" * 33  # west's key no longer works: the next run fails, naming it
        wait_until("no run failed once a key was revoked", served, serve_log, lambda: deployment_runs(url, "FAILED"))
        wait_until("the failure automation did not trigger", served, serve_log, lambda: failure_alerts(url))

    run = completed[0]
    assert run["auto_scheduled"] and run["parameters"] == {"accounts_file": str(accounts), "data_dir": str(data_dir),
                                                           "scope": "frequent"}
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        per_account = con.execute("select account, count(*) from campaign_metrics group by 1 order by 1").fetchall()
        outcomes = con.execute("select account, outcome from accounts order by 1").fetchall()
    finally:
        con.close()
    assert [name for name, campaigns in per_account if campaigns > 0] == ["east", "west"]
    assert outcomes == [("east", "success"), ("west", "failed")]  # as of the failed run
    failed = deployment_runs(url, "FAILED")[0]
    assert "1 of 2 accounts failed: west: account 'west': API code 8" in failed["state"]["message"]
    assert "$WEST_SMS_API_KEY" in failed["state"]["message"]
    events = server_api(url, "/events/filter", {"filter": {"event": {"name": ["smsetl.sync.failed"]}}})["events"]
    ours = [e for e in events if e["resource"]["prefect.resource.id"] == f"smsetl.data-dir.{data_dir}"]
    assert ours and ours[0]["payload"]["accounts"] == ["west"]
    deployment = server_api(url, "/deployments/filter", {"deployments": {"name": {"any_": ["test"]}}})[0]
    assert deployment["entrypoint"].endswith("flows/accounts.py:sync_accounts")
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    names = {a["name"] for a in server_api(url, "/automations/filter")}
    assert {f"smsetl test ({data_dir}): {what}" for what in ("a sync failed", "mismatches persist",
                                                             "data is stale")} <= names
    text = serve_log.read_text() + str(server_api(url, "/deployments/filter"))
    for key in KEYS.values():
        assert key not in text
