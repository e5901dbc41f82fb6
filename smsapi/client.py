"""``SmsApi``: one object that speaks the gateway's wire protocol, with every response code handled.

Retry lives in one place (``SmsApi.call``): transport failures and the retriable codes (3, 10, 30, 999) back off
exponentially with jitter up to ``max_retries``; code 13 follows the domain in ``data``; code 100 polls the
background task; 98 returns a ``PartialResult``; everything else fails fast with an ``ApiError``.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import quote_plus, urlsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from .encoding import http_build_query
from .errors import (
    RETRIABLE_CODES,
    BadRequestError,
    ConfigError,
    NothingDoneError,
    SmsApiError,
    TaskFailedError,
    TransportError,
    UncertainWriteError,
    WrongDomainError,
    code_meaning,
    error_for,
    short_json,
)
from .paginate import PAGE_SIZE, ColumnItems, Page, PageNumberPaginator
from .ratelimit import RateLimiter
from .redaction import REDACTED, install_log_redaction, redact, register_secret
from .windows import format_ts, get_zone, split_windows, to_local

__all__ = ["ApiStats", "PartialResult", "SmsApi"]

log = logging.getLogger("smsapi")

IDS_PER_CALL = 100          # Message/GetSMSStatus ids, criteria[campaignIds]
LINK_STATS_IDS_PER_CALL = 5  # Link/GetStats ids[]
RECIPIENTS_PER_CALL = 500   # Campaign/AddRecipients recipients
WRITE_LOOKBACK = timedelta(minutes=10)  # how far back a lost write is looked for (see `_write_once_checked`)
MAX_DOMAIN_SWITCHES = 3
TASK_DONE, TASK_REJECTED = 2, 3
# Link/GetStats silently truncates ranges wider than these.
LINK_STATS_MAX_RANGE = {
    "minute": timedelta(hours=3),
    "hourly": timedelta(weeks=1),
    "daily": timedelta(days=90),
    "monthly": timedelta(days=3 * 365),
}


@dataclass
class PartialResult:
    """Code 98: a bulk operation done in part. ``processed`` and ``failed`` split the per-item results."""

    module: str
    method: str
    message: str
    data: Any
    processed: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    code: int = 98

    ok = False
    partial = True

    @classmethod
    def from_envelope(cls, module: str, method: str, message: str, data: Any) -> PartialResult:
        processed, failed = split_items(data)
        return cls(module, method, message or "", data, processed, failed)

    def __str__(self) -> str:
        return (f"API code 98: {code_meaning(98)} ({self.module}/{self.method}): "
                f"{len(self.processed)} processed, {len(self.failed)} failed")


def split_items(data: Any) -> tuple[list, list]:
    """Per-item results of a bulk call as (processed, failed).

    Understands a list of items with their own ``code`` (AddRecipients) and ``{processed, notProcessed}``
    (Link/Delete); anything else counts as failed so that nothing is silently taken for success.
    """
    if isinstance(data, dict):
        processed = data.get("processed") or []
        failed = data.get("notProcessed", data.get("failed")) or []
        if "processed" in data or "notProcessed" in data or "failed" in data:
            return list(processed), list(failed)
        data = data.get("items", [data])
    if isinstance(data, list):
        processed, failed = [], []
        for item in data:
            code = item.get("code") if isinstance(item, dict) else None
            try:
                ok = code is not None and int(str(code)) == 0
            except ValueError:
                ok = False
            (processed if ok else failed).append(item)
        return processed, failed
    return [], ([] if data is None else [data])


class ApiStats:
    """Thread-safe counters: calls per ``Module/Method``, retries by cause, errors by code, limiter waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.domain_switches = 0
        self.rate_limit_waits = 0
        self.rate_limit_wait_seconds = 0.0
        self.repeated_items = 0  # list items seen twice while paging (dropped)
        self.lists_shrunk = 0  # listings whose totalItemCount fell while paging (re-read from the start)
        self.lists_shifted = 0  # listings read short of their total, whose re-read found the items skipped

    def add_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def add_retry(self, cause: str) -> None:
        with self._lock:
            self.retries[cause] += 1

    def add_error(self, cause: str) -> None:
        with self._lock:
            self.errors[cause] += 1

    def add_wait(self, seconds: float) -> None:
        with self._lock:
            self.rate_limit_waits += 1
            self.rate_limit_wait_seconds += seconds

    def add_domain_switch(self) -> None:
        with self._lock:
            self.domain_switches += 1

    def add_paging(self, repeated: int, shrunk: bool, shifted: bool = False) -> None:
        with self._lock:
            self.repeated_items += repeated
            self.lists_shrunk += int(shrunk)
            self.lists_shifted += int(shifted)

    def add_snapshot(self, other: Mapping[str, Any]) -> None:
        """Count what another client's `snapshot()` shows: the calls of a run's other processes (its message
        batches on a Dask cluster) are the run's calls too."""
        with self._lock:
            self.calls.update(other.get("calls", {}))
            self.retries.update(other.get("retries", {}))
            self.errors.update(other.get("errors", {}))
            self.domain_switches += other.get("domain_switches", 0)
            self.rate_limit_waits += other.get("rate_limit_waits", 0)
            self.rate_limit_wait_seconds += other.get("rate_limit_wait_seconds", 0.0)
            self.repeated_items += other.get("repeated_items", 0)
            self.lists_shrunk += other.get("lists_shrunk", 0)
            self.lists_shifted += other.get("lists_shifted", 0)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "retries": dict(self.retries),
                "errors": dict(self.errors),
                "domain_switches": self.domain_switches,
                "rate_limit_waits": self.rate_limit_waits,
                "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
                "repeated_items": self.repeated_items,
                "lists_shrunk": self.lists_shrunk,
                "lists_shifted": self.lists_shifted,
            }

    def __repr__(self) -> str:
        return f"ApiStats({self.snapshot()!r})"


