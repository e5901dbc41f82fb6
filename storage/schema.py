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


def table_ddl(name: str) -> str:
    """`create table` for one base table: its columns in order, then its primary key."""
    table = TABLES[name]
    columns = [f"{col} {table.sql_types.get(col) or duckdb_type(t)}" for col, t in table.columns]
    columns.append(f"primary key ({', '.join(table.key)})")
    return f"create table {name} ({', '.join(columns)})"


WAREHOUSE_TABLES = [name for name, table in TABLES.items() if table.in_warehouse]


def create_tables(con) -> None:
    """Create the enum and every base table, empty, on a DuckDB connection."""
    con.execute(ENUM_DDL)
    for name in WAREHOUSE_TABLES:
        con.execute(table_ddl(name))
