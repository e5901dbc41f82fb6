"""HTTP transport: ``/service/{Module}/{Method}`` with the gateway's envelope, plus ``/admin/*`` routes."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from . import api
from .data import World
from .faults import ITEM_DAMAGES, SHRINK_BY, FaultInjector, Faults, chosen
from .webhook_sender import WebhookSender


class _Ctx:
    def __init__(self, server: SandboxServer):
        self.server = server

    def start_task(self):
        sb = self.server.sb
        tid = str(9_000_000 + len(sb.tasks) + 1)
        sb.tasks[tid] = [0, max(1, int(self.server.injector.faults.task_polls))]
        raise api.ApiError(100, "", tid)

    def background(self, method: str) -> bool:
        return self.server.injector.background(method)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):  # quiet
        pass

    def date_time_string(self, timestamp=None):
        """The Date header: the simulated clock, as the real gateway sends its own clock there."""
        return email.utils.formatdate(self.owner.sb.clock.utc.timestamp(), usegmt=True)

    # the owning SandboxServer and whether this is the wrong-domain port
    owner: SandboxServer
    wrong: bool = False

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        # headers and body in one send: end_headers() then write(body) made two, the first a small segment the
        # client wakes up for, at every page
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()

    def _envelope(self, code: int, data, message: str = ""):
        self._send(200, api.dumps({"code": code, "data": data, "message": message}))

    def _read_body(self) -> tuple[bytes, str]:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        return body, (self.headers.get("Content-Type") or "").lower()

    def _params(self, query: str, body: bytes, ctype: str) -> dict:
        pairs = parse_qsl(query, keep_blank_values=True)
        if body:
            if "json" in ctype:
                try:
                    obj = json.loads(body)
                except ValueError:
                    obj = {}
                if isinstance(obj, dict):
                    pairs += [(k, v) for k, v in _flatten(obj)]
            else:
                pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return api.parse_params(pairs)

    def _handle(self):
        url = urlsplit(self.path)
        body, ctype = self._read_body()
        parts = [x for x in url.path.split("/") if x]
        try:
            if parts and parts[0] == "admin":
                return self._admin(parts[1:], url.query, body, ctype)
            if len(parts) != 3 or parts[0].lower() != "service":
                return self._send(404, b'{"error":"not found"}')
            self._service(parts[1], parts[2], self._params(url.query, body, ctype))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _service(self, module: str, method: str, p: dict):
        owner = self.owner
        mod = api.METHODS.get(module.lower())
        meth = mod[1].get(method.lower()) if mod else None
        name = f"{mod[0]}/{meth[0]}" if meth else f"{module}/{method}"
        owner.count(name)
        if self.wrong:
            return self._envelope(13, f"127.0.0.1:{owner.port}",
                                  "Этот API-сервер не обслуживает данного пользователя. Используйте домен из data.")
        output = str(p.get("output", "json")).lower()
        if output != "json":
            return self._envelope(6, None, f"Формат {output} не поддерживается.")
        if str(p.get("apiKey", "")) != owner.sb.api_key:
            return self._envelope(8, [], "failed.api.auth")
        if owner.sb.blocked:
            return self._envelope(14, [], "failed.api.user.blocked")
        if mod is None:
            return self._envelope(4, None, f"Модуль {module} не найден. Проверьте правильность написания и "
                                           f"сведения в документации.")
        if meth is None:
            return self._envelope(5, None, f"Метод {method} не найден в модуле {module}. Проверьте правильность "
                                           f"написания и сведения в документации.")
        inj = owner.injector
        if inj.rate_limited(name):
            return self._envelope(30, None, "Превышен лимит запросов к методу. Повторите запрос позже.")
        kind, delay = inj.draw(name)
        if delay:
            time.sleep(delay)
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "http_5xx":
            return self._send(503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                              "text/html")
        if kind == "code3":
            return self._envelope(3, None, "Неизвестная ошибка приложения.")
        if kind == "code999":
            return self._envelope(999, None, "Общая ошибка сервиса.")
        sb = owner.sb
        with sb.lock:
            try:
                data, code, message = meth[1](sb, p, owner.ctx), 0, ""
            except api.ApiError as e:
                data, code, message = e.data, e.code, e.message
            if name == "Message/List" and code == 0 and inj.faults.mangle:
                data = owner.mangle_page(meth[1], p, data)
        if inj.answer_lost(name):  # done, but the answer never arrives
            self.close_connection = True
            return
        payload = api.dumps({"code": code, "data": data, "message": message})
        if kind == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        self._send(200, payload)

    def _admin(self, parts: list[str], query: str, body: bytes, ctype: str):
        owner, sb = self.owner, self.owner.sb
        route = "/".join(parts)
        if route == "clock":
            if self.command == "POST":
                p = {}
                if body and ("json" in ctype or body.lstrip().startswith(b"{")):
                    p = json.loads(body)
                else:
                    p = dict(parse_qsl(query + "&" + body.decode(), keep_blank_values=True))
                with sb.lock:
                    if p.get("now") not in (None, ""):
                        sb.clock.set(sb.parse(str(p["now"])))
                    if p.get("advance") not in (None, ""):
                        sb.clock.advance(float(p["advance"]))
            return self._send(200, json.dumps({"now": sb.fmt(sb.clock.ts)}).encode())
        if route == "faults":
            if self.command == "POST":
                try:
                    owner.set_faults(Faults.from_dict(json.loads(body or b"{}"), owner.injector.faults))
                except (ValueError, TypeError) as e:
                    return self._send(400, json.dumps({"error": str(e)}).encode())
            return self._send(200, json.dumps(owner.injector.faults.to_dict()).encode())
        if route == "stats":
            return self._send(200, json.dumps({"calls": owner.calls()}).encode())
        if route == "webhooks":
            counts = owner.webhooks.counts() if owner.webhooks else {"url": None}
            return self._send(200, json.dumps(counts).encode())
        return self._send(404, b'{"error":"not found"}')


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}[{k}]" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, "" if obj is None else str(obj)


class SandboxServer:
    """A running sandbox: ``url`` (and ``wrong_url`` when the wrong-port fault is on). Use as a context manager."""

    def __init__(self, sb: World, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None,
                 wrong_port: int = 0):
        self.sb = sb
        self.host = host
        self.injector = FaultInjector(faults or Faults(seed=sb.seed))
        self.ctx = _Ctx(self)
        self._calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()
        self.mangled: dict[str, set[int]] = defaultdict(set)  # item damage -> the message ids it was applied to
        self._shrunk: set[str] = set()  # listings whose page 1 was already served shrunk
        self._reads: dict[str, int] = defaultdict(int)  # listing -> times its page 0 was served
        self.shifted_pages = 0  # pages the "shift" fault served one item later
        self.webhooks: WebhookSender | None = None
        self._httpd = self._start(port, wrong=False)
        self.port = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._wrong = None
        self.wrong_url: str | None = None
        self._wrong_port_wanted = wrong_port
        if self.injector.faults.wrong_port:
            self._start_wrong(wrong_port)

    def _start(self, port: int, wrong: bool) -> _HTTPServer:
        handler = type("Handler", (_Handler,), {"owner": self, "wrong": wrong})
        httpd = _HTTPServer((self.host, port), handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return httpd

    def _start_wrong(self, port: int = 0) -> None:
        if self._wrong is None:
            self._wrong = self._start(port, wrong=True)
            self.wrong_port = self._wrong.server_address[1]
            self.wrong_url = f"http://{self.host}:{self.wrong_port}"

    def send_webhooks(self, url: str, secret: str, **options) -> WebhookSender:
        """From now on, POST a signed delivery report to `url` for each message that becomes final as the clock
        moves (`sandbox.webhook_sender`; `options`: threads, timeout, retry_step). The faults' webhook_*
        switches apply."""
        if self.webhooks is not None:
            raise RuntimeError(f"this sandbox already sends webhooks to {self.webhooks.url}")
        self.webhooks = WebhookSender(self.sb, url, secret, faults=lambda: self.injector.faults, **options).start()
        return self.webhooks

    def set_faults(self, faults: Faults) -> None:
        self.injector.set(faults)
        if faults.wrong_port:
            self._start_wrong(self._wrong_port_wanted)

    def mangle_page(self, handler, p: dict, data: dict) -> dict:
        """A Message/List page with the `mangle` fault's damages (see `Faults`); what it damaged is recorded in
        `mangled`. Called under the world's lock."""
        f = self.injector.faults
        size, page = api.pagination(p)
        listing = repr({k: v for k, v in p.items() if k not in ("pagination", "apiKey")})

        def page_of(n: int) -> list:
            return handler(self.sb, {**p, "pagination": {"pageSize": size, "currentPage": n}}, self.ctx)["items"]

        items, total = list(data["items"]), data["totalItemCount"]
        if page == 0:
            self._reads[listing] += 1
        if "shift" in f.mangle and page >= 1 and self._reads[listing] == 1:
            # page 0's first item left, another joined after the last: the list is S[1:] + [S[0]], same total
            items = (items + page_of(page + 1))[1:1 + size]
            if len(items) < size and page * size + len(items) < int(total):
                items.append(page_of(0)[0])
            self.shifted_pages += 1
        elif "shrink" in f.mangle and page >= 1 and listing not in self._shrunk:
            self._shrunk.add(listing)  # items [0, SHRINK_BY) left the set: this page starts SHRINK_BY later
            items = (items + page_of(page + 1))[SHRINK_BY:SHRINK_BY + size]
            total = str(max(int(total) - SHRINK_BY, 0))
        elif page >= 1 and chosen(f.seed, "duplicate", f"{listing}#{page}", f.mangle.get("duplicate", 0)):
            items = page_of(page - 1)[-1:] + items
        victims = set(f.mangle_campaigns)
        out = []
        for item in items:
            item, message_id = dict(item), int(item["id"])
            if not victims or int(item["campaignId"]) in victims:
                for name, damage in ITEM_DAMAGES.items():
                    if chosen(f.seed, name, message_id, f.mangle.get(name, 0)):
                        self.mangled[name].add(message_id)
                        damage(item)
            out.append(item)
        return {**data, "items": out, "totalItemCount": total}

    def count(self, name: str) -> None:
        with self._calls_lock:
            self._calls[name] = self._calls.get(name, 0) + 1

    def calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def close(self) -> None:
        if self.webhooks is not None:
            self.webhooks.close()
        for h in (self._httpd, self._wrong):
            if h is not None:
                h.shutdown()
                h.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
