"""Switchable faults: each at a given rate, reproducible from the seed."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field, fields


@dataclass
class Faults:
    """What the sandbox does wrong, and how often. Rates are probabilities per call (0..1).

    rate_limit: calls per second allowed per method (0 = unlimited); rate_limit_methods overrides it per
    "Module/Method". wrong_port: also serve a second port answering code 13 with data "127.0.0.1:<port>".
    background_tasks: share of Campaign/AddRecipients calls answered with code 100 (by groups or a file:
    always); task_polls: TaskQueue/GetStatus polls until status 2. lost_answers: per "Module/Method", the
    share of calls carried out whose answer is then lost (the connection drops after the work is done).
    """

    rate_limit: float = 0.0
    rate_limit_methods: dict[str, float] = field(default_factory=dict)
    wrong_port: bool = False
    background_tasks: float = 0.0
    task_polls: int = 3
    http_5xx: float = 0.0
    drop: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 1.0
    truncated: float = 0.0
    code3: float = 0.0
    code999: float = 0.0
    lost_answers: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict, base: Faults | None = None) -> Faults:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        cur = asdict(base) if base else {}
        cur.update(d)
        return cls(**cur)

    def to_dict(self) -> dict:
        return asdict(self)


class FaultInjector:
    """Draws the fault for each call: one seeded random stream per method, so runs repeat."""

    KINDS = ("drop", "http_5xx", "truncated", "code3", "code999")

    def __init__(self, faults: Faults):
        self.lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self._rngs: dict[str, random.Random] = {}
            self._calls: dict[str, deque] = defaultdict(deque)

    def _rng(self, method: str) -> random.Random:
        r = self._rngs.get(method)
        if r is None:
            r = self._rngs[method] = random.Random(f"{self.faults.seed}:{method}")
        return r

    def rate_limited(self, method: str) -> bool:
        f = self.faults
        limit = f.rate_limit_methods.get(method, f.rate_limit)
        if not limit:
            return False
        with self.lock:
            now = time.monotonic()
            q = self._calls[method]
            while q and q[0] <= now - 1.0:
                q.popleft()
            if len(q) >= limit:
                return True
            q.append(now)
            return False

    def draw(self, method: str) -> tuple[str | None, float]:
        """(fault kind or None, delay seconds) for one call."""
        f = self.faults
        with self.lock:
            r = self._rng(method)
            delay = f.slow_seconds if (f.slow and r.random() < f.slow) else 0.0
            for kind in self.KINDS:
                rate = getattr(f, kind)
                if rate and r.random() < rate:
                    return kind, delay
            return None, delay

    def answer_lost(self, method: str) -> bool:
        rate = self.faults.lost_answers.get(method, 0.0)
        if not rate:
            return False
        with self.lock:
            return self._rng(method + "#lost").random() < rate

    def background(self, method: str) -> bool:
        f = self.faults
        if not f.background_tasks:
            return False
        with self.lock:
            return self._rng(method + "#bg").random() < f.background_tasks
