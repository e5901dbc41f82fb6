"""The `sync` Prefect flow: wires the steps of `flows.steps` into coarse tasks.

Tasks are an entity, a window or a batch of up to 100 campaigns, never an API page: a task run costs
milliseconds, a page a few. Extraction runs on a ThreadPoolTaskRunner; the client's per-method rate limiter
keeps the threads within the gateway's limit. With `SMSETL_DASK` the message batches run on a Dask cluster
instead, each worker with its share of the limits (`flows.batches`); a large backfill's run in local worker
processes (`SMSETL_PROCESSES`, `flows.processes`). The API key never becomes a flow or task
parameter (Prefect stores parameters): the flow builds its client from the settings (`flows.settings`:
`SMS_API_KEY`, `SMS_API_URL`, `SMS_TIMEZONE`, `SMS_RATE_LIMIT`, the CLI's flags over them). So does the
recipients' privacy mode and its key (`SMS_PII`, `SMS_PII_KEY`, `flows.privacy`), checked against the data
directory before anything is written.
"""

from __future__ import annotations

import contextvars
import fcntl
import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows import alerts, batches, message_batches, privacy, resume, steps, webhook_events
from flows.processes import extract_in_processes, process_count
from flows.progress import Progress, format_seconds
from flows.settings import current
from reports import html as html_report
from reports.metrics import render_campaign_metrics
from smsapi import SmsApi
from storage import housekeeping, rate_limits, warehouse
from storage.crashpoints import crashpoint
from storage.lake import MergeCounts, remove_tree
from transforms.schema import RUN_FAILED, RUN_SUCCEEDED

log = logging.getLogger("smsetl.sync")

DEFAULT_BACKFILL = timedelta(days=365)
class WorkerPool(ThreadPoolTaskRunner):
    """The sync's task threads, as many as `SMSETL_WORKERS` says when a run starts, not when this is imported."""

    def __enter__(self):
        self._max_workers = current().workers
        return super().__enter__()

    def duplicate(self) -> WorkerPool:
        return type(self)()


class SyncBusyError(RuntimeError):
    """Another sync holds the data directory's lock."""


@contextmanager
def sync_lock(data_dir: Path, name: str = ".sync.lock"):
    """One sync per data directory at a time; a second one fails fast instead of interleaving merges. The CLI
    also holds a lock of another `name` from before Prefect starts, so a second `smsetl sync` fails in a second
    (a flock is per open file: one process cannot take the same lock twice)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / name, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusyError(
                f"another sync is running on {data_dir}: wait for it to finish (lock: {data_dir / name})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _task(fn, name: str):
    # NO_CACHE: inputs include the client and writers, which are neither hashable nor worth caching.
    return task(fn, name=name, cache_policy=NO_CACHE, retries=0)


extract_campaigns = _task(steps.extract_campaigns, "extract-campaigns")
recheck_campaigns = _task(steps.recheck_campaigns, "recheck-campaigns")
extract_campaign_info = _task(steps.extract_campaign_info, "extract-campaign-info")
extract_messages = _task(steps.extract_messages, "extract-messages")
extract_statuses = _task(steps.extract_statuses, "extract-message-statuses")
extract_links = _task(steps.extract_links, "extract-links")
refresh_links = _task(steps.refresh_links, "refresh-links")
extract_link_stats = _task(steps.extract_link_stats, "extract-link-stats")


@task(cache_policy=NO_CACHE)
def merge_and_publish(run: steps.RunContext, api: SmsApi, stager: steps.Stager, summary: dict,
                      tried: dict[int, dict]) -> dict:
    """Merge the run's staging into the lake, reconcile, repair what disagrees (one pass, re-read in this
    run), record the run, and publish the warehouse. `tried`: the last run's mismatches."""
    counts = _merge(run, stager)
    crashpoint("sync.after_merge")
    mismatches, repair = _reconcile(run, tried)
    repaired: set[int] = set()
    if repair:
        log.info("repair: re-reading %d campaigns that disagree with the gateway's counters (%d in full, %d "
                 "message statuses)", len(repair.campaigns), len(repair.full), len(repair.recheck_ids))
        run.progress.begin("repair")
        repair_stager = steps.Stager(run.staging_dir / "repair")
        result = _extract_repair(api, run, repair_stager, repair)
        summary["staged_rows"] = dict(Counter(summary["staged_rows"]) + result.rows)
        for table, c in _merge(run, repair_stager, run.staging_dir / "repair").items():
            counts.setdefault(table, MergeCounts()).added += c.added
            counts[table].changed += c.changed
        repaired = set(repair.campaigns)
        mismatches, _ = _reconcile(run, tried, repaired)  # one pass only: what still disagrees is reported
    summary["rows"] = {t: {"added": c.added, "changed": c.changed} for t, c in counts.items()}
    summary["repaired_campaigns"] = sorted(repaired)
    summary["reconciliation_mismatches"] = {str(k): v for k, v in mismatches.items()}
    summary["api_calls"] = api.stats.total_calls
    summary["api"] = api.stats.snapshot()
    if api.limiter.adaptive:
        summary["rate_limits_learned"] = api.limiter.learned()
    summary["phase_seconds"] = run.progress.phase_seconds()  # stored with the run; the returned summary has all
    run.progress.begin("record")
    _record_run(run, summary)
    crashpoint("sync.after_run_record")
    run.progress.begin("publish")
    t0 = time.monotonic()
    summary["published"] = steps.publish(run.lake, run.data_dir)
    log.info("published the warehouse in %.1f s", time.monotonic() - t0)
    crashpoint("sync.after_publish")
    remove_tree(run.staging_dir)
    return summary


