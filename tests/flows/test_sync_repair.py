"""Reconciliation repairs within the run that finds the disagreement, and reports what it cannot repair."""

import os
import threading

import duckdb
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, assert_matches_truth, metrics_by_campaign

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsapi import SmsApi
from storage.lake import Lake


@pytest.fixture
def gateway(prefect_harness, tmp_path, monkeypatch):
    """A small sandbox served on loopback, the environment pointing at it; yields a `SyncedSandbox`."""
    sb = Sandbox.generate(seed=31, campaigns=10, messages=1000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                                SMS_RATE_LIMIT="none").items():
            monkeypatch.setenv(name, value)
        yield SyncedSandbox(sb, server, tmp_path / "data")


def _since(state):
    return state.as_of().replace(year=2026, month=6)


def test_a_message_lost_on_the_way_is_re_read_in_the_same_run(gateway, monkeypatch):
    """The first full read of a campaign silently loses one message: the run's own reconciliation sees the
    total disagree with the gateway's counters and re-reads that campaign before it publishes."""
    original = SmsApi.list_messages
    lost: dict = {}
    lock = threading.Lock()

    def lossy(self, campaign_ids, *args, **kwargs):
        for page in original(self, campaign_ids, *args, **kwargs):
            with lock:
                if not lost and page:
                    lost["message"], lost["campaign"] = page[0]["id"], int(page[0]["campaignId"])
                    page = page[1:]
            yield page

    monkeypatch.setattr(SmsApi, "list_messages", lossy)
    summary = gateway.sync(since=_since(gateway))
    assert lost and summary["repaired_campaigns"] == [lost["campaign"]]
    assert summary["reconciliation_mismatches"] == {}
    assert_matches_truth(gateway.data_dir, gateway.sandbox.ground_truth(), gateway.sandbox)


def test_a_status_re_check_is_a_full_observation_so_latencies_match_a_full_read(gateway):
    """A stale non-final status with no timestamps (as if first seen before sending) is re-checked through
    Message/GetSMSStatus: it brings startSendTs and statusUpdateTs too, so the latency percentiles come back."""
    gateway.sync(since=_since(gateway))
    before = metrics_by_campaign(gateway.data_dir)
    lake = Lake(gateway.data_dir / "lake")
    con = lake.connect()
    stale, campaign = con.execute(
        "select message_id, campaign_id from messages where status = 'DELIVRD' order by message_id limit 1"
    ).fetchone()
    for path in lake.files("messages"):
        con.execute(f"""copy (select * replace (
                                case when message_id = {stale} then 'ACCEPTD' else status end as status,
                                case when message_id = {stale} then 'ACCEPTD' else status_raw end as status_raw,
                                case when message_id = {stale} then false else is_final end as is_final,
                                case when message_id = {stale} then null else send_started_at end
                                    as send_started_at,
                                case when message_id = {stale} then null else status_updated_at end
                                    as status_updated_at)
                              from read_parquet('{path}', hive_partitioning = false))
                        to '{path}.new' (format parquet)""")
        os.replace(f"{path}.new", path)
    con.close()
    repair = gateway.sync()
    assert repair["api"]["calls"].get("Message/GetSMSStatus", 0) >= 1
    after = metrics_by_campaign(gateway.data_dir)
    for column in ("delivered", "pending", "delivery_seconds_p50", "delivery_seconds_p90"):
        assert after[campaign][column] == before[campaign][column], column
    con = duckdb.connect(str(gateway.data_dir / "warehouse.duckdb"), read_only=True)
    started, updated = con.execute(f"select send_started_at, status_updated_at from messages "
                                   f"where message_id = {stale}").fetchone()
    assert started is not None and updated >= started