class _Failure:
    """A transport-level failure, described without any URL that carries the key."""

    __slots__ = ("cause", "maybe_done", "retriable", "text")

    def __init__(self, cause: str, text: str, retriable: bool = True, maybe_done: bool = True):
        # maybe_done: the request may have reached the gateway and been carried out (False only when no
        # connection was made), which decides whether a write may be sent again
        self.cause, self.text, self.retriable, self.maybe_done = cause, text, retriable, maybe_done


def _uncertain(endpoint: str, cause: str) -> str:
    return (f"{endpoint}: {cause} after the request was sent, so it may have been carried out; it is not sent "
            "again without a check (see the gateway's panel or Message/List before sending it yourself)")


def _body(response: requests.Response) -> bytes:
    """A streamed response's whole body in one read, with `Response.content`'s exceptions. `content` reads
    10 KB at a time: some 30 reads through urllib3 for a 330 KB Message/List page; one read cut the exchange's
    CPU from 2.26 to 1.80 ms a page (medians, loopback). Read to the end, the connection goes back to the pool
    as before."""
    try:
        return response.raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:  # as requests.Response.iter_content maps them
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def _never_connected(exc: BaseException) -> bool:
    """Whether a requests error happened before any byte of the request left (refused, unresolvable)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError)):
            return True
        exc = getattr(exc, "reason", None) or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                               else None) or exc.__context__
    return False


SHRINK_REREADS = 2  # re-reads of a listing that shrank while paged, before it is reported as unsettled


def _chunks(values: Iterable[Any], size: int) -> Iterator[list]:
    chunk: list = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _drop_repeats(items: list | ColumnItems, recent: set[int]) -> tuple[list | ColumnItems, int, set[int]]:
    """Items whose id is not in ``recent`` (the ids of the page before) nor earlier on this page: (kept,
    dropped, this page's ids). A repeat comes from the page before, pushed over the boundary by items that
    joined behind the cursor; an id not seen is kept whatever its order (a gateway that sorts loosely, or an
    id beyond the others' range, must not cost rows), and so is an item without an integer id (the
    transforms count it)."""
    by_column = isinstance(items, ColumnItems)
    raw_ids = items.ids() if by_column else [item.get("id") if isinstance(item, dict) else None for item in items]
    kept, ids = [], set()
    for position, raw_id in enumerate(raw_ids):
        try:
            item_id = int(str(raw_id)) if raw_id is not None else None
        except ValueError:
            item_id = None
        if item_id is not None:
            if item_id in recent or item_id in ids:
                continue
            ids.add(item_id)
        kept.append(position)
    dropped = len(raw_ids) - len(kept)
    if not dropped:
        return items, 0, ids
    return (items.take(kept) if by_column else [items[i] for i in kept]), dropped, ids


def _page(items: list | ColumnItems, total: int | None) -> Page | ColumnItems:
    if isinstance(items, ColumnItems):
        items.total = total
        return items
    return Page(items, total=total)


def _normalise_base(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    url = url.removesuffix("/service")
    return url


def rate_limit_from_env(raw: str) -> dict[str, Any]:
    """``SMS_RATE_LIMIT`` as client settings: unset or ``auto`` learns the gateway's limit; a number caps what
    is learned (calls/s per method); ``none`` spaces nothing."""
    raw = raw.strip()
    if raw.lower() in ("", "auto"):
        return {"rate_limit_per_method": None, "adaptive_rate_limit": True}
    if raw.lower() in ("0", "none", "off", "unlimited"):
        return {"rate_limit_per_method": None, "adaptive_rate_limit": False}
    try:
        cap = float(raw)
        if not cap > 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"SMS_RATE_LIMIT={raw!r} is not a positive number: set it to the most calls per second "
                          "per method (e.g. 5), 'auto' (learn the gateway's limit) or 'none'") from None
    return {"rate_limit_per_method": cap, "adaptive_rate_limit": True}


class _KeyInUrl(requests.auth.AuthBase):
    """No credentials to add: the key is in the URL. Set as our session's auth, it also spares every call
    requests' look for a ~/.netrc (a file-system lookup per request, measured at 4 % of a backfill's samples)."""

    def __call__(self, request):
        return request


# A number orjson would turn into a float (beyond 64 bits): decoded by json instead, exactly, as an int.
_LONG_NUMBER = re.compile(rb'(?<![\w".])-?\d{19,}')
# Searching a 330 KB page with that regex cost twice orjson's decoding of it (48 against 24 us per message,
# bench/README.md). So it runs only on a page that has a run of 19 digits anywhere (in a string or not): every
# digit mapped to "0", the rest to " ", and a plain substring search, both in C (2.5 us per message).
_DIGITS_AS_ZERO = bytes(ord("0") if ord("0") <= i <= ord("9") else ord(" ") for i in range(256))
_NINETEEN_DIGITS = b"0" * 19


def _maybe_long_number(content: bytes) -> bool:
    return _NINETEEN_DIGITS in content.translate(_DIGITS_AS_ZERO) and _LONG_NUMBER.search(content) is not None


# A caller's decoder of response bodies (`SmsApi.call`): the envelope of a code-0 answer in its own form, or None.
Decoder = Callable[[bytes], dict | None]


def _loads(content: bytes) -> Any:
    """A response body as JSON: by orjson (decoding pages is the client's largest CPU cost, and orjson's is a
    fraction of json's), else by json where orjson would round a long number or rejects what json accepts."""
    if not _maybe_long_number(content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    return json.loads(content.decode("utf-8"))


class SmsApi:
    """The SMS gateway client. Safe to share between threads.

    ``base_url`` is the API domain (``https://api.mobizon.kz``); ``timezone`` the account's IANA zone, used to
    format datetimes (naive ones are taken as account-local). Calls are spaced per ``Module/Method``: with
    ``adaptive_rate_limit`` (the default) at a rate learned from code 30 answers (see `ratelimit`), started from
    ``learned_rates`` and capped at ``rate_limit_per_method`` calls/s (None: no cap); without it at exactly
    ``rate_limit_per_method`` (None: no client limit). ``max_retries`` bounds the retries of one call;
    ``backoff`` is the first retry delay in seconds, doubled each attempt, with jitter; ``sleep`` is injectable
    for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timezone: str = "Asia/Almaty",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5, 60),
        rate_limit_per_method: float | None = None,
        max_retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        *,
        max_backoff: float = 30.0,
        adaptive_rate_limit: bool = True,
        learned_rates: Mapping[str, float] | None = None,
        task_timeout: float = 3600.0,
        pool_size: int = 16,
    ):
        if not api_key:
            raise ConfigError("no API key: set SMS_API_KEY to the key from the gateway's panel")
        if not base_url:
            raise ConfigError("no API URL: set SMS_API_URL to the account's API domain, e.g. https://api.mobizon.kz")
        install_log_redaction()
        register_secret(api_key)
        self._api_key = api_key
        self._base_url = _normalise_base(base_url)
        self.timezone = timezone if isinstance(timezone, str) else str(timezone)
        self.zone = get_zone(timezone)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.task_timeout = task_timeout
        self._sleep = sleep
        self._rng = random.Random()
        self._lock = threading.Lock()
        self.limiter = RateLimiter(rate_limit_per_method, adaptive=adaptive_rate_limit, learned=learned_rates,
                                   sleep=sleep)
        self.stats = ApiStats()
        self._links_module: str | None = None
        self._gateway_date: tuple[datetime, float] | None = None  # (latest Date header, monotonic then)
        self._transport_settings: dict[str, dict[str, Any]] = {}  # per base URL: see _send
        if session is None:
            session = requests.Session()
            session.auth = _KeyInUrl()
            adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SmsApi:
        """Build a client from ``SMS_API_KEY``, ``SMS_API_URL``, ``SMS_TIMEZONE`` and ``SMS_RATE_LIMIT``;
        keyword overrides (e.g. CLI flags) win. Missing or bad settings raise ConfigError naming the fix."""
        env = os.environ if env is None else env
        api_key = overrides.pop("api_key", None) or env.get("SMS_API_KEY", "").strip()
        if not api_key:
            raise ConfigError("SMS_API_KEY is not set: export SMS_API_KEY=<the API key from the gateway's panel>")
        base_url = overrides.pop("base_url", None) or env.get("SMS_API_URL", "").strip()
        if not base_url:
            raise ConfigError(
                "SMS_API_URL is not set: export SMS_API_URL=<the account's API domain, e.g. https://api.mobizon.kz>"
            )
        timezone = overrides.pop("timezone", None) or env.get("SMS_TIMEZONE", "").strip() or "Asia/Almaty"
        get_zone(timezone, "SMS_TIMEZONE")
        if "rate_limit_per_method" not in overrides:
            overrides.update(rate_limit_from_env(env.get("SMS_RATE_LIMIT", "")))
        return cls(base_url, api_key, timezone=timezone, **overrides)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmsApi(base_url={self.base_url!r}, api_key={REDACTED!r}, timezone={self.timezone!r})"

    @property
    def base_url(self) -> str:
        with self._lock:
            return self._base_url

    def redact(self, text: object) -> str:
        return redact(text, self._api_key, quote_plus(self._api_key))

    def _redacted(self, data: Any) -> Any:
        """`data` with the key redacted from every string in it."""
        if data is None:
            return data
        return json.loads(self.redact(json.dumps(data, ensure_ascii=False)))

    def url_for(self, module: str, method: str) -> str:
        """The full request URL (it contains the key: never log or raise it unredacted)."""
        return (f"{self.base_url}/service/{module}/{method}"
                f"?output=json&api=v1&apiKey={quote_plus(self._api_key)}")

    # -- the one request loop -------------------------------------------------------------------------------
    def call(self, module: str, method: str, params: Mapping[str, Any] | None = None, *,
             write: bool = False, decode: Decoder | None = None) -> Any:
        """One API call with every response code handled; returns ``data`` as on the wire.

        ``decode``, if given, is tried on each response body before the JSON decoder: it returns the envelope
        of a successful answer (code 0) in a form of its own (a listing's items by column, say), or None for
        the body to be decoded as usual (any other code, or a body it does not take); it must not raise.

        Code 100 waits for the background task and returns its final TaskQueue/GetStatus data; code 98 returns
        a ``PartialResult``; code 99 raises ``NothingDoneError`` with the items; fatal codes raise at once.
        A `write` (it sends or bills) is retried only where the gateway cannot have carried it out: no
        connection made, code 30 or 13. A timeout, a dropped connection, HTTP 5xx, a broken body, code 3 or 999
        after the request was sent raise ``UncertainWriteError`` instead (code 10: its own error, not retried);
        the sending methods below then check whether it was done before they send once more.
        """
        endpoint = f"{module}/{method}"
        body = http_build_query(params)
        attempt = 0
        switches = 0
        while True:
            waited, epoch = self.limiter.acquire(endpoint)
            if waited > 0:
                self.stats.add_wait(waited)
            self.stats.add_call(endpoint)
            outcome = self._send(module, method, body, decode)

            if isinstance(outcome, _Failure):
                if write and outcome.maybe_done:
                    self.stats.add_error(outcome.cause)
                    raise UncertainWriteError(_uncertain(endpoint, outcome.text), module, method, outcome.cause)
                if not outcome.retriable:
                    self.stats.add_error(outcome.cause)
                    raise TransportError(f"{endpoint}: {outcome.text}", module, method, outcome.cause)
                attempt += 1
                if attempt > self.max_retries:
                    self.stats.add_error(outcome.cause)
                    raise TransportError(
                        f"{endpoint} failed after {attempt} attempts; last cause: {outcome.text}",
                        module, method, outcome.cause,
                    )
                self._back_off(endpoint, attempt, outcome.cause, outcome.text)
                continue

            code, data, message = outcome
            if code == 30:
                self.limiter.throttled(endpoint, epoch)
            else:
                self.limiter.answered(endpoint, waited > 0)
            if code == 0:
                return data
            # A server that echoes the request must not carry the key into an exception, a log or a summary.
            message, data = self.redact(message), self._redacted(data)
            if code == 100:
                return self._wait_for_task(data, endpoint)
            if code == 98:
                result = PartialResult.from_envelope(module, method, message, data)
                log.warning("%s", result)
                return result
            if code == 13:
                switches += 1
                if switches > MAX_DOMAIN_SWITCHES:
                    self.stats.add_error("code 13")
                    raise WrongDomainError(13, message, data, module, method,
                                           f"gave up after {MAX_DOMAIN_SWITCHES} domain switches")
                self._switch_domain(data, module, method, message)
                continue
            if write and code != 30 and code in RETRIABLE_CODES:
                self.stats.add_error(f"code {code}")
                if code in (3, 999):  # an error while doing it: perhaps done in part or in full
                    raise UncertainWriteError(_uncertain(endpoint, f"code {code} ({code_meaning(code)})"),
                                              module, method, f"code {code}")
                raise error_for(code, message, data, module, method, "a write is not retried")
            if code in RETRIABLE_CODES:
                attempt += 1
                if attempt > self.max_retries:
                    self.stats.add_error(f"code {code}")
                    raise error_for(code, message, data, module, method,
                                    f"gave up after {attempt} attempts")
                if code == 30 and self.limiter.adaptive and attempt == 1:
                    self.stats.add_retry("code 30")  # the limiter has slowed down: its spacing is the back-off
                    continue
                self._back_off(endpoint, attempt, f"code {code}", message or code_meaning(code))
                continue
            self.stats.add_error(f"code {code}")
            if code == 99:
                raise NothingDoneError(99, message, data, module, method)
            raise error_for(code, message, data, module, method)

    def _send(self, module: str, method: str, body: str,
              decode: Decoder | None = None) -> tuple[int, Any, str] | _Failure:
        """One HTTP exchange: the envelope ``(code, data, message)`` or a redacted ``_Failure``."""
        url = self.url_for(module, method)
        # The environment's proxy, CA bundle and certificate settings for this domain, read once, not each call
        # as `Session.post` does (it parses the proxy variables again for every page).
        settings = self._transport_settings.get(self.base_url)
        try:
            if settings is None:
                settings = self.session.merge_environment_settings(url, {}, None, None, None)
                self._transport_settings[self.base_url] = settings
            request = requests.Request(
                "POST", url, data=body.encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-cache"},
            )
            response = self.session.send(self.session.prepare_request(request), timeout=self.timeout,
                                         **{**settings, "stream": True})
            status = response.status_code
            content = _body(response)
            self._note_gateway_date(response.headers.get("Date"))
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            return _Failure("bad url", f"bad API URL: {self.redact(exc)}; check SMS_API_URL", retriable=False)
        except requests.exceptions.ConnectTimeout as exc:
            return _Failure("timeout", f"connect timeout: {self.redact(exc)}", maybe_done=False)
        except requests.exceptions.Timeout as exc:
            return _Failure("timeout", f"timeout: {self.redact(exc)}")
        except requests.exceptions.RequestException as exc:
            return _Failure("connection", f"{type(exc).__name__}: {self.redact(exc)}",
                            maybe_done=not _never_connected(exc))

        if status >= 500:
            return _Failure(f"http {status}", f"HTTP {status} {self.redact(response.reason or '')}".strip())
        try:
            envelope = (decode(content) if decode is not None and 200 <= status < 300 else None) or _loads(content)
        except (UnicodeDecodeError, ValueError):
            snippet = self.redact(content[:80].decode("utf-8", "replace"))
            if status in (408, 429) or 200 <= status < 300:
                return _Failure("bad body", f"HTTP {status} with a truncated or non-JSON body: {snippet!r}")
            return _Failure(f"http {status}", f"HTTP {status} with a non-JSON body: {snippet!r}", retriable=False)
        if not isinstance(envelope, dict) or "code" not in envelope:
            return _Failure("bad body", f"HTTP {status}: not an API envelope: {self.redact(short_json(envelope, 80))}")
        try:
            code = int(str(envelope["code"]))
        except ValueError:
            return _Failure("bad body", f"HTTP {status}: envelope code {envelope['code']!r} is not a number")
        return code, envelope.get("data"), str(envelope.get("message") or "")

    def _note_gateway_date(self, header: str | None) -> None:
        """Remember the gateway's clock as its responses show it (the HTTP Date header, UTC)."""
        if not header:
            return
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if when.tzinfo is None:
            return
        when = when.astimezone(UTC)
        with self._lock:
            self._gateway_date = (when, time.monotonic())

    def gateway_now(self) -> datetime | None:
        """The gateway's clock now (aware UTC): its latest Date header plus the time elapsed here since;
        None before any response carried one. The machine's own clock and zone play no part."""
        with self._lock:
            seen = self._gateway_date
        if seen is None:
            return None
        return seen[0] + timedelta(seconds=time.monotonic() - seen[1])

    def gateway_clock(self) -> datetime | None:
        """``gateway_now()``, asking the gateway once (User/GetOwnBalance, the cheapest documented call) when
        no response has shown its clock yet; None if the gateway sends no Date header at all."""
        if self.gateway_now() is None:
            self.get_balance()
        return self.gateway_now()

    def _back_off(self, endpoint: str, attempt: int, cause: str, text: str) -> None:
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        delay = base * (0.5 + self._rng.random())  # jitter in [0.5, 1.5) x base
        self.stats.add_retry(cause)
        log.warning("%s: %s; retry %d/%d in %.2fs", endpoint, self.redact(text), attempt, self.max_retries, delay)
        self._sleep(delay)

    def _switch_domain(self, data: Any, module: str, method: str, message: str) -> None:
        target = data.get("domain") or data.get("url") if isinstance(data, dict) else data
        if isinstance(target, list) and target:
            target = target[0]
        if not isinstance(target, str) or not target.strip():
            self.stats.add_error("code 13")
            raise WrongDomainError(13, message, data, module, method, "no usable domain in data")
        target = target.strip().rstrip("/")
        with self._lock:
            current = self._base_url
            if "://" in target:
                parts = urlsplit(target)
                path = parts.path.rstrip("/")
                if path.endswith("/service") or "/service/" in path:
                    path = path[: path.find("/service")]
                new = f"{parts.scheme}://{parts.netloc}{path}"
            else:
                new = f"{urlsplit(current).scheme}://{target.split('/')[0]}"
            self._base_url = new
        self.stats.add_domain_switch()
        log.warning("%s/%s: code 13, this account is served by %s; switching from %s",
                    module, method, self.redact(new), self.redact(current))

    def _wait_for_task(self, task_id: Any, endpoint: str) -> Any:
        """Poll TaskQueue/GetStatus at most once a second until the task completes (return) or is rejected."""
        polls = max(1, int(self.task_timeout))
        status_data: Any = None
        for _ in range(polls):
            self._sleep(1.0)
            status_data = self.task_status(task_id)
            try:
                status = int(str(status_data.get("status")))
            except (AttributeError, TypeError, ValueError):
                status = -1
            if status == TASK_DONE:
                return status_data
            if status == TASK_REJECTED:
                self.stats.add_error("task rejected")
                raise TaskFailedError(100, "", status_data, *endpoint.split("/", 1),
                                      f"background task {task_id} was rejected (status 3)")
        raise TaskFailedError(100, "", status_data, *endpoint.split("/", 1),
                              f"background task {task_id} not finished after {polls} polls")

    # -- paging helpers -----------------------------------------------------------------------------------
    def paginate(self, module: str, method: str, params: Mapping[str, Any] | None = None,
                 page_size: int = PAGE_SIZE, decode: Decoder | None = None) -> Iterator[list[dict]]:
        """Yield the non-empty pages (``Page``: a list, or the ``ColumnItems`` that ``decode`` made of it (see
        ``call``); the first one's ``total`` is the listing's
        ``totalItemCount``) of a List method until an empty page or ``totalItemCount`` is reached.

        Pages are read in a stable order, ``sort[id]=ASC`` (unless the caller sorts otherwise), so items that join
        the set while it is paged land after the cursor or repeat at a page boundary, never skip one. A repeat
        (an id on the page before, or twice on one page) is dropped. If any page's ``totalItemCount`` is below
        a page before (items left the set, shifting later ones onto pages already read; a dip between any two
        pages is enough, even when items that joined first keep it above the first page's), the listing is read
        again from the start, up to ``SHRINK_REREADS`` times, until a read sees no dip. An item can also leave
        while another joins between two reads, the total unchanged: the item after the boundary is skipped,
        and the read ends short of its total (fewer distinct items than the last page's ``totalItemCount``, its
        last page not empty); it is read again, and if the re-read finds more items the listing shifted, else
        the total is only an upper bound (API.md 5) and the read stands. The keyed merge downstream absorbs what
        a re-read repeats. All are counted in ``stats`` (``repeated_items``, ``lists_shrunk``,
        ``lists_shifted``), never silent, and a listing still shrinking after the last re-read is logged."""
        params = dict(params or {})
        by_id = "sort" not in params
        params.setdefault("sort", {"id": "ASC"})
        repeated = 0
        shrunk = shifted = False
        short: tuple[int, int] | None = None  # (items read, total) of the read before, when it ended short
        for attempt in range(1 + SHRINK_REREADS):
            pager = PageNumberPaginator(page_size)
            first_total = last_total = None
            dip: tuple[int, int] | None = None  # the first fall of totalItemCount from one page to the next
            recent: set[int] = set()
            seen: set[int] = set()  # distinct ids this read (items without one counted in `unkeyed`)
            unkeyed = 0
            announce = attempt == 0  # the listing's total, once: a re-read is not more work to show
            while pager.has_next_page:
                data = self.call(module, method, {**params, "pagination": pager.request_params()}, decode=decode)
                pager.update_state(data)
                if pager.total is not None:
                    if last_total is not None and pager.total < last_total and dip is None:
                        dip = (last_total, pager.total)
                    first_total = pager.total if first_total is None else first_total
                    last_total = pager.total
                items = pager.items_of(data)
                ended_empty = not items
                if by_id:
                    kept, dropped, recent = _drop_repeats(items, recent)
                    seen |= recent
                    unkeyed += len(kept) - len(recent)
                    if attempt == 0:
                        items = kept
                        repeated += dropped
                if items:
                    yield _page(items, pager.total if announce else None)
                announce = False
            read = len(seen) + unkeyed
            if short is not None and read > short[0]:
                shifted = True
                log.warning("%s/%s: items shifted while the list was paged (%d of %d items read, %d on a re-read)",
                            module, method, short[0], short[1], read)
            if dip is not None:
                shrunk = True
                if attempt == SHRINK_REREADS:
                    log.warning("%s/%s: the list still shrank (from %d to %d items) on its last re-read: items may "
                                "be missing until the next sync reads it again", module, method, *dip)
                    break
                log.warning("%s/%s: the list shrank from %d to %d items while it was paged; reading it again",
                            module, method, *dip)
                short = None
                continue
            if not by_id or last_total is None or read >= last_total or ended_empty or short is not None:
                break  # whole; or an empty page or a second short read: the total is only an upper bound
            short = (read, last_total)  # read short of the total: an item may have been skipped, read it again
        self.stats.add_paging(repeated, shrunk, shifted)

    def _ts(self, value: datetime | date | str) -> str:
        return format_ts(value, self.zone)

    def now_local(self) -> datetime:
        """Account-local now for open upper bounds: the gateway's clock once a response has shown it."""
        return to_local(self.gateway_now() or datetime.now(self.zone), self.zone)

    # -- campaigns ----------------------------------------------------------------------------------------
    def list_campaigns(self, created_from: datetime | date, created_to: datetime | date | None = None,
                       criteria: Mapping[str, Any] | None = None, sort: Mapping[str, str] | None = None,
                       page_size: int = PAGE_SIZE) -> Iterator[list[dict]]:
        """Pages of Campaign/List created in ``[created_from, created_to]`` (default: now), always with explicit
        ``createTsFrom``/``createTsTo`` windows of at most 90 days."""
        created_to = self.now_local() if created_to is None else created_to
        for lo, hi in split_windows(created_from, created_to, self.zone):
            params: dict[str, Any] = {"criteria": {**(criteria or {}), "createTsFrom": lo, "createTsTo": hi}}
            if sort:
                params["sort"] = dict(sort)
            yield from self.paginate("Campaign", "List", params, page_size)

    def list_campaigns_by_ids(self, campaign_ids: Iterable[int | str],
                              page_size: int = PAGE_SIZE) -> Iterator[list[dict]]:
        """Pages of Campaign/List for ``campaign_ids`` (``criteria[ids]``, ≤100 a call; no date limit applies
        with ids given), each item with its counters."""
        for chunk in _chunks(campaign_ids, IDS_PER_CALL):
            yield from self.paginate("Campaign", "List", {"criteria": {"ids": chunk}}, page_size)

    def get_campaign(self, campaign_id: int | str) -> dict:
        return self.call("Campaign", "Get", {"id": campaign_id})

    def get_campaign_info(self, campaign_id: int | str, filled_text: bool | None = None) -> dict:
        params: dict[str, Any] = {"id": campaign_id}
        if filled_text is not None:
            params["getFilledTplCampaignText"] = 1 if filled_text else 0
        return self.call("Campaign", "GetInfo", params)

    def get_campaign_links(self, campaign_id: int | str) -> list[dict]:
        """Link/GetLinks, falling back to Campaign/GetLinks where the server answers code 5 (bad method)."""
        module = self._links_module or "Link"
        try:
            data = self.call(module, "GetLinks", {"campaignId": campaign_id})
        except BadRequestError as exc:
            if exc.code != 5 or module != "Link":
                raise
            module = "Campaign"
            data = self.call(module, "GetLinks", {"campaignId": campaign_id})
        self._links_module = module
        return data

    # -- messages -----------------------------------------------------------------------------------------
    def list_messages(self, campaign_ids: Iterable[int | str], status_updated_from: datetime | date | None = None,
                      status_updated_to: datetime | date | None = None, with_number_info: bool = True,
                      criteria: Mapping[str, Any] | None = None, page_size: int = PAGE_SIZE,
                      decode: Decoder | None = None) -> Iterator[list[dict]]:
        """Pages of Message/List for ``campaign_ids`` (sent ≤100 per call), optionally only messages whose status
        changed in the given range (walked in ≤90-day windows; an open end means now). ``decode``: see ``call``."""
        windows: list[tuple[str | None, str | None]]
        if status_updated_from is None and status_updated_to is None:
            windows = [(None, None)]
        elif status_updated_from is None:
            windows = [(None, self._ts(status_updated_to))]  # type: ignore[arg-type]
        else:
            end = self.now_local() if status_updated_to is None else status_updated_to
            windows = list(split_windows(status_updated_from, end, self.zone))
        for chunk in _chunks(campaign_ids, IDS_PER_CALL):
            for lo, hi in windows:
                crit: dict[str, Any] = {**(criteria or {}), "campaignIds": chunk}
                if lo is not None:
                    crit["statusUpdateTsFrom"] = lo
                if hi is not None:
                    crit["statusUpdateTsTo"] = hi
                params = {"criteria": crit, "withNumberInfo": 1 if with_number_info else 0}
                yield from self.paginate("Message", "List", params, page_size, decode)

    def get_sms_status(self, message_ids: Iterable[int | str]) -> Iterator[list[dict]]:
        """Message/GetSMSStatus for ``message_ids`` in chunks of 100; yields each chunk's list."""
        for chunk in _chunks(message_ids, IDS_PER_CALL):
            data = self.call("Message", "GetSMSStatus", {"ids": chunk})
            yield list(data or [])

    # -- links --------------------------------------------------------------------------------------------
    def list_links(self, criteria: Mapping[str, Any] | None = None, created_from: datetime | date | None = None,
                   created_to: datetime | date | None = None, sort: Mapping[str, str] | None = None,
                   page_size: int = PAGE_SIZE) -> Iterator[list[dict]]:
        """Pages of Link/List. ``created_from`` goes out as a date (as the docs say), ``created_to`` a datetime."""
        crit: dict[str, Any] = dict(criteria or {})
        if created_from is not None:
            crit["createTsFrom"] = to_local(created_from, self.zone).strftime("%Y-%m-%d")
        if created_to is not None:
            crit["createTsTo"] = self._ts(created_to)
        params: dict[str, Any] = {"criteria": crit} if crit else {}
        if sort:
            params["sort"] = dict(sort)
        yield from self.paginate("Link", "List", params, page_size)

    def get_link(self, link_id: int | str) -> dict:
        return self.call("Link", "Get", {"id": link_id})

    def get_link_stats(self, link_ids: Iterable[int | str], period_type: str,
                       date_from: datetime | date | str | None = None,
                       date_to: datetime | date | str | None = None) -> Iterator[tuple[list, Any]]:
        """Link/GetStats for ``link_ids`` in chunks of 5: yields ``(ids sent, data)`` pairs, because the answer
        (API.md 5.9) is a period-major grid whose ``clicksN``/``redirectsN`` columns name a link only by its
        position N in the ids sent. With no dates the gateway answers its own last maximum interval (minute 3 h,
        hourly 1 week, daily 90 days, monthly 3 years) by its own clock; a range wider than that is walked in
        windows (an open end means the gateway's now)."""
        if period_type not in LINK_STATS_MAX_RANGE:
            raise ValueError(f"period_type must be one of {sorted(LINK_STATS_MAX_RANGE)}, not {period_type!r}")
        windows: list[dict] = [{}]
        if date_from is not None:
            date_to = self.now_local() if date_to is None else date_to
            windows = [{"dateFrom": lo, "dateTo": hi}
                       for lo, hi in split_windows(date_from, date_to, self.zone, LINK_STATS_MAX_RANGE[period_type])]
        elif date_to is not None:
            windows = [{"dateTo": self._ts(date_to)}]
        for chunk in _chunks(link_ids, LINK_STATS_IDS_PER_CALL):
            for criteria in windows:
                params: dict[str, Any] = {"ids": chunk, "type": period_type}
                if criteria:
                    params["criteria"] = criteria
                yield chunk, self.call("Link", "GetStats", params)

    # -- account and tasks ----------------------------------------------------------------------------------
    def get_balance(self) -> dict:
        return self.call("User", "GetOwnBalance")

    def task_status(self, task_id: int | str) -> dict:
        return self.call("TaskQueue", "GetStatus", {"id": task_id})

    # -- sending --------------------------------------------------------------------------------------------
    # A write whose answer was lost is looked up before it is sent again: in the gateway's records created
    # within WRITE_LOOKBACK of the gateway's clock (a lost answer comes back within the read timeout).
    def send_sms(self, recipient: str, text: str, sender: str | None = None,
                 params: Mapping[str, Any] | None = None) -> dict:
        """Message/SendSmsMessage; returns ``{campaignId, messageId, status}``. If its answer is lost, a message
        to `recipient` with this `text` created since just before is looked for (Message/List) and returned
        (with ``status`` None: not reported) instead of sending again; only if none is there is it sent once more.
        Sending the same text to the same number twice within minutes on purpose is therefore not retried."""
        body: dict[str, Any] = {"recipient": recipient, "text": text}
        if sender:
            body["from"] = sender
        if params:
            body["params"] = dict(params)
        return self._write_once_checked("Message", "SendSmsMessage", body, lambda: self._find_sms(recipient, text))

    def create_campaign(self, text: str, campaign_type: int = 2, sender: str | None = None,
                        name: str | None = None, **data: Any) -> Any:
        """Campaign/Create; returns the new campaign id. Extra keywords go into ``data[...]``. If its answer is
        lost, a campaign with this text (and sender and name) created since just before is looked for and its
        id returned; only if none is there is it created once more."""
        payload: dict[str, Any] = {"text": text, "type": campaign_type}
        if sender:
            payload["from"] = sender
        if name:
            payload["name"] = name
        payload.update(data)
        return self._write_once_checked("Campaign", "Create", {"data": payload},
                                        lambda: self._find_campaign(text, sender, name))

    def _write_once_checked(self, module: str, method: str, params: dict, find: Callable[[], Any]) -> Any:
        """A write, sent again after a lost answer only when `find` (the lookup of what it would have made)
        finds nothing. A second lost answer, or a lookup that fails, raises ``UncertainWriteError``."""
        try:
            return self.call(module, method, params, write=True)
        except UncertainWriteError as first:
            try:
                found = find()
            except SmsApiError as exc:
                raise UncertainWriteError(f"{first}; the check failed too ({exc})", module, method,
                                          first.cause) from None
            if found is not None:
                log.warning("%s/%s: the answer was lost (%s), but the gateway has it: not sent again",
                            module, method, first.cause)
                self.stats.add_retry(f"{first.cause} (found, not resent)")
                return found
            log.warning("%s/%s: the answer was lost (%s) and the gateway has no trace of it: sending once more",
                        module, method, first.cause)
            self.stats.add_retry(f"{first.cause} (checked, resent)")
            return self.call(module, method, params, write=True)

    def _recent_window(self) -> dict[str, str]:
        now = self.gateway_clock() or datetime.now(UTC)
        return {"From": self._ts(now - WRITE_LOOKBACK), "To": self._ts(now + timedelta(minutes=1))}

    def _find_sms(self, recipient: str, text: str) -> dict | None:
        window = self._recent_window()
        number = "".join(ch for ch in str(recipient) if ch.isdigit())
        criteria = {"to": number, "text": text, "campaignCreateTsFrom": window["From"],
                    "campaignCreateTsTo": window["To"]}
        for page in self.paginate("Message", "List", {"criteria": criteria, "sort": {"id": "DESC"}}):
            for item in page:
                if str(item.get("to", "")).endswith(number[-9:]):
                    return {"campaignId": item.get("campaignId"), "messageId": item.get("id"), "status": None}
        return None

    def _find_campaign(self, text: str, sender: str | None, name: str | None) -> Any:
        window = self._recent_window()
        criteria: dict[str, Any] = {"text": text, "createTsFrom": window["From"], "createTsTo": window["To"]}
        if sender:
            criteria["from"] = sender
        for page in self.paginate("Campaign", "List", {"criteria": criteria, "sort": {"id": "DESC"}}):
            for item in page:
                if not name or item.get("name") == name:
                    return item.get("id")
        return None

    def add_recipients(self, campaign_id: int | str, recipients: Iterable[Any],
                       params: Mapping[str, Any] | None = None) -> Any:
        """Campaign/AddRecipients in calls of ≤500 recipients. Returns the per-recipient list, or a
        ``PartialResult`` (code 98) holding all of them when any call was done in part. A call whose answer is
        lost is not sent again (the gateway offers no lookup of recipients added): ``UncertainWriteError`` says
        which recipients are known added and which may be."""
        items: list = []
        partial = False
        message = ""
        done = 0
        for chunk in _chunks(recipients, RECIPIENTS_PER_CALL):
            body: dict[str, Any] = {"id": campaign_id, "recipients": chunk}
            if params:
                body["params"] = dict(params)
            try:
                result = self.call("Campaign", "AddRecipients", body, write=True)
            except UncertainWriteError as exc:
                raise UncertainWriteError(
                    f"{exc}; campaign {campaign_id}: recipients 1-{done} were added, {done + 1}-{done + len(chunk)} "
                    f"may have been, the rest were not sent", exc.module, exc.method, exc.cause) from None
            done += len(chunk)
            if isinstance(result, PartialResult):
                partial, message = True, result.message
                result = result.data
            if isinstance(result, list):
                items.extend(result)
            elif result is not None:
                items.append(result)
        if partial:
            return PartialResult.from_envelope("Campaign", "AddRecipients", message, items)
        return items

    def send_campaign(self, campaign_id: int | str) -> Any:
        """Campaign/Send. If its answer is lost, the campaign's state says whether sending began; only if it did
        not is it sent once more (returns 2, "sent", when it had begun)."""
        return self._write_once_checked("Campaign", "Send", {"id": campaign_id},
                                        lambda: self._sending_began(campaign_id))

    def _sending_began(self, campaign_id: int | str) -> int | None:
        info = self.get_campaign_info(campaign_id)
        began = info.get("sendStatus") not in (None, "") or info.get("commonStatus") not in (None, "", "NEW")
        return 2 if began else None
