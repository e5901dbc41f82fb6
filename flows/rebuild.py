"""`smsetl rebuild`: the lake and the warehouse rebuilt from the raw store alone, with no API call.

Runs are replayed in order through the same `steps.ingest` and merge as the sync used. Only successful runs'
payloads are replayed: a failed run's never reached the lake (its `sync_runs` row is restored all the same),
and a killed run, which recorded nothing, stays out entirely.
The new lake is built beside the old one and swapped in at the end; a failed rebuild leaves the old intact.

Folding (`fold`, `storage.snapshot`): replaying every run makes a rebuild's cost grow with the number of runs,
so the runs replayed are folded into raw's snapshot: the lake exactly as replaying them in order left it. A
rebuild then copies the snapshot (hard links) and replays only the runs after it, and leaves a snapshot of
every run it replayed. Folding is the same replay, run by run and in order (status updates and folded webhook
events applied as the sync did), so the warehouse is the one a replay from the first run gives. A sync folds
once `FOLD_EVERY` runs wait outside the snapshot (`FOLD_AT_MOST` at a time), and `smsetl housekeep --compact`
folds them all. A run whose record lacks what a replay needs cannot be folded: the fold stops before it (a
rebuild names it and fails).

Recipients' phone numbers (`SMS_PII`, `flows.privacy`): raw holds them under the data directory's mode, so a
rebuild replays them as they are. Asked by name for a stronger mode (`--pii hash` on a `keep` directory, say),
it converts: the snapshot is deleted (its lake holds the old mode) and raw's message parts are rewritten under
the new mode, a killed run's leftovers deleted, old staging dropped; then every run is replayed from the
converted raw and folded into a new snapshot, so that afterwards no file under the data directory holds what
the new mode removes. (Deleted files are unlinked, not shredded: a disk or a backup made before may still
hold them.)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flows import privacy, steps
from flows.settings import current
from flows.sync import stage_run_rows, sync_lock
from storage import raw, snapshot
from storage.lake import Lake, remove_tree
from transforms.schema import RUN_SUCCEEDED

log = logging.getLogger("smsetl.rebuild")

FOLD_EVERY = 8  # a sync folds the runs outside the snapshot once there are this many (a fold replays them)
FOLD_AT_MOST = 64  # runs one sync folds: a directory older than its snapshot catches up over a few syncs
# What a replay reads of a run's record (`stage_run_rows` and the run's context).
RECORD_FIELDS = ("as_of", "timezone", "outcome", "started_at", "ended_at", "api_calls", "rows", "unexpected",
                 "watermarks")


@dataclass
class Rebuilt:
    """What a rebuild did: runs taken from the snapshot, runs replayed from raw."""

    folded: int
    replayed: int

    @property
    def runs(self) -> int:
        return self.folded + self.replayed


@functools.cache
def code_id() -> str:
    """Names the code that turns raw into the lake (a snapshot made by other code is not used)."""
    import flows.sync
    import storage.lake
    import transforms

    files = [Path(steps.__file__), Path(flows.sync.__file__), Path(__file__), Path(storage.lake.__file__),
             *sorted(Path(transforms.__file__).parent.glob("*.py"))]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def completed_runs(raw_root: Path, after: str | None = None) -> list[tuple[str, dict]]:
    """(run_id, summary) of every run that finished (after run `after`, when given), oldest first."""
    found = []
    for run_id in snapshot.recorded_runs(raw_root):
        if after is not None and run_id <= after:
            continue
        summaries = list(raw.read(raw_root, "runs", run_id))
        if summaries:
            found.append((run_id, summaries[-1]["data"]))
    return found


def missing_fields(summary) -> list[str]:
    """What a replay needs of a run's record and this one lacks."""
    return [f for f in RECORD_FIELDS if f not in summary] if isinstance(summary, dict) else list(RECORD_FIELDS)


