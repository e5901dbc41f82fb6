"""The DuckDB warehouse: a file rebuilt from the lake and swapped in atomically.

Why a rebuilt file and not one database written in place: DuckDB lets one process write a file, and a
writer excludes readers in other processes. An analyst's notebook holding the warehouse open would then make
a scheduled sync fail, or the sync would lock the notebook out. Instead each sync builds
`warehouse.duckdb.building` from the lake, checkpoints it, and renames it over `warehouse.duckdb`. A reader
that has the old file open keeps reading that snapshot (the old inode lives until it closes); the next
connection sees the new run, whole. Readers never see half a run.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from storage import schema
from storage.crashpoints import crashpoint
from storage.lake import TABLES, Lake, sql_list, sql_literal
from storage.views import apply_views

WAREHOUSE_FILE = "warehouse.duckdb"

# The per-campaign aggregates of every message (counts per status, latency quantiles), stored as tables when the
# warehouse is built: the file never changes once published, so a table holds what the view would compute, and
# `campaign_metrics`, `reconciliation` and `delivery_latency` then read 2,000 rows instead of aggregating
# 10,000,000 messages per query (the quantiles alone cost about a CPU-second there).
MATERIALIZED = ("int_campaign_status_counts", "int_campaign_latency")


def build(lake: Lake, data_dir: Path) -> Path:
    """Build the warehouse from the lake (the local one, or `storage.objectstore.PublishedLake`), apply the
    views, and publish it atomically. Returns its path."""
    target = data_dir / WAREHOUSE_FILE
    building = data_dir / (WAREHOUSE_FILE + ".building")
    for leftover in (building, Path(str(building) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(building), config=lake.duckdb_config())
    try:
        con.execute("set timezone = 'UTC'")
        lake.prepare(con)
        # No primary key indexes: at 10,000,000 messages they outgrow DuckDB's memory cap (an index is held in
        # memory whole) and the build fails; the keys are checked after the inserts, by aggregates that spill.
        schema.create_tables(con, primary_keys=False)
        # Rows in any order: a table's order means nothing to its readers (every view sorts what it shows), and
        # kept, it made the inserts of 946,716 messages take 3.5 s instead of 2.0 (bench/README.md).
        con.execute("set preserve_insertion_order = false")
        for table in TABLES:
            files = lake.files(table)
            if files:
                columns = ", ".join(row[0] for row in con.execute(f"describe {table}").fetchall())
                con.execute(f"insert into {table} ({columns}) select {columns} from read_parquet({sql_list(files)})")
        schema.check_keys(con)
        # One thread for the views: a quantile's state (every value of a campaign) cannot spill, and at
        # 10,000,000 messages two threads' partial states outgrow a 256 MB cap where one thread's fit.
        con.execute("set threads = 1")
        apply_views(con, materialize=MATERIALIZED)
        con.execute("checkpoint")
    finally:
        con.close()
    crashpoint("warehouse.before_replace")
    os.replace(building, target)
    crashpoint("warehouse.after_replace")
    return target


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, with a message that names the fix if absent.

    The file is attached to a private in-memory database, not opened by `duckdb.connect(path)`: DuckDB keeps
    one open database per path in a process, so while any connection of this process (a notebook's, say)
    still holds the file a sync replaced, `duckdb.connect(path)` would hand back that old snapshot."""
    path = data_dir / WAREHOUSE_FILE
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `smsetl sync` (or `smsetl demo`) first")
    con = duckdb.connect(":memory:")
    con.execute(f"attach {sql_literal(str(path))} as warehouse (read_only)")
    con.execute("use warehouse")
    con.execute("set timezone = 'UTC'")
    return con
