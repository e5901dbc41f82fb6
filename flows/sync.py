"""The `sync` Prefect flow: wires the steps of `flows.steps` into coarse tasks.

Tasks are an entity, a window or a batch of up to 100 campaigns, never an API page: a task run costs
milliseconds, a page a few. Extraction runs on a ThreadPoolTaskRunner; the client's per-method rate limiter
keeps the threads within the gateway's limit. The API key never becomes a flow or task parameter (Prefect
stores parameters): the flow builds its client from the environment (`SMS_API_KEY`, `SMS_API_URL`,
`SMS_TIMEZONE`, `SMS_RATE_LIMIT`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows import steps
from smsapi import SmsApi
from storage import warehouse
from storage.lake import remove_tree

log = logging.getLogger("smsetl.sync")

DEFAULT_BACKFILL = timedelta(days=365)
WORKERS = int(os.environ.get("SMSETL_WORKERS", "4"))


class SyncBusyError(RuntimeError):
    """Another sync holds the data directory's lock."""


@contextmanager
def sync_lock(data_dir: Path):
    """One sync per data directory at a time; a second one fails fast instead of interleaving merges."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".sync.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusyError(
                f"another sync is running on {data_dir}: wait for it to finish (lock: {data_dir / '.sync.lock'})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _task(fn, name: str):
    # NO_CACHE: inputs include the client and writers, which are neither hashable nor worth caching.
    return task(fn, name=name, cache_policy=NO_CACHE, retries=0)


extract_campaigns = _task(steps.extract_campaigns, "extract-campaigns")
extract_campaign_info = _task(steps.extract_campaign_info, "extract-campaign-info")
extract_messages = _task(steps.extract_messages, "extract-messages")
extract_statuses = _task(steps.extract_statuses, "extract-message-statuses")
extract_links = _task(steps.extract_links, "extract-links")
refresh_links = _task(steps.refresh_links, "refresh-links")
extract_link_stats = _task(steps.extract_link_stats, "extract-link-stats")


@task(cache_policy=NO_CACHE)
def merge_and_publish(run: steps.RunContext, stager: steps.Stager, summary: dict) -> dict:
    """Merge the run's staging into the lake, reconcile, record the run, and publish the warehouse."""
    stager.close()
    t0 = time.monotonic()
    run.merge_started = True
    counts = run.lake.merge_run(run.staging_dir, run.run_id)
    log.info("merged into the lake in %.1f s", time.monotonic() - t0)
    con = run.lake.connect()
    try:
        mismatches = steps.reconcile(con)
    finally:
        con.close()
    summary["rows"] = {t: {"added": c.added, "changed": c.changed} for t, c in counts.items()}
    summary["reconciliation_mismatches"] = {str(k): v for k, v in mismatches.items()}
    _record_run(run, summary)
    t0 = time.monotonic()
    warehouse.build(run.lake, run.data_dir)
    log.info("published the warehouse in %.1f s", time.monotonic() - t0)
    remove_tree(run.staging_dir)
    return summary


def _record_run(run: steps.RunContext, summary: dict) -> None:
    """Stage and merge the run's own rows (sync_runs, sync_run_entities, sync_watermarks), and keep them in raw
    so that a rebuild restores them too."""
    from storage import raw

    ended = datetime.now(UTC)
    summary["ended_at"] = ended.isoformat()
    summary["duration_s"] = round((ended - datetime.fromisoformat(summary["started_at"])).total_seconds(), 3)
    with raw.RawWriter(run.raw_root, "runs", run.run_id) as writer:
        writer.write("sync", {}, run.observed_at, summary)
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


@flow(name="sync", task_runner=ThreadPoolTaskRunner(max_workers=WORKERS), log_prints=True)
def sync(data_dir: str, since: datetime | None = None, until: datetime | None = None,
         as_of: datetime | None = None) -> dict:
    """Backfill from `since` on the first run, then sync incrementally. Returns the run summary.

    `as_of` is the run's clock (default: now); the demo and tests pass the sandbox's simulated clock. A run
    that fails is recorded too (outcome `failed`, with the error), and its data is left out of the lake."""
    data_path = Path(data_dir)
    api = SmsApi.from_env()
    started = datetime.now(UTC)
    as_of = (as_of or started).astimezone(UTC)
    run = steps.RunContext(data_path, steps.new_run_id(started), as_of, api.timezone)
    with sync_lock(data_path), api:
        remove_tree(data_path / "staging")  # what a killed run left: never merged, safe to drop
        try:
            summary = _extract_and_publish(run, api, started, since, until)
        except Exception as exc:
            _record_failure(run, api, started, exc)
            raise
    _publish_artifact(run, summary)
    return summary


