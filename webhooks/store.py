"""The webhook event log: `<data_dir>/webhooks/events.jsonl`, append-only, one JSON event per line.

Contract: `EventStore.put(events)` returns only once each new event is written and `os.fsync`ed, so an event
answered 2xx survives a crash. Events are de-duplicated by `eventId` (the gateway's retries): the index of
seen ids is rebuilt from the log when the store opens. One writer per log: an exclusive `flock` on
`events.lock`, taken at open, makes a second receiver on the same data directory fail at once. A torn last line
(a crash mid-write) is kept as it is, counted in `torn_lines`, and never stops a reader; the next write starts
on a fresh line. The recipient's number (`data.to`) is not stored: the sync has it from Message/List under the
data directory's privacy mode.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson

LOG_NAME = "events.jsonl"


class StoreBusyError(RuntimeError):
    """Another receiver holds the event log's lock."""


def event_key(event_id) -> str:
    """eventId as a string: the gateway sends ints, the HTTP API strings; both name the same event."""
    return str(event_id)


def read_log(directory: Path) -> Iterator[tuple[int, dict | None, bytes]]:
    """(byte offset, event or None if the line is torn or not JSON, raw line) for each line of the log."""
    path = directory / LOG_NAME
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            try:
                event = orjson.loads(line)
                event = event if isinstance(event, dict) else None
            except orjson.JSONDecodeError:
                event = None
            yield offset, event, line
            offset += len(line)


class EventStore:
    """Single-writer, fsync'd, de-duplicating event log. Thread-safe: one write and fsync at a time."""

    def __init__(self, data_dir: Path):
        self.directory = Path(data_dir) / "webhooks"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / "events.lock", "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreBusyError(f"another webhook receiver writes {self.directory}: stop it, or use another "
                                 "--data-dir") from None
        self.seen: set[str] = set()
        self.torn_lines = 0
        for _, event, _ in read_log(self.directory):
            if event is None or "eventId" not in event:
                self.torn_lines += 1
            else:
                self.seen.add(event_key(event["eventId"]))
        self._handle = open(self.directory / LOG_NAME, "ab")
        if self._handle.tell() and not self._ends_with_newline():
            self._handle.write(b"\n")  # a torn last line stays its own (bad) line
            self._sync()
        self._commit = threading.Lock()

    def _ends_with_newline(self) -> bool:
        with open(self.directory / LOG_NAME, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def _sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def put(self, event: dict) -> bool:
        """Store `event` durably unless its eventId is already stored; True if it was new."""
        key = event_key(event["eventId"])
        data = event.get("data")
        if isinstance(data, dict) and "to" in data:
            event = {**event, "data": {k: v for k, v in data.items() if k != "to"}}
        line = orjson.dumps(event) + b"\n"
        with self._commit:
            if key in self.seen:
                return False
            self._handle.write(line)
            self._sync()
            self.seen.add(key)
            return True

    def close(self) -> None:
        self._handle.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()
