"""Payload items -> frames shaped like the base tables (`transforms.schema`).

Each function takes the `data` items of one gateway method exactly as on the wire (numbers as strings, naive
account-local timestamps), the account's IANA time zone where timestamps occur, and `observed_at` (when the
payload was fetched; a naive value is taken as UTC). Each returns `Normalized(frame, unexpected,
blank_timestamps)`: the frame has exactly the table's columns in DDL order; `unexpected` counts values that were
present but could not be coerced or are outside the glossary (they are nulled, or for statuses mapped to UNKNOWN,
and flagged where a column exists); `blank_timestamps`, timestamps sent as "" or spaces (read as unset).
Unknown extra fields are ignored. Rows whose primary id is missing or not an integer, and items that are not
objects, are dropped and counted: they cannot be keyed in the warehouse, and raw keeps them as sent.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _coerce as c
from .schema import TABLES

Items = list[dict]
Observed = datetime | pd.Timestamp | str

PERIOD_TYPES = ("minute", "hourly", "daily", "monthly")

COLUMNS: dict[str, list[str]] = {name: table.names for name, table in TABLES.items()}


class Normalized(NamedTuple):
    """A typed frame, how many present values were unexpected (uncoercible or outside the glossary), and how
    many timestamps came as blank strings (read as unset: bad input, counted apart from unexpected values)."""

    frame: pd.DataFrame
    unexpected: int
    blank_timestamps: int = 0


class _Counter:
    """Collects the unexpected counts of a sequence of coercions, and the blank timestamps."""

    def __init__(self) -> None:
        self.n = 0
        self.blank = 0

    def __call__(self, result):
        *values, bad = result
        self.n += bad
        return values[0] if len(values) == 1 else values

    def timestamp(self, raw, tz: str) -> pd.Series:
        return self.readings(raw, tz)[0]

    def readings(self, raw, tz: str) -> tuple[pd.Series, pd.Series]:
        """`_coerce.timestamp_readings` of a wire column, its blank strings counted."""
        arr, blanks = c.text_and_blanks(raw)
        self.blank += blanks
        return self(c.timestamp_readings(arr, tz))


class Columns:
    """The wanted keys of list items, gathered page by page into columns, so that a batch of many pages holds
    strings, not a dict per item: decoded items held across pages survive the garbage collector's young
    generations, and every full collection then walks them again (bench/README.md). Pages come as dicts
    (`extend`: one plain list per key) or already by column (`extend_columns`: Arrow arrays, kept as they
    are). A transform takes a `Columns` where it takes items; items that are not objects are left out and
    counted."""

    def __init__(self, keys: list[str]):
        self._chunks: dict[str, list] = {k: [] for k in keys}  # per key: plain lists and Arrow arrays, in order
        self.n = 0  # items gathered
        self.skipped = 0  # items that were not objects

    def extend(self, items) -> None:
        given = items if isinstance(items, (list, tuple)) else []
        kept = [it for it in given if isinstance(it, dict)]
        self.skipped += len(given) - len(kept)
        self.n += len(kept)
        for k, chunks in self._chunks.items():
            values = [it.get(k) for it in kept]
            if chunks and isinstance(chunks[-1], list):
                chunks[-1].extend(values)
            else:
                chunks.append(values)

    def extend_columns(self, columns: pa.StructArray) -> None:
        """A page's items by column: a struct array with (at least) the wanted keys as string fields."""
        self.n += len(columns)
        for k, chunks in self._chunks.items():
            chunks.append(columns.field(k))

    def column(self, key: str) -> list | pa.Array:
        """One key's values: a plain list while every page came as dicts, else one Arrow string array (the
        dicts' values as `_coerce.as_strings` reads them, which is how every coercion reads them anyway)."""
        chunks = self._chunks[key]
        if all(isinstance(chunk, list) for chunk in chunks):
            return chunks[0] if len(chunks) == 1 else [v for chunk in chunks for v in chunk]
        return pa.concat_arrays([c.as_strings(chunk) if isinstance(chunk, list) else chunk for chunk in chunks])

    def __len__(self) -> int:
        return self.n + self.skipped


