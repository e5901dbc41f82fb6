"""Payloads of the gateway's shape and a run staged and merged from them, for the lake's and warehouse's tests."""

from datetime import UTC, datetime

from flows import steps

TZ = "Asia/Almaty"


def campaign(cid, created="2026-10-01 10:00:00", send_status="DONE"):
    return {"id": str(cid), "type": "2", "from": "Shop", "text": "Sale", "createTs": created,
            "sendStatus": send_status, "commonStatus": send_status,
            "counters": {"totalMsgNum": "0", "totalDelivrdMsgNum": "0", "totalCost": "0.0000"}}


def message(mid, cid, status="DELIVRD", updated="2026-10-01 10:05:00"):
    return {"id": str(mid), "campaignId": str(cid), "segNum": "2", "segUserBuy": "0.0600", "status": status,
            "from": "Shop", "to": "77010000000", "text": "Sale", "startSendTs": "2026-10-01 10:00:05",
            "statusUpdateTs": updated}


def sync_once(data_dir, run_id, records, hour=12):
    """Stage `records` [(entity, data)] as one run and merge it; returns the merge counts."""
    run = steps.RunContext(data_dir, run_id, datetime(2026, 11, 1, hour, tzinfo=UTC), TZ)
    stager = steps.Stager(run.staging_dir)
    for entity, data in records:
        steps.ingest(entity, {"data": data, "observed_at": run.observed_at, "params": {}}, TZ, stager,
                     steps.StepResult())
    stager.close()
    return run.lake.merge_run(run.staging_dir, run_id), run
