"""What a sync run reports beyond its own state, for people and for Prefect automations.

Each of these is logged (so it reaches the run's logs in the UI) and emitted as a Prefect event about the data
directory, which an automation turns into a notification (`flows.serve.alert_automations`):

- `smsetl.sync.failed`: the run failed (it also ends in Prefect's Failed state: the flow re-raises its error),
  with when the data was last refreshed. Our own event, because Prefect's `prefect.flow-run.Failed` of a
  scheduled run can reach a reactive automation only minutes later (the server holds it until it has seen the
  run's earlier state events, which a scheduled run's creation does not always emit; Prefect 3.9).
  A `sync-accounts` run that some accounts failed emits it about the accounts' top-level data directory, naming
  them (`report_accounts_failure`); an account's own sync that failed has emitted it about the account's.
- `smsetl.reconciliation.mismatch-persists`: campaigns that still disagree with the gateway's counters after
  this run re-read them against those very counters (`steps.repair_plan`'s action `reported`). `frozen`
  (a DONE campaign whose counters stopped while late reports arrived) is not alerted: the messages are right.

That nothing succeeded within twice the schedule (stale data) is decided by the server (a proactive
automation), since a run that never starts, or crashes, says nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("smsetl.alerts")

MISMATCH_EVENT = "smsetl.reconciliation.mismatch-persists"
FAILED_EVENT = "smsetl.sync.failed"


def resource(data_dir: Path) -> dict[str, str]:
    """The Prefect resource a data directory's events are about: one account's data, whatever the deployment."""
    return {"prefect.resource.id": f"smsetl.data-dir.{Path(data_dir).resolve()}",
            "prefect.resource.name": Path(data_dir).resolve().name}


def resources_under(folder: Path) -> dict[str, str]:
    """A resource specification of the data directories inside `folder` (the accounts' of a multi-account one)."""
    return {"prefect.resource.id": f"smsetl.data-dir.{Path(folder).resolve()}/*"}


def persistent_mismatches(summary: dict) -> dict[str, dict]:
    """The run's mismatches that a re-read could not repair (action `reported`), by campaign id."""
    return {cid: m for cid, m in summary.get("reconciliation_mismatches", {}).items() if m.get("action") == "reported"}


def report_mismatches(data_dir: Path, summary: dict) -> dict[str, dict]:
    """Log and emit the persistent mismatches of a successful run; returns them (empty: nothing reported)."""
    persistent = persistent_mismatches(summary)
    if persistent:
        ids = sorted(persistent, key=int)
        log.warning("%d campaigns still disagree with the gateway's counters after a re-read (%s): the gateway's "
                    "counters look frozen; compare them in the warehouse's `reconciliation` view",
                    len(ids), ", ".join(ids[:20]))
        _emit(MISMATCH_EVENT, data_dir, {"run_id": summary.get("run_id"), "campaign_ids": ids,
                                         "mismatches": {cid: persistent[cid].get("differences", {}) for cid in ids}})
    return persistent


def last_success(con) -> datetime | None:
    """When the newest successful run ended, from the lake's `sync_runs`; None if none did."""
    row = con.execute("select max(ended_at) from sync_runs where outcome = 'success'").fetchone()
    return row[0] if row and row[0] is not None else None


def report_failure(data_dir: Path, lake, now: datetime | None = None) -> None:
    """After a failed run: log (ERROR) and emit how old the data is. Never raises: the run's error matters more."""
    try:
        con = lake.connect()
        try:
            ended = last_success(con)
        finally:
            con.close()
        now = now or datetime.now(UTC)
        if ended is None:
            log.error("the sync failed and no sync of %s has succeeded yet: the warehouse holds no data", data_dir)
            age = None
        else:
            ended = ended if ended.tzinfo else ended.replace(tzinfo=UTC)
            age = round((now - ended).total_seconds())
            log.error("the sync failed: the data in %s was last refreshed at %s (%d minutes ago)",
                      data_dir, ended.isoformat(), age // 60)
        _emit(FAILED_EVENT, data_dir, {"last_success": ended.isoformat() if ended else None, "age_seconds": age})
    except Exception:
        log.exception("could not tell how old the data in %s is", data_dir)


def report_accounts_failure(data_dir: Path, errors: dict[str, str], total: int) -> None:
    """After a `sync-accounts` run that accounts failed (`errors`: each one's message, no key in it): log (ERROR)
    and emit which, about the top-level data directory. Never raises."""
    names = sorted(errors)
    log.error("%d of %d accounts failed in %s: %s", len(names), total, data_dir, ", ".join(names))
    _emit(FAILED_EVENT, data_dir, {"accounts": names, "errors": errors, "total": total})


def _emit(event: str, data_dir: Path, payload: dict) -> None:
    from prefect.events import emit_event

    try:  # inside a flow run, Prefect relates the event to the run, its flow and deployment
        emit_event(event, resource=resource(data_dir), payload=payload)
    except Exception:  # an alert that cannot be sent must not fail the run; the log line above still says it
        log.exception("could not emit the Prefect event %s", event)