def _merge(run: steps.RunContext, stager: steps.Stager, staging_dir: Path | None = None) -> dict:
    run.progress.begin("merge")
    stager.close()
    t0 = time.monotonic()
    run.merge_started = True
    counts = run.lake.merge_run(staging_dir or run.staging_dir, run.run_id)
    log.info("merged into the lake in %.1f s", time.monotonic() - t0)
    return counts


def _reconcile(run: steps.RunContext, tried: dict[int, dict], repaired: set[int] = frozenset()
               ) -> tuple[dict, steps.Repair]:
    """The lake's mismatches, each with the `action` the next step takes, and what to re-read (see
    `steps.repair_plan`). Campaigns in `repaired` were just re-read against the counters fetched with them:
    what still disagrees there is reported, and re-read again only once those counters change."""
    run.progress.begin("reconcile")
    con = run.lake.connect()
    try:
        mismatches = steps.reconcile(con)
        tried = {**tried, **{cid: {"action": "full", "repaired": True,
                                   "counters_updated_at": mismatches[cid]["counters_updated_at"]}
                             for cid in repaired if cid in mismatches}}
        repair = steps.repair_plan(con, mismatches, tried)
    finally:
        con.close()
    for cid, m in mismatches.items():
        m["repaired"] = cid in repaired or m["action"] == "reported"
    return mismatches, repair


def _extract_repair(api: SmsApi, run: steps.RunContext, stager: steps.Stager, repair: steps.Repair
                    ) -> steps.StepResult:
    """Fresh counters first, then the messages: so that counters never look newer than messages."""
    result = steps.StepResult()
    for future in [extract_campaign_info.submit(api, run, stager, batch)
                   for batch in steps.batches(repair.campaigns, steps.COUNTERS_BATCH)]:
        result.add(future.result())
    futures = [extract_messages.submit(api, run, stager, batch) for batch in steps.batches(repair.full)]
    futures += [extract_statuses.submit(api, run, stager, batch)
                for batch in steps.batches(repair.recheck_ids, steps.STATUS_BATCH)]
    for future in futures:
        result.add(future.result())
    return result


