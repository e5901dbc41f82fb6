"""`smsetl rebuild`: the lake and the warehouse rebuilt from the raw store alone, with no API call.

Runs are replayed in order through the same `steps.ingest` and merge as the sync used. Only successful runs'
payloads are replayed: a failed run's never reached the lake (its `sync_runs` row is restored all the same),
and a killed run, which recorded nothing, stays out entirely.
The new lake is built beside the old one and swapped in at the end; a failed rebuild leaves the old intact.

Recipients' phone numbers (`SMS_PII`, `flows.privacy`): raw holds them under the data directory's mode, so a
rebuild replays them as they are. Asked by name for a stronger mode (`--pii hash` on a `keep` directory, say),
it converts: raw's message parts are rewritten under the new mode first (a killed run's leftovers deleted,
old staging dropped), then the lake and warehouse are rebuilt from them, so that afterwards no file under the
data directory holds what the new mode removes. (Deleted files are unlinked, not shredded: a disk or a backup
made before may still hold them.)
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from flows import privacy, steps
from flows.settings import current
from flows.sync import stage_run_rows, sync_lock
from storage import raw
from storage.lake import Lake, remove_tree
from transforms.schema import RUN_SUCCEEDED

log = logging.getLogger("smsetl.rebuild")


def completed_runs(raw_root: Path) -> list[tuple[str, dict]]:
    """(run_id, summary) of every run that finished, oldest first."""
    found = []
    for run_id in raw.runs(raw_root):
        summaries = list(raw.read(raw_root, "runs", run_id))
        if summaries:
            found.append((run_id, summaries[-1]["data"]))
    return found


def rebuild(data_dir: Path) -> int:
    """Rebuild lake and warehouse from raw (converting the recipients to the `SMS_PII` mode when asked to, see
    the module docstring); returns the number of runs replayed."""
    with sync_lock(data_dir):
        raw_root = data_dir / "raw"
        runs = completed_runs(raw_root)
        if not runs:
            raise FileNotFoundError(f"no completed runs in {raw_root}: run `smsetl sync` first")
        pii, converting_from = privacy.for_rebuild(data_dir)
        if converting_from:
            parts = raw.rewrite(raw_root, "messages",
                                lambda record: {**record, "data": pii.protect_messages(record["data"])})
            remove_tree(data_dir / "staging")  # a killed run's, never merged: it may hold the old mode
            remove_tree(data_dir / ".duckdb-tmp")
            log.info("recipients converted from %s to %s in %d raw parts", converting_from, pii.mode, parts)
        new_root = data_dir / "lake.rebuilding"
        remove_tree(new_root)
        for number, (run_id, summary) in enumerate(runs, 1):
            run = _Replay(data_dir, run_id, datetime.fromisoformat(summary["as_of"]), summary["timezone"], new_root)
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
        old = data_dir / "lake.old"
        remove_tree(old)
        if (data_dir / "lake").exists():
            os.replace(data_dir / "lake", old)
        os.replace(new_root, data_dir / "lake")
        remove_tree(old)
        # Converted recipients: the bucket's files of the old mode go now, not one publish later.
        steps.publish(Lake(data_dir / "lake", memory_limit=current().duckdb_memory), data_dir,
                      keep_previous=not converting_from)
        if converting_from:
            privacy.finish_conversion(data_dir, pii)
        return len(runs)


class _Replay(steps.RunContext):
    """A past run's context whose lake is the one being rebuilt."""

    def __init__(self, data_dir: Path, run_id: str, as_of: datetime, timezone: str, lake_root: Path):
        super().__init__(data_dir, run_id, as_of, timezone)
        self._lake_root = lake_root

    @property
    def lake(self) -> Lake:
        return Lake(self._lake_root, memory_limit=current().duckdb_memory)
