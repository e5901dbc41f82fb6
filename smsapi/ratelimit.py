"""A thread-safe client-side rate limiter per key (``Module/Method``): a fixed rate, or one that learns the
gateway's limit from its only signal, code 30.

The gateway publishes no limit. The adaptive limiter starts at a moderate rate and, until the first code 30,
adds one call per second for every clean answer it held back (the rate doubles each second while it is what
limits the caller). On a code 30 it drops to 90 % of the rate the gateway actually let through in the last
second (what it answered without code 30), the best estimate of the limit there is, and from then on probes
upwards slowly: +0.05 % of that estimate per clean answer, so it meets the limit again only about every
two hundred calls. Past the estimate with no code 30 the estimate was low (measured while the gateway still
counted someone else's calls, say): it climbs by 1 % per answer until the gateway says so. That keeps code-30
answers near 0.5 % of calls and the average rate near 95 % of the limit, whatever the limit is. A code 30 for a
call spaced at a rate already given up on, or within a second of backing off, is not counted twice
(``epoch``). ``learned()`` gives the estimates to keep for the next run, which starts from them instead of
from scratch.
"""
from __future__ import annotations

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
WINDOW = 1.0  # seconds over which "the rate the gateway let through" is measured


@dataclass
class _Key:
    rate: float
    estimate: float | None = None  # the limit as last measured at a code 30; None: still ramping up
    epoch: int = 0  # bumped at each back-off
    next_slot: float = 0.0
    answered: deque = field(default_factory=deque)  # times of clean answers within WINDOW
    backed_off_at: float | None = None


class RateLimiter:
    """Spaces calls to the same key at least ``1/rate`` seconds apart.

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

    def reserve(self, key: str) -> float:
        """Reserve the next slot for ``key``; return how long the caller must wait for it."""
        if not self.limited:
            return 0.0
        with self._lock:
            state = self._key(key)
            now = self._clock()
            slot = max(now, state.next_slot)
            state.next_slot = slot + 1.0 / state.rate
            return slot - now

    def acquire(self, key: str) -> tuple[float, int]:
        """Block until a call to ``key`` is allowed; return (seconds waited, the key's epoch for `throttled`)."""
        if not self.limited:
            return 0.0, 0
        with self._lock:
            epoch = self._key(key).epoch
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait, epoch

    def answered(self, key: str, waited: bool) -> None:
        """A call to ``key`` was answered without code 30; `waited`: the limiter held it back (only then is the
        rate what limits the caller, and worth raising)."""
        if not self.adaptive:
            return
        with self._lock:
            state = self._key(key)
            now = self._clock()
            state.answered.append(now)
            while state.answered and state.answered[0] <= now - WINDOW:
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
        epoch, to BACK_OFF of the rate the gateway let through in the last WINDOW."""
        if not self.adaptive:
            return
        with self._lock:
            state = self._key(key)
            now = self._clock()
            if epoch != state.epoch or (state.backed_off_at is not None and now - state.backed_off_at < WINDOW):
                return  # spaced at a rate given up on, or the gateway's window still holds calls made at it
            while state.answered and state.answered[0] <= now - WINDOW:
                state.answered.popleft()
            # what the gateway answered in its last window: its limit if our calls filled it, less if another
            # client's did (the climb past the estimate then finds the rest)
            let_through = len(state.answered) / WINDOW
            state.estimate = self._capped(min(state.rate, let_through) if let_through else state.rate / 2)
            state.rate = self._capped(BACK_OFF * state.estimate)
            state.epoch += 1
            state.backed_off_at = now
            state.next_slot = max(state.next_slot, now + 1.0 / state.rate)

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
