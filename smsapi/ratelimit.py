"""A thread-safe client-side rate limiter per key (``Module/Method``): a fixed rate, or one that learns the
gateway's limit from its only signal, code 30.

The gateway publishes no limit; it counts each method's calls over a sliding second and answers code 30 past
its limit. The adaptive limiter starts at a moderate rate and, until the first code 30, adds one call per
second for every clean answer it held back (the rate more than doubles each second while it is what limits
the caller). On a code 30 it drops to 90 % of the rate the gateway actually let through in the last second
(what it answered without code 30, with half a spacing's slack for answers' jitter), the best estimate of the
limit there is, and from then on probes upwards slowly: +0.05 % of that estimate per clean answer, so it meets
the limit again only about every two hundred calls. Past the estimate with no code 30 the estimate was low
(measured while the gateway still counted someone else's calls, say): it climbs by 1 % per answer until the
gateway says so. That keeps code-30 answers near 0.5 % of calls and the average rate near 95 % of the limit,
whatever the limit is.

What finding a limit costs is the first overshoot, so a back-off keeps it to the calls already sent:
- Callers waiting for a slot when a back-off comes (their slots were spaced at the rate given up on) reserve
  again at the new rate; only the calls already on their way meet the gateway's full window.
- Besides spacing calls ``1/rate`` apart, the limiter keeps the gateway's own rule at the limit it showed:
  at most ``max(rate, estimate)`` calls in any WINDOW. Spacing alone keeps that at a steady rate; after a
  back-off it holds the next call until the calls made at the old rate have left the window, so that the
  first calls at the new rate do not meet code 30 while the gateway still counts the old ones.
- A code 30 for a call made at a rate already given up on, or within a second of backing off, is not counted
  twice (``epoch``).

So from scratch a limit costs one code 30 (and one for each other call in flight at that moment) however many
threads call the method. ``learned()`` gives the estimates to keep for the next run, which starts from them
instead of from scratch.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["RateLimiter"]

START_RATE = 5.0  # calls/s per method before anything is known: moderate for any account
MIN_RATE = 0.2  # never slower than one call per five seconds
BACK_OFF = 0.9  # after a code 30: this share of the rate the gateway let through
PROBE = 0.0005  # then + this share of that estimate per clean answer (the limit again after ~200 calls): the
# sawtooth between 90 % and 100 % of the limit averages 95 % however fast it climbs, and climbing half as fast
# meets code 30 half as often (bench/ratelimit.py: 2.9 % of calls at 2/s from scratch with 0.001)
CLIMB = 0.01  # past the estimate with no code 30: + this share of the rate per clean answer
WINDOW = 1.0  # seconds: the gateway's sliding window, over which "the rate it let through" is measured


@dataclass
class _Key:
    rate: float
    estimate: float | None = None  # the limit as last measured at a code 30; None: still ramping up
    epoch: int = 0  # bumped at each back-off
    next_slot: float = 0.0
    slots: deque = field(default_factory=deque)  # the slots reserved from WINDOW ago on (some ahead), in order
    answered: deque = field(default_factory=deque)  # times of clean answers within 2 WINDOWs
    backed_off_at: float | None = None


class RateLimiter:
    """Spaces calls to the same key at least ``1/rate`` seconds apart (and, adaptive, after a back-off, until
    the calls made at the old rate have left the gateway's window).

    ``rate``: calls per second; ``None`` disables limiting. With ``adaptive=True`` it is the cap the learned
    rate never exceeds (``None``: no cap), and each key's rate starts at ``learned[key]`` if given, else at
    ``START_RATE``. Each caller reserves the next free slot under a lock, then sleeps outside it, so threads
    calling the same method queue up fairly while calls to other methods are not held back.
    """

    def __init__(self, rate: float | None, *, adaptive: bool = False, learned: Mapping[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate is not None and rate <= 0:
            raise ValueError("rate must be a positive number of calls per second, or None for no limit")
        self.rate = rate
        self.adaptive = adaptive
        self._learned = {k: float(v) for k, v in (learned or {}).items() if _positive(v)}
        self._clock = clock
        self._sleep = sleep
        self._keys: dict[str, _Key] = {}
        self._lock = threading.Lock()

    @property
    def limited(self) -> bool:
        return self.adaptive or self.rate is not None

    def _key(self, key: str) -> _Key:
        state = self._keys.get(key)
        if state is None:
            if not self.adaptive:
                state = _Key(rate=self.rate or 0.0)
            elif key in self._learned:
                estimate = self._capped(self._learned[key])
                state = _Key(rate=self._capped(BACK_OFF * estimate), estimate=estimate)
            else:
                state = _Key(rate=self._capped(START_RATE))
            state.next_slot = self._clock()
            self._keys[key] = state
        return state

    def _capped(self, rate: float) -> float:
        rate = max(rate, MIN_RATE)
        return min(rate, self.rate) if self.rate is not None else rate

    def _reserve(self, state: _Key) -> float:
        """Under the lock: take the next free slot; return how long until it."""
        now = self._clock()
        slots = state.slots
        while slots and slots[0] <= now - WINDOW:
            slots.popleft()
        slot = max(now, state.next_slot)
        # the gateway's rule at the limit it showed: spacing alone keeps it at a steady rate; after a back-off
        # this holds the next call until the calls made at the old rate have left the window
        most = math.ceil(max(state.rate, state.estimate or 0.0) * WINDOW)
        if len(slots) >= most:
            slot = max(slot, slots[-most] + WINDOW)
        slots.append(slot)
        state.next_slot = slot + 1.0 / state.rate
        return slot - now

    def reserve(self, key: str) -> float:
        """Reserve the next slot for ``key``; return how long the caller must wait for it."""
        if not self.limited:
            return 0.0
        with self._lock:
            return self._reserve(self._key(key))

    def acquire(self, key: str) -> tuple[float, int]:
        """Block until a call to ``key`` is allowed; return (seconds waited, the key's epoch for `throttled`).
        A caller whose wait a back-off interrupted (the epoch moved on) reserves again at the new rate."""
        if not self.limited:
            return 0.0, 0
        waited = 0.0
        while True:
            with self._lock:
                state = self._key(key)
                epoch = state.epoch
                wait = self._reserve(state)
            if wait <= 0:
                return waited, epoch
            self._sleep(wait)
            waited += wait
            with self._lock:
                if state.epoch == epoch:
                    return waited, epoch

    def answered(self, key: str, waited: bool) -> None:
        """A call to ``key`` was answered without code 30; `waited`: the limiter held it back (only then is the
        rate what limits the caller, and worth raising)."""
        if not self.adaptive:
            return
        with self._lock:
            state = self._key(key)
            now = self._clock()
            state.answered.append(now)
            while state.answered and state.answered[0] <= now - 2 * WINDOW:
                state.answered.popleft()
            if waited:
                if state.estimate is None:
                    step = 1.0
                elif state.rate < state.estimate:
                    step = PROBE * state.estimate
                else:
                    step = CLIMB * state.rate
                state.rate = self._capped(state.rate + step)

    def throttled(self, key: str, epoch: int) -> None:
        """A call to ``key``, made in `epoch`, was answered code 30 (rate limit exceeded): back off, once per
        epoch, to BACK_OFF of the rate the gateway let through in the last WINDOW, and send the callers waiting
        for a slot back to reserve one at that rate."""
        if not self.adaptive:
            return
        with self._lock:
            state = self._key(key)
            now = self._clock()
            if epoch != state.epoch or (state.backed_off_at is not None and now - state.backed_off_at < WINDOW):
                return  # spaced at a rate given up on, or the gateway's window still holds calls made at it
            # what the gateway answered in its last window: its limit if our calls filled it, less if another
            # client's did (the climb past the estimate then finds the rest). It counts calls by when they
            # reached it, this by when they were answered: the oldest call in its window came in just after the
            # window's start (that is why this one was refused), and may have been answered a little sooner
            # than this one. Half a spacing more counts it, not the call before it (at 5/s, a miss is a 20 %
            # low estimate, and 200 answers to probe back)
            since = now - WINDOW - 0.5 / state.rate
            let_through = sum(1 for t in state.answered if t > since) / WINDOW
            # never above the rate it was tried at or the last estimate, whichever is higher (the slack may
            # count one call too many); a code 30 below the estimate (calls bunched on their way: a thread
            # late) does not bring it below what the gateway let through
            tried = max(state.rate, state.estimate or 0.0)
            state.estimate = self._capped(min(tried, let_through) if let_through else state.rate / 2)
            state.rate = self._capped(BACK_OFF * state.estimate)
            state.epoch += 1
            state.backed_off_at = now
            while state.slots and state.slots[-1] > now:  # not sent yet: their callers reserve again
                state.slots.pop()
            state.next_slot = now + 1.0 / state.rate

    def adopt(self, estimates: Mapping[str, float]) -> None:
        """Take `estimates` (calls/s per key) as this limiter's own, as if measured at a code 30 here: what the
        clients that shared this account's limit measured together (a run's message batches on a Dask cluster,
        `flows.batches`). Calls made after it start at BACK_OFF of them, and ``learned()`` keeps them."""
        if not self.adaptive:
            return
        with self._lock:
            for key, value in estimates.items():
                if _positive(value):
                    state = self._key(key)
                    state.estimate = self._capped(float(value))
                    state.rate = self._capped(BACK_OFF * state.estimate)

    def learned(self) -> dict[str, float]:
        """Each key's estimated limit, where the gateway has shown one (a code 30), to start the next run with.
        A key that never met its limit is left out: the next run ramps it up from scratch, faster than it
        would climb from a rate that was never a limit."""
        with self._lock:
            return {key: round(state.estimate, 3) for key, state in self._keys.items()
                    if state.estimate is not None}

    def rates(self) -> dict[str, float]:
        """Each key's current rate in calls per second."""
        with self._lock:
            return {key: round(state.rate, 3) for key, state in self._keys.items()}


def _positive(value) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False
