"""Fold the receiver's stored webhook events into a sync: at the start of extraction, as status observations.

The log (`webhooks.store`, `<data_dir>/webhooks/events.jsonl`) is read from the sync's watermark
`webhook_events` (in `sync_watermarks`: `{"offset": bytes folded or pending, "pending": [offsets]}`), so an
event is folded once. An event whose message the lake does not hold yet stays pending (the merge can only
update known messages) and is folded by the first sync after the message arrives. The watermark moves with
the run's other watermarks, i.e. only when the run succeeds; a failed run folds the same events again. Folded
events go to raw (entity `webhook_events`) first, so `smsetl rebuild` replays them like any payload.
"""

from __future__ import annotations

import json

from flows import steps
from storage import raw
from webhooks.store import read_log

WATERMARK = "webhook_events"


def _usable(event) -> int | None:
    try:
        return int(str(event["data"]["messageId"])) if event.get("eventType") == "sms-delivery-report" else None
    except (KeyError, TypeError, ValueError):
        return None


def fold(run: steps.RunContext, stager: steps.Stager, result: steps.StepResult) -> str:
    """Stage the stored events not yet folded whose message the lake holds; return the new watermark value."""
    con = run.lake.connect()
    try:
        row = con.execute("select value from sync_watermarks where name = ?", [WATERMARK]).fetchone()
        state = json.loads(row[0]) if row else {"offset": 0, "pending": []}
        pending, end, candidates = set(state["pending"]), state["offset"], []
        for offset, event, line in read_log(run.data_dir / "webhooks"):
            if offset < state["offset"] and offset not in pending:
                continue
            if not line.endswith(b"\n"):
                break  # being written right now: the next sync reads it
            end = max(end, offset + len(line))
            if event is not None and (message_id := _usable(event)) is not None:
                candidates.append((offset, message_id, event))
        ids = sorted({m for _, m, _ in candidates})
        known = {r[0] for r in con.execute("select message_id from messages where list_contains($ids, message_id)",
                                           {"ids": ids}).fetchall()} if ids else set()
    finally:
        con.close()
    folded = [e for _, m, e in candidates if m in known]
    if folded:
        with raw.RawWriter(run.raw_root, WATERMARK, run.run_id) as writer:
            writer.write("webhook/sms-delivery-report", {}, run.observed_at, folded)
        steps.ingest(WATERMARK, {"data": folded, "observed_at": run.observed_at, "params": {}}, run.timezone,
                     stager, result)
    return json.dumps({"offset": end, "pending": [o for o, m, _ in candidates if m not in known]})
