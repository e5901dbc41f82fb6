"""The base tables, defined once: each table's columns (name and Arrow type, in DDL order) and its key.

Everything else is derived from here: the Arrow schemas rows are cast to (`transforms.arrow`), the column order
of the transforms' frames (`transforms.tables.COLUMNS`), the warehouse's DDL (`storage/schema.py`) and the
lake's merge keys (`storage/lake.py`). `docs/design.md` describes each table's grain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(18, 4)
_S, _I64, _I32, _B = pa.string(), pa.int64(), pa.int32(), pa.bool_()

# Columns whose DuckDB type is not the one their Arrow type maps to: they travel as strings and DuckDB casts
# them on insert.
STATUS_ENUM = "message_status"
JSON = "json"


@dataclass(frozen=True)
class Table:
    columns: tuple[tuple[str, pa.DataType], ...]
    key: tuple[str, ...]
    sql_types: dict[str, str] = field(default_factory=dict)  # column -> DuckDB type, where not the Arrow one
    in_warehouse: bool = True  # False: staged only, folded into another table by the merge

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, t) for name, t in self.columns])


TABLES: dict[str, Table] = {
    "campaigns": Table((
        ("campaign_id", _I64), ("campaign_type", _S), ("type_code", _I32), ("name", _S), ("sender", _S),
        ("text", _S), ("common_status", _S), ("moderation_status", _S), ("send_status", _S),
        ("creation_way", _I32), ("is_deleted", _B), ("track_short_link_recipients", _B),
        ("validity_minutes", _I32), ("created_at", TS), ("send_started_at", TS), ("send_ended_at", TS),
        ("deferred_to", TS), ("counters_updated_at", TS), ("total_msg_count", _I64), ("total_seg_count", _I64),
        ("total_cost", MONEY), ("currency", _S), ("observed_at", TS),
    ), key=("campaign_id",)),
    # `status` here is the gateway's counter key as sent: it may hold keys outside the glossary.
    "campaign_counters": Table((
        ("campaign_id", _I64), ("status", _S), ("msg_count", _I64), ("seg_count", _I64), ("cost", MONEY),
        ("observed_at", TS),
    ), key=("campaign_id", "status")),
    "messages": Table((
        ("message_id", _I64), ("campaign_id", _I64), ("sender", _S), ("recipient", _S), ("text", _S),
        ("segments", _I32), ("segment_price", MONEY), ("cost", MONEY), ("status", _S), ("status_raw", _S),
        ("is_final", _B), ("is_unexpected", _B), ("send_started_at", TS), ("status_updated_at", TS),
        ("country_a2", _S), ("operator_name", _S), ("uuid", _S), ("first_observed_at", TS), ("observed_at", TS),
    ), key=("message_id",), sql_types={"status": STATUS_ENUM}),
    "message_status_history": Table((
        ("message_id", _I64), ("campaign_id", _I64), ("status", _S), ("status_raw", _S), ("is_final", _B),
        ("status_updated_at", TS), ("observed_at", TS), ("run_id", _S),
    ), key=("message_id", "status_raw", "status_updated_at"), sql_types={"status": STATUS_ENUM}),
    "links": Table((
        ("link_id", _I64), ("campaign_id", _I64), ("code", _S), ("short_link", _S), ("full_link", _S),
        ("comment", _S), ("status", _I32), ("click_count", _I64), ("redirect_count", _I64), ("observed_at", TS),
    ), key=("link_id",)),
    "link_click_stats": Table((
        ("link_id", _I64), ("period_type", _S), ("period_start", TS), ("period_end", TS), ("click_count", _I64),
        ("redirect_count", _I64), ("observed_at", TS),
    ), key=("link_id", "period_type", "period_start")),
    "sync_runs": Table((
        ("run_id", _S), ("as_of", TS), ("started_at", TS), ("ended_at", TS), ("outcome", _S), ("api_calls", _I64),
        ("summary", _S),
    ), key=("run_id",), sql_types={"summary": JSON}),
    "sync_run_entities": Table((
        ("run_id", _S), ("entity", _S), ("rows_added", _I64), ("rows_changed", _I64), ("unexpected_values", _I64),
    ), key=("run_id", "entity")),
    "sync_watermarks": Table((("name", _S), ("value", _S), ("run_id", _S)), key=("name",)),
    # Not a warehouse table: Message/GetSMSStatus rows, staged until the merge folds them into `messages`.
    "message_statuses": Table((
        ("message_id", _I64), ("status", _S), ("status_raw", _S), ("is_final", _B), ("is_unexpected", _B),
        ("segments", _I32), ("send_started_at", TS), ("status_updated_at", TS), ("observed_at", TS),
    ), key=("message_id",), in_warehouse=False),
}

# A run's outcome as `sync_runs.outcome` records it; the one definition of a successful run.
RUN_SUCCEEDED = "success"
RUN_FAILED = "failed"