def _record_run(run: steps.RunContext, summary: dict) -> None:
    """Stage and merge the run's own rows (sync_runs, sync_run_entities, sync_watermarks), and keep them in raw
    so that a rebuild restores them too."""
    from storage import raw

    ended = datetime.now(UTC)
    summary["ended_at"] = ended.isoformat()
    summary["duration_s"] = round((ended - datetime.fromisoformat(summary["started_at"])).total_seconds(), 3)
    with raw.RawWriter(run.raw_root, "runs", run.run_id) as writer:
        writer.write("sync", {}, run.observed_at, summary)
    crashpoint("sync.after_run_raw")
    stage_run_rows(run, summary)
    run.lake.merge_run(run.staging_dir / "_run", run.run_id)


def stage_run_rows(run: steps.RunContext, summary: dict) -> None:
    from storage.lake import StagingWriter

    staging = run.staging_dir / "_run"
    started = datetime.fromisoformat(summary["started_at"])
    ended = datetime.fromisoformat(summary["ended_at"])
    tables = {
        "sync_runs": [{"run_id": run.run_id, "as_of": run.as_of, "started_at": started, "ended_at": ended,
                       "outcome": summary["outcome"], "api_calls": summary["api_calls"],
                       "summary": steps.summary_json(summary)}],
        "sync_run_entities": [
            {"run_id": run.run_id, "entity": t, "rows_added": r["added"], "rows_changed": r["changed"],
             "unexpected_values": summary["unexpected"].get(t, 0)}
            for t, r in summary["rows"].items()
        ],
        "sync_watermarks": [{"name": k, "value": str(v), "run_id": run.run_id}
                            for k, v in summary["watermarks"].items() if v is not None],
    }
    from transforms import ARROW_SCHEMAS

    for table, rows in tables.items():
        writer = StagingWriter(staging, table)
        writer.append(pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS[table]))
        writer.close()


@flow(name="sync", task_runner=WorkerPool(), log_prints=True)
def sync(data_dir: str, since: datetime | None = None, until: datetime | None = None, scope: str = "full") -> dict:
    """Backfill from `since` on the first run, then sync incrementally. Returns the run summary. `scope`
    (`steps.SCOPES`): `full` refreshes everything; `frequent` (the 10-minute schedule) statuses and clicks, with
    the campaign counters and link click series only when an hour old; `hourly` those too.

    The run's clock (`as_of`) is the gateway's, as its responses' Date header shows it; this machine's clock
    only names the run and times it. A run that fails is recorded too (outcome `failed`, with the error),
    and its data is left out of the lake."""
    data_path = Path(data_dir)
    steps.check_scope(scope)  # a bad scope fails here, before anything starts
    api = SmsApi.from_env(current().client_env(), learned_rates=rate_limits.load(data_path))
    started = datetime.now(UTC)
    with sync_lock(data_path), api, steps.heap_frozen():
        pii = privacy.for_sync(data_path)  # a mode or key the data directory does not hold fails here, unrecorded
        remove_tree(data_path / "staging")  # what a killed run left: never merged, safe to drop
        housekeeping.remove_leftovers(data_path)  # and its *.tmp parts, a half-built warehouse: never read
        run = steps.RunContext(data_path, steps.new_run_id(started), started, api.timezone, pii=pii,
                               progress=Progress(calls=lambda: api.stats.snapshot()["calls"]))
        try:
            run.as_of, as_of_source = _gateway_clock(api, started)  # a bad key fails here, recorded below
            summary = _extract_and_publish(run, api, started, since, until, scope)
            summary["as_of_source"] = as_of_source
        except Exception as exc:
            _record_failure(run, api, started, exc)
            alerts.report_failure(data_path, run.lake)  # logs and emits how old the data now is
            run.progress.finish()
            raise
        finally:  # what was learned holds whether or not the run succeeded
            if api.limiter.adaptive:
                rate_limits.save(data_path, api.limiter.learned())
        _fold(data_path)
    crashpoint("sync.after_unlock")
    run.progress.begin("report")
    summary["phase_seconds"] = run.progress.phase_seconds()  # the artifact shows the warehouse's publishing too
    _publish_artifact(run, summary)
    alerts.report_mismatches(data_path, summary)  # what a re-read could not repair: logged, and an event
    summary["phase_seconds"] = run.progress.finish()
    return summary


