"""Names of the part files that one run's writers add to its raw and staging folders.

A run's message batches can be written by several processes at once, on several machines when they run on a
Dask cluster (`flows.batches`) sharing the data directory: a process id alone can repeat across machines, and
two parts of one name would lose one of them at the rename that publishes a part. So a name carries the pid
(first: people and tests read which process wrote a part), a random token drawn once per process (two
machines' equal pids differ in it; a forked child keeps the token but has a pid of its own) and a counter.
Nothing parses these names: readers glob `*.jsonl.zst` and `*.parquet`.
"""

from __future__ import annotations

import itertools
import os
import secrets

_TOKEN = secrets.token_hex(4)
_counter = itertools.count()


def part_name(suffix: str) -> str:
    """`part-<pid>-<token>-<n><suffix>`, unique across processes and machines; thread-safe (itertools.count)."""
    return f"part-{os.getpid()}-{_TOKEN}-{next(_counter):06d}{suffix}"


def writer_of(name: str) -> str:
    """Which process wrote the part `name`: `<pid>-<token>`, for diagnostics and tests."""
    return "-".join(name.split("-")[1:3])
