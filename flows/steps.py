"""The sync's steps as plain functions: plan from the lake, extract from the API, stage, merge, publish.

Each extract step writes every payload to the raw store first and then stages its typed rows, through
`ingest`, the one function that turns a raw record into staged rows. `smsetl rebuild` replays raw records
through the same `ingest`, which is why raw -> rebuild gives the same warehouse. Message/List items get the
run's privacy mode (`SMS_PII`, `flows.privacy`) on their `to` before they are written, so raw holds no more
of a recipient's number than the lake does.

Prefect lives in `flows.sync`; these functions take plain arguments, so tests call them without a server.

## Why an incremental run cannot miss a status change, whatever this machine's clock or zone says
Every bound below is built from the gateway's own timestamps, kept and sent back as the gateway wrote them
(`YYYY-MM-DD HH:MM:SS`, its wall clock), with plain wall-clock arithmetic: this machine's clock, its time
zone, its tzdata and `SMS_TIMEZONE` play no part in which messages a run reads.
1. New campaigns (not yet in the lake) get every message, by `Message/List` on `campaignIds`.
2. Campaigns that can still change (sendStatus not DONE, or any message not final) get `Message/List` with
   `statusUpdateTsFrom` = the last successful run's `status_cursor` minus `STATUS_OVERLAP`. A run's cursor is
   the newest gateway timestamp it had seen *before it read any message*: the newest `statusUpdateTs`,
   `counters.updateTs` or `createTs` of every earlier successful run, and of this run's `Campaign/List`
   (read first, alone). The gateway stamped each of those before that run's message reads began, so every
   status change that run could not see carries a later stamp than its cursor: it is in the next run's
   window. The overlap covers a gateway that stamps a change a little before committing it (1 h) and the
   wall clock going back an hour at a fall-back DST shift (1 h), when a later change can carry an earlier
   wall time. Keys make the re-read rows harmless. A run killed or failed half-way never moves the cursor.
3. After the merge, each campaign's message counts per status are reconciled against the gateway's own
   counters (`Campaign/GetInfo`, or `Campaign/List` by ids for settled campaigns on a slow cadence), and a
   campaign that disagrees is re-read in the same run (one repair pass, `repair_plan`): by
   `Message/GetSMSStatus` (100 ids a call, a full observation: status and both timestamps) when only
   non-final messages can explain the difference, by a full `Message/List` otherwise. Counters older than the
   campaign's newest status change merely lag and are not acted on; a campaign still disagreeing after the
   repair is reported (frozen counters, say) and not re-read again until its counters change.
So a change is caught by (2) within one run, and anything (2) could miss shows up in (3) and is re-read.
The run's `as_of` (its "now", for click windows and open upper bounds) is the gateway's clock as its HTTP
`Date` header shows it; `Link/GetStats` is asked with no dates at all, so the gateway picks its own last
interval by its own clock and zone. Upper bounds of list windows get a day of slack for a wrong zone.
API calls are proportional to what changed: pages of changed messages, plus one call per 100 campaigns.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import transforms
from flows import message_batches
from flows.progress import Progress
from flows.settings import current
from smsapi import SmsApi, columnar
from smsapi.client import LINK_STATS_IDS_PER_CALL
from smsapi.glossary import FINAL_STATUSES, MESSAGE_STATUSES, UNKNOWN_STATUS
from smsapi.windows import WIRE_FORMAT
from storage import objectstore, raw, warehouse
from storage.crashpoints import crashpoint
from storage.lake import Lake, StagingWriter
from storage.planning import inconsistent_campaigns, lake_state, last_summary, non_final_messages
from storage.writer_thread import WriterThread
from transforms.schema import RUN_SUCCEEDED
from transforms.webhooks import delivery_reports

log = logging.getLogger("smsetl.sync")

STATUS_OVERLAP = timedelta(hours=2)  # 1 h for a change stamped before it is committed, 1 h for a DST fall-back
CAMPAIGN_LOOKBACK = timedelta(days=2)  # re-list recent campaigns: deferred or slow-to-appear ones
CLICK_HORIZON = timedelta(days=60)  # links of campaigns older than this are no longer refreshed
DONE_RECHECK = timedelta(days=7)  # settled campaigns' counters are compared again this often
# Link/GetStats period types, each asked for the gateway's own last maximum interval (one call per 5 links):
# minute (3 h), hourly (1 week), daily (90 days), so that the glossary's presets (2 hours, day, week, 30 days)
# are answerable and daily click curves reach back to a campaign's start.
STATS_TYPES = ("minute", "hourly", "daily")
# What a run refreshes (`sync(scope=...)`, the schedules of `flows.serve`): `full` everything; `hourly` all but
# the re-check of settled campaigns until it is a day old; `frequent` statuses and clicks, and the hourly parts
# (campaign counters, link click series) only once their last refresh is an hour old. So each part keeps its
# cadence even when its own schedule's run was cancelled (runs never overlap) or is switched off.
SCOPES = ("full", "hourly", "frequent")
COUNTERS_EVERY = timedelta(hours=1)
SETTLED_EVERY = timedelta(days=1)
CAMPAIGN_BATCH = 100  # campaignIds per Message/List call, and campaigns per extract task
INFO_BATCH = 25  # campaigns per Link/GetLinks task (one call each)
COUNTERS_BATCH = 100  # campaigns per counters task: one Campaign/List call by criteria[ids]
STATS_BATCH = 50  # links per Link/GetStats task (5 ids a call)
STATUS_BATCH = 1000  # message ids per Message/GetSMSStatus task (100 ids a call)
# Message/List pages decoded straight into Arrow columns of the keys the messages table reads (smsapi.columnar):
# no dict per item, and raw gets the body as it came. A page in another shape is decoded as usual.
MESSAGE_PAGES = columnar.decoder(tuple(transforms.MESSAGE_KEYS))


@dataclass
class RunContext:
    """Where one run writes and what clock it runs on."""

    data_dir: Path
    run_id: str
    as_of: datetime  # aware, UTC: the run's clock, the gateway's as its Date header shows it
    timezone: str
    merge_started: bool = False  # from then on the lake may hold part of this run until a merge completes
    # The recipients' privacy mode and key (flows.privacy); required to extract messages, never logged.
    pii: transforms.PiiPolicy | None = field(default=None, repr=False)
    # What the run has read and how long its phases took (flows.progress); displays observe it.
    progress: Progress = field(default_factory=Progress, repr=False, compare=False)

    @property
    def raw_root(self) -> Path:
        return self.data_dir / "raw"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging" / self.run_id

    @property
    def lake(self) -> Lake:
        return Lake(self.data_dir / "lake", memory_limit=current().duckdb_memory)

    @property
    def observed_at(self) -> str:
        return self.as_of.isoformat()


def publish(lake: Lake, data_dir: Path, keep_previous: bool = True, whole_warehouse: bool = False) -> dict:
    """Publish the warehouse built from `lake` (`storage.warehouse`). With `SMS_LAKE_URL` the lake is published
    there first (`storage.objectstore`: new files, then the manifest, then the orphans' removal) and the
    warehouse is built from what was published, so it holds exactly what any other reader of the bucket reads.
    `keep_previous`: see `storage.objectstore.publish`; `whole_warehouse`: see `storage.warehouse.build`. Returns
    what was done and how long it took."""
    store = current().object_store()
    t0 = time.monotonic()
    done = {}
    if store is not None:
        published = objectstore.publish(lake.root, store, keep_previous)
        lake = objectstore.PublishedLake(store, data_dir, memory_limit=current().duckdb_memory)
        done = {"lake_url": store.url, "files": published.files, "uploaded": published.uploaded,
                "uploaded_bytes": published.uploaded_bytes, "deleted": published.deleted,
                "lake_seconds": round(time.monotonic() - t0, 3)}
        log.info("published the lake to %s in %.1f s: %d files, %d uploaded (%s bytes), %d old ones removed",
                 store.url, done["lake_seconds"], published.files, published.uploaded,
                 f"{published.uploaded_bytes:,}", published.deleted)
    t1 = time.monotonic()
    built = warehouse.build(lake, data_dir, whole=whole_warehouse)
    return {**done, "warehouse_seconds": round(time.monotonic() - t1, 3),
            "warehouse": "patched" if built.patched else "whole", "warehouse_reason": built.reason}


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Within the block, the garbage collector leaves alone what was alive when it began (`gc.freeze`): the
    imports' and Prefect's objects, which every full collection would otherwise walk again while a backfill
    decodes millions of items (about 15 us of CPU per message, bench/README.md). They are handed back to it
    at the end, so that nothing is kept for good by a long-running `serve` (with accounts syncing at once,
    the first to end hands everything back and the others go on unfrozen: slower, never wrong)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def new_run_id(now: datetime) -> str:
    """Run ids sort by time: `20261129T183600123456Z-<pid>`."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"


# -- ingest: raw record -> staged rows ----------------------------------------------------------------------

@dataclass
class StepResult:
    """What an extract step did: rows staged per table, unexpected values, blank timestamps, and ids it saw."""

    rows: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    blank_timestamps: Counter = field(default_factory=Counter)  # per table, as `unexpected`
    ids: dict = field(default_factory=dict)
    newest: dict = field(default_factory=dict)  # kind -> the newest gateway wire timestamp seen (a string)

    def add(self, other: StepResult) -> None:
        self.rows.update(other.rows)
        self.unexpected.update(other.unexpected)
        self.blank_timestamps.update(other.blank_timestamps)
        for key, values in other.ids.items():
            self.ids.setdefault(key, {}).update(values)
        for kind, value in other.newest.items():
            self.see(kind, [value])

    def see(self, kind: str, values: Iterable) -> None:
        """Keep the newest well-formed wire timestamp among `values` (strings compare as times)."""
        if (newest := newest_wire_ts(values)) is not None:
            self.newest[kind] = max(self.newest.get(kind, newest), newest)


WIRE_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def newest_wire_ts(values: Iterable | pa.Array) -> str | None:
    """The greatest `YYYY-MM-DD HH:MM:SS` string among `values`; anything else is ignored."""
    if isinstance(values, pa.Array):  # a batch read by column: strings only
        newest = pc.max(values).as_py()
        if newest is None or WIRE_TS.match(newest):
            return newest
        values = values.to_pylist()
    strings = [v for v in values if isinstance(v, str)]
    if not strings:
        return None
    newest = max(strings)
    if WIRE_TS.match(newest):  # the common case: one pass, no regex per value
        return newest
    return max((v for v in strings if WIRE_TS.match(v)), default=None)


def wire_minus(wire_ts: str, delta: timedelta) -> str:
    """A gateway wall-clock time less `delta`, in wall-clock arithmetic: no zone involved."""
    return (datetime.strptime(wire_ts, WIRE_FORMAT) - delta).strftime(WIRE_FORMAT)


class Stager:
    """The staging writers of one run (one per table), shared by every step of the run."""

    def __init__(self, staging_dir: Path):
        self.staging_dir = staging_dir
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
    if normalized.blank_timestamps:  # read as unset (NaT), as the reference says the gateway sends null
        result.blank_timestamps["messages" if table == "message_statuses" else table] += normalized.blank_timestamps


# A `links` record of several calls' items, as the Extractor batches them: each item's campaign, in its params.
ITEM_CAMPAIGNS = "itemCampaignIds"


def _link_campaign(params: dict) -> int | None:
    """The campaign a links call was for: Link/GetLinks names one, Link/List none."""
    campaign_id = params.get("campaignId")
    return int(campaign_id) if campaign_id else None


def ingest(entity: str, record: dict, tz: str, stager: Stager, result: StepResult) -> None:
    """Stage the typed rows of one raw record. The only place where payloads become rows."""
    data, observed_at, params = record["data"], record["observed_at"], record["params"]
    if entity == "campaigns":  # Campaign/List: settled (DONE) campaigns only; others come from GetInfo
        done = [c for c in data if not isinstance(c, dict)  # not an object: the transform counts it
                or c.get("sendStatus") == "DONE" and isinstance(c.get("counters"), dict)]
        _stage(stager, "campaigns", transforms.campaigns(done, tz, observed_at), result)
        _stage(stager, "campaign_counters", transforms.campaign_counters(done, observed_at), result)
    elif entity == "campaigns_by_id":  # Campaign/List by criteria[ids]: the counters of any campaign, settled or not
        listed = [c for c in data if isinstance(c, dict) and isinstance(c.get("counters"), dict)]
        _stage(stager, "campaigns", transforms.campaigns(listed, tz, observed_at), result)
        _stage(stager, "campaign_counters", transforms.campaign_counters(listed, observed_at), result)
    elif entity == "campaign_info":
        _stage(stager, "campaigns", transforms.campaigns([data], tz, observed_at), result)
        _stage(stager, "campaign_counters", transforms.campaign_counters([data], observed_at), result)
    elif entity == "messages":
        _stage(stager, "messages", transforms.messages(data, tz, observed_at), result)
    elif entity == "message_statuses":
        _stage(stager, "message_statuses", transforms.message_statuses(data, tz, observed_at), result)
    elif entity == "webhook_events":  # delivery reports the receiver stored (flows.webhook_events)
        _stage(stager, "message_statuses", delivery_reports(data, tz, observed_at), result)
    elif entity == "links":
        normalized = transforms.links(data or [], params.get(ITEM_CAMPAIGNS) or _link_campaign(params), observed_at)
        _stage(stager, "links", normalized, result)
    elif entity == "link_stats":
        stats = transforms.link_click_stats(data, params.get("ids") or [], params["type"], tz, observed_at)
        _stage(stager, "link_click_stats", stats, result)
    else:
        raise ValueError(f"unknown raw entity {entity!r}")


# Progress rows (flows.progress): one per API method, so that each row's calls are the client's count of it.
PROGRESS_ROWS = {"Campaign/List": "campaigns", "Campaign/GetInfo": "campaign_info", "Message/List": "messages",
                 "Message/GetSMSStatus": "message_statuses", "Link/GetLinks": "campaign_links", "Link/List": "links",
                 "Link/GetStats": "link_stats"}


class Extractor:
    """Runs API calls for one entity: the calling thread fetches, a writer thread (`storage.writer_thread`)
    stores and normalizes.

    Each page goes to the writer, which appends it to raw at once and stages its rows through `ingest`; so
    fetching the next page overlaps writing this one, and memory holds at most `QUEUE_PAGES` pages plus one
    batch. Pages of list payloads are normalized in batches of `BATCH_ITEMS`: a transform's fixed cost per
    call is far larger than its cost per item, so page-by-page normalizing would make the pipeline, not the
    API, the bottleneck."""

    QUEUE_PAGES = 8
    BATCH_ITEMS = 10_000
    BATCHED = frozenset({"campaigns", "messages", "message_statuses"})  # list payloads whose params don't matter
    # Batched by column (`transforms.Columns`): a batch then holds each item's wanted fields, not the item.
    BY_COLUMN = {"messages": transforms.MESSAGE_KEYS, "message_statuses": transforms.STATUS_KEYS}

    def __init__(self, run: RunContext, stager: Stager, entity: str, method: str):
        self.run, self.stager, self.entity, self.method = run, stager, entity, method
        self.row = PROGRESS_ROWS.get(method, entity)
        self.result = StepResult()
        self._pending = self._new_batch()
        self._link_campaigns: list[int | None] = []  # each pending link's campaign (`ITEM_CAMPAIGNS`)

    def _new_batch(self) -> list | transforms.Columns:
        keys = self.BY_COLUMN.get(self.entity)
        return [] if keys is None else transforms.Columns(keys)

    def __enter__(self) -> Extractor:
        if self.entity == "messages" and self.run.pii is None:
            raise RuntimeError("the run has no PII mode: recipients' numbers are not stored without one")
        self._raw = raw.RawWriter(self.run.raw_root, self.entity, self.run.run_id)
        self._writer = WriterThread(lambda page: self._write(*page), self._flush, maxsize=self.QUEUE_PAGES,
                                    name=f"write-{self.entity}").__enter__()
        self.run.progress.track(self.row, self.method)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._writer.__exit__(exc_type, exc, tb)
        finally:
            self._raw.close()

    def take(self, params: dict, data) -> None:
        """Hand one API payload to the writer thread (blocks while it is `QUEUE_PAGES` behind)."""
        items = len(data) if isinstance(data, (list, columnar.ColumnPage)) else 1
        self.run.progress.read(self.row, items, getattr(data, "total", None))
        self._writer.put((params, data))

    def _write(self, params: dict, data) -> None:
        if isinstance(data, columnar.ColumnPage):  # a Message/List page read by column
            if self._write_by_column(params, data):
                return
            data = data.items()  # its repeats dropped, or a `to` the body cannot be changed in place for
        if self.entity == "messages":  # before raw: in hash or drop mode no clear number is stored anywhere
            data = self.run.pii.protect_messages(data, in_place=True)  # the page is ours alone once taken
        self._raw.write(self.method, params, self.run.observed_at, data)
        crashpoint(f"extract.page:{self.entity}")
        if self.entity == "links" and isinstance(data, list):
            # Link/GetLinks answers a campaign's few links a call: normalized one call at a time, a backfill's
            # hundreds of calls cost the flow's process about 10 ms of CPU each, so they are gathered and
            # normalized a batch at a time (each row keeps its call's campaign). Link/List pages batch the same way.
            self._link_campaigns.extend([_link_campaign(params)] * len(data))
        elif self.entity not in self.BATCHED:
            self._ingest(params, data)
            return
        self._pending.extend(data or [])
        if len(self._pending) >= self.BATCH_ITEMS:
            self._flush()

    def _write_by_column(self, params: dict, page: columnar.ColumnPage) -> bool:
        """A whole page as its body into raw and its columns into the batch, its recipients protected in both
        (`PiiPolicy.protect_body`); False, nothing done, where that is not possible."""
        if page.positions is not None:
            return False
        columns = page.whole
        protected = self.run.pii.protect_body(page.body, columns.field("to").to_pylist())
        if protected is None:
            return False
        body, recipients = protected
        if self.run.pii.mode != "keep":
            fields = [pa.array(recipients, pa.string()) if name == "to" else columns.field(name)
                      for name in (f.name for f in columns.type)]
            columns = pa.StructArray.from_arrays(fields, [f.name for f in columns.type])
        self._raw.write_response(self.method, params, self.run.observed_at, body)
        crashpoint(f"extract.page:{self.entity}")
        self._pending.extend_columns(columns)
        if len(self._pending) >= self.BATCH_ITEMS:
            self._flush()
        return True

    def _flush(self) -> None:
        batch, self._pending = self._pending, self._new_batch()
        if not len(batch):
            return
        if isinstance(batch, transforms.Columns):
            self.result.see("statusUpdateTs", batch.column("statusUpdateTs"))
        params = {}
        if self.entity == "links":
            params, self._link_campaigns = {ITEM_CAMPAIGNS: self._link_campaigns}, []
        self._ingest(params, batch)

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
    status_cursor: str | None  # the last successful run's cursor (gateway wall time); None before the first
    gateway_time_seen: str | None  # the newest gateway timestamp any successful run saw (gateway wall time)
    campaigns_from: datetime
    repair: Repair  # what reconciliation against the lake's counters still asks to re-read
    done_recheck: list[int]  # settled campaigns whose counters are due for a fresh look (DONE_RECHECK)
    link_clicks: dict[int, int]  # link_id -> click_count in the lake
    tried: dict[int, dict]  # the mismatches the last successful run reported, with what it did about them
    watermarks: dict[str, str] = field(default_factory=dict)  # sync_watermarks: name -> the latest value


@dataclass
class Repair:
    """Campaigns to re-read: whole (`full`), or the statuses of some of their messages (`recheck_ids`)."""

    full: list[int] = field(default_factory=list)
    recheck_campaigns: list[int] = field(default_factory=list)
    recheck_ids: list[int] = field(default_factory=list)

    @property
    def campaigns(self) -> list[int]:
        return sorted(set(self.full) | set(self.recheck_campaigns))

    def __bool__(self) -> bool:
        return bool(self.full or self.recheck_ids)


def plan(run: RunContext, since: datetime | None, default_since: datetime) -> Plan:
    """What to read this run. Campaigns are listed from `since` when given (a backfill, or its extension to
    older dates), else from the newest campaign the lake holds less `CAMPAIGN_LOOKBACK` (`default_since` on
    the first run)."""
    con = run.lake.connect()
    try:
        state = lake_state(con, recheck_before=run.as_of - DONE_RECHECK)
        mismatches = reconcile(con)
        tried = last_mismatches(con)
        repair = repair_plan(con, mismatches, tried)
    finally:
        con.close()
    if since is not None:
        campaigns_from = since
    elif state.newest_campaign is not None:
        campaigns_from = state.newest_campaign - CAMPAIGN_LOOKBACK
    else:
        campaigns_from = default_since
    return Plan(state.known_campaigns, state.unsettled_campaigns, state.active_campaigns,
                state.watermarks.get("status_cursor"), state.watermarks.get("gateway_time_seen"),
                campaigns_from, repair, state.done_recheck, state.link_clicks, tried, state.watermarks)


@dataclass(frozen=True)
class Refresh:
    """Which of the slower parts a run of a scope does (see SCOPES)."""

    counters: bool  # unsettled campaigns' counters, and the click series of links whose clicks changed
    settled: bool  # settled campaigns' counters due for a re-check (DONE_RECHECK)


COUNTERS_WATERMARK = "counters_refreshed_at"
SETTLED_WATERMARK = "settled_rechecked_at"
PENDING_STATS_WATERMARK = "link_stats_pending"  # links whose clicks changed while their series were skipped


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}: use full (everything), hourly "
                         "(counters and click series too) or frequent (statuses and clicks)")