def _fold(data_path: Path) -> None:
    """Fold past runs into raw's snapshot when enough wait outside it (`flows.rebuild.fold`), so that a rebuild's
    cost stays flat. The run is published already: a fold that fails is logged, and the next sync tries again."""
    from flows.rebuild import FOLD_AT_MOST, FOLD_EVERY, fold

    try:
        fold(data_path, at_least=FOLD_EVERY, at_most=FOLD_AT_MOST)
    except Exception as exc:
        log.warning("could not fold past runs into raw's snapshot (the run is published; the next sync tries "
                    "again): %s: %s", type(exc).__name__, exc)


def _gateway_clock(api: SmsApi, started: datetime) -> tuple[datetime, str]:
    """The gateway's now (UTC) and where it came from. A gateway that sends no Date header leaves only this
    machine's clock, which then decides the click windows' "as of" and upper bounds (never the status cursor)."""
    now = api.gateway_clock()
    if now is not None:
        return now.replace(microsecond=0), "gateway Date header"
    log.warning("the gateway sent no Date header: using this machine's clock as the run's as_of")
    return started, "this machine's clock (the gateway sent no Date header)"


def _extract_and_publish(run: steps.RunContext, api: SmsApi, started: datetime, since: datetime | None,
                         until: datetime | None, scope: str = "full") -> dict:
    stager = steps.Stager(run.staging_dir)
    run.progress.begin("plan")
    p = steps.plan(run, since, default_since=run.as_of - DEFAULT_BACKFILL)
    refresh = steps.refresh_for(scope, p.watermarks, run.as_of)
    crashpoint("sync.after_plan")
    until = until or (run.as_of + timedelta(days=1))  # a day of slack for a zone set wrong
    t0 = time.monotonic()
    result = steps.StepResult()
    if p.gateway_time_seen:
        result.see("seen", [p.gateway_time_seen])
    webhook_watermark = webhook_events.fold(run, stager, result)  # stored delivery reports, as status observations

    # Campaign/List first and alone: its timestamps, read before any message, bound this run's cursor.
    run.progress.begin("campaigns")
    listed = extract_campaigns(api, run, stager, p.campaigns_from, until)
    if p.done_recheck and refresh.settled:
        listed.add(recheck_campaigns(api, run, stager, p.done_recheck))
    result.add(listed)
    crashpoint("sync.after_campaigns")
    cursor = steps.newest_wire_ts([p.gateway_time_seen, listed.newest.get("listed")])
    listed_ids = listed.ids.get("campaigns", {})
    new = sorted(set(listed_ids) - p.known_campaigns)
    need_info = sorted(set(listed.ids.get("need_info", {})) | set(p.unsettled_campaigns))
    if not refresh.counters:  # a new campaign's counters are read at once: reconciliation needs them
        need_info = [c for c in need_info if c not in p.known_campaigns]
    log.info("plan: %d new campaigns, %d to refresh, %d active, %d to re-read, %d settled to re-check",
             len(new), len(need_info), len(p.active_campaigns), len(p.repair.campaigns), len(p.done_recheck))

    run.progress.begin("extract")
    threading.Thread(target=html_report.import_charting, name="import-charting", daemon=True).start()
    adopted = resume.adopt(run, stager)  # what a killed run already fetched (flows.resume): not read again
    result.add(adopted.result)
    futures = [extract_campaign_info.submit(api, run, stager, batch)
               for batch in steps.batches(need_info, steps.COUNTERS_BATCH)]
    full = sorted(set(new) | set(p.repair.full))
    incremental = [c for c in p.active_campaigns if c not in set(full)]
    status_from = None
    if p.status_cursor is None:  # no run completed yet: what the lake holds may be partial, read it whole
        full += incremental
        incremental = []
    else:
        status_from = steps.wire_minus(p.status_cursor, steps.STATUS_OVERLAP)
    full = [c for c in full if c not in adopted.settled(listed_ids)]
    sizes = listed.ids.get("messages_expected", {})  # a full read's size by its campaign's counters, where listed
    messages = [(batch, None) for batch in message_batches.by_size(full, sizes, steps.CAMPAIGN_BATCH)]
    messages += [(batch, status_from) for batch in steps.batches(incremental)]
    settings = current()
    on_dask = bool(settings.dask)  # the message batches on a Dask cluster (flows.batches), the rest on threads
    expected = sum(sizes.get(c, 0) for c in full)
    processes = 0 if on_dask else process_count(settings.processes, expected)
    if not (on_dask or processes):
        futures += [extract_messages.submit(api, run, stager, batch, from_ts) for batch, from_ts in messages]
    if p.repair.recheck_ids:
        futures += [extract_statuses.submit(api, run, stager, batch)
                    for batch in steps.batches(p.repair.recheck_ids, steps.STATUS_BATCH)]
    links = [extract_links.submit(api, run, stager, batch)
             for batch in steps.batches([c for c in new if c not in adopted.links], steps.INFO_BATCH)]
    links.append(refresh_links.submit(api, run, stager, run.as_of - steps.CLICK_HORIZON))
    # A side thread waits for the links and starts their click series at once, beside the messages instead of
    # after the last one: under a per-method rate limit, Link/GetStats has a budget of its own.
    with ThreadPoolExecutor(1, thread_name_prefix="click-series") as side:
        started_series = side.submit(contextvars.copy_context().run, _start_click_series, api, run, stager,
                                     dict(result.ids.get("links", {})), links, p, refresh.counters)
        try:
            if on_dask or processes:  # while this process's threads read the rest
                result.add(batches.extract_on_dask(run, api, messages) if on_dask
                           else extract_in_processes(run, api, messages, processes))
            for done, future in enumerate(futures, 1):
                result.add(future.result())
                log.info("extract: %d/%d tasks done, %d messages so far", done, len(futures),
                         result.rows["messages"])
            clicks = started_series.result()
        except Exception:
            wait([*futures, *links])  # the run fails once nothing writes into its staging any more
            if started_series.exception() is None:
                wait(started_series.result().stats)
            raise
    result.add(clicks.links)
    run.progress.begin("click stats")  # what is left of them once everything else is read
    try:
        for future in clicks.stats:
            result.add(future.result())
    except Exception:
        wait(clicks.stats)  # as above: the run fails once nothing writes into its staging any more
        raise
    log.info("extracted in %.1f s: %s", time.monotonic() - t0, dict(result.rows))
    if result.unexpected:  # nulled or flagged in their rows, or left out where no id keys them; raw has them all
        log.warning("unexpected values from the gateway (kept in raw, counted in sync_run_entities): %s",
                    dict(result.unexpected))
    if result.blank_timestamps:  # the reference's "unset" is null; a blank string is bad input, read as unset
        log.warning("blank timestamps from the gateway (read as unset; kept in raw): %s", dict(result.blank_timestamps))
    crashpoint("sync.after_extract")

    summary = _summary(run, api, started, RUN_SUCCEEDED)
    summary.update(staged_rows=dict(result.rows), unexpected=dict(result.unexpected),
                   blank_timestamps=dict(result.blank_timestamps), adopted_raw_parts=adopted.parts,
                   links_with_new_clicks=len(clicks.changed),
                   new_clicks=sum(max(n - (p.link_clicks.get(lid) or 0), 0) for lid, n in clicks.now.items()),
                   watermarks={"campaigns_created_from": p.campaigns_from.isoformat(),
                               "status_updated_from": status_from,
                               "status_cursor": cursor,
                               "gateway_time_seen": steps.newest_wire_ts(result.newest.values()),
                               webhook_events.WATERMARK: webhook_watermark,
                               steps.COUNTERS_WATERMARK: run.as_of.isoformat() if refresh.counters else None,
                               steps.SETTLED_WATERMARK: run.as_of.isoformat() if refresh.settled else None,
                               steps.PENDING_STATS_WATERMARK: json.dumps(sorted(clicks.pending))})
    summary["scope"] = scope
    return merge_and_publish(run, api, stager, summary, p.tried)


