"""The scheduled deployment, prefect.yaml, the missing-server error and the alerts, as plain functions."""

import http.server
import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import duckdb
import pytest
import yaml

from flows import alerts, serve

ROOT = Path(__file__).resolve().parents[2]


def test_default_deployment_syncs_statuses_every_10_minutes_counters_hourly_and_all_nightly_without_overlap():
    spec = serve.deployment_spec("/data")
    assert spec["entrypoint"] == "flows/sync.py:sync"
    assert spec["parameters"] == {"data_dir": "/data"}
    frequent, hourly, nightly = spec["schedules"]
    assert (frequent["interval"], frequent["parameters"]) == (600, {"scope": "frequent"})
    assert (hourly["cron"], hourly["timezone"], hourly["parameters"]) == ("30 * * * *", "UTC", {"scope": "hourly"})
    assert (nightly["cron"], nightly["timezone"], nightly["parameters"]) == ("0 3 * * *", "UTC", {"scope": "full"})
    assert [s["slug"] for s in spec["schedules"]] == ["every-10-minutes", "hourly", "nightly"]
    assert spec["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_schedules_are_overridable_and_the_hourly_and_nightly_runs_can_be_dropped():
    spec = serve.deployment_spec("/data", every_minutes=2.5, nightly_at="23:45", name="acme", hourly_at_minute=5)
    assert spec["name"] == "acme"
    assert spec["schedules"][0] == {"interval": 150, "slug": "every-150-seconds", "active": True,
                                    "parameters": {"scope": "frequent"}}
    assert spec["schedules"][1]["cron"] == "5 * * * *" and spec["schedules"][2]["cron"] == "45 23 * * *"
    alone = serve.deployment_spec("/data", nightly_at=None, hourly_at_minute=None)["schedules"]
    assert [s["parameters"]["scope"] for s in alone] == ["frequent"]


def test_every_scope_a_schedule_names_is_one_the_sync_takes():
    from flows.steps import SCOPES

    assert {s["parameters"]["scope"] for s in serve.deployment_spec("/data")["schedules"]} == set(SCOPES)


def test_the_scopes_smsetl_sync_offers_are_the_ones_the_sync_takes():
    import argparse

    from flows.steps import SCOPES
    from smsetl.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    [scope] = [a for a in commands["sync"]._actions if "--scope" in a.option_strings]
    assert tuple(scope.choices) == SCOPES and scope.default == SCOPES[0] == "full"


@pytest.mark.parametrize("text, minute", [("0", 0), ("59", 59), ("off", None), (None, None)])
def test_the_hourly_minute_is_a_minute_past_the_hour_or_off(text, minute):
    assert serve.hourly_minute(text) == minute


@pytest.mark.parametrize("text", ["60", "half", "-1"])
def test_a_bad_hourly_minute_is_refused_with_the_fix(text):
    with pytest.raises(serve.ServeError, match="--hourly-at-minute.*0 to 59"):
        serve.hourly_minute(text)


@pytest.mark.parametrize("kwargs, text", [({"every_minutes": 0}, "--every-minutes"),
                                          ({"nightly_at": "25:00"}, "HH:MM"), ({"nightly_at": "3am"}, "HH:MM")])
def test_bad_schedule_flags_are_refused_with_the_fix(kwargs, text):
    with pytest.raises(serve.ServeError, match=text):
        serve.deployment_spec("/data", **kwargs)


def test_served_deployment_has_the_specs_schedules_parameters_and_concurrency_limit():
    spec = serve.deployment_spec("/data", every_minutes=10, nightly_at="03:00")
    deployment = serve.to_deployment(spec)
    assert deployment.name == "scheduled" and deployment.parameters == {"data_dir": "/data"}
    interval, hourly, nightly = (s.schedule for s in deployment.schedules)
    assert interval.interval == timedelta(minutes=10) and hourly.cron == "30 * * * *" and nightly.cron == "0 3 * * *"
    assert [s.slug for s in deployment.schedules] == ["every-10-minutes", "hourly", "nightly"]
    assert [s.parameters for s in deployment.schedules] == [{"scope": "frequent"}, {"scope": "hourly"},
                                                            {"scope": "full"}]
    assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
    assert deployment.concurrency_limit == 1


def test_prefect_yaml_declares_the_same_deployments_as_smsetl_serve_and_serve_accounts():
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    single, accounts = declared["deployments"]
    for deployment, spec in ((single, serve.deployment_spec("data")),
                             (accounts, serve.deployment_spec("data", accounts_file="agency.toml"))):
        work_pool = deployment.pop("work_pool")
        assert deployment == spec
        assert work_pool["job_variables"]["env"]["PREFECT_LOGGING_EXTRA_LOGGERS"] == serve.EXTRA_LOGGERS


def test_no_prefect_server_configured_names_the_command_that_starts_one():
    with pytest.raises(serve.ServeError) as info:
        serve.check_server("")
    message = str(info.value)
    assert "PREFECT_API_URL is not set" in message
    assert "prefect server start" in message and "export PREFECT_API_URL=http://127.0.0.1:4200/api" in message


def test_a_prefect_server_that_does_not_answer_is_named_with_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(serve.ServeError, match=rf"no Prefect server answers at PREFECT_API_URL=http://127.0.0.1:"
                                               rf"{port}/api.*prefect server start"):
        serve.check_server(f"http://127.0.0.1:{port}/api", timeout=2)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args):
        pass


