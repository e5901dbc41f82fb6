"""Suite-wide settings: Prefect runs offline against a throwaway home; no test reaches the internet."""

import os
import tempfile

# Before anything imports prefect: a private, temporary Prefect home and no telemetry.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="smsetl-prefect-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Recipients are hashed (the default mode) with a key made for this session, never the developer's own key.
for _name in ("SMS_PII", "SMS_PII_KEY"):
    os.environ.pop(_name, None)
os.environ["SMS_PII_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="smsetl-pii-"), "pii-key")


import shutil  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import pytest  # noqa: E402
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session: flow-level tests are few and share it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _sandbox_env(monkeypatch_env: dict, url: str, zone: str) -> None:
    from sandbox import SANDBOX_API_KEY

    monkeypatch_env.update(SMS_API_URL=url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=zone,
                           SMS_RATE_LIMIT="none")


# The end-to-end suite runs in the default account zone and in a DST zone whose history crosses a fall-back
# shift (Europe/Kyiv, 2026-10-25): the clock's two days after 2026-11-01 12:00 stay in winter time.
E2E_ZONES = {SANDBOX_TZ: SANDBOX_NOW, "Europe/Kyiv": SANDBOX_NOW}


@pytest.fixture(scope="session", params=list(E2E_ZONES))
def synced(request, prefect_harness, tmp_path_factory):
    """Full sync, then the clock advances two days and an incremental sync runs, then a sync with nothing new.

    `summaries[0]` is the backfill, `[1]` the incremental run, `[2]` the run with nothing changed; the
    ground truth of the sandbox is as of its clock after `[1]`."""
    from sandbox import Faults, Sandbox

    zone, now = request.param, E2E_ZONES[request.param]
    sb = Sandbox.generate(seed=11, campaigns=30, messages=3000, now=now, timezone=zone)
    saved = dict(os.environ)
    with sb.serve(port=0, faults=Faults()) as server:
        _sandbox_env(os.environ, server.url, zone)
        state = SyncedSandbox(sb, server, tmp_path_factory.mktemp("synced") / "data")
        try:
            state.sync(since=now.replace(tzinfo=ZoneInfo(zone)) - timedelta(days=120))
            state.truth_after_backfill = sb.ground_truth()
            sb.clock.advance(timedelta(days=2))
            state.sync()
            state.sync()
            yield state
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(scope="session")
def synced_warehouse(synced, tmp_path_factory) -> Path:
    """A copy of the synced warehouse file, for readers such as the notebooks."""
    target = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    shutil.copy(synced.data_dir / "warehouse.duckdb", target)
    return target
