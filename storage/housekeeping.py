"""Housekeeping of a data directory: what killed runs leave, raw compaction and pruning (`smsetl housekeep`).

Callers hold the data directory's sync lock (`flows.sync.sync_lock`): nothing here is safe beside a running sync.

- `remove_leftovers`: a killed run's `*.tmp` parts (raw and lake), its staging, a half-built warehouse and
  DuckDB's spill folder, and what a killed fold left (`lake.folding`, a snapshot folder its manifest does not
  name, `storage.snapshot`). None of them is ever read; every sync calls this first.
- `compact`: each run's parts of one entity become one part (`raw.COMPACTED`), so a rebuild opens one file
  per run and entity instead of one per extract task (`smsetl housekeep --compact` then also folds every
  completed run into raw's snapshot, `flows.rebuild.fold`, so that a rebuild replays none of them). The
  compacted part is the commit point: once renamed into place, readers read it alone (`raw.read`), and the
  parts it replaces are deleted after; a compaction killed half-way leaves them, and the next `compact` or
  `remove_leftovers` deletes them.
- `prune`: deletes, for runs older than a number of days, the payloads no rebuild replays: those of failed runs
  (their run record stays, so their `sync_runs` row is restored) and killed runs (no record at all). A
  completed run's payloads are never pruned: the lake holds nothing that raw does not, and a rebuild from a
  raw store missing a run would lose that run's data. So after `prune`, `smsetl rebuild` gives the same
  warehouse as before.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa

from storage import raw, snapshot
from storage.crashpoints import crashpoint
from transforms.schema import RUN_SUCCEEDED


def remove_leftovers(data_dir: Path) -> list[str]:
    """Delete what killed runs left (see the module docstring); returns the paths removed, relative."""
    removed = []
    for pattern in ("raw/**/*.tmp", "lake/**/*.tmp", "warehouse.duckdb.building", "warehouse.duckdb.building.wal"):
        for path in data_dir.glob(pattern):
            if path.is_file():
                path.unlink()
                removed.append(str(path.relative_to(data_dir)))
    removed += [str(p.relative_to(data_dir)) for p in _superseded_parts(data_dir / "raw")]
    for path in snapshot.leftovers(data_dir / "raw"):  # a fold killed before (or after) its manifest's rename
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path.relative_to(data_dir)))
    for folder in ("staging", ".duckdb-tmp", "lake.folding"):
        if (data_dir / folder).exists():
            shutil.rmtree(data_dir / folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _superseded_parts(raw_root: Path) -> list[Path]:
    """Delete the parts a compacted part already holds (a compaction killed before deleting them)."""
    removed = []
    for compacted in raw_root.glob(f"*/run=*/{raw.COMPACTED}"):
        for part in compacted.parent.glob("*.jsonl.zst"):
            if part.name != raw.COMPACTED:
                part.unlink()
                removed.append(part)
    return removed


@dataclass
class Outcome:
    """What a housekeeping command did, in numbers people read."""

    parts_before: int = 0
    parts_after: int = 0
    runs_pruned: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    completed_runs_kept: int = 0


def count_parts(raw_root: Path) -> int:
    return sum(1 for _ in raw_root.glob("*/run=*/*.jsonl.zst"))


def compact(raw_root: Path) -> Outcome:
    """One part per run and entity (see the module docstring). Records keep their order: parts in name order."""
    outcome = Outcome(parts_before=count_parts(raw_root))
    for run_dir in sorted(p for p in raw_root.glob("*/run=*") if p.is_dir()):
        parts = sorted(p for p in run_dir.glob("*.jsonl.zst") if p.name != raw.COMPACTED)
        if len(parts) < 2 and not (run_dir / raw.COMPACTED).exists():
            continue  # already one part: nothing to gain
        if parts and not (run_dir / raw.COMPACTED).exists():
            target = run_dir / raw.COMPACTED
            tmp = target.with_name(target.name + ".tmp")
            with pa.CompressedOutputStream(str(tmp), "zstd") as out:
                for part in parts:
                    for record in raw.read_part(part):
                        out.write(orjson.dumps(record) + b"\n")
            crashpoint("housekeep.before_compacted_rename")
            os.replace(tmp, target)
            crashpoint("housekeep.after_compacted_rename")
    _superseded_parts(raw_root)
    outcome.parts_after = count_parts(raw_root)
    return outcome


def run_started(run_id: str) -> datetime:
    """A run id's start time (`flows.steps.new_run_id`: `20261129T183600123456Z-<pid>`)."""
    return datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def prune(raw_root: Path, older_than: timedelta, now: datetime | None = None) -> Outcome:
    """Delete the payloads of failed and killed runs that started before `now - older_than` (see the module
    docstring); completed runs are kept, and counted in `completed_runs_kept`."""
    cutoff = (now or datetime.now(UTC)) - older_than
    outcome = Outcome(parts_before=count_parts(raw_root))
    for run_id in raw.runs(raw_root):
        if run_started(run_id) >= cutoff:
            continue
        summaries = list(raw.read(raw_root, "runs", run_id))
        if summaries and summaries[-1]["data"].get("outcome") == RUN_SUCCEEDED:
            outcome.completed_runs_kept += 1
            continue
        for run_dir in raw_root.glob(f"*/run={run_id}"):
            if run_dir.parent.name == "runs":
                continue  # a failed run's record: rebuild restores its sync_runs row from it
            outcome.bytes_freed += sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
            shutil.rmtree(run_dir)
        outcome.runs_pruned.append(run_id)
    outcome.parts_after = count_parts(raw_root)
    return outcome
