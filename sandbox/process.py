"""The sandbox gateway in a child process, for the demo and the benchmarks (its CPU stays out of the caller's)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    """`python -m sandbox` on a free loopback port; waits until it answers. A context manager that stops it.

    `clock()` reads (or advances) the simulated clock, account-local and naive like the wire's timestamps;
    `extra_args` are more `smsetl sandbox` flags (faults, for instance)."""

    def __init__(self, seed: int, campaigns: int, messages: int, now: datetime, timezone: str,
                 startup_timeout: float = 600, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(self.port), "--seed", str(seed),
             "--campaigns", str(campaigns), "--messages", str(messages), "--timezone", timezone,
             "--now", now.strftime("%Y-%m-%d %H:%M:%S"), *extra_args],
            stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        started = time.perf_counter()
        while True:
            try:
                self.clock()
                break
            except OSError:  # connection refused until the server listens
                if self.process.poll() is not None:
                    self._stderr.seek(0)
                    raise RuntimeError(f"the sandbox exited at start: {self._stderr.read()}") from None
                if time.perf_counter() - started > startup_timeout:
                    self.stop()
                    raise RuntimeError(f"the sandbox did not answer within {startup_timeout:.0f} s") from None
                time.sleep(0.2)
        self.startup_s = time.perf_counter() - started

    def _admin(self, route: str, form: dict | None = None) -> dict:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with urllib.request.urlopen(f"{self.url}/admin/{route}", data=data, timeout=10) as response:
            return json.load(response)

    def clock(self, advance: timedelta | None = None) -> datetime:
        """The clock after advancing it by `advance`, if given."""
        form = None if advance is None else {"advance": int(advance.total_seconds())}
        return datetime.strptime(self._admin("clock", form)["now"], "%Y-%m-%d %H:%M:%S")

    def calls(self) -> dict[str, int]:
        """Calls served so far per `Module/Method`, by the sandbox's own count."""
        return self._admin("stats")["calls"]

    def cpu_s(self) -> float | None:
        """CPU seconds the sandbox process has used so far (user + system; Linux /proc), None where unknown.
        On loopback the gateway's own CPU shares the machine with the client: benchmarks report it."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
