"""Suite-wide settings: Prefect runs offline against a throwaway home; no test reaches the internet."""

import os
import tempfile

# Before anything imports prefect: a private, temporary Prefect home and no telemetry.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="smsetl-prefect-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


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


def _sandbox_env(monkeypatch_env: dict, url: str) -> None:
    from sandbox import SANDBOX_API_KEY

    monkeypatch_env.update(SMS_API_URL=url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                           SMS_RATE_LIMIT="none")


@pytest.fixture(scope="session")
def synced(prefect_harness, tmp_path_factory):
    """Full sync, then the clock advances two days and an incremental sync runs, then a sync with nothing new.

    `summaries[0]` is the backfill, `[1]` the incremental run, `[2]` the run with nothing changed; the
    ground truth of the sandbox is as of its clock after `[1]`."""
    from sandbox import Faults, Sandbox

    sb = Sandbox.generate(seed=11, campaigns=30, messages=3000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    saved = dict(os.environ)
    with sb.serve(port=0, faults=Faults()) as server:
        _sandbox_env(os.environ, server.url)
        state = SyncedSandbox(sb, server, tmp_path_factory.mktemp("synced") / "data")
        try:
            state.sync(since=SANDBOX_NOW.replace(tzinfo=ZoneInfo(SANDBOX_TZ)) - timedelta(days=120))
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
