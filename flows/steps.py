"""The sync's steps as plain functions: plan from the lake, extract from the API, stage, merge, publish.

Each extract step writes every payload to the raw store first and then stages its typed rows, through
`ingest`, the one function that turns a raw record into staged rows. `smsetl rebuild` replays raw records
through the same `ingest`, which is why raw -> rebuild gives the same warehouse.

Prefect lives in `flows.sync`; these functions take plain arguments, so tests call them without a server.

## Why an incremental run cannot miss a status change
1. New campaigns (not yet in the lake) get every message, by `Message/List` on `campaignIds`.
2. Campaigns that can still change (sendStatus not DONE, or any message not final) get `Message/List` with
   `statusUpdateTsFrom` = the clock (`as_of`) of the last successful run minus `STATUS_OVERLAP`. Every status
   change stamps `statusUpdateTs` with the time of the change; a change that run did not read happened after
   it started, so it is in the window. The overlap covers a gateway that commits a change a little after
   stamping it, and skew between the two clocks; keys make the re-read rows harmless. The watermark is that of
   the last run that completed: a run killed or failed half-way never moves it.
3. After the merge, each campaign's message counts per status are reconciled against the gateway's own
   `Campaign/GetInfo` counters. A campaign that disagrees is listed in the run summary, and the next run
   re-reads it: by `Message/GetSMSStatus` (100 ids a call) for its non-final messages when only statuses
   disagree, by a full `Message/List` when the message count itself disagrees.
So a change is caught by (2) within one run, and anything (2) could miss shows up in (3) and is re-read.
API calls are proportional to what changed: pages of changed messages, plus one call per 100 campaigns.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import transforms
from smsapi import SmsApi
from storage import raw
from storage.lake import Lake, StagingWriter
from storage.views import apply_views

log = logging.getLogger("smsetl.sync")

STATUS_OVERLAP = timedelta(hours=1)
CAMPAIGN_LOOKBACK = timedelta(days=2)  # re-list recent campaigns: deferred or slow-to-appear ones
CLICK_HORIZON = timedelta(days=60)  # links of campaigns older than this are no longer refreshed
# Link/GetStats windows: each type's maximum range (one call per 5 links each; the bounds are inclusive, hence
# the second less), so that the glossary's presets (2 hours, day, week, 30 days) are answerable and daily click
# curves reach back to a campaign's start.
_SECOND = timedelta(seconds=1)
STATS_WINDOWS = {"minute": timedelta(hours=3) - _SECOND, "hourly": timedelta(days=7) - _SECOND,
                 "daily": timedelta(days=90) - _SECOND}
CAMPAIGN_BATCH = 100  # campaignIds per Message/List call, and campaigns per extract task
INFO_BATCH = 25  # campaigns per Campaign/GetInfo task and per Link/GetLinks task (one call each)
STATS_BATCH = 50  # links per Link/GetStats task (5 ids a call)
STATUS_BATCH = 1000  # message ids per Message/GetSMSStatus task (100 ids a call)


@dataclass
class RunContext:
    """Where one run writes and what clock it runs on."""

    data_dir: Path
    run_id: str
    as_of: datetime  # aware, UTC: the run's clock (wall clock, or the sandbox's simulated one)
    timezone: str
    merge_started: bool = False  # from then on the lake may hold part of this run until a merge completes

    @property
    def raw_root(self) -> Path:
        return self.data_dir / "raw"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging" / self.run_id

    @property
    def lake(self) -> Lake:
        return Lake(self.data_dir / "lake")

    @property
    def observed_at(self) -> str:
        return self.as_of.isoformat()


def new_run_id(now: datetime) -> str:
    """Run ids sort by time: `20261129T183600123456Z-<pid>`."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"


# -- ingest: raw record -> staged rows ----------------------------------------------------------------------

@dataclass
class StepResult:
    """What an extract step did: rows staged per table, unexpected values, and ids it saw."""

    rows: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    ids: dict = field(default_factory=dict)

    def add(self, other: StepResult) -> None:
        self.rows.update(other.rows)
        self.unexpected.update(other.unexpected)
        for key, values in other.ids.items():
            self.ids.setdefault(key, {}).update(values)


class Progress:
    """Items read so far per entity, logged at most every `every` seconds: long extractions show progress."""

    def __init__(self, every: float = 10.0):
        self.counts: Counter = Counter()
        self.every = every
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def add(self, entity: str, items: int) -> None:
        with self._lock:
            self.counts[entity] += items
            if time.monotonic() - self._last >= self.every:
                self._last = time.monotonic()
                log.info("read so far: %s", ", ".join(f"{n:,} {e}" for e, n in sorted(self.counts.items())))