def rebuild(data_dir: Path) -> Rebuilt:
    """Rebuild lake and warehouse from raw (converting the recipients to the `SMS_PII` mode when asked to, see
    the module docstring), starting from raw's snapshot when there is one."""
    with sync_lock(data_dir):
        raw_root = data_dir / "raw"
        pii, converting_from = privacy.for_rebuild(data_dir)
        if converting_from and not snapshot.recorded_runs(raw_root):
            raise FileNotFoundError(f"no completed runs in {raw_root}: run `smsetl sync` first")
        if converting_from:
            snapshot.discard(raw_root)  # its lake holds the old mode; folded again below from the converted raw
            parts = raw.rewrite(raw_root, "messages",
                                lambda record: {**record, "data": pii.protect_messages(record["data"])})
            remove_tree(data_dir / "staging")  # a killed run's, never merged: it may hold the old mode
            remove_tree(data_dir / ".duckdb-tmp")
            log.info("recipients converted from %s to %s in %d raw parts", converting_from, pii.mode, parts)
        base = snapshot.load(raw_root, code_id())
        runs = completed_runs(raw_root, after=base.through if base else None)
        if not runs and base is None:
            raise FileNotFoundError(f"no completed runs in {raw_root}: run `smsetl sync` first")
        for run_id, summary in runs:
            if missing := missing_fields(summary):
                raise ValueError(f"run {run_id}'s record in {raw_root / 'runs'} lacks {', '.join(missing)}: "
                                 "restore that run's raw folder from a backup, or move it out of raw/")
        new_root = data_dir / "lake.rebuilding"
        remove_tree(new_root)
        if base:
            snapshot.copy_lake(base.lake, new_root)
            log.info("starting from raw's snapshot of %d runs (through %s)", len(base.runs), base.through)
        replayed = _replay(data_dir, runs, new_root)
        if replayed:  # this lake is the fold of every run so far: the next rebuild starts from it
            folding = data_dir / "lake.folding"
            remove_tree(folding)
            snapshot.copy_lake(new_root, folding)
            snapshot.publish(raw_root, folding, [*(base.runs if base else ()), *replayed], code_id())
        old = data_dir / "lake.old"
        remove_tree(old)
        if (data_dir / "lake").exists():
            os.replace(data_dir / "lake", old)
        os.replace(new_root, data_dir / "lake")
        remove_tree(old)
        # Converted recipients: the bucket's files of the old mode go now, not one publish later. The warehouse
        # is built whole: a patched copy would carry the old rows' bytes over in its free blocks.
        steps.publish(Lake(data_dir / "lake", memory_limit=current().duckdb_memory), data_dir,
                      keep_previous=not converting_from, whole_warehouse=True)
        if converting_from:
            privacy.finish_conversion(data_dir, pii)
        return Rebuilt(folded=len(base.runs) if base else 0, replayed=len(replayed))


def fold(data_dir: Path, at_least: int = 1, at_most: int | None = None) -> int:
    """Fold the completed runs outside raw's snapshot into it, in order (the oldest `at_most` of them), if
    there are `at_least`; returns how many were folded. The caller holds the data directory's sync lock."""
    raw_root = data_dir / "raw"
    base = snapshot.load(raw_root, code_id())
    waiting = [r for r in snapshot.recorded_runs(raw_root) if base is None or r > base.through]
    if not waiting or len(waiting) < at_least:
        return 0
    started = time.monotonic()
    runs = completed_runs(raw_root, after=base.through if base else None)[:at_most]
    for number, (run_id, summary) in enumerate(runs):
        if missing := missing_fields(summary):
            log.warning("run %s cannot be folded (its record lacks %s): the fold stops before it",
                        run_id, ", ".join(missing))
            runs = runs[:number]
            break
    if not runs:
        return 0
    work = data_dir / "lake.folding"
    remove_tree(work)
    if base:
        snapshot.copy_lake(base.lake, work)
    replayed = _replay(data_dir, runs, work)
    snapshot.publish(raw_root, work, [*(base.runs if base else ()), *replayed], code_id())
    log.info("folded %d runs into raw's snapshot (now %d runs) in %.1f s", len(replayed),
             len(base.runs if base else ()) + len(replayed), time.monotonic() - started)
    return len(replayed)


def _replay(data_dir: Path, runs: list[tuple[str, dict]], lake_root: Path) -> list[str]:
    """Replay `runs` in order into the lake at `lake_root`; returns their ids."""
    for number, (run_id, summary) in enumerate(runs, 1):
        run = _Replay(data_dir, run_id, datetime.fromisoformat(summary["as_of"]), summary["timezone"], lake_root)
        remove_tree(run.staging_dir)
        if summary["outcome"] == RUN_SUCCEEDED:  # a failed run's payloads never reached the lake
            stager = steps.Stager(run.staging_dir)
            steps.replay(run, stager)
            stager.close()
            run.lake.merge_run(run.staging_dir, run_id)
        stage_run_rows(run, summary)
        run.lake.merge_run(run.staging_dir / "_run", run_id)
        remove_tree(run.staging_dir)
        log.info("replayed run %s (%d/%d)", run_id, number, len(runs))
    return [run_id for run_id, _ in runs]


class _Replay(steps.RunContext):
    """A past run's context whose lake is the one being rebuilt."""

    def __init__(self, data_dir: Path, run_id: str, as_of: datetime, timezone: str, lake_root: Path):
        super().__init__(data_dir, run_id, as_of, timezone)
        self._lake_root = lake_root

    @property
    def lake(self) -> Lake:
        return Lake(self._lake_root, memory_limit=current().duckdb_memory)
