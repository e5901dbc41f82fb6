"""Arrow schemas of the warehouse base tables (column order and types as in `storage/schema.py`)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")
_MONEY = pa.decimal128(18, 4)
_S = pa.string()
_I64 = pa.int64()
_I32 = pa.int32()
_B = pa.bool_()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, t) for name, t in fields])


# `status` columns are DuckDB ENUMs; they travel as strings and DuckDB casts them on insert.
ARROW_SCHEMAS: dict[str, pa.Schema] = {
    "campaigns": _schema(
        ("campaign_id", _I64), ("campaign_type", _S), ("type_code", _I32), ("name", _S), ("sender", _S),
        ("text", _S), ("common_status", _S), ("moderation_status", _S), ("send_status", _S),
        ("creation_way", _I32), ("is_deleted", _B), ("track_short_link_recipients", _B),
        ("validity_minutes", _I32), ("created_at", _TS), ("send_started_at", _TS), ("send_ended_at", _TS),
        ("deferred_to", _TS), ("counters_updated_at", _TS), ("total_msg_count", _I64), ("total_seg_count", _I64),
        ("total_cost", _MONEY), ("currency", _S), ("observed_at", _TS),
    ),
    "campaign_counters": _schema(
        ("campaign_id", _I64), ("status", _S), ("msg_count", _I64), ("seg_count", _I64), ("cost", _MONEY),
        ("observed_at", _TS),
    ),
    "messages": _schema(
        ("message_id", _I64), ("campaign_id", _I64), ("sender", _S), ("recipient", _S), ("text", _S),
        ("segments", _I32), ("segment_price", _MONEY), ("cost", _MONEY), ("status", _S), ("status_raw", _S),
        ("is_final", _B), ("is_unexpected", _B), ("send_started_at", _TS), ("status_updated_at", _TS),
        ("country_a2", _S), ("operator_name", _S), ("uuid", _S), ("first_observed_at", _TS), ("observed_at", _TS),
    ),
    "message_status_history": _schema(
        ("message_id", _I64), ("campaign_id", _I64), ("status", _S), ("status_raw", _S), ("is_final", _B),
        ("status_updated_at", _TS), ("observed_at", _TS), ("run_id", _S),
    ),
    "links": _schema(
        ("link_id", _I64), ("campaign_id", _I64), ("code", _S), ("short_link", _S), ("full_link", _S),
        ("comment", _S), ("status", _I32), ("click_count", _I64), ("redirect_count", _I64), ("observed_at", _TS),
    ),
    "link_click_stats": _schema(
        ("link_id", _I64), ("period_type", _S), ("period_start", _TS), ("period_end", _TS), ("click_count", _I64),
        ("redirect_count", _I64),
        ("observed_at", _TS),
    ),
    "sync_runs": _schema(
        ("run_id", _S), ("as_of", _TS), ("started_at", _TS), ("ended_at", _TS), ("outcome", _S), ("api_calls", _I64),
        ("summary", _S),  # JSON text
    ),
    "sync_run_entities": _schema(
        ("run_id", _S), ("entity", _S), ("rows_added", _I64), ("rows_changed", _I64), ("unexpected_values", _I64),
    ),
    "sync_watermarks": _schema(("name", _S), ("value", _S), ("run_id", _S)),
    # Not a warehouse table: Message/GetSMSStatus rows staged until the merge folds them into `messages`.
    "message_statuses": _schema(
        ("message_id", _I64), ("status", _S), ("status_raw", _S), ("is_final", _B), ("is_unexpected", _B),
        ("segments", _I32), ("send_started_at", _TS), ("status_updated_at", _TS), ("observed_at", _TS),
    ),
}


def to_arrow(frame: pd.DataFrame, table_name: str) -> pa.Table:
    """Cast a frame to its table's arrow schema: exactly the table's columns, in DDL order.

    Raises KeyError for an unknown table or a missing column; extra frame columns are left out.
    """
    schema = ARROW_SCHEMAS[table_name]
    arrays = []
    for field in schema:
        col = frame[field.name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(pd.StringDtype("pyarrow"))
        arr = pa.array(col, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arrays.append(arr.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
