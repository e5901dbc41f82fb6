"""Delivery-report webhooks (API.md section 8), pushed by the sandbox to a configured URL as its clock moves.

Contract. Each move of the clock (a `Clock` listener) finds, vectorised over the world's arrays, the messages
whose final status (`World.final_at`) is now reached and was not reported before: one `sms-delivery-report`
per message, ever (messages already final when the sender starts count as reported, so moving the clock back
and forth reports nothing twice). Events go out in the order of their status change, built exactly as section
8 describes: ids as JSON ints, `eventId` = `EVENT_ID_BASE` + the message's index (stable, unique),
`eventCreateTs` = the status change time as the gateway writes it, `data` = `{campaignId, messageId, segNum,
statusUpdateTs, status, to}` (the same values `Message/List` gives), `sign` = sha1(`eventId|attempt|
eventCreateTs|secret`). The clock's setter only queues the messages' indices: a builder thread makes the
events and `threads` sender threads POST them (kept-alive connections, `timeout` s per connect and per read),
so the admin clock route answers at once however many events a move makes.

An answer other than 2xx, a timeout or a connection error is a failed attempt: attempt n + 1 follows n x
`retry_step` seconds later (the gateway: the interval grows by one minute each attempt, `retry_step` = 60),
with its own sign, up to `MAX_ATTEMPTS` attempts; then the event is given up (counted). Faults, read from the
server's current `Faults` at each event: `webhook_duplicate` (that share of events, chosen by eventId, is sent
twice, same attempt and sign) and `webhook_retry_after_ok` (that share is sent again once after a 2xx, attempt
+ 1, as a gateway that missed the answer would). Extra sends are one POST each, never retried. The secret is
used for signing only: it is in no count, log line or exception text.
"""

from __future__ import annotations

import hashlib
import heapq
import http.client
import itertools
import json
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from .data import CAMPAIGN_ID_BASE, MESSAGE_ID_BASE, STATUSES, World
from .faults import Faults, chosen

EVENT_TYPE = "sms-delivery-report"
EVENT_ID_BASE = 700_000_000  # + the message's index: one event per message
WEBHOOK_ID = 1  # the id of the one webhook the sandbox's account has registered
MAX_ATTEMPTS = 10
BUILD_CHUNK = 1000  # events built per hold of the world's lock
MAX_WAITING = 20_000  # built events not yet sent once: the builder waits, so a huge move holds no huge queue


def sign(event_id, attempt, event_create_ts, secret: str) -> str:
    """sha1(`eventId|attempt|eventCreateTs|secretKey`) in hex (API.md section 8)."""
    return hashlib.sha1(f"{event_id}|{attempt}|{event_create_ts}|{secret}".encode()).hexdigest()


@dataclass
class _Job:
    event: dict        # the event without attempt and sign
    attempt: int
    kind: str          # "event" (retried on failure), "duplicate" or "again" (one POST each)


class _Schedule:
    """Jobs due at a monotonic time; `get` blocks until the earliest is due, None once closed."""

    def __init__(self):
        self._heap: list = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._closed = False

    def put(self, job: _Job, delay: float = 0.0) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
            self._cv.notify()

    def get(self) -> _Job | None:
        with self._cv:
            while not self._closed:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._heap)[2]
                self._cv.wait(wait)
            return None

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()


