"""Switchable faults: each at a given rate, reproducible from the seed."""

from __future__ import annotations

import random
import threading
import time
import zlib
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
    mangle: hostile Message/List pages, damage name (`ITEM_DAMAGES`, `PAGE_DAMAGES`) -> share. An item damage
    hits that share of items, chosen by message id (the same items at every read), of the campaigns in
    mangle_campaigns (empty: all). "duplicate" starts that share of pages after the first with the page
    before's last item; "shrink" (any share) serves the first read of each listing's page 1 as if its first
    `SHRINK_BY` items had left the set (every later page is shifted back and its totalItemCount lower);
    "shift" (any share) serves the first read of each listing's pages after the first as if page 0's first
    item had left the set and another had joined after the last (the one that left, served again there), so
    totalItemCount stays the same while every later page starts one item later: page 1's first item is skipped.
    webhook_duplicate / webhook_retry_after_ok: the share of delivery-report webhooks (chosen by eventId) sent
    twice, or sent again after a 2xx (`sandbox.webhook_sender`).
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
    mangle: dict[str, float] = field(default_factory=dict)
    mangle_campaigns: list[int] = field(default_factory=list)
    webhook_duplicate: float = 0.0
    webhook_retry_after_ok: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.mangle) - set(ITEM_DAMAGES) - set(PAGE_DAMAGES)
        if unknown:
            raise ValueError(f"unknown mangle damages {sorted(unknown)}: use {[*ITEM_DAMAGES, *PAGE_DAMAGES]}")

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


# -- hostile payloads (the `mangle` fault) ------------------------------------------------------------------

# Every script the gateway could carry, and emoji of each kind (ZWJ sequences, flags, skin tones, keycaps),
# combining marks, bidi controls, a NUL and a lone surrogate's replacement.
EVERY_SCRIPT = ("Latin é ß ø Ł; Кириллица ё; Ελληνικά; עברית; العربية; हिन्दी; বাংলা; ไทย; 中文汉字; 日本語かなカナ; "
                "한국어; ქართული; Հայերեն; አማርኛ; தமிழ்; 𝔘𝔫𝔦𝔠𝔬𝔡𝔢; Z̴̡a̷l̶g̸o; \u200f\u202e rtl \u202c; "
                "😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈🇰🇿1️⃣🤌🫠; \x00 nul; \ufffd")
LONG_TEXT = ("Длинный текст 🚀 " * 700)[:10_240]  # 10 kB of characters, well beyond any real SMS


def _numbers(item: dict) -> None:
    for key in ("id", "campaignId", "segNum"):
        if isinstance(item.get(key), str) and item[key].isdigit():
            item[key] = int(item[key])
    if isinstance(item.get("segUserBuy"), str):
        item["segUserBuy"] = float(item["segUserBuy"])


def _set(**values):
    return lambda item: item.update(values)


def _pop(*keys):
    return lambda item: [item.pop(k, None) for k in keys]


# damage name -> what it does to one Message/List item (in place)
ITEM_DAMAGES = {
    "missing_fields": _pop("status", "segNum", "segUserBuy", "startSendTs", "statusUpdateTs", "text", "to"),
    "nulls": _set(campaignId=None, status=None, segNum=None, segUserBuy=None, startSendTs=None,
                  statusUpdateTs=None, text=None, to=None, uuid=None),
    "extra_fields": _set(fieldFromTheFuture={"nested": [1, "two", None]}, anotherNewField=None, **{"": "blank"}),
    "numbers": _numbers,
    "unknown_status": _set(status="WEIRDST"),
    "blank_timestamps": _set(startSendTs="", statusUpdateTs="   "),
    "bad_timestamps": _set(startSendTs="yesterday", statusUpdateTs="2026-13-45 25:61:00"),
    "long_text": _set(text=LONG_TEXT),
    "every_script": _set(text=EVERY_SCRIPT),
    "id_beyond_32_bits": lambda item: item.update(id=str(int(str(item["id"])) + BIG_ID_OFFSET)),
    "missing_id": _pop("id"),
}
BIG_ID_OFFSET = 2**53 + 2**40  # beyond 32 bits, and beyond what a float (or JavaScript) holds exactly
PAGE_DAMAGES = ("duplicate", "shrink", "shift")
SHRINK_BY = 5


def chosen(seed: int, name: str, key, share: float) -> bool:
    """Whether `key` (a message id, a page) is among the `share` that damage `name` hits: a pure function."""
    return zlib.crc32(f"{seed}:{name}:{key}".encode()) < share * 2**32
