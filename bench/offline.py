"""The environment every benchmark's Prefect runs in: a private, temporary home (its own database), offline
(no telemetry), quiet, with time for its temporary server to start on a loaded machine; plus, where the run
extracts messages, a PII key file of its own so a benchmark never reads or makes the user's."""

from __future__ import annotations

import os
import tempfile


def prefect_env(pii_key: bool = True) -> dict[str, str]:
    """Variables to lay over the environment before Prefect is imported (or a child is started)."""
    env = {"PREFECT_HOME": tempfile.mkdtemp(prefix="bench-prefect-"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    if pii_key:
        env["SMS_PII_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="bench-pii-"), "pii-key")
    return env
