"""Named crash points: the process kills itself (SIGKILL) at one chosen point, so crash tests are exact and cheap.

`SMSETL_CRASH_AT=<name>` kills the process the first time `crashpoint(<name>)` is reached;
`SMSETL_CRASH_AT=<name>@<n>` the n-th time (counted across threads). Unset, a crash point is one comparison of a
module global with None: nothing measurable. The variable is read once, at import, so set it in the environment
of the process to be killed (the crash tests run `smsetl sync` as a child process).

This module imports nothing of the project, so that both storage/ and flows/ can call it. Names read
`<where>.<when>[:<entity or table>]`; tests/reliability/test_crash_points.py kills a sync at each of them.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "SMSETL_CRASH_AT"


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    if nth and not (nth.isdigit() and int(nth) >= 1):
        raise ValueError(f"{ENV}={spec!r}: after '@' give the count of times the point is reached (1, 2, ...)")
    return name, int(nth or 1)


_target = _parse(os.environ.get(ENV))
_seen = 0
_lock = threading.Lock()


def crashpoint(name: str) -> None:
    """SIGKILL this process if `name` is the armed point and this is the armed time; otherwise do nothing."""
    if _target is None or name != _target[0]:
        return
    global _seen
    with _lock:
        _seen += 1
        if _seen == _target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
