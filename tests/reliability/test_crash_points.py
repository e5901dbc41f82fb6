"""A sync killed (SIGKILL) at any of its named crash points (`storage.crashpoints`) shows readers nothing partial,
and the next sync ends with the warehouse of a clean run, row by row, with nothing duplicated and no leftovers.

Each point: `smsetl sync` runs as a child process with `SMSETL_CRASH_AT` set and dies there; the test checks
what a reader can see at that moment, re-runs the sync in this process, and compares with a clean run made
once per module. The child shares the session's Prefect server (`PREFECT_API_URL`), so it pays no server
start-up: a point costs a few seconds.
"""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import ROOT, dump_warehouse, small_sandbox

from sandbox import SANDBOX_API_KEY, Faults
from storage.crashpoints import ENV
from transforms.schema import RUN_SUCCEEDED

SEED = 23
SINCE = datetime(2020, 1, 1, tzinfo=UTC)
# Tables and views about the runs themselves: how many runs there were differs by design between a clean run
# and a killed run plus its re-run (each run adds its rows; the second run is incremental).
RUN_TABLES = ("sync_run_entities", "sync_watermarks", "int_sync_as_of")

# In the order a first sync reaches them. `@n`: the n-th time the point is reached.
POINTS = [
    "sync.after_plan",
    "extract.page:campaigns",
    "sync.after_campaigns",
    "raw.after_rename:campaigns",
    "extract.page:messages",
    "extract.page:messages@3",
    "raw.before_rename:messages",
    "raw.after_rename:messages",
    "extract.page:links",
    "raw.after_rename:links",
    "extract.page:link_stats@2",
    "sync.after_extract",
    "staging.before_rename:messages",
    "staging.after_part:messages",
    "staging.after_part:links",
    "merge.after_table:campaign_counters",
    "merge.after_table:message_status_history",
    "lake.before_rename:messages",
    "merge.after_table:messages",
    "merge.after_table:link_click_stats",
    "merge.after_table:links",
    "lake.before_rename:campaigns",
    "sync.after_merge",
    "sync.after_run_raw",
    "merge.after_table:sync_runs",
    "merge.after_table:sync_watermarks",
    "sync.after_run_record",
    "warehouse.before_replace",
    "warehouse.after_replace",
    "sync.after_publish",
    "sync.after_unlock",
]


def data_tables(dump: dict) -> dict:
    return {name: rows for name, rows in dump.items() if name not in RUN_TABLES}


@pytest.fixture(scope="module")
def world(prefect_harness, tmp_path_factory):
    """The sandbox served for the whole module, the SMS_* settings in this process, and a clean run's warehouse."""
    sb = small_sandbox(SEED)
    saved = dict(os.environ)
    with sb.serve(port=0, faults=Faults()) as server:
        os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                          SMS_RATE_LIMIT="none")
        try:
            clean = tmp_path_factory.mktemp("clean") / "data"
            SyncedSandbox(sb, server, clean).sync(since=SINCE)
            yield sb, server, data_tables(dump_warehouse(clean))
        finally:
            os.environ.clear()
            os.environ.update(saved)


def sync_killed_at(point: str, data_dir, log_path) -> int:
    """`smsetl sync` in a child process armed to SIGKILL itself at `point`; returns its return code."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, ENV: point, "PREFECT_API_URL": PREFECT_API_URL.value()}
    with open(log_path, "wb") as log:
        child = subprocess.run(
            [sys.executable, "-m", "smsetl.cli", "sync", "--data-dir", str(data_dir), "--since", f"{SINCE:%Y-%m-%d}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    return child.returncode


def assert_readers_see_nothing_partial(data_dir, clean: dict) -> None:
    """What a reader opens is whole: every lake file named `*.parquet` reads in full, and the warehouse is
    either not published yet or is the clean run's, complete."""
    for path in (data_dir / "lake").rglob("*.parquet"):
        pq.read_table(path)  # a torn file would raise
    if (data_dir / "warehouse.duckdb").exists():
        assert data_tables(dump_warehouse(data_dir)) == clean, "the published warehouse holds part of a run"


def leftovers(data_dir) -> list[str]:
    names = [p for p in data_dir.rglob("*") if p.is_file() and (p.name.endswith((".tmp", ".building", ".wal"))
                                                                 or "staging" in p.relative_to(data_dir).parts)]
    return sorted(str(p.relative_to(data_dir)) for p in names)


@pytest.mark.parametrize("point", POINTS)
def test_a_sync_killed_at_a_crash_point_is_completed_exactly_by_the_next_run(world, tmp_path, figures, point):
    sb, server, clean = world
    data_dir = tmp_path / "data"
    returncode = sync_killed_at(point, data_dir, tmp_path / "child.log")
    assert returncode == -signal.SIGKILL, (
        f"the sync was not killed at {point} (return code {returncode}): is the point reached?\n"
        + (tmp_path / "child.log").read_text(errors="replace")[-3000:])
    figures["kill points tried"] += 1
    assert_readers_see_nothing_partial(data_dir, clean)

    summary = SyncedSandbox(sb, server, data_dir).sync(since=SINCE)
    assert summary["outcome"] == RUN_SUCCEEDED
    actual = data_tables(dump_warehouse(data_dir))
    assert actual.keys() == clean.keys()
    for table in clean:
        assert actual[table] == clean[table], f"killed at {point}: {table} differs from the clean run"
    assert leftovers(data_dir) == []


def run_python(code: str, crash_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV} | ({ENV: crash_at} if crash_at else {})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


REACHES_B_TWICE = ("from storage.crashpoints import crashpoint\n"
                   "for step in ('a', 'b', 'b', 'c'):\n"
                   "    crashpoint(step)\n"
                   "    print('passed', step, flush=True)\n")


def test_an_armed_crash_point_kills_the_process_the_nth_time_it_is_reached():
    child = run_python(REACHES_B_TWICE, "b@2")
    assert child.returncode == -signal.SIGKILL
    assert child.stdout.split("\n") == ["passed a", "passed b", ""]


def test_crash_points_do_nothing_when_none_or_another_is_armed():
    for armed in (None, "z", "b@3"):
        child = run_python(REACHES_B_TWICE, armed)
        assert (child.returncode, child.stdout.count("passed")) == (0, 4), armed


def test_a_malformed_crash_point_names_the_expected_form():
    child = run_python("import storage.crashpoints", "b@twice")
    assert child.returncode != 0
    assert "after '@' give the count" in child.stderr


def test_an_unarmed_crash_point_costs_well_under_a_microsecond():
    import timeit

    from storage import crashpoints

    assert crashpoints._target is None
    seconds = timeit.timeit(lambda: crashpoints.crashpoint("merge.after_table:messages"), number=100_000)
    assert seconds / 100_000 < 1e-6


def test_a_run_killed_while_adopting_a_killed_runs_parts_leaves_them_whole_for_the_next(world, tmp_path, figures):
    sb, server, clean = world
    data_dir = tmp_path / "data"
    for point in ("raw.after_rename:messages", "resume.after_adopt:messages"):
        assert sync_killed_at(point, data_dir, tmp_path / "child.log") == -signal.SIGKILL, point
        figures["kill points tried"] += 1
    summary = SyncedSandbox(sb, server, data_dir).sync(since=SINCE)
    assert summary["adopted_raw_parts"] >= 1
    assert data_tables(dump_warehouse(data_dir)) == clean
    assert leftovers(data_dir) == []