def test_a_server_that_answers_health_is_accepted_and_a_wrong_path_is_not():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert serve.check_server(url + "/api") == url + "/api"
        with pytest.raises(serve.ServeError, match="HTTP 404: check the URL ends in /api"):
            serve.check_server(url)
    finally:
        server.shutdown()


def test_served_runs_send_the_pipelines_loggers_to_the_run_logs_at_info(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_LOGGING_EXTRA_LOGGERS", raising=False)
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH", raising=False)
    env = serve.run_environment(tmp_path)
    assert env["PREFECT_LOGGING_EXTRA_LOGGERS"] == "smsetl,flows,smsapi,storage"
    config = yaml.safe_load(Path(env["PREFECT_LOGGING_SETTINGS_PATH"]).read_text())
    assert config["loggers"]["smsetl"] == {"level": "INFO"}
    assert config["loggers"]["prefect.extra"]["handlers"] == ["api"]  # Prefect's own config kept
    monkeypatch.setenv("PREFECT_LOGGING_EXTRA_LOGGERS", "mine")
    assert "PREFECT_LOGGING_EXTRA_LOGGERS" not in serve.run_environment(tmp_path)  # the user's setting wins


def test_alert_automations_cover_failures_persistent_mismatches_and_stale_data():
    deployment_id = uuid4()
    spec = serve.deployment_spec("/data", every_minutes=10)
    failed, mismatches, stale = serve.alert_automations(deployment_id, spec, Path("/data"))
    ours = f"prefect.deployment.{deployment_id}"
    assert failed.trigger.expect == {alerts.FAILED_EVENT}
    assert failed.trigger.match["prefect.resource.id"] == ["smsetl.data-dir./data"]
    assert mismatches.trigger.expect == {alerts.MISMATCH_EVENT}
    assert mismatches.trigger.match["prefect.resource.id"] == ["smsetl.data-dir./data"]
    assert stale.trigger.posture == "Proactive" and stale.trigger.expect == {"prefect.flow-run.Completed"}
    assert stale.trigger.match_related["prefect.resource.id"] == [ours]
    assert stale.trigger.within == timedelta(minutes=20)  # twice the interval
    assert {a.actions[0].type for a in (failed, mismatches, stale)} == {"do-nothing"}
    block = uuid4()
    notified = serve.alert_automations(deployment_id, spec, Path("/data"), notify_block_id=block)
    assert {(a.actions[0].type, a.actions[0].block_document_id) for a in notified} == {("send-notification", block)}


def test_only_mismatches_a_re_read_could_not_repair_are_reported(monkeypatch, caplog):
    emitted = []
    monkeypatch.setattr(alerts, "_emit", lambda event, data_dir, payload: emitted.append((event, payload)))
    summary = {"run_id": "r1", "reconciliation_mismatches": {
        "7": {"action": "reported", "differences": {"DELIVRD": -2}}, "8": {"action": "frozen"},
        "9": {"action": "wait"}, "10": {"action": "full"}}}
    with caplog.at_level(logging.WARNING, logger="smsetl.alerts"):
        assert list(alerts.report_mismatches(Path("/data"), summary)) == ["7"]
    assert "1 campaigns still disagree" in caplog.text and "reconciliation" in caplog.text
    assert emitted == [(alerts.MISMATCH_EVENT, {"run_id": "r1", "campaign_ids": ["7"],
                                                "mismatches": {"7": {"DELIVRD": -2}}})]
    emitted.clear()
    assert alerts.report_mismatches(Path("/data"), {"reconciliation_mismatches": {"8": {"action": "frozen"}}}) == {}
    assert emitted == []


class _Lake:
    def __init__(self, ended):
        self.ended = ended

    def connect(self):
        con = duckdb.connect()
        con.execute("create table sync_runs (outcome varchar, ended_at timestamptz)")
        con.executemany("insert into sync_runs values (?, ?)", [("success", self.ended), ("failed", None)])
        return con


def test_a_failed_run_says_how_old_the_data_is(monkeypatch, caplog):
    emitted = []
    monkeypatch.setattr(alerts, "_emit", lambda event, data_dir, payload: emitted.append((event, payload)))
    ended = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with caplog.at_level(logging.ERROR, logger="smsetl.alerts"):
        alerts.report_failure(Path("/data"), _Lake(ended), now=ended + timedelta(minutes=45))
    assert "last refreshed at 2026-12-01T10:00:00+00:00 (45 minutes ago)" in caplog.text
    assert emitted == [(alerts.FAILED_EVENT, {"last_success": "2026-12-01T10:00:00+00:00", "age_seconds": 2700})]


def test_a_lake_that_cannot_be_read_does_not_hide_the_runs_own_error(caplog):
    class Broken:
        def connect(self):
            raise OSError("disk gone")

    alerts.report_failure(Path("/data"), Broken())  # must not raise
    assert "could not tell how old the data" in caplog.text


def test_smsetl_serve_without_a_prefect_server_says_what_is_missing(monkeypatch, capsys):
    from prefect.settings import PREFECT_API_URL

    from smsetl.cli import main

    if PREFECT_API_URL.value():
        pytest.skip("PREFECT_API_URL is set in this environment")
    assert main(["serve", "--data-dir", "/nonexistent-smsetl-data"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smsetl serve: no Prefect server: PREFECT_API_URL is not set")
    assert "prefect server start" in err
