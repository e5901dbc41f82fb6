"""Raw store: every API payload as received, append-only, zstd-compressed JSON lines.

Layout: `<data>/raw/<entity>/run=<run_id>/part-<pid>-<token>-<n>.jsonl.zst` (`storage.parts`), one record per
API response:
`{"method": "Message/List", "params": {...}, "observed_at": "...", "data": <payload>}`, or, for a page written
as the body it came in (`write_response`: the sync's Message/List pages read by column, `smsapi.columnar`),
`{..., "response": <the whole response>}`, which readers get as the record with `data` = its `data.items`.
A part is written under a `.tmp` name and renamed when closed, so a killed run leaves only `.tmp`
files, which readers ignore. The API key is never part of a record (params exclude it by construction).
One field is not as received: the `to` of Message/List items (the recipient's phone number) arrives here
under the data directory's privacy mode (`flows.privacy`), and `rewrite` is how `smsetl rebuild --pii`
converts the parts already written: the only time a part changes after it is closed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pyarrow as pa

from storage.crashpoints import crashpoint
from storage.parts import part_name


class RawWriter:
    """Appends records for one entity of one run to its own part file. Thread-safe."""

    def __init__(self, root: Path, entity: str, run_id: str):
        self.entity = entity
        self.directory = root / entity / f"run={run_id}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / part_name(".jsonl.zst")
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._stream = pa.CompressedOutputStream(str(self._tmp), "zstd")
        self._lock = threading.Lock()
        self.records = 0

    def write(self, method: str, params: dict, observed_at: str, data) -> None:
        # orjson: the stdlib encoder costs as much as a page fetch, which would make raw the bottleneck.
        line = orjson.dumps({"method": method, "params": params, "observed_at": observed_at, "data": data})
        with self._lock:
            self._stream.write(line + b"\n")
            self.records += 1

    def write_response(self, method: str, params: dict, observed_at: str, body: bytes) -> None:
        """A listing's page as its response body (one JSON object), spliced in whole: no decoding, no encoding."""
        head = orjson.dumps({"method": method, "params": params, "observed_at": observed_at})
        if b"\n" in body:  # outside strings a newline is only whitespace (inside one it is escaped): one line
            body = body.replace(b"\n", b" ")
        with self._lock:
            self._stream.write(b"".join((head[:-1], b',"response":', body, b"}\n")))
            self.records += 1

    def close(self) -> None:
        with self._lock:
            if self._stream.closed:
                return
            self._stream.close()
            crashpoint(f"raw.before_rename:{self.entity}")
            os.replace(self._tmp, self.path)
            crashpoint(f"raw.after_rename:{self.entity}")

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def runs(root: Path) -> list[str]:
    """Run ids that have raw data of any entity, oldest first (run ids sort by time)."""
    found = {p.name.removeprefix("run=") for p in root.glob("*/run=*") if p.is_dir()}
    return sorted(found)


COMPACTED = "compacted.jsonl.zst"  # a run's parts of one entity in one (`storage.housekeeping.compact`)


def read(root: Path, entity: str, run_id: str) -> Iterator[dict]:
    """Records of one entity of one run, in the order they were written within each part. A compacted part,
    once there, holds them all: parts beside it are leftovers of a compaction killed before deleting them."""
    directory = root / entity / f"run={run_id}"
    parts = [directory / COMPACTED] if (directory / COMPACTED).exists() else sorted(directory.glob("*.jsonl.zst"))
    for part in parts:
        yield from _read_part(part)


def read_part(part: Path) -> Iterator[dict]:
    """The records of one part file."""
    return _read_part(part)


def _read_part(part: Path) -> Iterator[dict]:
    with pa.CompressedInputStream(str(part), "zstd") as stream:
        buffer = b""
        while chunk := stream.read(1 << 20):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield _record(line)
        if buffer.strip():
            yield _record(buffer)


def _record(line: bytes) -> dict:
    record = orjson.loads(line)
    if "response" in record:  # a page written as its body: the record as any other, `data` its items
        data = record.pop("response").get("data")
        record["data"] = data.get("items") if isinstance(data, dict) else data
    return record


def rewrite(root: Path, entity: str, change: Callable[[dict], dict]) -> int:
    """Pass every record of `entity`, in every run, through `change`; a part where a record changed is
    rewritten (to a `.tmp`, renamed over it), the others are left alone. A killed run's `.tmp` leftovers are
    deleted: nothing reads them, and they may hold what `change` removes. Returns the parts rewritten."""
    for leftover in (root / entity).glob("run=*/*.tmp"):
        leftover.unlink()
    rewritten = 0
    for part in sorted((root / entity).glob("run=*/*.jsonl.zst")):
        tmp = part.with_name(part.name + ".tmp")
        changed = False
        with pa.CompressedOutputStream(str(tmp), "zstd") as out:
            for record in _read_part(part):
                new = change(record)
                changed = changed or new != record
                out.write(orjson.dumps(new) + b"\n")
        if changed:
            os.replace(tmp, part)
            rewritten += 1
        else:
            tmp.unlink()
    return rewritten
