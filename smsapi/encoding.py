"""PHP ``http_build_query`` for the gateway's form bodies.

Nested mappings and sequences flatten to bracket keys (``criteria[campaignIds][0]=7``), which are then encoded
with ``quote_plus``: spaces become ``+``, a literal ``+`` becomes ``%2B``, brackets ``%5B``/``%5D``, text UTF-8.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

__all__ = ["flatten", "http_build_query"]


def _scalar(value: Any) -> str | None:
    """The string PHP would send for a scalar; ``None`` means the key is dropped (as PHP drops null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """The ``(key, value)`` pairs with PHP bracket keys, in insertion order."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten_value(f"{prefix}[{key}]" if prefix else str(key), value, pairs)
    return iter(pairs)


def _flatten_value(key: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    """Append `value`'s pairs under `key` to `pairs` (a list, not nested generators: a Message/List call sends
    100 campaign ids, and a generator per level cost more than the encoding itself)."""
    if type(value) is str:  # the usual leaf (ids arrive as strings) first: no isinstance chain
        pairs.append((key, value))
    elif isinstance(value, Mapping):
        for sub, item in value.items():
            _flatten_value(f"{key}[{sub}]", item, pairs)
    elif isinstance(value, (list, tuple)) or (
        isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray))
    ):
        for i, item in enumerate(value):
            _flatten_value(f"{key}[{i}]", item, pairs)
    else:
        text = _scalar(value)
        if text is not None:
            pairs.append((key, text))


# Keys and values repeat from call to call (`criteria[campaignIds][57]`, a batch's ids, page numbers): quoting each
# again cost about a tenth of a backfill's CPU (a Message/List call sends 100 campaign ids), a lookup costs little.
_quote = lru_cache(maxsize=16384)(quote_plus)


def http_build_query(params: Mapping[str, Any] | None) -> str:
    """Encode ``params`` exactly as PHP ``http_build_query`` (PHP_QUERY_RFC1738) does."""
    if not params:
        return ""
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in flatten(params))
