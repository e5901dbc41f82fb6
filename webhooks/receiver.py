"""The webhook receiver: an ASGI app (Starlette) that verifies, de-duplicates and durably stores delivery reports.

Answers: 200 for an event stored now or before (a retry, same eventId) and for event types it does not use
(counted, not stored); 400 for a body that is not a JSON object or lacks a field; 401 for a wrong `sign`;
405 for anything but POST; 413 for a body over `MAX_BODY` bytes (by Content-Length, and by the bytes read).
`sign = sha1(eventId|attempt|eventCreateTs|secret)` (API.md section 8), compared in constant time. The store
fsyncs before the answer (`webhooks.store`), in a worker thread so the event loop keeps serving. The secret
never reaches a log, a file or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from webhooks.store import EventStore

MAX_BODY = 64 * 1024
DELIVERY_REPORT = "sms-delivery-report"
SIGNED = ("eventId", "attempt", "eventCreateTs", "sign")
REPORT_FIELDS = ("messageId", "status", "statusUpdateTs")


def expected_sign(event: dict, secret: str) -> str:
    """The sign the gateway computes for `event` (ids as JSON ints or strings give the same text)."""
    text = f"{event['eventId']}|{event['attempt']}|{event['eventCreateTs']}|{secret}"
    return hashlib.sha1(text.encode()).hexdigest()


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "message": message}, status_code=status)


def _scalar(value) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def problem(event) -> str | None:
    """Why `event` (parsed JSON) cannot be checked, or None."""
    if not isinstance(event, dict):
        return "the body is not a JSON object"
    missing = [f for f in (*SIGNED, "eventType") if not _scalar(event.get(f))]
    return f"missing or not a string/integer: {', '.join(missing)}" if missing else None


def report_problem(event: dict) -> str | None:
    """Why a signed delivery report cannot be used, or None."""
    data = event.get("data")
    if not isinstance(data, dict):
        return "data is not an object"
    missing = [f for f in REPORT_FIELDS if not _scalar(data.get(f))]
    if missing:
        return f"data lacks {', '.join(missing)}"
    try:
        int(str(data["messageId"]))
    except ValueError:
        return "data.messageId is not an integer"
    return None


def create_app(data_dir: Path, secret: str, max_body: int = MAX_BODY) -> Starlette:
    """The receiver for `data_dir` (its log under `<data_dir>/webhooks/`), checking signs with `secret`."""
    if not secret:
        raise ValueError("SMS_WEBHOOK_SECRET is empty: set it to the secret key shown for the webhook in the "
                         "gateway's web interface")
    counts: Counter = Counter()
    state: dict = {}

    async def receive(request: Request):
        if request.method != "POST":
            counts["not_post"] += 1
            return JSONResponse({"status": 405, "message": "POST only"}, status_code=405, headers={"Allow": "POST"})
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            counts["oversized"] += 1
            return _answer(413, f"the body is over {max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                counts["oversized"] += 1
                return _answer(413, f"the body is over {max_body} bytes")
        try:
            event = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            counts["malformed"] += 1
            return _answer(400, "the body is not JSON")
        if (why := problem(event)) is not None:
            counts["malformed"] += 1
            return _answer(400, why)
        if not hmac.compare_digest(str(event["sign"]).lower().encode(), expected_sign(event, secret).encode()):
            counts["forged"] += 1
            return _answer(401, "the sign does not match: check SMS_WEBHOOK_SECRET against the webhook's secret")
        if event["eventType"] != DELIVERY_REPORT:
            counts["ignored"] += 1
            return _answer(200, f"event type {event['eventType']!r} is not used: ignored")
        if (why := report_problem(event)) is not None:
            counts["malformed"] += 1
            return _answer(400, why)
        new = await run_in_threadpool(state["store"].put, event)
        counts["stored" if new else "duplicate"] += 1
        return _answer(200, "stored" if new else "already received")

    async def health(request: Request):
        return JSONResponse({"counts": dict(counts), "events": len(state["store"].seen),
                             "torn_lines": state["store"].torn_lines})

    @asynccontextmanager
    async def lifespan(app):
        state["store"] = EventStore(data_dir)  # a second receiver on the same directory fails here
        try:
            yield
        finally:
            state["store"].close()

    routes = [Route("/health", health, methods=["GET"]),
              Route("/{path:path}", receive, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(data_dir: Path, secret: str, host: str = "127.0.0.1", port: int = 8780) -> None:
    """Run the receiver with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(data_dir, secret), host=host, port=port, log_level="warning", access_log=False)