def refresh_for(scope: str, watermarks: dict[str, str], as_of: datetime) -> Refresh:
    """What a run of `scope` at `as_of` (the gateway's clock) refreshes, given when each part last was."""
    check_scope(scope)

    def due(name: str, every: timedelta) -> bool:
        last = watermarks.get(name)
        return last is None or as_of - datetime.fromisoformat(last) >= every

    return Refresh(counters=scope != "frequent" or due(COUNTERS_WATERMARK, COUNTERS_EVERY),
                   settled=scope == "full" or due(SETTLED_WATERMARK, SETTLED_EVERY))


# The `reconciliation` view's per-status columns are named `<status in lower case>_difference`.
STATUS_COLUMN_PREFIXES = tuple(status.lower() for status in (*MESSAGE_STATUSES, UNKNOWN_STATUS))
FINAL_PREFIXES = tuple(status.lower() for status in MESSAGE_STATUSES if status in FINAL_STATUSES)


def reconcile(con) -> dict[int, dict]:
    """Campaigns whose message counts disagree with the gateway's counters, with the differences per status.

    The definition is the warehouse's own `reconciliation` view (sql/), applied here to the lake's tables.
    `messages_missing` is true when the total differs, `finals_in_excess` when the lake holds more messages in
    some final status than the gateway counts (a stored final status is wrong): then only a full re-read can
    repair the campaign. `counters_lagging`: the counters predate the campaign's newest status change;
    `counters_frozen`: so do a DONE campaign's, which will not change again."""
    mismatches = {}
    for row in inconsistent_campaigns(con):
        mismatches[row["campaign_id"]] = {
            "warehouse_total": row["total_warehouse"], "gateway_total": row["total_gateway"],
            "messages_missing": row["total_difference"] != 0,
            "finals_in_excess": any((row[f"{p}_difference"] or 0) > 0 for p in FINAL_PREFIXES),
            "counters_lagging": bool(row["is_counters_lagging"]),
            # DONE: "no campaign counters are changed" (API.md 3.2), so lagging DONE counters never catch up
            "counters_frozen": bool(row["is_counters_lagging"]) and row["send_status"] == "DONE",
            "counters_updated_at": row["counters_updated_at"].isoformat() if row["counters_updated_at"] else None,
            "differences": {p.upper(): row[f"{p}_difference"] for p in STATUS_COLUMN_PREFIXES
                            if row[f"{p}_difference"]},
        }
    return mismatches


