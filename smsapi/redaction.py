"""Keep the API key out of every URL, message and log line."""
from __future__ import annotations

import logging
import re
import threading

__all__ = ["REDACTED", "RedactingFilter", "install_log_redaction", "redact", "register_secret"]

REDACTED = "***"
_KEY_IN_URL = re.compile(r"(?i)(apikey(?:=|%3D))[^&\s'\"<>#]*")
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Also redact this literal string wherever it appears (keys outside a ``apiKey=`` pair)."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: object, *secrets: str) -> str:
    """``text`` with ``apiKey=...`` values and every known secret replaced by ``***``."""
    out = _KEY_IN_URL.sub(lambda m: m.group(1) + REDACTED, str(text))
    with _lock:
        known = set(_secrets)
    for secret in (*secrets, *known):
        if secret:
            out = out.replace(secret, REDACTED)
    return out


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a broken format string is not ours to fix
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# urllib3 logs "POST /service/...?apiKey=... HTTP/1.1" at debug level from these loggers. Filters on a logger
# do not see records propagated from its children, so each emitting logger gets the filter.
_LOGGERS = ("smsapi", "urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
            "urllib3.response", "urllib3.util.retry", "requests")
_installed = False


def install_log_redaction() -> None:
    """Install the redacting filter on ours, urllib3's and requests' loggers (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    flt = RedactingFilter()
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(flt)
