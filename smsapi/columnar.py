"""A listing's pages decoded by column: the response body straight into Arrow strings, no dict per item.

Opt-in (`SmsApi.call`'s `decode`; the sync's `Message/List` reads use it): the one module of the client that
imports pyarrow. A body in the reference's shape, `{"code": 0, "data": {"items": [...], "totalItemCount": "N"}}`
with each wanted field a string or null, becomes a `ColumnPage`: the body as received (raw stores it as it
came) and the wanted fields as an Arrow struct array, parsed by pyarrow's JSON reader in C++ (18-19 us a
message of a sandbox page, against 31-37 for `_loads` to make its dicts; bench/README.md, "A fourth look").
Anything else gives None and is decoded as usual, page by page, with all the dict path's tolerance: a number,
boolean or object where a string was expected, a key twice in one item, items that are not objects, another
code, more than one JSON value, a body that is not UTF-8, or one with a run of 19 digits (a number orjson would
round: the usual path keeps it exact, and raw's reader is orjson).
"""

from __future__ import annotations

import json
from functools import lru_cache

import pyarrow as pa
import pyarrow.json as pa_json

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
    item = pa.struct([(key, pa.string()) for key in keys])
    schema = pa.schema([("code", pa.int64()), ("message", pa.string()),
                        ("data", pa.struct([("items", pa.list_(item)), ("totalItemCount", pa.string())]))])
    parse = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore",
                                 newlines_in_values=True)

    def decode(content: bytes) -> dict | None:
        if not content.isascii():
            try:
                content.decode("utf-8")  # pyarrow does not check; raw must hold what orjson reads back
            except UnicodeDecodeError:
                return None
        if _maybe_long_number(content):
            return None
        try:
            # one block, the page; no threads of the pool: they would only compete with the sync's own
            read = pa_json.ReadOptions(use_threads=False, block_size=len(content) + 1)
            table = pa_json.read_json(pa.BufferReader(content), read_options=read, parse_options=parse)
        except pa.ArrowException:  # a type, a key or a shape not the reference's
            return None
        if table.num_rows != 1:
            return None
        code, data = table.column("code")[0].as_py(), table.column("data").combine_chunks()
        if code != 0 or not data[0].is_valid or not data.field("items")[0].is_valid:
            return None
        whole = data.field("items").flatten()  # one row: the list's values are the page's items
        if whole.null_count:  # an item that is null: the dict path counts what is not an object
            return None
        total = data.field("totalItemCount")[0].as_py()
        return {"code": 0, "message": table.column("message")[0].as_py() or "",
                "data": {"items": ColumnPage(content, whole), "totalItemCount": total}}

    return decode
