"""A listing's pages decoded by column: the response body straight into Arrow strings, no dict per item.

Opt-in (`SmsApi.call`'s `decode`; the sync's `Message/List` reads use it): the one module of the client that
imports pyarrow. A body in the reference's shape, `{"code": 0, "data": {"items": [...], "totalItemCount": "N"}}`
with each wanted field a string or null, becomes a `ColumnPage`: the body as received (raw stores it as it
came) and the wanted fields as an Arrow struct array. msgspec reads it against a typed schema of just those
fields and skips the rest (a sandbox item's nested campaign is 2.2 of its 2.6 KB): 16.6 us a message of a
sandbox page, against 29.2 with pyarrow's JSON reader and about 18 for `_loads` to make every item's dict
(bench/README.md, "A fifth look"). A key twice in one item reads as the dict path reads it (the last one).
Anything else gives None and is decoded as usual, page by page, with all the dict path's tolerance: a number,
boolean or object where a string was expected, items that are not objects, another code, more than one JSON
value, a body that is not UTF-8, or one with a run of 19 digits (a number orjson would round: the usual path
keeps it exact, and raw's reader is orjson).
"""

from __future__ import annotations

import json
import operator
from functools import lru_cache

import msgspec
import pyarrow as pa

from .client import Decoder, _maybe_long_number
from .paginate import ColumnItems


class ColumnPage(ColumnItems):
    """One page: `body` (the response as received), `whole` (the wanted fields of every item in it, in order)
    and `positions` (the items kept, when paging dropped repeats; None: all of them)."""

    def __init__(self, body: bytes, whole: pa.StructArray, positions: list[int] | None = None):
        self.body, self.whole, self.positions = body, whole, positions

    def __len__(self) -> int:
        return len(self.whole) if self.positions is None else len(self.positions)

    @property
    def columns(self) -> pa.StructArray:
        """The kept items' wanted fields."""
        return self.whole if self.positions is None else self.whole.take(pa.array(self.positions, pa.int64()))

    def ids(self) -> list:
        return self.columns.field("id").to_pylist()

    def take(self, positions: list[int]) -> ColumnPage:
        kept = positions if self.positions is None else [self.positions[i] for i in positions]
        return ColumnPage(self.body, self.whole, kept)

    def items(self) -> list:
        """The kept items as dicts, every field as sent (json: exact, and this is the rare path)."""
        items = json.loads(self.body)["data"]["items"]
        return items if self.positions is None else [items[i] for i in self.positions]


def decoder(keys: tuple[str, ...]) -> Decoder:
    """A `decode` for `SmsApi.call` that makes `ColumnPage`s of `keys` (every one a string or null)."""
    return _decoder(tuple(keys))


@lru_cache(maxsize=4)
def _decoder(keys: tuple[str, ...]) -> Decoder:
    # Typed: msgspec reads the wanted fields and skips the rest (a Message/List item's nested campaign is most
    # of its bytes) without making an object of it; a wanted field that is not a string or null fails the page.
    item = msgspec.defstruct("Item", [(key, str | None, None) for key in keys], kw_only=True)
    data = msgspec.defstruct("Data", [("items", list[item]), ("totalItemCount", str | None, None)], kw_only=True)
    envelope = msgspec.defstruct("Envelope", [("code", int), ("message", str | None, None), ("data", data)],
                                 kw_only=True)
    read = msgspec.json.Decoder(envelope)
    fields = [operator.attrgetter(key) for key in keys]

    def decode(content: bytes) -> dict | None:
        if not content.isascii():
            try:
                content.decode("utf-8")  # msgspec skips an unread field unchecked; raw must hold what orjson reads
            except UnicodeDecodeError:
                return None
        if _maybe_long_number(content):
            return None
        try:
            answer = read.decode(content)
        except msgspec.DecodeError:  # a type, a shape not the reference's, or not JSON
            return None
        if answer.code != 0:
            return None
        items = answer.data.items
        whole = pa.StructArray.from_arrays([pa.array(list(map(field, items)), pa.string()) for field in fields],
                                           list(keys))
        return {"code": 0, "message": answer.message or "",
                "data": {"items": ColumnPage(content, whole), "totalItemCount": answer.data.totalItemCount}}

    return decode
