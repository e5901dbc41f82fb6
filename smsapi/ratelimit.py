"""A thread-safe client-side rate limiter: at most ``rate`` calls per second per key (``Module/Method``)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Spaces calls to the same key at least ``1/rate`` seconds apart; ``rate=None`` disables it.

    Each caller reserves the next free slot under a lock, then sleeps outside it, so threads calling the same
    method queue up fairly while calls to other methods are not held back.
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate is not None and rate <= 0:
            raise ValueError("rate must be a positive number of calls per second, or None for no limit")
        self.rate = rate
        self.interval = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str) -> float:
        """Reserve the next slot for ``key``; return how long the caller must wait for it."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self.interval
            return slot - now

    def acquire(self, key: str) -> float:
        """Block until a call to ``key`` is allowed; return the seconds waited."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait
