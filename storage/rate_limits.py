"""The per-method rate limits the client learned from the gateway's code 30 answers, kept in the data directory
(`rate-limits.json`) so the next run starts from them instead of probing from scratch (`smsapi.ratelimit`).

A data directory holds one account, and the gateway's limits are the account's: nothing else keys them. The
file is a hint, never a source of truth: a missing, unreadable or malformed one is ignored (with a warning)
and the run simply learns again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FILE = "rate-limits.json"


def load(data_dir: Path) -> dict[str, float]:
    """The rates learned by earlier runs, calls/s per ``Module/Method``; {} when there are none."""
    path = data_dir / FILE
    try:
        rates = json.loads(path.read_text())["calls_per_second"]
        return {str(k): float(v) for k, v in rates.items() if float(v) > 0}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring %s (%s): the client learns the gateway's rate limits again", path, exc)
        return {}


def save(data_dir: Path, learned: dict[str, float]) -> None:
    """Keep `learned` over what earlier runs learned (methods this run did not call keep their rate);
    written to a temporary file and renamed, so a killed run leaves the old file or the new one."""
    if not learned:
        return
    rates = {**load(data_dir), **learned}
    path = data_dir / FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"calls_per_second": dict(sorted(rates.items()))}, indent=1) + "\n")
    os.replace(tmp, path)
