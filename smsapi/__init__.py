"""smsapi: the SMS gateway (Mobizon wire protocol) client. Imports stdlib, requests and orjson only."""
from .client import ApiStats, PartialResult, SmsApi
from .encoding import flatten, http_build_query
from .errors import (
    CODE_MEANINGS,
    FATAL_CODES,
    RETRIABLE_CODES,
    AccessError,
    ApiError,
    AuthError,
    BadRequestError,
    ConfigError,
    NotFoundError,
    NothingDoneError,
    RateLimitError,
    ServerError,
    SmsApiError,
    TaskFailedError,
    TransportError,
    UncertainWriteError,
    ValidationError,
    WrongDomainError,
)
from .paginate import PageNumberPaginator
from .ratelimit import RateLimiter
from .redaction import redact
from .windows import split_windows

__all__ = [
    "CODE_MEANINGS",
    "FATAL_CODES",
    "RETRIABLE_CODES",
    "AccessError",
    "ApiError",
    "ApiStats",
    "AuthError",
    "BadRequestError",
    "ConfigError",
    "NotFoundError",
    "NothingDoneError",
    "UncertainWriteError",
    "PageNumberPaginator",
    "PartialResult",
    "RateLimitError",
    "RateLimiter",
    "ServerError",
    "SmsApi",
    "SmsApiError",
    "TaskFailedError",
    "TransportError",
    "ValidationError",
    "WrongDomainError",
    "flatten",
    "http_build_query",
    "redact",
    "split_windows",
]