def last_mismatches(con) -> dict[int, dict]:
    """The mismatches the last successful run reported (they say which ones it already tried to repair)."""
    summary = last_summary(con, RUN_SUCCEEDED) or {}
    return {int(k): v for k, v in summary.get("reconciliation_mismatches", {}).items()}


def repair_plan(con, mismatches: dict[int, dict], tried: dict[int, dict]) -> Repair:
    """What to re-read for `mismatches`, marking each one's `action`:
    - `frozen`: the campaign is DONE and its counters predate its newest status change: the gateway stopped
      counting (its status-wait timeout) while late reports still arrive; a re-read cannot change that;
    - `wait`: the counters lag the messages (minutes, typically): not a mismatch to act on yet;
    - `reported`: already re-read against these very counters (unchanged since), so re-reading again cannot
      help: frozen counters, say; reported until the counters change;
    - `full`: the total or a final status disagrees: every message, by Message/List;
    - `recheck`: only the non-final messages can explain it: their statuses, by Message/GetSMSStatus."""
    repair = Repair()
    for cid, m in mismatches.items():
        before = tried.get(cid, {})
        if m.get("counters_frozen"):
            m["action"] = "frozen"
        elif m["counters_lagging"]:
            m["action"] = "wait"
        elif before.get("action") in ("full", "recheck", "reported") and before.get("repaired") \
                and before.get("counters_updated_at") == m["counters_updated_at"]:
            m["action"] = "reported"
        elif m["messages_missing"] or m["finals_in_excess"]:
            m["action"] = "full"
            repair.full.append(cid)
        else:
            m["action"] = "recheck"
            repair.recheck_campaigns.append(cid)
    if repair.recheck_campaigns:
        repair.recheck_ids = non_final_messages(con, repair.recheck_campaigns)
    return repair


