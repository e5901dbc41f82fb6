"""Recipients' phone numbers under a privacy mode (`SMS_PII`): `hash`, `keep` or `drop`. Pure: the key is a
parameter, never read here.

- `hash`: `h:` + the first `HASH_HEX_CHARS` hex digits of HMAC-SHA256(key, the number's digits). Stable for a
  given key (so recipients can be counted and joined across runs), not reversible without the key: without
  it, hashing every possible number (about 10^10 of them) finds nothing.
- `keep`: the number as the gateway sent it.
- `drop`: NULL.

Each mode is idempotent (a value already in the mode is left as it is), so applying a mode to payloads that
already carry it changes nothing, and applying a stronger one (keep < hash < drop) converts them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

PII_MODES = ("hash", "keep", "drop")
# keep < hash < drop: a mode can be converted into a stronger one, never back (the numbers are gone).
PII_STRENGTH = {"keep": 0, "hash": 1, "drop": 2}
HASH_PREFIX = "h:"
HASH_HEX_CHARS = 24  # 96 bits: no collision in practice (it would take ~2^48 distinct numbers)
_HASHED = re.compile(rf"^{HASH_PREFIX}[0-9a-f]{{{HASH_HEX_CHARS}}}$")
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class PiiPolicy:
    """A mode and, for `hash`, its key (bytes). The key never shows in `repr` or in an error."""

    mode: str
    key: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_mode(self.mode, self.key)

    def protect(self, value) -> str | None:
        return protect_recipient(value, self.mode, self.key)

    def protect_messages(self, items, in_place: bool = False):
        return protect_messages(items, self.mode, self.key, in_place)

    def protect_body(self, body: bytes, recipients: list) -> tuple[bytes, list] | None:
        return protect_body(body, recipients, self.mode, self.key)


def check_mode(mode: str, key: bytes | None = None) -> None:
    """A known mode, with a key when it is `hash` (the error never shows the key)."""
    if mode not in PII_MODES:
        raise ValueError(f"PII mode must be one of {', '.join(PII_MODES)}, not {mode!r}")
    if mode == "hash" and not key:
        raise ValueError("PII mode 'hash' needs a key")


def normalize_number(value) -> str | None:
    """The digits of a phone number (`+7 701 123-45-67` -> `77011234567`); a value with no digit is its
    stripped text; None or blank is None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return _NOT_DIGIT.sub("", text) or text


def is_hashed(value) -> bool:
    return isinstance(value, str) and _HASHED.match(value) is not None


def hash_recipient(value, key: bytes) -> str | None:
    """`h:` + HMAC-SHA256(key, normalized number) in hex, truncated to `HASH_HEX_CHARS`; None stays None; an
    already hashed value is returned as it is."""
    if isinstance(value, str) and value.isascii() and value.isdigit():  # the wire's usual form: no regex
        normalized = value
    elif is_hashed(value):
        return value
    elif (normalized := normalize_number(value)) is None:
        return None
    inner, outer = _hmac_sha256_pads(key)
    inner = inner.copy()
    inner.update(normalized.encode())
    outer = outer.copy()
    outer.update(inner.digest())
    return HASH_PREFIX + outer.hexdigest()[:HASH_HEX_CHARS]


@lru_cache(maxsize=8)
def _hmac_sha256_pads(key: bytes) -> tuple:
    """HMAC-SHA256 (RFC 2104) by hand: the inner and outer hashes with `key`'s pads already fed, copied for each
    number. Not `hmac.new(...).copy()`: its Python-level copy cost twice the hashing (1.4 against 2.6 us a
    number, bench/README.md). Not `hmac.digest`: that one-shot call gives up the GIL for every number, and
    with the sync's fetch threads running, getting it back cost the writer thread milliseconds per message (a
    GIL convoy); hashlib keeps the GIL for inputs this small. `tests/transforms/test_transform_pii.py` checks
    the result against `hmac`."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))


def protect_recipient(value, mode: str, key: bytes | None = None) -> str | None:
    """One recipient under `mode` (see the module docstring)."""
    check_mode(mode, key)
    if mode == "keep":
        return value
    if mode == "drop":
        return None
    return hash_recipient(value, key)


def protect_messages(items, mode: str, key: bytes | None = None, in_place: bool = False):
    """Message/List items with their `to` under `mode`, as new dicts, or with `in_place` the same dicts changed
    (for a caller that owns freshly decoded items: copying each item cost more than hashing its number); every
    other field, and anything that is not an object, as it was. Under `keep`, `items` itself."""
    check_mode(mode, key)
    if mode == "keep" or not isinstance(items, list):
        return items
    protect = (lambda value: None) if mode == "drop" else (lambda value: hash_recipient(value, key))
    if in_place:
        for item in items:
            if isinstance(item, dict) and "to" in item:
                item["to"] = protect(item["to"])
        return items
    return [{**item, "to": protect(item["to"])} if isinstance(item, dict) and "to" in item else item
            for item in items]


# An object's `to` in a JSON body, written plainly: a string with no escape. Inside a JSON string every quote is
# escaped, so this can only match a key `to` of some object, never text within a value.
_TO_IN_BODY = re.compile(rb'"to"(\s*:\s*)"([^"\\]*)"')


def protect_body(body: bytes, recipients: list, mode: str, key: bytes | None = None) -> tuple[bytes, list] | None:
    """A Message/List response body as received, and the `to` of each of its items as decoded (None where
    null or absent), under `mode`: (the body with every item's `to` protected in place, the protected values).
    None when the body's `to` keys are not exactly the items' non-null ones, each written plainly (a `to` with
    an escape, or one in a nested object): a substitution could then miss a number, so the caller protects
    the decoded items instead (`protect_messages`). Under `keep`, both as given."""
    check_mode(mode, key)
    if mode == "keep":
        return body, recipients
    parts = _TO_IN_BODY.split(body)  # text, colon, value, text, colon, value, ..., text
    sent = [value for value in recipients if value is not None]
    if parts[2::3] != [value.encode() for value in sent]:
        return None
    protected = [None if mode == "drop" or value is None else hash_recipient(value, key) for value in recipients]
    # each plainly written `to`, in order: a blank one hashes to null, as `protect_messages` makes it
    written = [b"null" if value is None else b'"' + value.encode() + b'"'
               for value, sent_value in zip(protected, recipients, strict=True) if sent_value is not None]
    out = []
    for text, colon, value in zip(parts[0:-1:3], parts[1::3], written, strict=True):
        out += (text, b'"to"', colon, value)
    out.append(parts[-1])
    return b"".join(out), protected
