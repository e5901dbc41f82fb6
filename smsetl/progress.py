"""The sync's live progress on a terminal: a rich `Live` table, one row per entity (items, calls, rate, total,
ETA), above it the phase running. It observes the run's `flows.progress.Progress`; with no terminal (a pipe, a
log file) or under a Prefect worker, the CLI leaves the flow's default plain log lines instead.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from flows.progress import Observer, Progress, Snapshot, format_seconds, observing


def render(snapshot: Snapshot) -> RenderableType:
    """The table for one moment of a run."""
    phase = f"phase: {snapshot.phase}" if snapshot.phase else "finished"
    heading = Text(f"sync · {phase} · {format_seconds(snapshot.elapsed_s)}", style="bold")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("entity", "items", "calls", "rate/s", "total", "ETA"):
        table.add_column(name, justify="left" if name == "entity" else "right")
    for e in snapshot.entities:
        eta = "" if e.eta_s is None else ("done" if e.eta_s == 0 else format_seconds(e.eta_s))
        table.add_row(e.entity, f"{e.items:,}", f"{e.calls:,}",
                      "" if e.rate_per_s is None else f"{e.rate_per_s:,.0f}",
                      "" if e.total is None else f"{e.total:,}", eta)
    return Group(heading, table)


class LiveDisplay(Observer):
    """A context manager: while open, every sync run started in this process is shown live on `console`.

    Log lines (the root logger's stream handlers) are routed through the display, so they print above it
    instead of tearing it."""

    def __init__(self, console: Console | None = None, refresh_per_second: float = 4):
        self.console = console or Console()
        self._progress: Progress | None = None
        self._live = Live(console=self.console, refresh_per_second=refresh_per_second, transient=False,
                          get_renderable=self._renderable)
        self._stack = ExitStack()

    def attach(self, progress: Progress) -> None:
        self._progress = progress  # a later run (the demo's second sync) takes the display over

    def _renderable(self) -> RenderableType:
        if self._progress is None:
            return Text("sync · starting the flow run", style="bold")
        return render(self._progress.snapshot())

    def __enter__(self) -> LiveDisplay:
        self._stack.enter_context(observing(self))
        self._live.start()
        self._stack.callback(self._live.stop)
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (sys.__stderr__, sys.__stdout__):
                # sys.stderr is now rich's proxy, which prints above the live table
                previous = handler.setStream(sys.stderr)
                self._stack.callback(handler.setStream, previous)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()  # stopping draws the final figures, which stay on screen


def wants_live_display(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """A person watching: `stream` is a terminal (not a dumb one), and no Prefect worker runs this process (it
    sets PREFECT__FLOW_RUN_ID for the flow run it starts, and keeps its output as logs)."""
    return (hasattr(stream, "isatty") and stream.isatty() and environ.get("TERM") != "dumb"
            and not environ.get("PREFECT__FLOW_RUN_ID"))


def progress_display(stream: TextIO | None = None, environ: Mapping[str, str] | None = None
                     ) -> AbstractContextManager:
    """What the CLI wraps a sync in: the live display on a terminal, else nothing (the flow's plain lines)."""
    stream = sys.stdout if stream is None else stream
    if wants_live_display(stream, os.environ if environ is None else environ):
        return LiveDisplay(Console(file=stream))
    return nullcontext()
