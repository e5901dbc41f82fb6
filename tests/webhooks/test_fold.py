"""Stored webhook events fold into `messages` and `message_status_history` like polled statuses."""

import json
import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox
from webhook_support import signed_event

from transforms.webhooks import delivery_reports
from webhooks.store import EventStore


def test_a_delivery_report_becomes_a_status_row_parsed_in_the_account_zone():
    events = [signed_event(1, 50000001, status="DELIVRD", status_ts="2026-11-01 11:30:00"),
              {**signed_event(2, 50000002), "eventType": "sms-incoming"}]
    frame, unexpected, _ = delivery_reports(events, "Asia/Almaty", "2026-11-01T07:00:00+00:00")
    assert unexpected == 0
    assert frame["message_id"].tolist() == [50000001]
    assert frame["status_raw"].tolist() == ["DELIVRD"] and frame["is_final"].tolist() == [True]
    assert str(frame["status_updated_at"][0]) == "2026-11-01 06:30:00+00:00"  # Almaty is UTC+5


def test_an_unknown_status_is_flagged_like_a_polled_one():
    frame, unexpected, _ = delivery_reports([signed_event(1, 50000001, status="WEIRD")], "UTC", "2026-11-01")
    assert unexpected == 1 and frame["status_raw"].tolist() == ["WEIRD"]


def _history(data_dir, message_id):
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("select status_raw, status_updated_at from message_status_history where message_id = ?"
                           " order by 2", [message_id]).fetchall()
    finally:
        con.close()


def _watermark(data_dir):
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return json.loads(con.execute("select value from sync_watermarks where name = 'webhook_events'").fetchone()[0])
    finally:
        con.close()


def test_events_fold_once_never_double_count_a_poll_and_wait_for_their_message(prefect_harness, tmp_path,
                                                                                 monkeypatch):
    from sandbox import Faults, Sandbox
    from sandbox.data import MESSAGE_ID_BASE, STATUSES

    sb = Sandbox.generate(seed=3, campaigns=20, messages=800, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    later = [ci for ci, c in enumerate(sb.campaigns) if c.create > sb.clock.ts and len(sb.msg_index(ci))]
    if not later:
        pytest.skip("the sandbox generated no future campaign")
    with sb.serve(port=0, faults=Faults()) as server:
        from sandbox import SANDBOX_API_KEY

        for k, v in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                         SMS_RATE_LIMIT="none").items():
            monkeypatch.setitem(os.environ, k, v)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        state.sync(since=SANDBOX_NOW.replace(tzinfo=ZoneInfo(SANDBOX_TZ)) - timedelta(days=120))
        idx = sb.msg_index(next(ci for ci in range(len(sb.campaigns))
                                if sb.visible(ci) and len(sb.msg_index(ci)) and ci not in later))
        st, ts, _ = sb.status_at(idx)
        polled = next(k for k in range(len(idx)) if STATUSES[st[k]] == "DELIVRD")
        polled_id, polled_ts = MESSAGE_ID_BASE + int(idx[polled]), sb.fmt(int(ts[polled]))
        other_id = MESSAGE_ID_BASE + int(idx[(polled + 1) % len(idx)])
        future_id = MESSAGE_ID_BASE + int(sb.msg_index(later[0])[0])
        store = EventStore(state.data_dir)
        try:
            store.put(signed_event(1, polled_id, "DELIVRD", status_ts=polled_ts))  # the same as the poll
            store.put(signed_event(2, other_id, "EXPIRED", status_ts="2026-11-01 11:59:30"))
            store.put(signed_event(3, future_id, "DELIVRD", status_ts="2026-11-04 10:00:00"))
        finally:
            store.close()
        state.sync()
        assert [s for s, _ in _history(state.data_dir, polled_id)].count("DELIVRD") == 1  # event and poll: one row
        assert ("EXPIRED",) in [(s,) for s, _ in _history(state.data_dir, other_id)]
        assert len(_watermark(state.data_dir)["pending"]) == 1  # the message of event 3 is not synced yet
        state.sync()  # nothing new: nothing folded twice
        assert sum(s == "EXPIRED" for s, _ in _history(state.data_dir, other_id)) == 1
        sb.clock.advance(timedelta(days=4))  # the future campaign is created and sent
        state.sync()  # its messages arrive
        state.sync()  # and the kept event folds into them
        assert "DELIVRD" in [s for s, _ in _history(state.data_dir, future_id)]
        assert _watermark(state.data_dir)["pending"] == []