class Stager:
    """The staging writers of one run (one per table) and its progress, shared by every step of the run."""

    def __init__(self, staging_dir: Path):
        self.staging_dir = staging_dir
        self.progress = Progress()
        self._writers: dict[str, StagingWriter] = {}

    def writer(self, table: str) -> StagingWriter:
        if table not in self._writers:
            self._writers.setdefault(table, StagingWriter(self.staging_dir, table))
        return self._writers[table]

    def close(self) -> None:
        for w in self._writers.values():
            w.close()


def _stage(stager: Stager, table: str, normalized: transforms.Normalized, result: StepResult) -> None:
    stager.writer(table).append(transforms.to_arrow(normalized.frame, table))
    result.rows[table] += len(normalized.frame)
    if normalized.unexpected:  # by table, as the run's rows are counted (sync_run_entities)
        result.unexpected["messages" if table == "message_statuses" else table] += normalized.unexpected


def ingest(entity: str, record: dict, tz: str, stager: Stager, result: StepResult) -> None:
    """Stage the typed rows of one raw record. The only place where payloads become rows."""
    data, observed_at, params = record["data"], record["observed_at"], record["params"]
    if entity == "campaigns":  # Campaign/List: settled (DONE) campaigns only; others come from GetInfo
        done = [c for c in data if c.get("sendStatus") == "DONE" and isinstance(c.get("counters"), dict)]
        _stage(stager, "campaigns", transforms.campaigns(done, tz, observed_at), result)
        _stage(stager, "campaign_counters", transforms.campaign_counters(done, observed_at), result)
    elif entity == "campaign_info":
        _stage(stager, "campaigns", transforms.campaigns([data], tz, observed_at), result)
        _stage(stager, "campaign_counters", transforms.campaign_counters([data], observed_at), result)
    elif entity == "messages":
        _stage(stager, "messages", transforms.messages(data, tz, observed_at), result)
    elif entity == "message_statuses":
        _stage(stager, "message_statuses", transforms.message_statuses(data, tz, observed_at), result)
    elif entity == "links":
        campaign_id = params.get("campaignId")
        normalized = transforms.links(data or [], int(campaign_id) if campaign_id else None, observed_at)
        _stage(stager, "links", normalized, result)
    elif entity == "link_stats":
        items = (data or {}).get("items") or []
        _stage(stager, "link_click_stats", transforms.link_click_stats(items, params["type"], tz, observed_at),
               result)
    else:
        raise ValueError(f"unknown raw entity {entity!r}")


class Extractor:
    """Runs API calls for one entity: the calling thread fetches, a writer thread stores and normalizes.

    Each page goes through a bounded queue to the writer, which appends it to raw at once and stages its rows
    through `ingest`; so fetching the next page overlaps writing this one, and memory holds at most
    `QUEUE_PAGES` pages plus one batch. Pages of list payloads are normalized in batches of `BATCH_ITEMS`:
    a transform's fixed cost per call is far larger than its cost per item, so page-by-page normalizing would
    make the pipeline, not the API, the bottleneck."""

    QUEUE_PAGES = 8
    BATCH_ITEMS = 10_000
    BATCHED = frozenset({"campaigns", "messages", "message_statuses"})  # list payloads whose params don't matter
    _DONE = object()

    def __init__(self, run: RunContext, stager: Stager, entity: str, method: str):
        self.run, self.stager, self.entity, self.method = run, stager, entity, method
        self.result = StepResult()
        self._pending: list = []
        self._queue: queue.Queue = queue.Queue(maxsize=self.QUEUE_PAGES)
        self._error: BaseException | None = None

    def __enter__(self) -> Extractor:
        self._raw = raw.RawWriter(self.run.raw_root, self.entity, self.run.run_id)
        self._writer = threading.Thread(target=self._write_pages, name=f"write-{self.entity}", daemon=True)
        self._writer.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._queue.put(self._DONE)
        self._writer.join()
        self._raw.close()
        if exc is None and self._error is not None:
            raise self._error

    def take(self, params: dict, data) -> None:
        """Hand one API payload to the writer thread (blocks while the queue is full)."""
        if self._error is not None:
            raise self._error
        self._queue.put((params, data))

    def _write_pages(self) -> None:
        while (page := self._queue.get()) is not self._DONE:
            if self._error is None:  # after a failure, drain the queue so the fetching thread never blocks
                try:
                    self._write(*page)
                except BaseException as exc:  # noqa: BLE001 -- re-raised in the fetching thread
                    self._error = exc
        if self._error is None:
            try:
                self._flush()
            except BaseException as exc:  # noqa: BLE001
                self._error = exc

    def _write(self, params: dict, data) -> None:
        self._raw.write(self.method, params, self.run.observed_at, data)
        self.stager.progress.add(self.entity, len(data) if isinstance(data, list) else 1)
        if self.entity not in self.BATCHED:
            self._ingest(params, data)
            return
        if self.entity == "messages":
            for item in data:  # raw has it; rows take campaigns from GetInfo, and the copy is the bulk of a page
                item.pop("campaign", None)
        self._pending.extend(data or [])
        if len(self._pending) >= self.BATCH_ITEMS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            items, self._pending = self._pending, []
            self._ingest({}, items)

    def _ingest(self, params: dict, data) -> None:
        record = {"method": self.method, "params": params, "observed_at": self.run.observed_at, "data": data}
        ingest(self.entity, record, self.run.timezone, self.stager, self.result)


