"""A sync killed with SIGKILL leaves nothing half-done: the next run completes and the data is exact."""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox, assert_matches_truth

from sandbox import SANDBOX_API_KEY, Faults, Sandbox

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition never held")
        time.sleep(0.05)


@pytest.mark.parametrize("kill_when", ["extracting", "publishing"])
def test_a_sync_killed_mid_run_is_completed_exactly_by_the_next_run(prefect_harness, tmp_path, monkeypatch,
                                                                     kill_when):
    now = datetime.now(ZoneInfo(SANDBOX_TZ)).replace(microsecond=0, tzinfo=None)
    sb = Sandbox.generate(seed=41, campaigns=12, messages=3000, now=now, timezone=SANDBOX_TZ)
    data_dir = tmp_path / "data"
    # Slow pages stretch the extraction so that the kill lands inside it.
    faults = Faults(slow=0.5 if kill_when == "extracting" else 0.0, slow_seconds=0.1)
    with sb.serve(port=0, faults=faults) as server:
        env = {**os.environ, "SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY,
               "SMS_TIMEZONE": SANDBOX_TZ, "SMS_RATE_LIMIT": "none"}
        env.pop("PREFECT_API_URL", None)  # the child starts its own temporary server
        child = subprocess.Popen(
            [sys.executable, "-m", "smsetl.cli", "sync", "--data-dir", str(data_dir), "--since", "2020-01-01"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            if kill_when == "extracting":
                wait_for(lambda: any((data_dir / "staging").rglob("*.parquet")))
            else:
                wait_for(lambda: (data_dir / "lake" / "messages").exists())
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        assert not (data_dir / "warehouse.duckdb").exists() or kill_when == "publishing"

        server.set_faults(Faults())
        for name, value in {"SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY,
                            "SMS_TIMEZONE": SANDBOX_TZ, "SMS_RATE_LIMIT": "none"}.items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, data_dir)
        state.sync(since=state.as_of() - timedelta(days=3650))
        again = state.sync()
    assert_matches_truth(data_dir, sb.ground_truth(), sb)
    assert not list((data_dir / "lake").rglob("*.tmp"))  # every partition whole
    assert not [p for p in (data_dir / "staging").rglob("*") if p.is_file()]  # the killed run's staging is gone
    assert again["rows"].get("messages", {"added": 0, "changed": 0}) == {"added": 0, "changed": 0}