@dataclass
class ClickSeries:
    links: steps.StepResult  # what the link tasks read
    changed: list[int]  # links whose click count changed since the last run
    pending: set[int]  # links whose series this run skips: for the next run that reads series
    stats: list  # the series' tasks

    @property
    def now(self) -> dict[int, int]:
        """Each link's click count now."""
        return self.links.ids.get("links", {})


def _start_click_series(api: SmsApi, run: steps.RunContext, stager: steps.Stager, adopted: dict[int, int],
                        links: list, p: steps.Plan, read_series: bool) -> ClickSeries:
    """Wait for the link tasks, then start the click series of the links whose clicks changed (with those
    skipped by the runs since the last that read series), if `read_series`. `adopted`: the click counts of
    links a killed run read (`flows.resume`), which the tasks' counts update."""
    read = steps.StepResult()
    read.ids["links"] = adopted
    for future in links:
        read.add(future.result())
    now = read.ids.get("links", {})
    changed = sorted(lid for lid, n in now.items() if n and n != p.link_clicks.get(lid))
    # The lake's click counts are this run's after the merge: links whose series are skipped now are kept in a
    # watermark for the next run that reads series, which would otherwise see no change in them.
    pending = set(json.loads(p.watermarks.get(steps.PENDING_STATS_WATERMARK) or "[]")) | set(changed)
    series, pending = (sorted(pending), set()) if read_series else ([], pending)
    stats = [extract_link_stats.submit(api, run, stager, batch) for batch in steps.batches(series, steps.STATS_BATCH)]
    return ClickSeries(read, changed, pending, stats)


