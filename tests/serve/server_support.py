"""A real local Prefect server for the tests that need one: served schedules (a temporary server cannot
schedule) and Dask-run syncs (each Dask worker process would start a temporary server of its own)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.process import free_port

BIN = Path(sys.executable).parent
SERVER_TIMEOUT = 120  # seconds: a fresh database is migrated first
RUN_TIMEOUT = 90


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_prefect_server(tmp_path: Path):
    """`prefect server start` on a free loopback port with its own PREFECT_HOME; yields its API URL."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + SERVER_TIMEOUT
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _stop(process)
                    pytest.skip(f"the local Prefect server did not start within {SERVER_TIMEOUT} s (exit code "
                                f"{process.poll()}); its log: {(tmp_path / 'server.log').read_text()[-500:]}")
                time.sleep(0.5)
        yield url, env
    finally:
        _drain_prefect_workers()
        _stop(process)
        log.close()


def _drain_prefect_workers() -> None:
    """Send what this process's Prefect log and event workers hold for the server while it still runs (a test that
    ran flows in this process against it): left queued, they would retry the stopped server when the session's
    temporary server (`prefect_harness`) drains every worker at its teardown, which then never ends."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def server_api(url: str, path: str, body: dict | None = None):
    """POST `body` to the Prefect server's API route `path` (its filters are POSTs); the answer, decoded."""
    request = urllib.request.Request(url + path, data=json.dumps(body or {}).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def deployment_runs(url: str, state_type: str, deployment: str = "test") -> list:
    """The runs of the served deployment named `deployment` in state `state_type` (`COMPLETED`, `FAILED`, ...)."""
    found = server_api(url, "/flow_runs/filter", {"deployments": {"name": {"any_": [deployment]}}})
    return [r for r in found if r["state_type"] == state_type]


def failure_alerts(url: str) -> list:
    """The events of the "a sync failed" automation triggering (flows.serve.alert_automations)."""
    events = server_api(url, "/events/filter", {"filter": {"event": {"name": ["prefect.automation.triggered"]}}})
    return [e for e in events["events"] if e["resource"]["prefect.resource.name"].endswith("a sync failed")]


def wait_until(what: str, served: subprocess.Popen, log: Path, check):
    """Poll `check()` every 2 s until it returns something true; fail naming `what` after RUN_TIMEOUT."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and served.poll() is None:
        time.sleep(2)
        if found := check():
            return found
    pytest.fail(f"{what} within {RUN_TIMEOUT} s; `smsetl serve` said: {log.read_text()[-3000:]}")
