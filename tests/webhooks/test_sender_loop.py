"""The whole loop on loopback: sandbox -> signed webhooks -> the real receiver (`python -m webhooks`) -> sync.

A burst of 10,000 delivery reports is counted in the warehouse: the sync after it runs with the gateway's clock
set back to before the burst, so every final status of the burst campaign there came from a webhook, none
from a poll. Then the clock moves forward again and the polls see the same statuses: the warehouse equals the
gateway's ground truth, so an event and a poll of one status never count twice.
"""

import os
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import requests
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, assert_matches_truth
from webhook_support import SECRET, Receiver

BURST = 10_000


def _burst_rows(data_dir, campaign_id: int) -> dict:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        messages = con.execute("select count(*), count(*) filter (where is_final) from messages "
                               "where campaign_id = ?", [campaign_id]).fetchone()
        final_history = con.execute("select count(*), count(distinct message_id) from message_status_history "
                                    "where campaign_id = ? and is_final", [campaign_id]).fetchone()
        statuses = dict(con.execute("select status_raw, count(*) from messages where campaign_id = ? group by 1",
                                    [campaign_id]).fetchall())
    finally:
        con.close()
    return {"messages": messages[0], "final": messages[1], "final_history_rows": final_history[0],
            "final_history_messages": final_history[1], "statuses": statuses}


def test_a_burst_of_10000_webhooks_lands_in_the_warehouse_and_never_double_counts_a_poll(
        prefect_harness, tmp_path, monkeypatch):
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox
    from sandbox.data import CAMPAIGN_ID_BASE, STATUSES

    sb = Sandbox.generate(seed=5, campaigns=10, messages=400, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    ci = sb.create_campaign(2, "SMS-Info", "Burst: your order is ready", "burst", 1440, None, 0)
    sb.add_messages(ci, [(f"7701{k:07d}", "Burst: your order is ready") for k in range(BURST)])
    sb.send_campaign(ci)  # every message NEW until the clock passes its send time, then final within minutes
    campaign_id = CAMPAIGN_ID_BASE + ci
    data_dir = tmp_path / "data"
    receiver = Receiver(data_dir)
    try:
        with sb.serve(port=0, faults=Faults()) as server:
            for k, v in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                             SMS_RATE_LIMIT="none").items():
                monkeypatch.setitem(os.environ, k, v)
            sender = server.send_webhooks(receiver.url, SECRET, retry_step=0.05)
            state = SyncedSandbox(sb, server, data_dir)
            state.sync(since=SANDBOX_NOW.replace(tzinfo=ZoneInfo(SANDBOX_TZ)) - timedelta(days=120))
            assert _burst_rows(data_dir, campaign_id)["final"] == 0
            before = sb.clock.ts

            started = time.monotonic()
            requests.post(f"{server.url}/admin/clock", data={"advance": 3600}, timeout=5).raise_for_status()
            answered_in = time.monotonic() - started
            counts = sender.wait_drained(120)
            seconds = time.monotonic() - started
            print(f"\nwebhook burst: {counts['delivered']} events sandbox -> receiver in {seconds:.1f} s, "
                  f"{counts['delivered'] / seconds:.0f} events/s (clock route answered in {answered_in * 1000:.0f} ms)")
            assert answered_in < 1.0
            assert counts["queued"] >= BURST and counts["delivered"] == counts["queued"] and counts["given_up"] == 0
            assert receiver.health()["counts"].get("stored") == counts["queued"]

            code, at = sb.final_at()
            burst = sb.msg_index(ci)
            assert (at[burst] <= sb.clock.ts).all()  # the whole campaign became final in this move
            expected = {s: int(n) for s, n in zip(*np.unique([STATUSES[c] for c in code[burst]], return_counts=True))}

            with sb.lock:
                sb.clock.set(before)  # the polls see the burst campaign NEW again: only webhooks say otherwise
            state.sync()
            rows = _burst_rows(data_dir, campaign_id)
            assert rows == {"messages": BURST, "final": BURST, "final_history_rows": BURST,
                            "final_history_messages": BURST, "statuses": expected}

            with sb.lock:
                sb.clock.set(before + 3600)  # nothing reported twice, and now the polls agree with the events
            state.sync()
            assert sender.wait_drained(10)["queued"] == counts["queued"]
            assert _burst_rows(data_dir, campaign_id) == rows
            assert_matches_truth(data_dir, sb.ground_truth(), sb)
    finally:
        receiver.stop()