def _summary(run: steps.RunContext, api: SmsApi, started: datetime, outcome: str) -> dict:
    return {"run_id": run.run_id, "as_of": run.as_of.isoformat(), "timezone": run.timezone,
            "started_at": started.isoformat(), "outcome": outcome, "api_calls": api.stats.total_calls,
            "api": api.stats.snapshot(), "rows": {}, "unexpected": {}, "watermarks": {},
            "reconciliation_mismatches": {}}


def _record_failure(run: steps.RunContext, api: SmsApi, started: datetime, exc: Exception) -> None:
    """Record a failed run in the lake's `sync_runs` (the client's errors carry no secret). If it failed before
    merging, the warehouse is published with the failure and unchanged data (the staging is dropped, never
    merged); if it failed while merging, the warehouse is left as it was, since the lake may hold part of the
    run until the next run's merge completes it: readers never see half a run."""
    summary = _summary(run, api, started, RUN_FAILED)
    summary["error"] = api.redact(f"{type(exc).__name__}: {exc}")
    try:
        remove_tree(run.staging_dir)
        _record_run(run, summary)
        if not run.merge_started:
            steps.publish(run.lake, run.data_dir)
        remove_tree(run.staging_dir)
    except Exception:  # never hide the run's own error behind the failure to record it
        log.exception("could not record the failed run %s", run.run_id)


def _publish_artifact(run: steps.RunContext, summary: dict) -> None:
    con = warehouse.connect(run.data_dir)
    try:
        table = render_campaign_metrics(con, fmt="markdown")
    finally:
        con.close()
    report = _write_report(run.data_dir)
    link = f"\n\nHTML report: [{report.resolve().as_uri()}]({report.resolve().as_uri()})" if report else ""
    create_markdown_artifact(key="sync-summary",
                             markdown=format_summary(summary, markdown=True) + link + "\n\n" + table,
                             description=f"sync run {run.run_id}")


