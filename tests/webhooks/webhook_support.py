"""A webhook receiver on a free loopback port (a subprocess, so a test can SIGKILL it) and signed events."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.process import free_port

SECRET = "test-webhook-secret"


def signed_event(event_id, message_id, status="DELIVRD", attempt=1, secret=SECRET,
                 status_ts="2026-11-01 11:30:00") -> dict:
    event = {"eventId": event_id, "eventType": "sms-delivery-report", "eventCreateTs": "2026-11-01 11:31:00",
             "webhookId": 7, "attempt": attempt,
             "data": {"campaignId": 400001, "messageId": message_id, "segNum": 1, "statusUpdateTs": status_ts,
                      "status": status, "to": "77001234567"}}
    event["sign"] = hashlib.sha1(f"{event_id}|{attempt}|{event['eventCreateTs']}|{secret}".encode()).hexdigest()
    return event


class Receiver:
    """`python -m webhooks` serving `data_dir` on a free port; waits until /health answers."""

    def __init__(self, data_dir: Path, secret: str = SECRET):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SMS_WEBHOOK_SECRET": secret}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webhooks", "--port", str(self.port), "--data-dir", str(data_dir)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/health", timeout=1)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the receiver did not start: {self.process.stderr.read().decode()}")
                time.sleep(0.1)

    def health(self) -> dict:
        return requests.get(f"{self.url}/health", timeout=5).json()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
