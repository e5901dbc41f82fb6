"""The raw store's snapshot: the lake's base tables as replaying runs 1..k from raw leaves them, so that a rebuild
starts from it and replays only the runs after k (`flows.rebuild`); its cost then follows the runs since the
last fold, not every run the directory ever had.

Layout: `<data>/raw/_snapshot/manifest.json` names the snapshot's lake folder beside it (`lake-<run>-<n>/`, one
folder per table, as the lake), the runs folded into it (oldest first) and the code that made it. The raw
payloads of folded runs stay where they are: raw remains the whole record, and a snapshot can always be made
again from it.

Publishing is atomic: the new lake folder is written elsewhere, renamed in, and the manifest is written to a
`.tmp` and renamed over the old one, the commit point; the old folder is deleted after. A process killed at any
moment leaves either the old manifest with its folder or the new one with its own; the folder a manifest does
not name is a leftover (`leftovers`, deleted by `housekeeping.remove_leftovers`).

A snapshot is used only when it still describes raw (`load`): the runs it folded are exactly the runs raw holds
a record of up to its last one, and the code that folded them is the code running now (`code_id`, so a fix in
how payloads become rows reaches folded runs on the next rebuild). Otherwise the rebuild replays every run.
Files are hard links where the file system allows: lake files are never changed in place (each is written under
a `.tmp` name and renamed over), so a snapshot and a lake may share them safely.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson

from storage.crashpoints import crashpoint

log = logging.getLogger("smsetl.snapshot")

FOLDER = "_snapshot"
MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    lake: Path  # the folded lake, read-only: copy it (`copy_lake`) before merging into it
    runs: tuple[str, ...]  # the runs folded into it, oldest first

    @property
    def through(self) -> str:
        return self.runs[-1]


def folder(raw_root: Path) -> Path:
    return raw_root / FOLDER


def recorded_runs(raw_root: Path) -> list[str]:
    """Runs with a closed run record (`runs` entity), oldest first: found by listing folders, no file read."""
    return sorted({p.parent.name.removeprefix("run=") for p in (raw_root / "runs").glob("run=*/*.jsonl.zst")})


def _manifest(raw_root: Path) -> dict | None:
    path = folder(raw_root) / MANIFEST
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        log.warning("%s is not valid JSON: ignored; the next fold replaces it", path)
        return None


def load(raw_root: Path, code_id: str) -> Snapshot | None:
    """The snapshot, if it still describes raw and was made by this code (see the module docstring)."""
    manifest = _manifest(raw_root)
    if manifest is None:
        return None
    lake, runs = folder(raw_root) / str(manifest.get("lake")), tuple(manifest.get("runs") or ())
    why = None
    if manifest.get("format") != FORMAT or manifest.get("code") != code_id:
        why = "it was made by another version of smsetl"
    elif not runs or not lake.is_dir():
        why = f"its folder {lake.name} is missing"
    elif [r for r in recorded_runs(raw_root) if r <= runs[-1]] != list(runs):
        why = "raw's runs up to its last one are not the runs it folded (a run added or removed by hand?)"
    if why:
        log.warning("raw snapshot not used: %s; every run is replayed (the next fold makes a new one)", why)
        return None
    return Snapshot(lake, runs)


def copy_lake(source: Path, target: Path) -> int:
    """Copy a lake folder (hard links where possible, see the module docstring); returns the files copied."""
    copied = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:  # another file system, or one without hard links
            shutil.copy2(path, dest)
        copied += 1
    target.mkdir(parents=True, exist_ok=True)
    return copied


def publish(raw_root: Path, lake: Path, runs: list[str], code_id: str) -> Path:
    """Make `lake` (a finished lake folder on raw's file system, moved, not copied) the snapshot of `runs`."""
    home = folder(raw_root)
    home.mkdir(parents=True, exist_ok=True)
    name = f"lake-{runs[-1]}-{os.getpid()}-{os.urandom(3).hex()}"
    os.replace(lake, home / name)
    crashpoint("snapshot.before_manifest")
    tmp = home / (MANIFEST + ".tmp")
    with open(tmp, "wb") as out:
        out.write(orjson.dumps({"format": FORMAT, "code": code_id, "lake": name, "runs": list(runs)}))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, home / MANIFEST)  # the commit point
    crashpoint("snapshot.after_manifest")
    for path in leftovers(raw_root):
        _remove(path)
    return home / name


def leftovers(raw_root: Path) -> list[Path]:
    """What a fold killed half-way, or the one before a new snapshot, left: every entry of the snapshot folder
    but the manifest and the lake folder it names."""
    home = folder(raw_root)
    if not home.is_dir():
        return []
    named = (_manifest(raw_root) or {}).get("lake")
    return sorted(p for p in home.iterdir() if p.name not in (MANIFEST, named))


def discard(raw_root: Path) -> None:
    """Delete the snapshot: the manifest first, so that a kill half-way leaves no snapshot, not half of one."""
    (folder(raw_root) / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(folder(raw_root), ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