def _records(items: Items | Columns, keys: list[str], count: _Counter | None = None) -> tuple[int, dict[str, list]]:
    """The raw frame, as columns: each wanted key's values (None when absent), built once in one pass per key.
    Items that are not objects are left out, and counted in `count`.

    Plain lists rather than a DataFrame: the coercers hand them straight to pyarrow, which is several times
    faster than letting pandas infer and convert object columns first.
    """
    if isinstance(items, Columns):
        cols = items
    else:
        cols = Columns(keys)
        cols.extend(list(items) if isinstance(items, (list, tuple)) else [])
    if count is not None:
        count.n += cols.skipped
    return cols.n, {k: cols.column(k) for k in keys}


def _keyed(out: dict, key: str, count: _Counter, table: str, raw_ids: list) -> Normalized:
    """Frame in table column order, rows without a usable id dropped. An id present but not an integer was
    counted by its coercion; an id absent or blank is counted here, so that no dropped row goes uncounted."""
    frame = pd.DataFrame(out)[COLUMNS[table]]
    keep = frame[key].notna().to_numpy()
    if not keep.all():
        count.n += c.text(raw_ids).null_count
        frame = frame[keep].reset_index(drop=True)
    return Normalized(frame, count.n, count.blank)


# --- campaigns ------------------------------------------------------------------------------------------------

_CAMPAIGN_KEYS = [
    "id", "type", "name", "from", "text", "commonStatus", "moderationStatus", "sendStatus", "creationWay",
    "isDeleted", "trackShortLinkRecipients", "validity", "createTs", "startSendTs", "endSendTs", "deferredToTs",
    "currency", "extra", "counters",
]


def _nested(col: list, key: str) -> list:
    """`key` of each dict in a column of nested objects (None where the object or the key is absent)."""
    return [v.get(key) if isinstance(v, dict) else None for v in col]


def _coalesce(first: list, second: list) -> pa.Array:
    """First's value where present (not null, not blank), else second's; as stripped text."""
    return pc.coalesce(c.text(first), c.text(second))


def campaigns(items: Items, tz: str, observed_at: Observed) -> Normalized:
    """Campaign/List, Campaign/Get or Campaign/GetInfo items -> `campaigns` rows.

    `validity` and `trackShortLinkRecipients` are read top-level or, failing that, from `extra` (5.3).
    `campaign_type` maps type 1/2/3/7 to single/mass/template/functional; another type keeps its raw digits as
    the type string and is counted. Counters (totals, cost, `updateTs`) come from the nested `counters` object
    when present. `currency` is the campaign's own, else `counters.userCurrency`.
    """
    k = _Counter()
    n, raw = _records(items, _CAMPAIGN_KEYS, k)
    type_text = c.string(raw["type"])
    type_code = k(c.integer(raw["type"], "Int32"))
    mapped = type_text.map(c.CAMPAIGN_TYPES).astype(c.STRING_DTYPE)
    unknown_type = mapped.isna() & type_text.notna()
    k.n += int(unknown_type.sum()) - int((type_code.isna() & type_text.notna()).sum())  # no double count
    campaign_type = mapped.where(~unknown_type, type_text)
    extra = raw["extra"]
    counters = raw["counters"]
    out = {
        "campaign_id": k(c.integer(raw["id"])),
        "campaign_type": campaign_type,
        "type_code": type_code,
        "name": c.string(raw["name"]),
        "sender": c.string(raw["from"]),
        "text": c.string(raw["text"]),
        "common_status": c.string(raw["commonStatus"]),
        "moderation_status": c.string(raw["moderationStatus"]),
        "send_status": c.string(raw["sendStatus"]),
        "creation_way": k(c.integer(raw["creationWay"], "Int32")),
        "is_deleted": k(c.boolean(raw["isDeleted"])),
        "track_short_link_recipients": k(c.boolean(
            _coalesce(raw["trackShortLinkRecipients"], _nested(extra, "trackShortLinkRecipients")))),
        "validity_minutes": k(c.integer(_coalesce(raw["validity"], _nested(extra, "validity")), "Int32")),
        "created_at": k.timestamp(raw["createTs"], tz),
        "send_started_at": k.timestamp(raw["startSendTs"], tz),
        "send_ended_at": k.timestamp(raw["endSendTs"], tz),
        "deferred_to": k.timestamp(raw["deferredToTs"], tz),
        "counters_updated_at": k.timestamp(_nested(counters, "updateTs"), tz),
        "total_msg_count": k(c.integer(_nested(counters, "totalMsgNum"))),
        "total_seg_count": k(c.integer(_nested(counters, "totalSegNum"))),
        "total_cost": k(c.decimal(_nested(counters, "totalCost"))),
        "currency": c.string(_coalesce(raw["currency"], _nested(counters, "userCurrency"))),
        "observed_at": c.constant_ts(observed_at, n),
    }
    return _keyed(out, "campaign_id", k, "campaigns", raw["id"])


