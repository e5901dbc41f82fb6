"""The sandbox sends signed delivery-report webhooks as its clock moves: what it sends, retries, faults."""

import json
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import requests
from webhook_support import SECRET, Receiver

from sandbox import Faults, Sandbox
from sandbox.data import CAMPAIGN_ID_BASE, IS_FINAL, MESSAGE_ID_BASE, STATUSES
from sandbox.webhook_sender import EVENT_ID_BASE, MAX_ATTEMPTS
from webhooks.receiver import expected_sign
from webhooks.store import read_log

NOW = datetime(2026, 11, 1, 12, 0, 0)
EVENT_KEYS = {"eventId", "eventType", "eventCreateTs", "webhookId", "attempt", "data", "sign"}
DATA_KEYS = {"campaignId", "messageId", "segNum", "statusUpdateTs", "status", "to"}


class Recorder:
    """A loopback HTTP receiver keeping every POSTed event; `answer(event, times_seen_before)` -> HTTP status,
    `delay` seconds before answering the first receipt of each event."""

    def __init__(self, answer=lambda event, seen: 200, delay: float = 0.0):
        self.events: list[dict] = []
        self.by_id: dict = defaultdict(list)
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    seen = len(owner.by_id[event["eventId"]])
                    owner.events.append(event)
                    owner.by_id[event["eventId"]].append(event)
                if delay and not seen:
                    time.sleep(delay)
                status = answer(event, seen)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sending(n: int) -> Sandbox:
    """A small sandbox with a campaign of `n` messages sent now: final within minutes of the clock."""
    sb = Sandbox.generate(seed=3, campaigns=3, messages=12, now=NOW)
    ci = sb.create_campaign(2, "SMS-Info", "Your order is ready", None, 1440, None, 0)
    sb.add_messages(ci, [(f"7701{k:07d}", "Your order is ready") for k in range(n)])
    sb.send_campaign(ci)
    return sb


def became_final(sb, before: int, after: int) -> np.ndarray:
    """Indices of the messages final at `after` and not at `before`, from `status_at` (not the sender's code)."""
    idx = np.arange(len(sb.m_camp))
    return idx[IS_FINAL[sb.status_at(idx, after)[0]] & ~IS_FINAL[sb.status_at(idx, before)[0]]]


def test_a_clock_move_sends_one_signed_report_per_message_that_became_final_as_section_8_says():
    sb = Sandbox.generate(seed=3, campaigns=30, messages=3000, now=NOW)
    recorder = Recorder()
    with sb.serve(port=0, faults=Faults()) as server:
        sender = server.send_webhooks(recorder.url, SECRET, retry_step=0.01)
        before = sb.clock.ts
        started = time.monotonic()
        requests.post(f"{server.url}/admin/clock", data={"advance": 2 * 86400}, timeout=5).raise_for_status()
        answered_in = time.monotonic() - started
        expected = became_final(sb, before, sb.clock.ts)
        counts = sender.wait_drained(30)
        assert len(expected) > 50 and answered_in < 1.0
        assert counts["queued"] == counts["delivered"] == counts["sent"] == len(expected)
        assert requests.get(f"{server.url}/admin/webhooks", timeout=5).json() == counts

        assert sorted(e["eventId"] for e in recorder.events) == (EVENT_ID_BASE + expected).tolist()
        status, updated, _ = sb.status_at(expected)
        numbers = sb.message_numbers(expected)
        for k, i in enumerate(expected.tolist()):
            event = recorder.by_id[EVENT_ID_BASE + i][0]
            assert set(event) == EVENT_KEYS and set(event["data"]) == DATA_KEYS
            assert event["eventType"] == "sms-delivery-report" and event["attempt"] == 1
            assert event["sign"] == expected_sign(event, SECRET)
            assert event["eventCreateTs"] == event["data"]["statusUpdateTs"] == sb.fmt(int(updated[k]))
            assert event["data"] == {"campaignId": CAMPAIGN_ID_BASE + int(sb.m_camp[i]),
                                     "messageId": MESSAGE_ID_BASE + i, "segNum": int(sb.m_seg[i]),
                                     "statusUpdateTs": sb.fmt(int(updated[k])), "status": STATUSES[status[k]],
                                     "to": numbers[k][0]}

        sb.clock.advance(-3 * 3600)  # back and forth again: every one of these was reported already
        sb.clock.advance(3 * 3600)
        assert sender.wait_drained(10)["queued"] == len(expected)
        sb.clock.advance(3 * 3600)  # later changes are reported, once
        assert sender.wait_drained(30)["queued"] == len(expected) + len(became_final(sb, sb.clock.ts - 3 * 3600,
                                                                                      sb.clock.ts))
    recorder.close()
    assert SECRET not in repr(sender) and SECRET not in json.dumps(counts)


