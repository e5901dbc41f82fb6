"""The error hierarchy: every gateway code maps to one class, and every error says what it means.

``str(error)`` reads ``API code 8: login failed (User/GetOwnBalance): failed.api.auth; check SMS_API_KEY``.
Nothing here ever holds the API key; URLs are redacted before they reach an exception.
"""
from __future__ import annotations

import json
from typing import Any

# Meanings condensed from the gateway's glossary (seed-api-glossary.txt).
CODE_MEANINGS: dict[int, str] = {
    0: "the operation completed successfully",
    1: "validation error in the transmitted data (the data field lists the incorrectly filled fields)",
    2: "requested entry not found (deleted, wrong id, or no access rights to it)",
    3: "unidentified application error",
    4: "parameter module is incorrect",
    5: "parameter method is incorrect",
    6: "parameter format is incorrect",
    8: "login failed",  # bad key, or the session expired or was closed by the server
    9: "required method access error",
    10: "server error saving data (simultaneous access or changed saving conditions)",
    11: "some of the required parameters are missing in the request",
    12: "an input parameter does not comply with the specified conditions or restrictions",
    13: "this API server does not serve this user; the correct domain is in the data field",
    14: "the user account was blocked or removed",
    15: "error while performing an operation not related to updating data",
    30: "too many requests to the same API method within a time interval (rate limit)",
    98: "bulk operation done only in part; some elements were not processed",
    99: "bulk operation: none of the elements was processed",
    100: "the operation runs as a background task; data holds the task id for TaskQueue/GetStatus",
    999: "general error",
}

#: Codes that a retry may cure (with backoff).
RETRIABLE_CODES = frozenset({3, 10, 30, 999})
#: Codes that fail at once: retrying cannot help.
FATAL_CODES = frozenset({1, 2, 4, 5, 6, 8, 9, 11, 12, 14, 15})

_HINTS = {
    8: "check SMS_API_KEY",
    13: "check SMS_API_URL",
    14: "the account is blocked or removed; contact the gateway's support",
}


def code_meaning(code: int | None) -> str:
    if code is None:
        return "no response code"
    return CODE_MEANINGS.get(code, "code not in the gateway's glossary")


class SmsApiError(Exception):
    """Base of everything this package raises."""

    retriable = False


class ConfigError(SmsApiError):
    """Configuration is missing or wrong; the text names the variable and the fix."""


class ApiError(SmsApiError):
    """The gateway answered with a non-success code.

    Attributes: ``code``, ``meaning`` (from the glossary), ``module``, ``method``, ``message`` (the server's),
    ``data`` (the server's ``data`` field, e.g. the bad fields for code 1 or the items for 99).
    """

    def __init__(self, code: int | None, message: str = "", data: Any = None,
                 module: str = "", method: str = "", detail: str = ""):
        self.code = code
        self.meaning = code_meaning(code)
        self.message = message or ""
        self.data = data
        self.module = module
        self.method = method
        self.detail = detail
        super().__init__(self._text())

    @property
    def endpoint(self) -> str:
        return f"{self.module}/{self.method}" if self.module or self.method else ""

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        return self.code in RETRIABLE_CODES

    @property
    def fatal(self) -> bool:
        return not self.retriable

    def _text(self) -> str:
        text = f"API code {self.code}: {self.meaning}"
        if self.endpoint:
            text += f" ({self.endpoint})"
        if self.message:
            text += f": {self.message}"
        if self.detail:
            text += f"; {self.detail}"
        hint = _HINTS.get(self.code)  # type: ignore[arg-type]
        if hint:
            text += f"; {hint}"
        return text

    def __reduce__(self):
        return (_rebuild, (type(self), self.code, self.message, self.data, self.module, self.method, self.detail))


def _rebuild(cls, code, message, data, module, method, detail):
    return cls(code, message, data, module, method, detail)


class ValidationError(ApiError):
    """Code 1. ``fields`` maps each bad field to its messages."""

    def __init__(self, code, message="", data=None, module="", method="", detail=""):
        self.fields = data if isinstance(data, dict) else {}
        if self.fields and not detail:
            parts = []
            for field, msgs in self.fields.items():
                msgs = msgs if isinstance(msgs, list) else [msgs]
                parts.append(f"{field}: {'; '.join(str(m) for m in msgs)}")
            detail = "bad fields: " + ", ".join(parts)
        super().__init__(code, message, data, module, method, detail)


class NotFoundError(ApiError):
    """Code 2."""


class AuthError(ApiError):
    """Codes 8 (login failed) and 14 (account blocked)."""


class AccessError(ApiError):
    """Code 9."""


class BadRequestError(ApiError):
    """Codes 4, 5, 6, 11, 12, 15: the request itself is wrong."""


class ServerError(ApiError):
    """Codes 3, 10, 999: transient server-side errors, retried with backoff."""


class RateLimitError(ApiError):
    """Code 30 after the retry budget was spent."""


class WrongDomainError(ApiError):
    """Code 13 that could not be followed (unparseable domain, or too many redirects)."""


class NothingDoneError(ApiError):
    """Code 99: no element of a bulk operation was processed; ``items`` carries the per-element results."""

    @property
    def items(self) -> Any:
        return self.data


class TaskFailedError(ApiError):
    """A background task (code 100) ended as rejected (status 3)."""


class TransportError(SmsApiError):
    """HTTP 5xx, timeouts, dropped connections, truncated or non-JSON bodies, after the retries ran out.

    The text names the endpoint and the last cause, with every URL redacted.
    """

    retriable = True

    def __init__(self, message: str, module: str = "", method: str = "", cause: str = ""):
        self.module = module
        self.method = method
        self.cause = cause
        super().__init__(message)


class UncertainWriteError(TransportError):
    """A write (sending, creating) got no usable answer after its request was sent: the gateway may or may not
    have carried it out, so it is not sent again blindly. The text says what to check before sending again."""

    retriable = False


_BY_CODE: dict[int, type[ApiError]] = {
    1: ValidationError, 2: NotFoundError, 8: AuthError, 14: AuthError, 9: AccessError,
    4: BadRequestError, 5: BadRequestError, 6: BadRequestError, 11: BadRequestError, 12: BadRequestError,
    15: BadRequestError, 3: ServerError, 10: ServerError, 999: ServerError, 30: RateLimitError,
    13: WrongDomainError, 99: NothingDoneError,
}


def error_for(code: int | None, message: str = "", data: Any = None, module: str = "", method: str = "",
              detail: str = "") -> ApiError:
    """The ApiError subclass for ``code``."""
    cls = _BY_CODE.get(code, ApiError)  # type: ignore[arg-type]
    return cls(code, message, data, module, method, detail)


def short_json(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