def _extract_and_publish(run: steps.RunContext, api: SmsApi, started: datetime, since: datetime | None,
                         until: datetime | None) -> dict:
    stager = steps.Stager(run.staging_dir)
    p = steps.plan(run, since, default_since=run.as_of - DEFAULT_BACKFILL)
    until = until or (run.as_of + timedelta(days=1))  # a day of slack for clock skew between us and the gateway
    t0 = time.monotonic()
    result = steps.StepResult()

    listed = extract_campaigns(api, run, stager, p.campaigns_from, until)
    result.add(listed)
    listed_ids = listed.ids.get("campaigns", {})
    new = sorted(set(listed_ids) - p.known_campaigns)
    need_info = sorted(set(listed.ids.get("need_info", {})) | set(p.unsettled_campaigns))
    log.info("plan: %d new campaigns, %d to refresh, %d active, %d to re-read",
             len(new), len(need_info), len(p.active_campaigns), len(p.repull_full) + len(p.recheck_message_ids))

    futures = [extract_campaign_info.submit(api, run, stager, batch)
               for batch in steps.batches(need_info, steps.INFO_BATCH)]
    full = sorted(set(new) | set(p.repull_full))
    incremental = [c for c in p.active_campaigns if c not in set(full)]
    status_from = None
    if p.status_watermark is None:  # no run completed yet: what the lake holds may be partial, read it whole
        full += incremental
        incremental = []
    else:
        status_from = p.status_watermark - steps.STATUS_OVERLAP
    futures += [extract_messages.submit(api, run, stager, batch) for batch in steps.batches(full)]
    futures += [extract_messages.submit(api, run, stager, batch, status_from) for batch in steps.batches(incremental)]
    if p.recheck_message_ids:
        futures += [extract_statuses.submit(api, run, stager, batch)
                    for batch in steps.batches(p.recheck_message_ids, steps.STATUS_BATCH)]
    futures += [extract_links.submit(api, run, stager, batch) for batch in steps.batches(new, steps.INFO_BATCH)]
    links_future = refresh_links.submit(api, run, stager, run.as_of - steps.CLICK_HORIZON)
    for done, future in enumerate(futures, 1):
        result.add(future.result())
        log.info("extract: %d/%d tasks done, %d messages so far", done, len(futures), result.rows["messages"])
    result.add(links_future.result())

    clicks_now = result.ids.get("links", {})
    changed_links = sorted(lid for lid, n in clicks_now.items() if n and n != p.link_clicks.get(lid))
    stats = [extract_link_stats.submit(api, run, stager, batch)
             for batch in steps.batches(changed_links, steps.STATS_BATCH)]
    for future in stats:
        result.add(future.result())
    log.info("extracted in %.1f s: %s", time.monotonic() - t0, dict(result.rows))

    summary = _summary(run, api, started, "success")
    summary.update(staged_rows=dict(result.rows), unexpected=dict(result.unexpected),
                   links_with_new_clicks=len(changed_links),
                   watermarks={"campaigns_created_from": p.campaigns_from.isoformat(),
                               "status_updated_from": status_from.isoformat() if status_from else None,
                               "next_status_updated_from": (run.as_of - steps.STATUS_OVERLAP).isoformat()})
    return merge_and_publish(run, stager, summary)


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
    summary = _summary(run, api, started, "failed")
    summary["error"] = api.redact(f"{type(exc).__name__}: {exc}")
    try:
        remove_tree(run.staging_dir)
        _record_run(run, summary)
        if not run.merge_started:
            warehouse.build(run.lake, run.data_dir)
        remove_tree(run.staging_dir)
    except Exception:  # never hide the run's own error behind the failure to record it
        log.exception("could not record the failed run %s", run.run_id)


def _publish_artifact(run: steps.RunContext, summary: dict) -> None:
    from smsetl.metrics import render_campaign_metrics

    con = warehouse.connect(run.data_dir)
    try:
        table = render_campaign_metrics(con, fmt="markdown")
    finally:
        con.close()
    create_markdown_artifact(key="sync-summary", markdown=format_summary(summary, markdown=True) + "\n\n" + table,
                             description=f"sync run {run.run_id}")


def format_summary(summary: dict, markdown: bool = False) -> str:
    """The run summary people read: rows added and changed per table, API calls, duration, mismatches."""
    lines = [f"sync {summary['run_id']}: {summary['outcome']} in {summary['duration_s']} s, "
             f"{summary['api_calls']} API calls, as of {summary['as_of']}"]
    if markdown:
        lines += ["", "| table | added | changed |", "|---|---:|---:|"]
        lines += [f"| {t} | {r['added']} | {r['changed']} |" for t, r in sorted(summary["rows"].items())]
    else:
        lines += [f"  {t:<24} +{r['added']:<9} ~{r['changed']}" for t, r in sorted(summary["rows"].items())]
    if summary["unexpected"]:
        lines.append(f"unexpected values (kept in raw, flagged): {summary['unexpected']}")
    mismatches = summary["reconciliation_mismatches"]
    if mismatches:
        lines.append(f"{len(mismatches)} campaigns disagree with the gateway's counters (re-read next run): "
                     + ", ".join(sorted(mismatches)[:20]))
    return "\n".join(lines)
