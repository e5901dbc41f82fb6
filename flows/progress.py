"""A sync's progress as data: per entity, items read, API calls made, the total when the gateway gives one; and
how long each phase of the run took. No display code: observers subscribe, and the default one logs plain lines.

The CLI shows a live table on a terminal (`smsetl.progress`) by registering an observer (`observing`) before it
calls the flow, which runs in the same process; the flows never import the CLI or a terminal library.

Totals come from the gateway: the first page of each listing carries its `totalItemCount`
(`smsapi.paginate.Page.total`), and a step that knows its work up front (message ids to re-check, say) declares
it (`expect`). A total is the sum over the listings and batches begun so far, so with more batches than worker
threads it grows while the run goes on, and an ETA is for the work begun. Calls are the client's own per-method
counters (`ApiStats.calls`, the run summary's call counts), not a second count: each row names its API methods.

Every method is thread-safe: extract tasks run on a thread pool, each with a writer thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

log = logging.getLogger("smsetl.sync")


@dataclass(frozen=True)
class EntityProgress:
    """One entity's figures at one moment. `rate_per_s` is items over the time from the entity's start to its
    latest read (so it holds still once the entity is done); None before two moments exist to divide by."""

    entity: str
    items: int
    calls: int
    total: int | None
    active_s: float

    @property
    def rate_per_s(self) -> float | None:
        return self.items / self.active_s if self.items and self.active_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None without a total or a rate, 0 once the total is reached."""
        if self.total is None:
            return None
        if self.items >= self.total:
            return 0.0
        rate = self.rate_per_s
        return (self.total - self.items) / rate if rate else None


@dataclass(frozen=True)
class Snapshot:
    entities: tuple[EntityProgress, ...]
    phase: str | None  # the phase running, if any
    phase_seconds: dict[str, float]  # finished phases, and the running one so far, in the order they began
    elapsed_s: float


@dataclass
class _Row:
    started: float
    last: float
    items: int = 0
    total: int | None = None
    methods: set[str] = field(default_factory=set)


class Observer:
    """What a display implements; every hook runs in the thread that made the change, so each must be cheap."""

    def attach(self, progress: Progress) -> None:
        """A run began and reports to this observer."""

    def changed(self, progress: Progress, entity: str) -> None:
        """Items were read, or a total became known."""

    def phase_began(self, progress: Progress, phase: str) -> None:
        """The run entered `phase`."""

    def finished(self, progress: Progress) -> None:
        """The run ended (successfully or not)."""


_registered: list[Observer] = []
_registry_lock = threading.Lock()


@contextmanager
def observing(*observers: Observer) -> Iterator[None]:
    """Runs whose `Progress` is made inside this block report to `observers` in place of the default log lines."""
    with _registry_lock:
        _registered.extend(observers)
    try:
        yield
    finally:
        with _registry_lock:
            for observer in observers:
                _registered.remove(observer)


def registered_observers() -> list[Observer]:
    with _registry_lock:
        return list(_registered)