# -- extract ---------------------------------------------------------------------------------------------------

def extract_campaigns(api: SmsApi, run: RunContext, stager: Stager, created_from: datetime,
                      created_to: datetime) -> StepResult:
    """Campaign/List over the window; `result.ids["campaigns"]` maps every listed id to its sendStatus, and
    `result.newest["listed"]` is the newest gateway timestamp the listing showed (createTs, counters.updateTs)."""
    with Extractor(run, stager, "campaigns", "Campaign/List") as ex:
        params = {"createdFrom": created_from.isoformat(), "createdTo": created_to.isoformat()}
        for page in api.list_campaigns(created_from, created_to):
            _take_campaigns(ex, params, page)
    log.info("campaigns: %d listed", len(ex.result.ids.get("campaigns", {})))
    return ex.result


def recheck_campaigns(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: list[int]) -> StepResult:
    """Campaign/List by `criteria[ids]` (100 a call): fresh counters of settled campaigns, as `extract_campaigns`."""
    with Extractor(run, stager, "campaigns", "Campaign/List") as ex:
        for page in api.list_campaigns_by_ids(campaign_ids):
            _take_campaigns(ex, {"ids": campaign_ids}, page)
    return ex.result


def _take_campaigns(ex: Extractor, params: dict, page: list[dict]) -> None:
    ex.take(params, page)
    for c in page:
        if (cid := _id_of(c)) is None:
            continue
        ex.result.ids.setdefault("campaigns", {})[cid] = c.get("sendStatus")
        if c.get("sendStatus") != "DONE" or not isinstance(c.get("counters"), dict):
            ex.result.ids.setdefault("need_info", {})[cid] = True
        if isinstance(c.get("counters"), dict):  # the size of a full read, where known: how to batch the backfill
            size = message_batches.count(c["counters"].get("totalMsgNum"))
            ex.result.ids.setdefault("messages_expected", {})[cid] = size
    ex.result.see("listed", _campaign_times(page))