def campaign_counters(items: Items, observed_at: Observed) -> Normalized:
    """Campaign/GetInfo items -> `campaign_counters` rows, one per campaign per status (ten statuses).

    Counts come from `counters.total<Status>MsgNum` / `SegNum` / `MsgCost`. A key missing from an existing
    counters object reads as 0; a campaign without a counters object gives no rows.
    """
    pairs = [(it.get("id"), it["counters"]) for it in (items or [])
             if isinstance(it, dict) and isinstance(it.get("counters"), dict)]
    n, statuses = len(pairs), list(c.MESSAGE_STATUSES)
    k = _Counter()
    campaign_id = k(c.integer([p[0] for p in pairs]))
    counters = [p[1] for p in pairs]

    def long(suffix: str, parse):
        stacked = []
        for s in statuses:
            key = f"total{s.capitalize()}{suffix}"
            stacked.extend(v.get(key, "0") for v in counters)
        return k(parse(stacked))

    # stacked order: status-major, so campaign ids repeat per status
    out = {
        "campaign_id": pd.concat([campaign_id] * len(statuses), ignore_index=True),
        "status": pd.Series(pd.array([s for s in statuses for _ in range(n)], dtype=c.STRING_DTYPE)),
        "msg_count": long("MsgNum", c.integer),
        "seg_count": long("SegNum", c.integer),
        "cost": long("MsgCost", c.decimal),
        "observed_at": c.constant_ts(observed_at, n * len(statuses)),
    }
    frame = pd.DataFrame(out)[COLUMNS["campaign_counters"]]
    frame = frame[frame["campaign_id"].notna().to_numpy()]
    frame = frame.sort_values(["campaign_id"], kind="stable").reset_index(drop=True)
    return Normalized(frame, k.n)


# --- messages -------------------------------------------------------------------------------------------------

MESSAGE_KEYS = [
    "id", "campaignId", "from", "to", "text", "segNum", "segUserBuy", "status", "startSendTs", "statusUpdateTs",
    "countryA2", "operatorName", "uuid",
]
STATUS_KEYS = ["id", "status", "segNum", "startSendTs", "statusUpdateTs"]  # Message/GetSMSStatus items


def messages(items: Items | Columns, tz: str, observed_at: Observed) -> Normalized:
    """Message/List items -> `messages` rows; `cost` = segments x segment_price (exact decimal).

    `first_observed_at` is `observed_at` (the warehouse keeps the earliest on merge). The nested `campaign`
    object is ignored. A message without a status or a campaign id is kept and counted: the gateway always
    sends both, and without them the row cannot be counted where it belongs.
    """
    k = _Counter()
    n, raw = _records(items, MESSAGE_KEYS, k)
    k.n += c.text(raw["status"]).null_count + c.text(raw["campaignId"]).null_count
    segments = k(c.integer(raw["segNum"], "Int32"))
    price = k(c.decimal(raw["segUserBuy"]))
    status, status_raw, is_final, is_unexpected = k(c.status(raw["status"]))
    observed = c.constant_ts(observed_at, n)
    send_started_at, status_updated_at = _send_and_status_times(raw, tz, k)
    out = {
        "message_id": k(c.integer(raw["id"])),
        "campaign_id": k(c.integer(raw["campaignId"])),
        "sender": c.string(raw["from"]),
        "recipient": c.string(raw["to"]),
        "text": c.string(raw["text"]),
        "segments": segments,
        "segment_price": price,
        "cost": c.multiply_money(price, segments),
        "status": status,
        "status_raw": status_raw,
        "is_final": is_final,
        "is_unexpected": is_unexpected,
        "send_started_at": send_started_at,
        "status_updated_at": status_updated_at,
        "country_a2": c.string(raw["countryA2"]),
        "operator_name": c.string(raw["operatorName"]),
        "uuid": c.string(raw["uuid"]),
        "first_observed_at": observed,
        "observed_at": observed.copy(),
    }
    return _keyed(out, "message_id", k, "messages", raw["id"])