class WebhookSender:
    """Sends a world's delivery reports to `url`, signed with `secret`. `faults()` gives the current faults.
    Start with :meth:`start` (attaches to the clock), stop with :meth:`close`."""

    def __init__(self, world: World, url: str, secret: str, faults=None, threads: int = 4,
                 timeout: float = 5.0, retry_step: float = 60.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook URL {url!r} is not http(s)://host[:port]/path: give the receiver's URL")
        if not secret:
            raise ValueError("the webhook secret is empty: pass --webhook-secret or set SMS_WEBHOOK_SECRET, the "
                             "secret the receiver checks signs with")
        self.world, self.url = world, url
        self._secret = secret
        self._faults = faults or Faults
        self._target = (parts.scheme, parts.hostname, parts.port, (parts.path or "/") +
                        (f"?{parts.query}" if parts.query else ""))
        self.timeout, self.retry_step = float(timeout), float(retry_step)
        self._counts: Counter = Counter()
        self._pending = 0  # events and extra sends not finished (queued, being built, scheduled or in flight)
        self._lock = threading.Lock()
        self._batches: queue.Queue = queue.Queue()
        self._schedule = _Schedule()
        self._room = threading.Semaphore(MAX_WAITING)  # taken per event built, given back at its first POST
        self._stopping = threading.Event()
        self._reported = np.zeros(0, dtype=bool)
        self._threads = [threading.Thread(target=self._build, daemon=True, name="webhook-builder")]
        self._threads += [threading.Thread(target=self._send, daemon=True, name=f"webhook-sender-{k}")
                          for k in range(max(1, int(threads)))]

    def __repr__(self) -> str:  # never the secret
        return f"WebhookSender({self.url!r})"

    # ------------------------------------------------------------ life cycle
    def start(self) -> WebhookSender:
        with self.world.lock:
            _, at = self.world.final_at()
            self._reported = at <= self.world.clock.ts  # the gateway reported these before we started
            self.world.clock.add_listener(self.clock_moved)
        for t in self._threads:
            t.start()
        return self

    def close(self) -> None:
        """Stop sending: what is still pending is dropped (a test waits with `wait_drained` first)."""
        self.world.clock.remove_listener(self.clock_moved)
        self._stopping.set()
        self._batches.put(None)
        self._schedule.close()
        self._room.release(MAX_WAITING)  # a builder waiting for room gets it, and then sees the end
        for t in self._threads:
            t.join(timeout=self.timeout + 1)

    # ------------------------------------------------------------ the clock hook
    def clock_moved(self, before_ts: int, after_ts: int) -> None:
        """Queue the messages whose final status is reached by `after_ts` and not yet reported (quick: no
        event is built here)."""
        with self.world.lock:
            code, at = self.world.final_at()
            if len(self._reported) < len(at):  # messages added through the API
                self._reported = np.concatenate([self._reported, np.zeros(len(at) - len(self._reported), bool)])
            hit = np.flatnonzero((at <= after_ts) & ~self._reported)
            if not len(hit):
                return
            self._reported[hit] = True
            hit = hit[np.argsort(at[hit], kind="stable")]
            with self._lock:
                self._counts["queued"] += len(hit)
                self._pending += len(hit)
            self._batches.put((hit, code[hit], at[hit]))

    # ------------------------------------------------------------ threads
    def _build(self) -> None:
        while (batch := self._batches.get()) is not None:
            idx, code, at = batch
            for a in range(0, len(idx), BUILD_CHUNK):
                if self._stopping.is_set():
                    return
                for event in self._events(idx[a:a + BUILD_CHUNK], code[a:a + BUILD_CHUNK], at[a:a + BUILD_CHUNK]):
                    faults = self._faults()
                    self._room.acquire()
                    self._schedule.put(_Job(event, 1, "event"))
                    if chosen(faults.seed, "webhook_duplicate", event["eventId"], faults.webhook_duplicate):
                        self._extra(_Job(event, 1, "duplicate"))

    def _events(self, idx: np.ndarray, code: np.ndarray, at: np.ndarray) -> list[dict]:
        w = self.world
        with w.lock:
            camp, seg, numbers = w.m_camp[idx], w.m_seg[idx], w.message_numbers(idx)
            times = [w.fmt(int(t)) for t in at]
        return [{"eventId": EVENT_ID_BASE + int(i), "eventType": EVENT_TYPE, "eventCreateTs": times[k],
                 "webhookId": WEBHOOK_ID,
                 "data": {"campaignId": CAMPAIGN_ID_BASE + int(camp[k]), "messageId": MESSAGE_ID_BASE + int(i),
                          "segNum": int(seg[k]), "statusUpdateTs": times[k], "status": STATUSES[int(code[k])],
                          "to": numbers[k][0]}}
                for k, i in enumerate(idx.tolist())]

    def _extra(self, job: _Job, delay: float = 0.0) -> None:
        with self._lock:
            self._pending += 1
            self._counts["duplicates" if job.kind == "duplicate" else "resent_after_ok"] += 1
        self._schedule.put(job, delay)

    def _send(self) -> None:
        connection = None
        while (job := self._schedule.get()) is not None:
            if job.kind == "event" and job.attempt == 1:
                self._room.release()
            event = job.event
            body = json.dumps({**event, "attempt": job.attempt,
                               "sign": sign(event["eventId"], job.attempt, event["eventCreateTs"], self._secret)},
                              ensure_ascii=False, separators=(",", ":")).encode()
            connection, ok = self._post(connection, body)
            with self._lock:
                self._counts["sent"] += 1
                self._counts["answered_2xx" if ok else "failed"] += 1
            self._settle(job, ok)
        if connection is not None:
            connection.close()

    def _settle(self, job: _Job, ok: bool) -> None:
        """Count the outcome of one POST and schedule what follows it: a retry, a re-send after a 2xx, nothing."""
        retry = job.kind == "event" and not ok and job.attempt < MAX_ATTEMPTS
        if ok and job.kind == "event":
            faults = self._faults()
            if chosen(faults.seed, "webhook_retry_after_ok", job.event["eventId"], faults.webhook_retry_after_ok):
                self._extra(_Job(job.event, job.attempt + 1, "again"), job.attempt * self.retry_step)
        with self._lock:
            if job.kind == "event":
                self._counts["delivered" if ok else "retried" if retry else "given_up"] += 1
            if not retry:
                self._pending -= 1
        if retry:
            self._schedule.put(_Job(job.event, job.attempt + 1, "event"), job.attempt * self.retry_step)

    def _connect(self):
        scheme, host, port, _ = self._target
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        return kind(host, port, timeout=self.timeout)

    def _post(self, connection, body: bytes):
        """(connection to keep, answered 2xx). A kept-alive connection the receiver closed meanwhile is
        reopened once at once: that is not the receiver failing the event."""
        headers = {"Content-Type": "application/json", "User-Agent": "sandbox-webhooks/1"}
        for reused in ((True, False) if connection is not None else (False,)):
            connection = connection or self._connect()
            try:
                connection.request("POST", self._target[3], body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                return connection, 200 <= answer.status < 300
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = None
                stale = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if not (reused and stale):
                    return None, False
        return None, False

    # ------------------------------------------------------------ state
    def counts(self) -> dict:
        """queued (events), sent (POSTs), answered_2xx, failed (POSTs), delivered (events answered 2xx),
        retried, given_up, duplicates, resent_after_ok, pending (not finished; 0 once drained)."""
        with self._lock:
            names = ("queued", "sent", "answered_2xx", "failed", "delivered", "retried", "given_up", "duplicates",
                     "resent_after_ok")
            return {"url": self.url, **{n: self._counts[n] for n in names}, "pending": self._pending}

    def wait_drained(self, timeout: float = 60.0) -> dict:
        """The counts once nothing is pending (raises TimeoutError after `timeout` s, naming what is left)."""
        deadline = time.monotonic() + timeout
        while (counts := self.counts())["pending"] and time.monotonic() < deadline:
            time.sleep(0.02)
        if counts["pending"]:
            raise TimeoutError(f"webhooks still pending after {timeout:.0f} s: {counts}")
        return counts