def _write_report(data_dir: Path) -> Path | None:
    """Write the HTML report of the warehouse just published (`reports.html`) and return its path; a failure is
    logged and returns None: the report never fails a sync."""
    try:
        return html_report.write_report(data_dir)
    except Exception:
        log.exception("could not write the HTML report in %s (the sync itself succeeded; `smsetl report` "
                      "writes it again)", data_dir)
        return None


def format_summary(summary: dict, markdown: bool = False) -> str:
    """The run summary people read: rows added and changed per table, API calls, duration, mismatches."""
    lines = [f"sync {summary['run_id']}: {summary['outcome']} in {summary['duration_s']} s, "
             f"{summary['api_calls']} API calls, as of {summary['as_of']}", format_changes(summary)]
    if markdown:
        lines += ["", "| table | added | changed |", "|---|---:|---:|"]
        lines += [f"| {t} | {r['added']} | {r['changed']} |" for t, r in sorted(summary["rows"].items())]
    else:
        lines += [f"  {t:<24} +{r['added']:<9} ~{r['changed']}" for t, r in sorted(summary["rows"].items())]
    if (published := summary.get("published", {})).get("lake_url"):
        lines.append(f"lake published to {published['lake_url']}: {published['uploaded']} of {published['files']} "
                     f"files uploaded ({published['uploaded_bytes']:,} bytes), {published['deleted']} old ones "
                     "removed; the warehouse built from it")
    if summary["unexpected"]:
        lines.append(f"unexpected values (kept in raw, flagged): {summary['unexpected']}")
    if summary.get("blank_timestamps"):
        lines.append(f"blank timestamps (read as unset, kept in raw): {summary['blank_timestamps']}")
    if summary.get("repaired_campaigns"):
        lines.append(f"repaired in this run (re-read after disagreeing with the gateway's counters): "
                     f"{len(summary['repaired_campaigns'])} campaigns")
    mismatches = summary["reconciliation_mismatches"]
    if mismatches:
        lines.append(f"{len(mismatches)} campaigns disagree with the gateway's counters (warehouse - gateway):")
        for cid, m in sorted(mismatches.items())[:20]:
            differences = ", ".join(f"{s} {d:+d}" for s, d in sorted(m.get("differences", {}).items()))
            lines.append(f"{'- ' if markdown else '  '}{cid}: {differences or 'totals differ'}"
                         f" ({_MISMATCH_ACTIONS.get(m.get('action'), m.get('action'))})")
    return "\n".join(lines)


def format_changes(summary: dict) -> str:
    """One line: what the run changed and how long each phase took, e.g. `changed: 3 new campaigns, 800 new
    messages, 1,204 status changes, 87 new clicks · plan 0.1 s, extract 4.2 s, merge 1.3 s, publish 0.4 s`.
    Status changes are known messages whose status changed; new clicks, the growth of the links' click counts."""
    rows = summary.get("rows", {})
    counts = [(rows.get("campaigns", {}).get("added", 0), "new campaign"),
              (rows.get("messages", {}).get("added", 0), "new message"),
              (rows.get("messages", {}).get("changed", 0), "status change")]
    if "new_clicks" in summary:
        counts.append((summary["new_clicks"], "new click"))
    line = "changed: " + ", ".join(f"{n:,} {noun}{'' if n == 1 else 's'}" for n, noun in counts)
    if phases := summary.get("phase_seconds"):
        line += " · " + ", ".join(f"{name} {format_seconds(seconds)}" for name, seconds in phases.items())
    return line


_MISMATCH_ACTIONS = {
    "wait": "the counters lag the newest status change; compared again next run",
    "frozen": "DONE: the gateway stopped counting before late reports arrived; the messages are right",
    "reported": "still disagrees after a re-read: the gateway's counters look frozen; re-read once they change",
    "full": "to be re-read in full next run", "recheck": "statuses to be re-checked next run",
}
