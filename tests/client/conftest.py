"""Fixtures for the client tests: no sleeping, and a loopback HTTP server that plays scripted answers."""
from __future__ import annotations

import gzip
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import smsapi.client
from smsapi import SmsApi

API_KEY = "k" * 20 + "0123456789abcdefghij"  # 40 chars, like a real key


class Sleeps(list):
    """Records every sleep instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch) -> Sleeps:
    """Retries and limiter waits cost no time: SmsApi's default ``sleep`` becomes a recorder."""
    sleeps = Sleeps()
    defaults = list(smsapi.client.SmsApi.__init__.__defaults__)
    defaults = [sleeps if d is smsapi.client.time.sleep else d for d in defaults]
    monkeypatch.setattr(smsapi.client.SmsApi.__init__, "__defaults__", tuple(defaults))
    return sleeps


class Request:
    def __init__(self, method: str, path: str, body: bytes):
        parts = urlsplit(path)
        self.target = path  # as the request line gave it: absolute (`http://host/...`) when sent to a proxy
        self.http_method = method
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query))
        self.raw_query = parts.query
        self.body = body.decode("utf-8")
        self.form = dict(parse_qsl(self.body, keep_blank_values=True))
        segs = parts.path.strip("/").split("/")
        self.module, self.method = (segs[1], segs[2]) if len(segs) >= 3 else ("", "")

    @property
    def endpoint(self) -> str:
        return f"{self.module}/{self.method}"


class ScriptedServer:
    """A loopback server. Each request takes the next scripted answer, else asks ``router``.

    An answer is a dict (sent as the JSON envelope), or a tuple: ("status", 503), ("drop",),
    ("truncate", text), ("raw", status, text), ("gzip", envelope) (Content-Encoding: gzip). ``peers`` holds
    the client address of every connection that sent a request.
    """

    def __init__(self) -> None:
        self.script: deque = deque()
        self.requests: list[Request] = []
        self.peers: set[tuple[str, int]] = set()
        self.router: Callable[[Request], Any] = lambda req: {"code": 0, "data": None, "message": ""}
        self.date_header: str | None = None  # the Date header to send (default: this machine's clock)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return outer.date_header or super().date_time_string(timestamp)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, self.path, self.rfile.read(length) if length else b"")
                outer.requests.append(req)
                outer.peers.add(self.client_address)
                answer = outer.script.popleft() if outer.script else outer.router(req)
                if callable(answer):
                    answer = answer(req)
                if isinstance(answer, dict):
                    self._send(200, json.dumps(answer, ensure_ascii=False))
                elif answer[0] == "status":
                    self._send(answer[1], "<html>server error</html>", "text/html")
                elif answer[0] == "raw":
                    self._send(answer[1], answer[2], "text/html")
                elif answer[0] == "gzip":
                    data = gzip.compress(json.dumps(answer[1]).encode())
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif answer[0] == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif answer[0] == "truncate":
                    data = answer[1].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data) + 50))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    raise ValueError(answer)

            def _send(self, status: int, text: str, ctype: str = "application/json") -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def add(self, *answers: Any) -> ScriptedServer:
        self.script.extend(answers)
        return self

    def endpoints(self) -> list[str]:
        return [r.endpoint for r in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(data: Any = None) -> dict:
    return {"code": 0, "data": data, "message": ""}


def err(code: int, message: str = "", data: Any = None) -> dict:
    return {"code": code, "data": data, "message": message}


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def second_server():
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def make_api(no_sleep):
    """Build clients against a URL with test defaults: fake sleep, no client rate limit, short timeouts."""
    made: list[SmsApi] = []

    def factory(url: str, **kw: Any) -> SmsApi:
        # a test that names a rate gets the production limiter (adaptive, capped at it); others none
        kw.setdefault("adaptive_rate_limit", kw.get("rate_limit_per_method") is not None)
        kw.setdefault("rate_limit_per_method", None)
        kw.setdefault("timeout", (2, 5))
        api = SmsApi(url, kw.pop("api_key", API_KEY), **kw)
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close()


@pytest.fixture
def api(server, make_api) -> SmsApi:
    return make_api(server.url)