def _campaign_times(items: list[dict]) -> Iterator:
    """The gateway's past timestamps on campaign objects: when it created them and last counted them."""
    for c in items:
        if isinstance(c, dict):
            yield c.get("createTs")
            if isinstance(c.get("counters"), dict):
                yield c["counters"].get("updateTs")


def extract_campaign_info(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: Iterable[int]) -> StepResult:
    """Fresh counters of up to 100 campaigns in one Campaign/List call (`criteria[ids]`); Campaign/GetInfo, one
    call each, only for those the list answer leaves without counters (the reference says list items carry
    them; a gateway whose do not still gets every campaign's counters)."""
    ids = list(campaign_ids)
    counted: set[int] = set()
    with Extractor(run, stager, "campaigns_by_id", "Campaign/List") as listed:
        for page in api.list_campaigns_by_ids(ids):
            listed.take({"ids": ids}, page)
            listed.result.see("counters", _campaign_times(page))
            counted.update(_id_of(c) for c in page if isinstance(c, dict) and isinstance(c.get("counters"), dict))
    with Extractor(run, stager, "campaign_info", "Campaign/GetInfo") as ex:
        if uncounted := len(set(ids) - counted):
            run.progress.expect(ex.row, uncounted)
        for cid in ids:
            if cid not in counted:
                info = api.get_campaign_info(cid)
                ex.take({"id": cid}, info)
                ex.result.see("counters", _campaign_times([info]))
    ex.result.add(listed.result)
    return ex.result


