"""Folding raw into its snapshot (`flows.rebuild.fold`, `storage.snapshot`): a rebuild's cost stays flat in the
number of past runs, and gives the same warehouse, row by row, as replaying every run and as the live syncs.

One module fixture syncs a small sandbox 12 times (a backfill, then incremental runs with the clock moving, so
later runs carry status updates for messages earlier runs hold, and three fold webhook delivery reports),
folding automatically every 4 runs; copies after runs 4, 10 and 12 are kept with their live warehouses."""

import os
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import duckdb
import orjson
import pyarrow as pa
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox
from reliability_support import dump_warehouse, run_cli

from flows import rebuild as rebuild_module
from flows.rebuild import rebuild
from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from storage import housekeeping, raw, snapshot
from storage.crashpoints import ENV
from storage.lake import Lake
from webhooks.store import EventStore

SEED = 31
KEPT = (4, 10, 12)
WEBHOOK_BEFORE = (3, 6, 9)  # delivery reports stored by the receiver before these syncs


@pytest.fixture(scope="module")
def synced(prefect_harness, tmp_path_factory):
    """{runs: (data directory, its live warehouse dumped)} after 4, 10 and 12 syncs."""
    # more campaigns than small_sandbox's 8, so that some start while synced: later runs update earlier messages
    sb = Sandbox.generate(seed=SEED, campaigns=24, messages=1200, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("fold")
    data_dir = root / "data"
    kept = {}
    with sb.serve(port=0, faults=Faults()) as server, mock.patch.object(rebuild_module, "FOLD_EVERY", 4):
        os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                          SMS_RATE_LIMIT="none")
        try:
            state = SyncedSandbox(sb, server, data_dir)
            for number in range(1, max(KEPT) + 1):
                if number in WEBHOOK_BEFORE:
                    store_delivery_reports(data_dir, sb, number)
                state.sync(since=datetime(2020, 1, 1, tzinfo=UTC) if number == 1 else None)
                if number in KEPT:
                    shutil.copytree(data_dir, root / f"after-{number}")
                    kept[number] = (root / f"after-{number}", dump_warehouse(data_dir))
                sb.clock.advance(timedelta(hours=7))
        finally:
            os.environ.clear()
            os.environ.update(saved)
    folded_events = list((data_dir / "raw" / "webhook_events").glob("run=*"))
    assert len(folded_events) >= 2, "webhook events were folded by fewer than two runs: nothing to order"
    changed = [s["rows"].get("messages", {}).get("changed", 0) for s in state.summaries[1:]]
    assert sum(changed) > 0, "no incremental run changed a message's status: nothing for the fold to order"
    return kept


