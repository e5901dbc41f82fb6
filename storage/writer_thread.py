"""A writer thread: one thread hands items over a bounded queue, another writes them, in order.

So fetching the next page overlaps writing this one, and memory holds at most `maxsize` items in flight.
The writer's first error is raised in the handing thread (at its next `put`, or when the block ends); after
it the writer drains the queue without writing, so the handing thread never blocks on a full queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

_DONE = object()


class WriterThread:
    """`with WriterThread(write, finish) as w: w.put(item)`: `write(item)` for each item in the writer thread,
    then `finish()` there once the block ends without error."""

    def __init__(self, write: Callable[[Any], None], finish: Callable[[], None] = lambda: None, *,
                 maxsize: int = 8, name: str = "writer"):
        self._write, self._finish, self._name = write, finish, name
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._error: BaseException | None = None

    def __enter__(self) -> WriterThread:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error

    def put(self, item: Any) -> None:
        """Hand `item` to the writer (blocks while the queue is full); raises the writer's error, if any."""
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # noqa: BLE001 -- re-raised in the handing thread
                    self._error = exc
        if self._error is None:
            try:
                self._finish()
            except BaseException as exc:  # noqa: BLE001
                self._error = exc
