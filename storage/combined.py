"""The combined warehouse of a multi-account data directory: every account's tables and views in one file, each
row with its `account`.

Layout of `<data dir>/warehouse.duckdb` (a multi-account data directory keeps each account's own data directory
under `accounts/<name>/`):
- one schema per account (`"acme"`), holding a copy of that account's published warehouse's base tables and the
  views of `sql/` over them: a view binds the tables of its own schema, so each account's metrics are computed
  from its rows alone, exactly as in its own warehouse (ids of two accounts may collide: nothing joins across);
- in `main`, every base table and view again as a view `select 'acme' as account, * from "acme".<name> union
  all ...`, so `select account, sum(delivered) from campaign_metrics group by 1` reads all accounts at once;
- `accounts`: one row per account, with the outcome of this run's sync of it (`success`, or `failed` and its
  error, as in `sync_runs`) and the `as_of` of the data it holds (its last successful run's).

Copies, not views over the accounts' files: the combined file is self-contained, a reader needs nothing
attached, and it is built beside the published one and renamed over it, like an account's warehouse
(`storage.warehouse`), so a reader never sees half of it and an account's sync can swap its own file meanwhile.
An account without a warehouse (its first sync failed) has an `accounts` row and no data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from storage import schema
from storage.lake import DEFAULT_DUCKDB_MEMORY, sql_literal
from storage.views import apply_views
from storage.warehouse import MATERIALIZED, WAREHOUSE_FILE, aggregate_by_campaigns
from transforms.schema import RUN_SUCCEEDED

ACCOUNTS_DIR = "accounts"
ACCOUNTS_TABLE = "accounts"
RESERVED_NAMES = ("main", "temp", "system", "information_schema", "pg_catalog", "account_source")  # DuckDB's


@dataclass(frozen=True)
class AccountState:
    """What the combined warehouse says of one account: its name, zone, URL (never its key) and last outcome."""

    name: str
    api_url: str
    timezone: str
    outcome: str  # as in sync_runs: success | failed
    error: str = ""


def account_dir(data_dir: Path, name: str) -> Path:
    """The data directory of account `name` inside a multi-account data directory."""
    return data_dir / ACCOUNTS_DIR / name


def account_lake_url(lake_url: str, name: str) -> str:
    """Where account `name` of a multi-account sync publishes its lake, under the command's `SMS_LAKE_URL`."""
    return f"{lake_url.rstrip('/')}/{ACCOUNTS_DIR}/{name}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build(data_dir: Path, accounts: list[AccountState], memory_limit: str = DEFAULT_DUCKDB_MEMORY) -> Path:
    """Build `<data_dir>/warehouse.duckdb` from the accounts' published warehouses and publish it atomically."""
    target = data_dir / WAREHOUSE_FILE
    building = data_dir / (WAREHOUSE_FILE + ".building")
    for leftover in (building, Path(str(building) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(building), config={"memory_limit": memory_limit})
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(f"create table {ACCOUNTS_TABLE} (account varchar primary key, api_url varchar, timezone varchar,"
                    " outcome varchar, error varchar, as_of timestamptz, has_data boolean)")
        names: list[str] = []  # the relations every account schema holds, in creation order
        held = []
        for account in accounts:
            source = account_dir(data_dir, account.name) / WAREHOUSE_FILE
            as_of = None
            if source.exists():
                names = _copy_account(con, account.name, source)
                as_of = con.execute(f"select max(as_of) from {_ident(account.name)}.sync_runs "
                                    "where outcome = ?", [RUN_SUCCEEDED]).fetchone()[0]
                held.append(account.name)
            con.execute(f"insert into {ACCOUNTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
                        [account.name, account.api_url, account.timezone, account.outcome, account.error or None,
                         as_of, source.exists()])
        con.execute("use main")
        for name in names if held else []:
            union = " union all by name ".join(
                f"select {sql_literal(a)} as account, * from {_ident(a)}.{name}" for a in held)
            con.execute(f"create view main.{name} as {union}")
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(building, target)
    return target


def _copy_account(con, name: str, source: Path) -> list[str]:
    """Copy one account's base tables into schema `name` and create the views of `sql/` there; return the names
    of its tables and views, in order."""
    con.execute(f"attach {sql_literal(str(source))} as account_source (read_only)")
    try:
        con.execute(f"create schema {_ident(name)}")
        con.execute(f"use {_ident(name)}")
        # Without key indexes, as in an account's warehouse (storage.warehouse): its build checked the keys.
        schema.create_tables(con, primary_keys=False)
        for table in schema.WAREHOUSE_TABLES:
            columns = ", ".join(row[0] for row in con.execute(f"describe {table}").fetchall())
            con.execute(f"insert into {table} ({columns}) select {columns} from account_source.main.{table}")
        views = apply_views(con, materialize=MATERIALIZED, fill=aggregate_by_campaigns)  # as storage.warehouse
    finally:
        con.execute("use main")  # detaching the database in use is refused
        con.execute("detach account_source")
    return list(schema.WAREHOUSE_TABLES) + views


def is_combined(data_dir: Path) -> list[str] | None:
    """The accounts a combined warehouse in `data_dir` holds, or None when it is an account's own (or absent)."""
    path = data_dir / WAREHOUSE_FILE
    if not path.exists():
        return None
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach {sql_literal(str(path))} as warehouse (read_only)")
        found = con.execute("select count(*) from duckdb_tables() where database_name = 'warehouse' and "
                            "schema_name = 'main' and table_name = ?", [ACCOUNTS_TABLE]).fetchone()[0]
        if not found:
            return None
        return [r[0] for r in con.execute(f"select account from warehouse.main.{ACCOUNTS_TABLE} order by 1").fetchall()]
    finally:
        con.close()