def store_delivery_reports(data_dir, sb, number: int) -> None:
    """Delivery reports as the webhook receiver stores them: EXPIRED for a few messages the warehouse holds
    as not final, and one for a message the next runs have not read yet (folded once a later run reads it)."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        pending = [r[0] for r in con.execute(
            "select message_id from messages where not is_final order by message_id limit 3").fetchall()]
        (newest,) = con.execute("select max(message_id) from messages").fetchone()
    finally:
        con.close()
    store = EventStore(data_dir)
    try:
        for n, message_id in enumerate([*pending, newest + 40]):
            store.put({"eventId": f"{number}-{n}", "eventType": "sms-delivery-report", "attempt": 1,
                       "eventCreateTs": sb.fmt(sb.clock.ts), "data": {"messageId": str(message_id),
                                                                      "status": "EXPIRED", "segNum": "1",
                                                                      "statusUpdateTs": sb.fmt(sb.clock.ts)}})
    finally:
        store.close()


@pytest.fixture
def copy_of(synced, tmp_path):
    made = iter(range(100))

    def copy(runs: int):
        target = tmp_path / f"data-{runs}-{next(made)}"
        shutil.copytree(synced[runs][0], target)
        return target
    return copy


def measured_rebuild(data_dir, monkeypatch) -> dict:
    """Rebuild, counting its work: raw files opened, runs merged into the lake, seconds."""
    opened, merged = [], []
    read_part, merge_run = raw._read_part, Lake.merge_run
    monkeypatch.setattr(raw, "_read_part", lambda part: opened.append(part) or read_part(part))
    monkeypatch.setattr(Lake, "merge_run", lambda self, staging, run_id: merged.append(run_id) or merge_run(
        self, staging, run_id))
    started = time.perf_counter()
    done = rebuild(data_dir)
    seconds = time.perf_counter() - started
    monkeypatch.undo()
    return {"files": len(opened), "runs merged": len(set(merged)), "seconds": seconds, "folded": done.folded}


def test_a_sync_folds_every_few_runs_and_the_rebuild_from_the_snapshot_is_the_full_replay(synced, copy_of):
    for runs in KEPT:
        manifest = snapshot.load(synced[runs][0] / "raw", rebuild_module.code_id())
        assert manifest is not None and len(manifest.runs) == runs - runs % 4
    # after run 12: three folds, the last two made from the snapshot before them
    assert len(list(snapshot.folder(synced[12][0] / "raw").iterdir())) == 2  # the manifest and one lake folder


def test_rebuild_after_folding_equals_the_full_replay_and_the_live_warehouse_and_costs_the_same_at_4_and_12_runs(
        synced, copy_of, monkeypatch, figures):
    work = {}
    for runs in KEPT:
        live = synced[runs][1]
        folded = copy_of(runs)
        work[runs, "folded"] = measured_rebuild(folded, monkeypatch)
        assert dump_warehouse(folded) == live
        full = copy_of(runs)
        snapshot.discard(full / "raw")
        work[runs, "full"] = measured_rebuild(full, monkeypatch)
        assert dump_warehouse(full) == live
        assert work[runs, "full"]["runs merged"] == runs and work[runs, "full"]["folded"] == 0
    # Folded at 4, 8 and 12: the rebuild merges only the runs since the last fold, whatever came before.
    assert [work[n, "folded"]["runs merged"] for n in KEPT] == [0, 2, 0]
    assert work[12, "folded"]["files"] == work[4, "folded"]["files"]
    assert work[12, "full"]["files"] > 2 * work[4, "full"]["files"]
    for (runs, how), w in sorted(work.items()):
        figures[f"rebuild after {runs:>2} runs, {how:>6}: raw files opened"] = w["files"]
        figures[f"rebuild after {runs:>2} runs, {how:>6}: runs merged"] = w["runs merged"]
        figures[f"rebuild after {runs:>2} runs, {how:>6}: milliseconds"] = round(w["seconds"] * 1000)


def test_housekeep_compact_folds_every_run_and_rebuild_then_replays_none(synced, copy_of, monkeypatch):
    data_dir = copy_of(10)
    snapshot.discard(data_dir / "raw")
    done = run_cli("housekeep", "--compact", "--data-dir", str(data_dir), env={})
    assert done.returncode == 0, done.stderr
    assert "10 more runs folded" in done.stdout
    work = measured_rebuild(data_dir, monkeypatch)
    assert (work["runs merged"], work["files"], work["folded"]) == (0, 0, 10)
    assert dump_warehouse(data_dir) == synced[10][1]


@pytest.mark.parametrize("point", ["merge.after_table:messages@2", "snapshot.before_manifest",
                                   "snapshot.after_manifest"])
def test_a_fold_killed_anywhere_leaves_a_valid_snapshot_and_rebuild_equals(synced, copy_of, point, figures):
    data_dir = copy_of(10)  # a snapshot of runs 1-8, two runs waiting
    killed = run_cli("housekeep", "--compact", "--data-dir", str(data_dir), env={ENV: point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    figures["kill points tried"] += 1
    survived = snapshot.load(data_dir / "raw", rebuild_module.code_id())
    assert survived is not None
    assert len(survived.runs) == (10 if point == "snapshot.after_manifest" else 8)
    left = snapshot.leftovers(data_dir / "raw") + [p for p in [data_dir / "lake.folding"] if p.exists()]
    assert left, "the kill left nothing behind: the point was not reached"
    assert housekeeping.remove_leftovers(data_dir)
    assert snapshot.leftovers(data_dir / "raw") == [] and not (data_dir / "lake.folding").exists()
    assert snapshot.load(data_dir / "raw", rebuild_module.code_id()).runs == survived.runs
    rebuild(data_dir)
    assert dump_warehouse(data_dir) == synced[10][1]


def test_a_snapshot_that_no_longer_describes_raw_is_not_used(synced, copy_of, caplog):
    data_dir = copy_of(4)
    raw_root = data_dir / "raw"
    assert snapshot.load(raw_root, rebuild_module.code_id()) is not None
    assert snapshot.load(raw_root, "other code") is None
    assert "another version of smsetl" in caplog.text
    first = snapshot.recorded_runs(raw_root)[0]
    shutil.move(raw_root / "runs" / f"run={first}", data_dir / "moved-out")
    assert snapshot.load(raw_root, rebuild_module.code_id()) is None
    assert "not the runs it folded" in caplog.text


def test_a_run_whose_record_cannot_be_replayed_stops_the_fold_before_it_and_rebuild_names_it(
        synced, copy_of, caplog):
    data_dir = copy_of(10)  # a snapshot of runs 1-8; runs 9 and 10 wait
    raw_root = data_dir / "raw"
    last = snapshot.recorded_runs(raw_root)[-1]
    (part,) = (raw_root / "runs" / f"run={last}").glob("*.jsonl.zst")
    (record,) = raw.read_part(part)
    del record["data"]["watermarks"]
    with pa.CompressedOutputStream(str(part), "zstd") as out:
        out.write(orjson.dumps(record) + b"\n")
    assert rebuild_module.fold(data_dir) == 1  # run 9 only
    assert f"run {last} cannot be folded" in caplog.text
    assert snapshot.load(raw_root, rebuild_module.code_id()).runs == tuple(snapshot.recorded_runs(raw_root)[:-1])
    with pytest.raises(ValueError, match=f"run {last}'s record .* lacks watermarks"):
        rebuild(data_dir)