# -- plan ----------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    """What the lake says this run has to read."""

    known_campaigns: set[int]
    unsettled_campaigns: list[int]  # sendStatus not DONE: GetInfo again
    active_campaigns: list[int]  # may still have status changes
    status_watermark: datetime | None  # the clock of the last successful run (UTC); None before the first
    campaigns_from: datetime
    repull_full: list[int]  # reconciliation: message count disagrees
    recheck_message_ids: list[int]  # reconciliation: statuses disagree; their non-final messages
    link_clicks: dict[int, int]  # link_id -> click_count in the lake


def plan(run: RunContext, since: datetime | None, default_since: datetime) -> Plan:
    """What to read this run. Campaigns are listed from `since` when given (a backfill, or its extension to
    older dates), else from the newest campaign the lake holds less `CAMPAIGN_LOOKBACK` (`default_since` on
    the first run)."""
    con = run.lake.connect()
    try:
        known = {r[0] for r in con.execute("select campaign_id from campaigns").fetchall()}
        unsettled = [r[0] for r in con.execute(
            "select campaign_id from campaigns where send_status is distinct from 'DONE' order by 1").fetchall()]
        active = [r[0] for r in con.execute("""
            select campaign_id from campaigns where send_status is distinct from 'DONE'
            union select distinct campaign_id from messages where not is_final
            order by 1""").fetchall()]
        watermark, newest_campaign = con.execute(
            "select (select max(as_of) from sync_runs where outcome = 'success'),"
            " (select max(created_at) from campaigns)"
        ).fetchone()
        mismatched = reconcile(con)
        repull = sorted(c for c, m in mismatched.items() if m["messages_missing"])
        recheck_campaigns = [c for c, m in mismatched.items() if not m["messages_missing"]]
        recheck = []
        if recheck_campaigns:
            recheck = [r[0] for r in con.execute(
                "select message_id from messages where not is_final and list_contains($ids, campaign_id)"
                " order by 1", {"ids": recheck_campaigns}).fetchall()]
        link_clicks = dict(con.execute("select link_id, click_count from links").fetchall())
    finally:
        con.close()
    if since is not None:
        campaigns_from = since
    elif newest_campaign is not None:
        campaigns_from = newest_campaign - CAMPAIGN_LOOKBACK
    else:
        campaigns_from = default_since
    return Plan(known, unsettled, active, watermark, campaigns_from, repull, recheck, link_clicks)


STATUS_COLUMN_PREFIXES = ("new", "enqueud", "acceptd", "pdlivrd", "delivrd", "undeliv", "rejectd", "expired",
                          "deleted", "unknown")


def reconcile(con) -> dict[int, dict]:
    """Campaigns whose message counts disagree with the gateway's counters, with the differences per status.

    The definition is the warehouse's own `reconciliation` view (sql/), applied here to the lake's tables.
    `messages_missing` is true when the total differs: then only a full re-read can repair the campaign."""
    apply_views(con)
    cursor = con.execute("select * from reconciliation where has_gateway_counters and not is_consistent"
                         " order by campaign_id")
    names = [d[0] for d in cursor.description]
    mismatches = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        mismatches[row["campaign_id"]] = {
            "warehouse_total": row["total_warehouse"], "gateway_total": row["total_gateway"],
            "messages_missing": row["total_difference"] != 0,
            "differences": {p.upper(): row[f"{p}_difference"] for p in STATUS_COLUMN_PREFIXES
                            if row[f"{p}_difference"]},
        }
    return mismatches


# -- extract ---------------------------------------------------------------------------------------------------