def _id_of(item: dict) -> int | None:
    try:
        return int(str(item["id"]))
    except (KeyError, TypeError, ValueError):
        return None  # kept in raw, counted by the transform


def extract_messages(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: list[int],
                     status_from: str | None = None) -> StepResult:
    """Message/List for up to 100 campaigns: every message, or those whose status changed since `status_from`
    (a gateway wall time, sent as is) up to the gateway's now plus a day of slack for a wrong zone."""
    with Extractor(run, stager, "messages", "Message/List") as ex:
        params = {"campaignIds": campaign_ids, "statusUpdateTsFrom": status_from}
        for page in api.list_messages(campaign_ids, status_updated_from=status_from,
                                      status_updated_to=run.as_of + timedelta(days=1) if status_from else None,
                                      decode=MESSAGE_PAGES):
            ex.take(params, page)
    return ex.result


def extract_statuses(api: SmsApi, run: RunContext, stager: Stager, message_ids: list[int]) -> StepResult:
    with Extractor(run, stager, "message_statuses", "Message/GetSMSStatus") as ex:
        run.progress.expect(ex.row, len(message_ids))  # one status per id asked
        for start in range(0, len(message_ids), 100):
            chunk = message_ids[start:start + 100]
            for items in api.get_sms_status(chunk):
                ex.take({"ids": chunk}, items)
    return ex.result