def _send_and_status_times(raw: dict, tz: str, k: _Counter) -> tuple[pd.Series, pd.Series]:
    """startSendTs and statusUpdateTs as instants; an ambiguous statusUpdateTs is ordered after the send start
    (`_coerce.not_before`), so a fall-back shift never makes a message "delivered before it was sent"."""
    send_started_at = k.timestamp(raw["startSendTs"], tz)
    earliest, latest = k.readings(raw["statusUpdateTs"], tz)
    return send_started_at, c.not_before(earliest, latest, send_started_at)


def message_statuses(items: Items | Columns, tz: str, observed_at: Observed) -> Normalized:
    """Message/GetSMSStatus items -> message_id, status, status_raw, is_final, is_unexpected, segments,
    send_started_at, status_updated_at, observed_at. Missing timestamp keys (2016 shape) give NaT."""
    k = _Counter()
    n, raw = _records(items, STATUS_KEYS, k)
    status, status_raw, is_final, is_unexpected = k(c.status(raw["status"]))
    send_started_at, status_updated_at = _send_and_status_times(raw, tz, k)
    out = {
        "message_id": k(c.integer(raw["id"])),
        "status": status,
        "status_raw": status_raw,
        "is_final": is_final,
        "is_unexpected": is_unexpected,
        "segments": k(c.integer(raw["segNum"], "Int32")),
        "send_started_at": send_started_at,
        "status_updated_at": status_updated_at,
        "observed_at": c.constant_ts(observed_at, n),
    }
    return _keyed(out, "message_id", k, "message_statuses", raw["id"])


# --- links ----------------------------------------------------------------------------------------------------

def links(items: Items, campaign_id: int | None | list[int | None], observed_at: Observed) -> Normalized:
    """Link/GetLinks items (for `campaign_id`) or Link/List items (`campaign_id` None -> null) -> `links` rows.
    `campaign_id` may also be a list, one per item: several calls' items normalized at once (`flows.steps`)."""
    k = _Counter()
    n, raw = _records(items, ["id", "code", "shortLink", "fullLink", "comment", "status", "clickCnt", "redirectCnt"],
                      k)
    if isinstance(campaign_id, list):  # the kept items' (`_records` leaves out what is not an object)
        campaign_ids = [cid for item, cid in zip(items, campaign_id, strict=True) if isinstance(item, dict)]
    else:
        campaign_ids = [campaign_id] * n
    out = {
        "link_id": k(c.integer(raw["id"])),
        "campaign_id": pd.Series(campaign_ids, dtype="Int64"),
        "code": c.string(raw["code"]),
        "short_link": c.string(raw["shortLink"]),
        "full_link": c.string(raw["fullLink"]),
        "comment": c.string(raw["comment"]),
        "status": k(c.integer(raw["status"], "Int32")),
        "click_count": k(c.integer(raw["clickCnt"])),
        "redirect_count": k(c.integer(raw["redirectCnt"])),
        "observed_at": c.constant_ts(observed_at, n),
    }
    return _keyed(out, "link_id", k, "links", raw["id"])