class Progress:
    """The progress of one run. `calls` returns the client's calls per `Module/Method` (``ApiStats``); `clock`
    is monotonic seconds (injectable for tests); `observers` default to those registered by `observing`, else
    one `LogObserver`."""

    def __init__(self, calls: Callable[[], Mapping[str, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic, observers: list[Observer] | None = None):
        self._calls = calls or (lambda: {})
        self.clock = clock
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}
        self._phases: dict[str, float] = {}
        self._phase: tuple[str, float] | None = None
        self.started = clock()
        self._observers: list[Observer] = []
        for observer in (registered_observers() or [LogObserver()]) if observers is None else observers:
            self.subscribe(observer)

    def subscribe(self, observer: Observer) -> None:
        with self._lock:
            self._observers.append(observer)
        observer.attach(self)

    def _row(self, entity: str, now: float) -> _Row:
        if entity not in self._rows:
            self._rows[entity] = _Row(now, now)
        return self._rows[entity]

    def track(self, entity: str, method: str) -> None:
        """`entity` is read by the API method `method` (`Module/Method`): its calls count in the entity's row.
        A method belongs to one row; the entity's clock starts at its first `track` or read."""
        with self._lock:
            self._row(entity, self.clock()).methods.add(method)

    def read(self, entity: str, items: int, total: int | None = None) -> None:
        """`items` more items of `entity` were read; `total`: the totalItemCount of a listing that begins here."""
        with self._lock:
            now = self.clock()
            row = self._row(entity, now)
            row.items += items
            if items:
                row.last = now
            if total is not None:
                row.total = (row.total or 0) + total
            observers = list(self._observers)
        for observer in observers:
            observer.changed(self, entity)

    def expect(self, entity: str, total: int) -> None:
        """Work of `total` items of `entity` begins (a batch of ids to read, say)."""
        self.read(entity, 0, total)

    def begin(self, phase: str) -> None:
        """End the phase running, if any, and start `phase`. A phase entered twice (a repair's merge) adds up."""
        with self._lock:
            self._end_phase(self.clock())
            self._phase = (phase, self.clock())
            observers = list(self._observers)
        for observer in observers:
            observer.phase_began(self, phase)

    def _end_phase(self, now: float) -> None:
        if self._phase is not None:
            name, since = self._phase
            self._phases[name] = self._phases.get(name, 0.0) + (now - since)
            self._phase = None

    def finish(self) -> dict[str, float]:
        """End the phase running and tell the observers; returns `phase_seconds()`."""
        with self._lock:
            self._end_phase(self.clock())
            observers = list(self._observers)
        for observer in observers:
            observer.finished(self)
        return self.phase_seconds()

    def phase_seconds(self) -> dict[str, float]:
        """Seconds per phase (ms precision), in the order the phases began; the running one so far."""
        return {name: round(seconds, 3) for name, seconds in self.snapshot().phase_seconds.items()}

    def snapshot(self) -> Snapshot:
        calls = self._calls()  # outside our lock: the client's counters have their own
        with self._lock:
            now = self.clock()
            phases = dict(self._phases)
            if self._phase is not None:
                name, since = self._phase
                phases[name] = phases.get(name, 0.0) + (now - since)
            entities = tuple(
                EntityProgress(entity, row.items, sum(calls.get(m, 0) for m in row.methods), row.total,
                               row.last - row.started)
                for entity, row in self._rows.items()
                if row.items or row.total is not None or any(calls.get(m) for m in row.methods))  # begun
            return Snapshot(entities, self._phase[0] if self._phase else None, phases, now - self.started)


# -- plain lines ---------------------------------------------------------------------------------------------

def format_seconds(seconds: float) -> str:
    """`4.2 s`, `12 s`, `3 min 05 s`, `1 h 02 min`: as precise as a person needs."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def describe(e: EntityProgress) -> str:
    """`12,000/20,000 messages (1,500/s, ETA 5.3 s, 120 calls)`; without a total, `40 links (…)`."""
    read = f"{e.items:,}/{e.total:,}" if e.total is not None else f"{e.items:,}"
    details = []
    if e.rate_per_s is not None:
        details.append(f"{e.rate_per_s:,.0f}/s")
    if e.eta_s is not None and e.eta_s > 0:
        details.append(f"ETA {format_seconds(e.eta_s)}")
    details.append(f"{e.calls:,} call{'s' if e.calls != 1 else ''}")
    return f"{read} {e.entity} ({', '.join(details)})"


def progress_line(snapshot: Snapshot) -> str:
    return "read so far: " + "; ".join(describe(e) for e in snapshot.entities)


class LogObserver(Observer):
    """Logs `progress_line` at most every `every` seconds while items are read: a long extraction shows it is
    alive in a log file, a pipe or a Prefect worker's output."""

    def __init__(self, every: float = 10.0, logger: logging.Logger = log):
        self.every = every
        self.logger = logger
        self._lock = threading.Lock()
        self._last: float | None = None

    def attach(self, progress: Progress) -> None:
        with self._lock:
            self._last = progress.clock()

    def changed(self, progress: Progress, entity: str) -> None:
        now = progress.clock()
        with self._lock:
            if self._last is not None and now - self._last < self.every:
                return
            self._last = now
        self.logger.info("%s", progress_line(progress.snapshot()))