def extract_campaigns(api: SmsApi, run: RunContext, stager: Stager, created_from: datetime,
                      created_to: datetime) -> StepResult:
    """Campaign/List over the window; `result.ids["campaigns"]` maps every listed id to its sendStatus."""
    with Extractor(run, stager, "campaigns", "Campaign/List") as ex:
        params = {"createdFrom": created_from.isoformat(), "createdTo": created_to.isoformat()}
        for page in api.list_campaigns(created_from, created_to):
            ex.take(params, page)
            statuses = {int(c["id"]): c.get("sendStatus") for c in page}
            ex.result.ids.setdefault("campaigns", {}).update(statuses)
            ex.result.ids.setdefault("need_info", {}).update(
                {cid: True for c, cid in zip(page, statuses)
                 if c.get("sendStatus") != "DONE" or not isinstance(c.get("counters"), dict)})
    log.info("campaigns: %d listed", len(ex.result.ids.get("campaigns", {})))
    return ex.result


def extract_campaign_info(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: Iterable[int]) -> StepResult:
    with Extractor(run, stager, "campaign_info", "Campaign/GetInfo") as ex:
        for cid in campaign_ids:
            ex.take({"id": cid}, api.get_campaign_info(cid))
    return ex.result


def extract_messages(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: list[int],
                     status_from: datetime | None = None) -> StepResult:
    """Message/List for up to 100 campaigns: every message, or those changed since `status_from`."""
    with Extractor(run, stager, "messages", "Message/List") as ex:
        params = {"campaignIds": campaign_ids,
                  "statusUpdateTsFrom": status_from.isoformat() if status_from else None}
        for page in api.list_messages(campaign_ids, status_updated_from=status_from,
                                      status_updated_to=run.as_of + timedelta(days=1) if status_from else None):
            ex.take(params, page)
    return ex.result


def extract_statuses(api: SmsApi, run: RunContext, stager: Stager, message_ids: list[int]) -> StepResult:
    with Extractor(run, stager, "message_statuses", "Message/GetSMSStatus") as ex:
        for start in range(0, len(message_ids), 100):
            chunk = message_ids[start:start + 100]
            for items in api.get_sms_status(chunk):
                ex.take({"ids": chunk}, items)
    return ex.result


def extract_links(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: Iterable[int]) -> StepResult:
    """GetLinks per campaign; `result.ids["links"]` maps link_id -> click count now."""
    with Extractor(run, stager, "links", "Link/GetLinks") as ex:
        for cid in campaign_ids:
            items = api.get_campaign_links(cid) or []
            ex.take({"campaignId": cid}, items)
            ex.result.ids.setdefault("links", {}).update(_click_counts(items))
    return ex.result


def refresh_links(api: SmsApi, run: RunContext, stager: Stager, created_from: datetime) -> StepResult:
    """Link/List (100 links a call) refreshes click counts of every link created since `created_from`."""
    with Extractor(run, stager, "links", "Link/List") as ex:
        for page in api.list_links(created_from=created_from):
            ex.take({"createdFrom": created_from.isoformat()}, page)
            ex.result.ids.setdefault("links", {}).update(_click_counts(page))
    return ex.result


def _click_counts(items: list[dict]) -> dict[int, int]:
    counts = {}
    for item in items:
        try:
            counts[int(item["id"])] = int(str(item.get("clickCnt") or 0))
        except (KeyError, TypeError, ValueError):
            continue  # kept in raw, flagged by the transform
    return counts


def extract_link_stats(api: SmsApi, run: RunContext, stager: Stager, link_ids: list[int]) -> StepResult:
    """Link/GetStats (5 ids a call) per period type over the windows the glossary's presets need."""
    with Extractor(run, stager, "link_stats", "Link/GetStats") as ex:
        for period_type, span in STATS_WINDOWS.items():
            date_from = run.as_of - span
            for data in api.get_link_stats(link_ids, period_type, date_from, run.as_of):
                ex.take({"type": period_type, "dateFrom": date_from.isoformat(), "dateTo": run.as_of.isoformat()},
                        data)
    return ex.result


def batches(ids: Iterable[int], size: int = CAMPAIGN_BATCH) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# -- replay ---------------------------------------------------------------------------------------------------

RAW_ENTITIES = ("campaigns", "campaign_info", "messages", "message_statuses", "links", "link_stats")


def replay(run: RunContext, stager: Stager) -> StepResult:
    """Stage one past run's rows from its raw records alone (no API)."""
    result = StepResult()
    for entity in RAW_ENTITIES:
        for record in raw.read(run.raw_root, entity, run.run_id):
            ingest(entity, record, run.timezone, stager, result)
    return result


def summary_json(summary: dict) -> str:
    return json.dumps(summary, default=str, sort_keys=True)
