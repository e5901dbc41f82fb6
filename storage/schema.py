"""The warehouse's base tables as DuckDB DDL, derived from their one definition in `transforms.schema`.

`docs/design.md` describes each table's grain. Views in `sql/` build on these tables only.
"""

from __future__ import annotations

import pyarrow as pa

from transforms import MESSAGE_STATUSES
from transforms.schema import STATUS_ENUM, TABLES

ENUM_DDL = f"create type {STATUS_ENUM} as enum (" + ", ".join(f"'{s}'" for s in MESSAGE_STATUSES) + ")"


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB column type of an Arrow type of the base tables."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision}, {arrow_type.scale})"
    names = {pa.int64(): "bigint", pa.int32(): "integer", pa.string(): "varchar", pa.bool_(): "boolean"}
    if arrow_type not in names:
        raise TypeError(f"no DuckDB type for Arrow type {arrow_type}: add it to storage.schema.duckdb_type")
    return names[arrow_type]


def table_ddl(name: str, primary_key: bool = True) -> str:
    """`create table` for one base table: its columns in order, then its primary key (unless told not to)."""
    table = TABLES[name]
    columns = [f"{col} {table.sql_types.get(col) or duckdb_type(t)}" for col, t in table.columns]
    if primary_key:
        columns.append(f"primary key ({', '.join(table.key)})")
    return f"create table {name} ({', '.join(columns)})"


WAREHOUSE_TABLES = [name for name, table in TABLES.items() if table.in_warehouse]


def create_tables(con, primary_keys: bool = True) -> None:
    """Create the enum and every base table, empty, on a DuckDB connection."""
    con.execute(ENUM_DDL)
    for name in WAREHOUSE_TABLES:
        con.execute(table_ddl(name, primary_keys))


def check_keys(con, tables=WAREHOUSE_TABLES, among: str = "") -> None:
    """Raise if any of `tables` holds two rows of one key: what a primary key would refuse, checked by an
    aggregate (which spills to disk under DuckDB's memory cap) instead of an index (which must fit in it).
    `among`: a filter on the rows a patch inserted; only their keys are checked (against the whole table)."""
    for name in tables:
        key = ", ".join(TABLES[name].key)
        any_null = " or ".join(f"{k} is null" for k in TABLES[name].key)
        (nulls,) = con.execute(f"select count(*) from {name} where "
                               + (f"({among}) and ({any_null})" if among else any_null)).fetchone()
        if nulls:
            raise ValueError(f"warehouse table {name} holds {nulls} rows with a NULL in its key ({key}): the lake "
                             "under it is inconsistent; run `smsetl rebuild` to rebuild lake and warehouse from raw")
        rows = f"{name} semi join (select {key} from {name} where {among}) using ({key})" if among else name
        duplicate = con.execute(f"select {key}, count(*) from {rows} group by {key} having count(*) > 1 "
                                "limit 1").fetchone()
        if duplicate is not None:
            raise ValueError(f"warehouse table {name} holds {duplicate[-1]} rows of key ({key}) = "
                             f"{duplicate[:-1]}: the lake under it is inconsistent; run `smsetl rebuild` "
                             "to rebuild lake and warehouse from raw")
