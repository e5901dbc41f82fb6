"""Housekeeping (`smsetl housekeep`, `storage.housekeeping`): what killed runs leave is removed; compacting or
pruning the raw store leaves `rebuild` giving the same warehouse, and compacting makes it open fewer files."""

import os
import shutil
import signal
from datetime import UTC, datetime, timedelta

import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import dump_warehouse, run_cli, small_sandbox

from flows.rebuild import rebuild
from sandbox import SANDBOX_API_KEY, Faults
from storage import housekeeping, raw, snapshot
from storage.crashpoints import ENV

SEED = 29


@pytest.fixture(scope="module")
def synced_twice(prefect_harness, tmp_path_factory):
    """A data directory after a backfill and an incremental sync, and its warehouse, dumped."""
    sb = small_sandbox(SEED)
    saved = dict(os.environ)
    data_dir = tmp_path_factory.mktemp("synced") / "data"
    with sb.serve(port=0, faults=Faults()) as server:
        os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                          SMS_RATE_LIMIT="none")
        try:
            state = SyncedSandbox(sb, server, data_dir)
            state.sync(since=datetime(2020, 1, 1, tzinfo=UTC))
            sb.clock.advance(timedelta(hours=6))
            state.sync()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return data_dir, dump_warehouse(data_dir)


@pytest.fixture
def data_dir(synced_twice, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(synced_twice[0], copy)
    return copy


def files_rebuild_opens(data_dir, monkeypatch) -> int:
    """Raw files a rebuild replaying every run opens (raw's snapshot, which would spare it all, deleted)."""
    snapshot.discard(data_dir / "raw")
    opened = []
    original = raw._read_part
    monkeypatch.setattr(raw, "_read_part", lambda part: opened.append(part) or original(part))
    rebuild(data_dir)
    monkeypatch.undo()
    return len(opened)


def test_leftovers_of_a_killed_run_are_removed_and_whole_files_kept(data_dir):
    part = next((data_dir / "raw" / "messages").glob("run=*/*.jsonl.zst"))
    leftovers = [part.with_name("part-1-00009.jsonl.zst.tmp"), data_dir / "lake" / "links" / "data.parquet.tmp",
                 data_dir / "staging" / "20200101T000000000000Z-1" / "messages" / "part-1.parquet",
                 data_dir / "warehouse.duckdb.building"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    before = sorted(p for p in data_dir.rglob("*") if p.is_file() and p not in leftovers)
    removed = housekeeping.remove_leftovers(data_dir)
    assert len(removed) == 4
    assert not any(p.exists() for p in leftovers)
    assert sorted(p for p in data_dir.rglob("*") if p.is_file()) == before


def test_after_compacting_raw_rebuild_gives_the_same_warehouse_from_fewer_files(
        synced_twice, data_dir, monkeypatch, figures):
    opened_before = files_rebuild_opens(data_dir, monkeypatch)
    done = housekeeping.compact(data_dir / "raw")
    assert done.parts_after < done.parts_before
    opened_after = files_rebuild_opens(data_dir, monkeypatch)
    assert opened_after < opened_before
    assert dump_warehouse(data_dir) == synced_twice[1]
    figures["raw files a rebuild opens, before compaction"] = opened_before
    figures["raw files a rebuild opens, after compaction"] = opened_after


def test_a_compaction_killed_after_its_commit_point_is_finished_by_the_next_housekeep(synced_twice, data_dir, figures):
    env = {ENV: "housekeep.after_compacted_rename", "SMS_DATA_DIR": str(data_dir)}
    killed = run_cli("housekeep", "--compact", env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    figures["kill points tried"] += 1
    compacted = next((data_dir / "raw").glob(f"*/run=*/{raw.COMPACTED}"))
    assert len(list(compacted.parent.glob("*.jsonl.zst"))) > 1  # the parts it replaces are still there
    rebuild(data_dir)  # and are not read twice
    assert dump_warehouse(data_dir) == synced_twice[1]
    finished = run_cli("housekeep", "--compact", "--data-dir", str(data_dir), env={})
    assert finished.returncode == 0, finished.stderr
    assert all(len(list(d.glob("*.jsonl.zst"))) == 1 for d in (data_dir / "raw").glob("*/run=*"))


def test_pruning_deletes_only_what_no_rebuild_replays(synced_twice, data_dir):
    killed_run = "20200101T000000000000Z-1"  # an old run that recorded nothing: killed
    part = next((data_dir / "raw" / "messages").glob("run=*/*.jsonl.zst"))
    (data_dir / "raw" / "messages" / f"run={killed_run}").mkdir()
    shutil.copy(part, data_dir / "raw" / "messages" / f"run={killed_run}" / part.name)
    done = housekeeping.prune(data_dir / "raw", timedelta(days=30))
    assert done.runs_pruned == [killed_run]
    assert not (data_dir / "raw" / "messages" / f"run={killed_run}").exists()
    # Even when every run is older than the cutoff, completed runs are kept: the rebuild needs them all.
    later = housekeeping.prune(data_dir / "raw", timedelta(days=1), now=datetime.now(UTC) + timedelta(days=400))
    assert (later.runs_pruned, later.completed_runs_kept) == ([], 2)
    rebuild(data_dir)
    assert dump_warehouse(data_dir) == synced_twice[1]


def test_housekeep_on_a_directory_without_raw_names_the_fix(tmp_path):
    result = run_cli("housekeep", "--data-dir", str(tmp_path / "none"), env={})
    assert result.returncode == 2
    assert "run `smsetl sync` first" in result.stderr
