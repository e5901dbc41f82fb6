"""`smsetl serve` against a real local Prefect server: a scheduled run fires, syncs the sandbox and completes;
once the gateway stops, a run fails and the failure automation triggers.

Slow (a Prefect server with a fresh database, ~40 s here, then a scheduled run): one test. It is skipped, with
the reason, when the server does not start within its timeout."""

import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
from server_support import BIN, _stop, deployment_runs, failure_alerts, server_api, wait_until

from sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]


def test_a_served_schedule_fires_syncs_the_sandbox_and_alerts_when_the_gateway_goes(prefect_server, tmp_path):
    from sandbox import SANDBOX_API_KEY

    url, server_env = prefect_server
    data_dir, serve_log = tmp_path / "data", tmp_path / "serve.log"

    with open(serve_log, "w") as log:
        sandbox = SandboxProcess(seed=5, campaigns=5, messages=300, now=datetime(2026, 11, 1, 12, 0),
                                 timezone="Asia/Almaty", startup_timeout=60)
        env = {**server_env, "PREFECT_API_URL": url, "PREFECT_RUNNER_POLL_FREQUENCY": "2",
               "SMS_API_URL": sandbox.url, "SMS_API_KEY": SANDBOX_API_KEY, "SMS_TIMEZONE": "Asia/Almaty",
               "SMS_RATE_LIMIT": "none", "SMS_PII_KEY_FILE": str(tmp_path / "pii-key")}
        with sandbox:
            served = subprocess.Popen([str(BIN / "smsetl"), "serve", "--data-dir", str(data_dir), "--every-minutes",
                                       "0.25", "--nightly-at", "off", "--hourly-at-minute", "off", "--name", "test"],
                                      env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            try:
                completed = wait_until("no scheduled run completed", served, serve_log,
                                       lambda: deployment_runs(url, "COMPLETED"))
            except BaseException:
                _stop(served)
                raise
        try:  # the gateway is gone: the next scheduled run fails, and says so
            wait_until("no run failed once the gateway stopped", served, serve_log,
                       lambda: deployment_runs(url, "FAILED"))
            wait_until("the failure automation did not trigger", served, serve_log, lambda: failure_alerts(url))
        finally:
            _stop(served)

    run = completed[0]
    assert run["auto_scheduled"] and run["parameters"] == {"data_dir": str(data_dir), "scope": "frequent"}
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from sync_runs where outcome = 'success'").fetchone()[0] >= 1
        assert con.execute("select count(*) from campaign_metrics").fetchone()[0] > 0
    finally:
        con.close()
    logs = server_api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}})
    assert any(entry["name"] == "smsetl.sync" for entry in logs), "the sync's own log lines reach the run's logs"
    failed = deployment_runs(url, "FAILED")[0]
    logs = server_api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [failed["id"]]}}})
    assert any(e["name"] == "smsetl.alerts" and "last refreshed at" in e["message"] for e in logs)
    deployment = server_api(url, "/deployments/filter", {"deployments": {"name": {"any_": ["test"]}}})[0]
    assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert deployment["global_concurrency_limit"]["limit"] == 1
    names = {a["name"] for a in server_api(url, "/automations/filter")}
    assert {f"smsetl test ({data_dir}): {what}" for what in ("a sync failed", "mismatches persist",
                                                             "data is stale")} <= names