def extract_links(api: SmsApi, run: RunContext, stager: Stager, campaign_ids: Iterable[int]) -> StepResult:
    """GetLinks per campaign; `result.ids["links"]` maps link_id -> click count now."""
    with Extractor(run, stager, "links", "Link/GetLinks") as ex:
        run.progress.track(ex.row, "Campaign/GetLinks")  # the client's fallback where Link/GetLinks is missing
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
    """Link/GetStats (5 ids a call) per period type, each for the gateway's own last maximum interval (no dates
    sent: its clock and zone decide). Raw keeps the ids sent: the grid names links only by position."""
    with Extractor(run, stager, "link_stats", "Link/GetStats") as ex:
        run.progress.expect(ex.row, -(-len(link_ids) // LINK_STATS_IDS_PER_CALL) * len(STATS_TYPES))  # grids
        for period_type in STATS_TYPES:
            for ids, data in api.get_link_stats(link_ids, period_type):
                ex.take({"type": period_type, "ids": ids}, data)
    return ex.result


def batches(ids: Iterable[int], size: int | None = None) -> Iterator[list[int]]:
    """`ids` in lists of `size` (default `CAMPAIGN_BATCH`, read when called)."""
    ids, size = list(ids), size or CAMPAIGN_BATCH
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# -- replay ---------------------------------------------------------------------------------------------------

RAW_ENTITIES = ("campaigns", "campaigns_by_id", "campaign_info", "messages", "message_statuses", "webhook_events",
                "links", "link_stats")


def replay(run: RunContext, stager: Stager) -> StepResult:
    """Stage one past run's rows from its raw records alone (no API)."""
    result = StepResult()
    for entity in RAW_ENTITIES:
        for record in raw.read(run.raw_root, entity, run.run_id):
            ingest(entity, record, run.timezone, stager, result)
    return result


def summary_json(summary: dict) -> str:
    return json.dumps(summary, default=str, sort_keys=True)
