"""Parquet lake: typed tables, merged by key, each partition replaced atomically.

A run first streams its rows into `<data>/staging/<run_id>/<table>/part-*.parquet` (bounded memory: a
writer flushes every `flush_rows`), then `merge_run` upserts the staging rows into `<data>/lake/<table>/`.
Each table has a key; a merge keeps one row per key (the newest by the table's order), so re-running a sync
or syncing overlapping windows never duplicates a row. `messages` and `message_status_history` are
partitioned by the campaign's creation month: a late status change rewrites one month's file, not the
lake. Every file is written under a temporary name and renamed over the old one, so a killed merge leaves
each partition either old or new; the merge is idempotent, so the next run repairs the rest.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from storage.crashpoints import crashpoint
from storage.parts import part_name
from storage.schema import ENUM_DDL, duckdb_type
from transforms import ARROW_SCHEMAS
from transforms.schema import TABLES as SCHEMA


@dataclass(frozen=True)
class TableSpec:
    order: str  # SQL order: the first row per key wins
    compare: tuple[str, ...]  # a row whose compared columns differ counts as changed
    partitioned: bool = False
    keep: tuple[tuple[str, str], ...] = ()  # (column, aggregate) carried across versions of a key
    key: tuple[str, ...] = ()  # the table's key, from its definition in `transforms.schema`

    def dedupe_sql(self, relation: str) -> str:
        """One row per key: the first by `order`, with the `keep` columns aggregated over all versions."""
        key = ", ".join(self.key)
        replace = ""
        if self.keep:
            replace = " replace (" + ", ".join(
                f"{agg}({col}) over (partition by {key}) as {col}" for col, agg in self.keep) + ")"
        return (f"select * from (select *{replace} from ({relation})) "
                f"qualify row_number() over (partition by {key} order by {self.order}) = 1")


_MERGES: dict[str, TableSpec] = {
    "campaigns": TableSpec(
        "observed_at desc",
        ("common_status", "send_status", "moderation_status", "send_started_at", "send_ended_at",
         "counters_updated_at", "total_msg_count", "total_seg_count", "total_cost", "is_deleted"),
    ),
    "campaign_counters": TableSpec("observed_at desc", ("msg_count", "seg_count", "cost")),
    # The latest status: a final one is never replaced by a non-final one, then the latest observation, then
    # the latest stamp. Not the stamp first: around a DST fall-back a later status can carry an earlier wall time.
    "messages": TableSpec(
        "is_final desc nulls last, observed_at desc, status_updated_at desc nulls last",
        ("status_raw", "status_updated_at", "segments", "segment_price"), partitioned=True,
        keep=(("first_observed_at", "min"),),
    ),
    "message_status_history": TableSpec("observed_at asc, run_id asc", (), partitioned=True),
    # Link/List rows carry no campaign: the campaign a link was first seen with (GetLinks) is kept. GetLinks
    # rows carry no status: of one run's two observations, the Link/List one (with status) wins.
    "links": TableSpec("observed_at desc, status nulls last, redirect_count nulls last",
                       ("click_count", "redirect_count", "status"), keep=(("campaign_id", "max"),)),
    "link_click_stats": TableSpec("observed_at desc", ("click_count", "redirect_count")),
    "sync_runs": TableSpec("ended_at desc nulls last", ()),
    "sync_run_entities": TableSpec("rows_added desc", ()),
    "sync_watermarks": TableSpec("run_id desc", ()),
}
TABLES: dict[str, TableSpec] = {name: replace(spec, key=SCHEMA[name].key) for name, spec in _MERGES.items()}

# Merge order: `campaigns` last. The sync treats a campaign missing from the lake as new and reads all of it
# (messages, links); so a run killed before its campaigns are merged is simply read again by the next run.
# `message_status_history` before `messages`, so that no status reaches `messages` without its history row;
# `link_click_stats` before `links`, whose click counts decide which links' stats the next run reads.
MERGE_ORDER = ("campaign_counters", "message_status_history", "messages", "link_click_stats", "links",
               "sync_runs", "sync_run_entities", "sync_watermarks", "campaigns")
assert set(MERGE_ORDER) == set(TABLES)

class StagingWriter:
    """Buffers frames of one table and writes them as Parquet parts of at most `flush_rows` rows."""

    def __init__(self, staging_dir: Path, table: str, flush_rows: int = 100_000):
        self.directory = staging_dir / table
        self.directory.mkdir(parents=True, exist_ok=True)
        self.table = table
        self.flush_rows = flush_rows
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._lock = threading.Lock()
        self.rows = 0

    def append(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        with self._lock:
            self._buffer.append(table)
            self._buffered += table.num_rows
            self.rows += table.num_rows
            if self._buffered >= self.flush_rows:
                self._flush()

    def close(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        data = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        path = self.directory / part_name(".parquet")
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(data, tmp, compression="zstd")
        crashpoint(f"staging.before_rename:{self.table}")
        os.replace(tmp, path)
        crashpoint(f"staging.after_part:{self.table}")


@dataclass
class MergeCounts:
    added: int = 0
    changed: int = 0


# DuckDB's zstd is level 3 unless told: level 1 wrote a backfill's 946,716 messages in 2.2 s against 2.9 s, and
# in a smaller file (39 against 41 MB; bench/README.md, "A sixth look"). pyarrow's writers use level 1 already.
PARQUET_OPTIONS = "format parquet, compression zstd, compression_level 1"


def sql_literal(value) -> str:
    """A SQL string literal (paths and ids go into DuckDB statements that take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def file_identity(path) -> str:
    """What changes whenever a lake file is written again: its size, mtime and inode (a merge replaces a file by
    renaming a new one over it, never writes it in place; the inode tells two writes in one mtime tick apart)."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"


def _parts(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob("*.parquet"))


def _relation_sql(files: list[str], table: str) -> str:
    """SQL for the rows of `files`, or an empty relation with the table's columns."""
    schema = ARROW_SCHEMAS[table]
    if files:
        # Exactly the table's columns: a stray column in a file (a hand-written part, say) cannot leak in.
        return (f"select {', '.join(schema.names)} "
                f"from read_parquet({sql_list(files)}, union_by_name = true, hive_partitioning = false)")
    columns = ", ".join(f"null::{duckdb_type(f.type)} as {f.name}" for f in schema)
    return f"select {columns} where false"


# DuckDB takes 80% of the machine by default; a merge that grows with the account would follow. Capped, it
# spills to a temp folder beside the lake instead, so a sync's memory stays flat as the account grows.
# (`SMSETL_DUCKDB_MEMORY` in the flows' settings.) 256 MB, not 512: a backfill's merge of 946,716 messages took
# 546 MB of RSS under 512 MB and 304 MB under 256 MB, for 8.9 s against 10.9 s (bench/README.md).
DEFAULT_DUCKDB_MEMORY = "256MB"


class Lake:
    """The lake under `<data>/lake`, one folder per table; DuckDB works on it within `memory_limit`."""

    def __init__(self, root: Path, memory_limit: str = DEFAULT_DUCKDB_MEMORY):
        self.root = root
        self.memory_limit = memory_limit

    def duckdb_config(self) -> dict:
        return {"memory_limit": self.memory_limit, "temp_directory": str(self.root.parent / ".duckdb-tmp")}

    def files(self, table: str) -> list[str]:
        return _parts(self.root / table)

    def identity(self, file: str) -> str:
        return file_identity(file)

    def relation_sql(self, table: str) -> str:
        return _relation_sql(self.files(table), table)

    def prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """What `con` needs to read `files()`: nothing for local files (`storage.objectstore` registers S3)."""

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with one view per lake table (empty tables included)."""
        con = duckdb.connect(config=self.duckdb_config())
        self.prepare(con)
        con.execute("set timezone = 'UTC'")
        con.execute(ENUM_DDL)  # the views in sql/ test statuses against the warehouse's ENUM
        for table in TABLES:
            con.execute(f"create or replace view {table} as {self.relation_sql(table)}")
        return con

    def merge_run(self, staging_dir: Path, run_id: str) -> dict[str, MergeCounts]:
        """Upsert every staged table of one run into the lake; returns rows added and changed per table."""
        counts = {}
        con = self.connect()
        try:
            con.execute("set preserve_insertion_order = false")
            # Partitioned tables take their month from the campaign: merged ones, or this run's staged ones.
            con.execute(f"""
                create temp table campaign_months as
                select campaign_id, max(strftime(created_at, '%Y-%m')) as month from (
                    select campaign_id, created_at from campaigns
                    union all select campaign_id, created_at from ({_relation_sql(_parts(staging_dir / "campaigns"),
                                                                                   "campaigns")})
                ) group by campaign_id
            """)
            message_parts = _parts(staging_dir / "messages") + self._status_updates_as_rows(con, staging_dir)
            self._stage_history(con, message_parts, staging_dir, run_id)
            for table in MERGE_ORDER:
                staged = message_parts if table == "messages" else _parts(staging_dir / table)
                if staged:
                    counts[table] = self._upsert(con, table, staged)
                    con.execute(f"create or replace view {table} as {self.relation_sql(table)}")
                    crashpoint(f"merge.after_table:{table}")
        finally:
            con.close()
        return counts

    def _status_updates_as_rows(self, con: duckdb.DuckDBPyConnection, staging_dir: Path) -> list[str]:
        """Turn staged Message/GetSMSStatus rows (status only) into full `messages` rows, as staging parts."""
        updates = _parts(staging_dir / "message_statuses")
        if not updates:
            return []
        target = staging_dir / "messages_from_statuses.parquet"
        con.execute(f"""
            copy (
                with u as (
                    select * from read_parquet({sql_list(updates)})
                    qualify row_number() over (partition by message_id
                        order by is_final desc nulls last, status_updated_at desc nulls last) = 1
                )
                select m.* replace (
                    u.status::varchar as status, u.status_raw as status_raw, u.is_final as is_final,
                    u.is_unexpected as is_unexpected,
                    coalesce(u.status_updated_at, m.status_updated_at) as status_updated_at,
                    coalesce(u.send_started_at, m.send_started_at) as send_started_at,
                    coalesce(u.segments, m.segments) as segments,
                    coalesce(u.segments, m.segments) * m.segment_price as cost,
                    u.observed_at as observed_at)
                from messages m join u using (message_id)
            ) to {sql_literal(target)} ({PARQUET_OPTIONS})
        """)
        return [str(target)]

    def _stage_history(self, con, message_parts: list[str], staging_dir: Path, run_id: str) -> None:
        """Every status this run observed (before de-duplication) becomes a `message_status_history` row.

        A status without a timestamp (a message not yet sent) has no place in a timeline and is skipped."""
        if not message_parts:
            return
        target = staging_dir / "message_status_history" / "from_messages.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(f.name for f in ARROW_SCHEMAS["message_status_history"] if f.name != "run_id")
        con.execute(f"""
            copy (
                select distinct {columns}, {sql_literal(run_id)} as run_id
                from ({_relation_sql(message_parts, "messages")})
                where status_raw is not null and status_updated_at is not null
            ) to {sql_literal(target)} ({PARQUET_OPTIONS})
        """)

    def _upsert(self, con: duckdb.DuckDBPyConnection, table: str, staged: list[str]) -> MergeCounts:
        spec = TABLES[table]
        deduped = _relation_sql(staged, table)
        if _repeats_a_key(con, deduped, spec):
            deduped = spec.dedupe_sql(deduped)
        if spec.partitioned:
            deduped = f"""
                select i.*, coalesce(c.month, 'unknown') as month
                from ({deduped}) i left join campaign_months c using (campaign_id)
            """
        con.execute(f"create or replace temp table incoming as {deduped}")
        counts = self._count_changes(con, table, spec)
        if not spec.partitioned:
            directory = self.root / table
            self._write_merged(con, table, spec, _parts(directory), directory / "data.parquet")
            return counts
        keys = ", ".join(spec.key)
        months = {m for (m,) in con.execute("select distinct month from incoming").fetchall()}
        if files := self.files(table):
            # A key whose month changed (its campaign was unknown, say) must leave its old partition too.
            months |= {m for (m,) in con.execute(f"""
                select distinct e.month
                from read_parquet({sql_list(files)}, hive_partitioning = true, hive_types_autocast = false) e
                join incoming i using ({keys}) where e.month <> i.month
            """).fetchall()}
        for month in sorted(months):
            directory = self.root / table / f"month={month}"
            self._write_merged(con, table, spec, _parts(directory), directory / "data.parquet",
                               incoming_filter=f"where month = {sql_literal(month)}",
                               moved_out=f"select {keys} from incoming where month <> {sql_literal(month)}")
        return counts

    def _count_changes(self, con, table: str, spec: TableSpec) -> MergeCounts:
        join = " and ".join(f"i.{k} = e.{k}" for k in spec.key)
        differs = " or ".join(f"i.{c} is distinct from e.{c}" for c in spec.compare) or "false"
        added, changed = con.execute(f"""
            select count(*) filter (where e.{spec.key[0]} is null),
                   count(*) filter (where e.{spec.key[0]} is not null and ({differs}))
            from incoming i left join {table} e on {join}
        """).fetchone()
        return MergeCounts(added, changed)

    def _write_merged(self, con, table: str, spec: TableSpec, existing: list[str], target: Path,
                      incoming_filter: str = "", moved_out: str | None = None) -> None:
        """Rewrite one file: its existing rows (less the keys `moved_out` of it) and its incoming rows."""
        columns = ", ".join(f.name for f in ARROW_SCHEMAS[table])
        rows = f"select {columns} from incoming {incoming_filter}"  # one row per key already
        # A rewritten file is sorted by key, so that a merge that changes none of its rows writes the same bytes
        # (and the object store uploads nothing: `storage.objectstore`). A new file is written in no particular
        # order: a backfill's 946,716 messages, sorted under the memory cap, spilled to disk, 5.9 s of writing
        # against 2.4 (bench/README.md).
        order = ""
        if existing:
            order = f"order by {', '.join(spec.key)}"
            old = _relation_sql(existing, table)
            if moved_out:
                old = f"select * from ({old}) anti join ({moved_out}) using ({', '.join(spec.key)})"
            rows = spec.dedupe_sql(f"select {columns} from ({old}) union all by name {rows}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        con.execute(f"""
            copy (select {columns} from ({rows}) {order})
            to {sql_literal(tmp)} ({PARQUET_OPTIONS})
        """)
        crashpoint(f"lake.before_rename:{table}")
        os.replace(tmp, target)


def _repeats_a_key(con: duckdb.DuckDBPyConnection, relation: str, spec: TableSpec) -> bool:
    """Whether any key occurs more than once in `relation`. A run's staging mostly holds each key once (a
    backfill's always), and the window of `dedupe_sql` sorts every row: at 946,716 messages this check took
    0.1 s, and staging `incoming` without the window 0.4 s against 1.8 s with it (bench/README.md). Keys with
    a null part are grouped as the window groups them."""
    return con.execute(f"select exists (select 1 from ({relation}) group by {', '.join(spec.key)} "
                       f"having count(*) > 1)").fetchone()[0]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