def test_a_receiver_failing_twice_then_recovering_gets_every_event_with_a_new_attempt_and_sign():
    sb = Sandbox.generate(seed=3, campaigns=30, messages=3000, now=NOW)
    recorder = Recorder(answer=lambda event, seen: 500 if seen < 2 else 200)
    with sb.serve(port=0) as server:
        sender = server.send_webhooks(recorder.url, SECRET, retry_step=0.01)
        sb.clock.advance(2 * 86400)
        counts = sender.wait_drained(60)
    recorder.close()
    n = counts["queued"]
    assert n > 50 and counts["delivered"] == n and counts["retried"] == 2 * n and counts["given_up"] == 0
    for received in recorder.by_id.values():
        assert [e["attempt"] for e in received] == [1, 2, 3]
        assert all(e["sign"] == expected_sign(e, SECRET) for e in received)
        assert len({e["sign"] for e in received}) == 3  # the sign covers the attempt


def test_an_event_never_answered_2xx_in_time_is_given_up_after_ten_attempts():
    sb = sending(8)
    recorder = Recorder(answer=lambda event, seen: 200 if seen else 503, delay=0.5)  # the first answer is late
    refusing = Recorder(answer=lambda event, seen: 503)
    with sb.serve(port=0) as server:
        sender = server.send_webhooks(recorder.url, SECRET, retry_step=0.01, timeout=0.2)
        sb.clock.advance(86400)
        counts = sender.wait_drained(30)
    n = counts["queued"]
    assert n >= 8 and counts["delivered"] == n and counts["retried"] == n  # the late answer was a failed attempt
    assert all([e["attempt"] for e in r] == [1, 2] for r in recorder.by_id.values())
    recorder.close()
    sb = sending(8)
    with sb.serve(port=0) as server:
        sender = server.send_webhooks(refusing.url, SECRET, retry_step=0.001)
        sb.clock.advance(86400)
        counts = sender.wait_drained(30)
    refusing.close()
    assert counts["given_up"] == counts["queued"] and counts["delivered"] == 0
    assert all([e["attempt"] for e in r] == list(range(1, MAX_ATTEMPTS + 1)) for r in refusing.by_id.values())


def test_duplicates_and_resends_after_a_200_are_stored_once_by_the_receiver(tmp_path):
    sb = Sandbox.generate(seed=4, campaigns=30, messages=3000, now=NOW)
    receiver = Receiver(tmp_path)
    try:
        with sb.serve(port=0, faults=Faults(webhook_duplicate=0.3, webhook_retry_after_ok=0.3, seed=4)) as server:
            sender = server.send_webhooks(receiver.url, SECRET, retry_step=0.01)
            sb.clock.advance(2 * 86400)
            counts = sender.wait_drained(60)
        health = receiver.health()
    finally:
        receiver.stop()
    n = counts["queued"]
    assert n > 50 and counts["delivered"] == n and counts["given_up"] == 0
    assert 0.2 * n < counts["duplicates"] < 0.4 * n and 0.2 * n < counts["resent_after_ok"] < 0.4 * n
    assert counts["sent"] == n + counts["duplicates"] + counts["resent_after_ok"] == counts["answered_2xx"]
    stored = [e["eventId"] for _, e, _ in read_log(tmp_path / "webhooks")]
    assert len(stored) == len(set(stored)) == n
    assert health["counts"] == {"stored": n, "duplicate": counts["duplicates"] + counts["resent_after_ok"]}


def test_a_move_making_more_events_than_may_wait_still_delivers_each(monkeypatch):
    import sandbox.webhook_sender as webhook_sender

    monkeypatch.setattr(webhook_sender, "MAX_WAITING", 5)  # the builder waits for the senders every 5 events
    sb = sending(300)
    recorder = Recorder()
    with sb.serve(port=0) as server:
        sender = server.send_webhooks(recorder.url, SECRET)
        sb.clock.advance(3600)
        counts = sender.wait_drained(30)
    recorder.close()
    assert counts["delivered"] == counts["queued"] >= 300 and len(recorder.by_id) == counts["queued"]


def test_smsetl_sandbox_signs_with_the_secret_from_the_environment_and_refuses_to_start_without_one(monkeypatch):
    import subprocess
    import sys

    from sandbox.process import SandboxProcess

    recorder = Recorder()
    monkeypatch.delenv("SMS_WEBHOOK_SECRET", raising=False)
    refused = subprocess.run([sys.executable, "-m", "sandbox", "--port", "0", "--webhook-url", recorder.url],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "SMS_WEBHOOK_SECRET" in refused.stderr
    monkeypatch.setenv("SMS_WEBHOOK_SECRET", SECRET)
    with SandboxProcess(seed=4, campaigns=30, messages=3000, now=NOW, timezone="Asia/Almaty",
                        extra_args=("--webhook-url", recorder.url, "--webhook-retry-step", "0.01")) as sandbox:
        sandbox.clock(timedelta(days=2))
        deadline = time.monotonic() + 30
        while (counts := json.loads(requests.get(f"{sandbox.url}/admin/webhooks", timeout=5).text))["pending"] \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    recorder.close()
    assert counts["delivered"] == counts["queued"] == len(recorder.events) > 50
    assert all(e["sign"] == expected_sign(e, SECRET) for e in recorder.events)