# Period labels of a GetStats grid (API.md 5.9): daily `YYYY-MM-DD`, monthly `YYYY-MM` (captured); hourly and
# minute were not captured, so each accepts the three forms the reference lists. Each regex maps to a suffix
# that completes the label to `YYYY-MM-DD HH:MM:SS`, the period's start in the account's zone.
_INTRADAY = ((r"^\d{4}-\d{2}-\d{2} \d{2}$", ":00:00"), (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$", ":00"),
             (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", ""))
PERIOD_LABELS = {
    "monthly": ((r"^\d{4}-\d{2}$", "-01 00:00:00"),),
    "daily": ((r"^\d{4}-\d{2}-\d{2}$", " 00:00:00"),),
    "hourly": _INTRADAY,
    "minute": _INTRADAY,
}
_GRID_COLUMN = re.compile(r"^(clicks|redirects)(\d+)$")


def _period_starts(labels: list, period_type: str) -> pa.Array:
    """Labels completed to wire timestamps; a label of another form is null."""
    arr = c.text(labels)
    out = pa.nulls(len(arr), pa.string())
    for pattern, suffix in PERIOD_LABELS[period_type]:
        out = pc.if_else(pc.match_substring_regex(arr, pattern), pc.binary_join_element_wise(arr, suffix, ""), out)
    return out


def _period_ends(period_start: pd.Series, starts: pa.Array, period_type: str, tz: str) -> pd.Series:
    """Exclusive period ends: a minute or an hour of real time after the start; the next local midnight or
    the first of the next month in the account's zone (a DST day lasts 23 or 25 hours)."""
    if period_type == "minute":
        return period_start + pd.Timedelta(minutes=1)
    if period_type == "hourly":
        return period_start + pd.Timedelta(hours=1)
    naive = pd.Series(pc.strptime(starts, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
                      .to_numpy(zero_copy_only=False), dtype="datetime64[us]")
    step = pd.DateOffset(days=1) if period_type == "daily" else pd.DateOffset(months=1)
    return c.timestamp_readings(c.text((naive + step).dt.strftime("%Y-%m-%d %H:%M:%S")), tz)[0]


def _tile(series: pd.Series, times: int) -> pd.Series:
    """`series` repeated `times` times end to end (one copy per link of a grid)."""
    return pd.concat([series] * times, ignore_index=True) if times else series.iloc[:0]


def link_click_stats(data, link_ids: list, period_type: str, tz: str, observed_at: Observed) -> Normalized:
    """A Link/GetStats answer (API.md 5.9: a period-major grid) -> `link_click_stats` rows, one per period per
    link, empty periods included.

    `data` is `{"items": [{"param": label, "clicks0": v, "redirects0": v, ...}], "totals": {...}}` exactly as on
    the wire; `link_ids` are the ids the request sent, in order: the N of `clicksN`/`redirectsN` is a position
    in them. Values are numbers or strings; null and "" mean 0. A link whose position no row answers (an id the
    gateway does not know) gets no rows. Unexpected, counted and left out of the rows (raw keeps them): a label
    that is not of the type's form, a column N beyond the ids sent, an item that is not an object; a count
    that is not a whole number is kept as NULL and counted. `totals` is not read (rows carry every count).
    Repeated wall-clock labels (a fall-back hour) are read in the order the gateway listed them.
    """
    if period_type not in PERIOD_TYPES:
        raise ValueError(f"period_type must be one of {PERIOD_TYPES}, not {period_type!r}")
    items = (data.get("items") if isinstance(data, dict) else None) or []
    if not isinstance(items, list):
        items = []
    k = _Counter()
    rows = [it for it in items if isinstance(it, dict)]
    k.n += len(items) - len(rows)
    ids = k(c.integer(list(link_ids)))
    answered = set()
    for key, times in Counter(key for row in rows for key in row).items():  # each column name matched once
        if (m := _GRID_COLUMN.match(key)) is not None:
            if int(m.group(2)) < len(ids):
                answered.add(int(m.group(2)))
            else:
                k.n += times  # every cell of it
    starts = _period_starts([r.get("param") for r in rows], period_type)
    k.n += starts.null_count  # a row without a label, or with one not of the type's form
    earliest, latest = k(c.timestamp_readings(starts, tz))
    period_start = c.ordered(earliest, latest)
    period_end = _period_ends(period_start, starts, period_type, tz)
    positions = sorted(answered)
    n_rows, n_links = len(rows), len(positions)

    def counts(prefix: str) -> pd.Series:
        values = [r.get(key) for key in [f"{prefix}{p}" for p in positions] for r in rows]  # position-major
        if all(type(v) is int for v in values):  # numbers only (a grid without clicks, as captured): no text
            try:
                return pd.Series(np.array(values, dtype=np.int64), dtype="Int64")
            except OverflowError:  # beyond int64: null and counted, as below
                pass
        # Numbers mixed with strings (the capture's zeros are numbers, its other counts strings): read as text
        # once, the numbers as their digits (what `as_strings` makes of them)
        strings = c.as_strings([str(v) if type(v) is int else v for v in values])
        typed = k(c.integer(strings))
        blank = c.text(strings).is_null().to_numpy(zero_copy_only=False)
        return typed.mask(pd.Series(blank) & typed.isna(), 0)

    out = {
        "link_id": ids.iloc[positions].repeat(n_rows).reset_index(drop=True),
        "period_type": pd.Series([period_type] * (n_rows * n_links), dtype=c.STRING_DTYPE),
        "period_start": _tile(period_start, n_links),
        "period_end": _tile(period_end, n_links),
        "click_count": counts("clicks"),
        "redirect_count": counts("redirects"),
        "observed_at": c.constant_ts(observed_at, n_rows * n_links),
    }
    frame = pd.DataFrame(out)[COLUMNS["link_click_stats"]]
    frame = frame[(frame["link_id"].notna() & frame["period_start"].notna()).to_numpy()].reset_index(drop=True)
    return Normalized(frame, k.n)
