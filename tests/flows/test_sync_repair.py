"""Reconciliation repairs within the run that finds the disagreement, and reports what it cannot repair."""

import os
import threading

import duckdb
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, assert_matches_truth, metrics_by_campaign

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsapi import SmsApi
from smsapi.paginate import ColumnItems
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
                    first = page.columns[0].as_py() if isinstance(page, ColumnItems) else page[0]
                    lost["message"], lost["campaign"] = first["id"], int(first["campaignId"])
                    page = page.take(list(range(1, len(page)))) if isinstance(page, ColumnItems) else page[1:]
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


def test_counters_that_lag_the_messages_are_waited_for_not_acted_on(prefect_harness, tmp_path, monkeypatch):
    """The gateway counts statuses a day late: campaigns still changing disagree, but their counters predate
    their newest status change, so nothing is re-read; the warehouse is right all the same."""
    sb = Sandbox.generate(seed=7, campaigns=20, messages=2000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    sb.counter_lag_seconds = 86400
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                                SMS_RATE_LIMIT="none").items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        summary = state.sync(since=_since(state))
    actions = {m["action"] for m in summary["reconciliation_mismatches"].values()}
    assert actions == {"wait"}, summary["reconciliation_mismatches"]
    assert summary["repaired_campaigns"] == []
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)


def test_frozen_counters_are_reported_with_their_differences_and_not_re_read_every_run(gateway):
    """The gateway sets a campaign DONE 24 h after sending ended and stops counting, while late reports still
    change its messages: the campaign is reported with its differences, not re-read, and the run succeeds."""
    sb = gateway.sandbox
    sb.done_timeout_hours = 24
    first = gateway.sync(since=_since(gateway))
    frozen = first["reconciliation_mismatches"]
    assert frozen, "no campaign with frozen counters: the test would prove nothing"
    assert {m["action"] for m in frozen.values()} == {"frozen"}
    assert all(m["differences"] for m in frozen.values()) and first["repaired_campaigns"] == []
    assert_matches_truth(gateway.data_dir, sb.ground_truth(), sb)  # the messages are right; the counters not

    from flows.sync import format_summary
    text = format_summary(first, markdown=True)
    assert all(cid in text for cid in frozen) and "stopped counting" in text

    again = gateway.sync()
    assert again["outcome"] == "success" and again["repaired_campaigns"] == []
    assert set(again["reconciliation_mismatches"]) == set(frozen)
    assert again["api"]["calls"].get("Message/GetSMSStatus", 0) == 0


def test_counters_that_still_disagree_after_a_re_read_are_reported_and_left_until_they_change(gateway,
                                                                                           monkeypatch):
    """Counters that disagree with messages for no visible reason (the gateway counts one message twice):
    re-read once in the run, then reported; the next run, with the same counters, does not re-read again."""
    from sandbox import api as sandbox_api

    original = sandbox_api.counters_obj

    def miscounted(sb, ci):
        out = dict(original(sb, ci))
        if ci == 0:
            out["totalDelivrdMsgNum"] = str(int(out["totalDelivrdMsgNum"]) + 1)
            out["totalMsgNum"] = str(int(out["totalMsgNum"]) + 1)
        return out

    monkeypatch.setattr(sandbox_api, "counters_obj", miscounted)
    first = gateway.sync(since=_since(gateway))
    cid = str(400_000)
    assert cid in first["repaired_campaigns"] or int(cid) in first["repaired_campaigns"]
    assert first["reconciliation_mismatches"][cid]["action"] == "reported"
    assert first["reconciliation_mismatches"][cid]["differences"] == {"DELIVRD": -1}
    again = gateway.sync()
    assert again["repaired_campaigns"] == [] and again["reconciliation_mismatches"][cid]["action"] == "reported"
