"""smsapi: the SMS gateway (Mobizon wire protocol) client. Imports stdlib and requests only."""
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
    ValidationError,
    WrongDomainError,
)
from .paginate import PageNumberPaginator
from .ratelimit import RateLimiter
from .redaction import redact
from .windows import split_windows

__all__ = [
    "SmsApi", "ApiStats", "PartialResult", "http_build_query", "flatten", "CODE_MEANINGS", "FATAL_CODES",
    "RETRIABLE_CODES", "SmsApiError", "ApiError", "ConfigError", "TransportError", "ValidationError",
    "NotFoundError", "AuthError", "AccessError", "BadRequestError", "ServerError", "RateLimitError",
    "WrongDomainError", "NothingDoneError", "TaskFailedError", "PageNumberPaginator", "RateLimiter", "redact",
    "split_windows",
]
