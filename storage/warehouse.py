"""The DuckDB warehouse: a file built from the lake and swapped in atomically.

Why a built file and not one database written in place: DuckDB lets one process write a file, and a writer
excludes readers in other processes. An analyst's notebook holding the warehouse open would then make a
scheduled sync fail, or the sync would lock the notebook out. Instead each sync builds
`warehouse.duckdb.building`, checkpoints it, and renames it over `warehouse.duckdb`. A reader that has the old
file open keeps reading that snapshot (the old inode lives until it closes); the next connection sees the new
run, whole. Readers never see half a run.

Two ways to build it:
- **patched** (the usual incremental sync): a copy of the published file, in which only what the lake changed
  since it was built is read again. The file records what it was built from (schema `smsetl_build`: each lake
  file's identity, and for `messages` and `message_status_history` the campaigns each partition holds). The
  campaigns of a rewritten partition are deleted and re-read from every partition holding them, and the
  materialized aggregates are computed again for those campaigns (and for any campaign whose own row
  changed); a small table whose file changed is read again whole. The work follows what the run changed, not
  the whole history, but for copying the file.
- **whole**: every table read from the lake, the views applied. Taken when there is no published file, when
  it was built by other table or view definitions (or another DuckDB), when the partitions to re-read hold more
  than `PATCH_AT_MOST` of the rows (DuckDB's deletes cost more than reading afresh, bench/README.md), when half
  the file is free blocks left by deletes, and when asked (`smsetl rebuild`: a file that held recipients in a
  weaker `SMS_PII` mode must not carry their bytes over in its free blocks).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from storage import schema
from storage.crashpoints import crashpoint
from storage.lake import TABLES, Lake, sql_list, sql_literal
from storage.views import apply_views, fingerprint_text, view_sql

log = logging.getLogger(__name__)

WAREHOUSE_FILE = "warehouse.duckdb"

# The per-campaign aggregates of every message (counts per status, latency quantiles), stored as tables when the
# warehouse is built: the file never changes once published, so a table holds what the view would compute, and
# `campaign_metrics`, `reconciliation` and `delivery_latency` then read 2,000 rows instead of aggregating
# 10,000,000 messages per query (the quantiles alone cost about a CPU-second there). Both are grouped by
# `campaign_id`, which is what lets a patch compute them again for some campaigns only.
MATERIALIZED = ("int_campaign_status_counts", "int_campaign_latency")

BUILD_SCHEMA = "smsetl_build"  # what the file was built from; outside `main`, so analysts' listings omit it
BUILD_FORMAT = 1  # raise it when what a build writes changes in a way the fingerprint's inputs do not show
# Above this share of the partitioned tables' rows, a whole build is faster than a patch: at 946,716 messages
# (four months), patching the latest month (3 % of the rows) took 0.29 s against 1.7 s for the whole build, and
# the two latest months (64 %) 2.4 s (bench/README.md, "`warehouse_patch.py`").
PATCH_AT_MOST = 0.25
AGGREGATE_BATCH = 1_000_000  # messages aggregated at once (`aggregate_by_campaigns`)


@dataclass(frozen=True)
class Built:
    path: Path
    patched: bool
    reason: str  # why the whole warehouse was built, or what the patch read again


@dataclass(frozen=True)
class _Source:
    """One lake file as the warehouse recorded it; rows and campaigns for partitioned tables only."""

    identity: str
    rows: int = 0
    campaign_ids: frozenset[int] = frozenset()
    null_campaign: bool = False  # holds rows without a campaign id


@dataclass
class _Patch:
    sources: dict[str, dict[str, _Source]]  # per table, the lake's files now
    replaced: list[str] = field(default_factory=list)  # small tables read again whole
    reread: dict[str, list[str]] = field(default_factory=dict)  # partitioned table -> files read for `reloaded`
    reloaded: set[int] = field(default_factory=set)  # campaigns whose messages and history are read again
    reaggregated: set[int] = field(default_factory=set)  # campaigns whose aggregates are computed again
    null_campaign: bool = False  # rows without a campaign id are among the reloaded


def fingerprint() -> str:
    """What a patch must share with the build it patches: the base tables, the views, DuckDB's version."""
    text = "\n".join([f"format {BUILD_FORMAT}", f"duckdb {duckdb.__version__}", schema.ENUM_DDL,
                      *(schema.table_ddl(name, primary_key=False) for name in schema.WAREHOUSE_TABLES),
                      "materialized " + ", ".join(MATERIALIZED), fingerprint_text()])
    return hashlib.sha256(text.encode()).hexdigest()


def build(lake: Lake, data_dir: Path, whole: bool = False) -> Built:
    """Build the warehouse from the lake (the local one, or `storage.objectstore.PublishedLake`), patched or
    whole (see the module docstring; `whole` forces the latter), and publish it atomically."""
    target = data_dir / WAREHOUSE_FILE
    building = data_dir / (WAREHOUSE_FILE + ".building")
    for leftover in (building, Path(str(building) + ".wal")):
        leftover.unlink(missing_ok=True)
    current = {table: {f: lake.identity(f) for f in lake.files(table)} for table in TABLES}
    built_with = fingerprint()
    patch, reason = (None, "asked for a whole build") if whole else _plan(lake, target, current, built_with)
    if patch is not None:
        shutil.copyfile(target, building)
    con = duckdb.connect(str(building), config=lake.duckdb_config())
    try:
        con.execute("set timezone = 'UTC'")
        lake.prepare(con)
        # Rows in any order: a table's order means nothing to its readers (every view sorts what it shows), and
        # kept, it made the inserts of 946,716 messages take 3.5 s instead of 2.0 (bench/README.md).
        con.execute("set preserve_insertion_order = false")
        if patch is None:
            sources = _build_whole(con, current)
        else:
            _apply(con, patch)
            sources = patch.sources
        _record(con, sources, built_with)
        con.execute("checkpoint")
    finally:
        con.close()
    crashpoint("warehouse.before_replace")
    os.replace(building, target)
    crashpoint("warehouse.after_replace")
    log.info("warehouse %s: %s", "patched" if patch is not None else "built whole", reason)
    return Built(target, patch is not None, reason)


def _build_whole(con, current: dict[str, dict[str, str]]) -> dict[str, dict[str, _Source]]:
    # No primary key indexes: at 10,000,000 messages they outgrow DuckDB's memory cap (an index is held in
    # memory whole) and the build fails; the keys are checked after the inserts, by aggregates that spill.
    schema.create_tables(con, primary_keys=False)
    for table, files in current.items():
        if files:
            _insert(con, table, list(files))
    schema.check_keys(con)
    apply_views(con, materialize=MATERIALIZED, fill=aggregate_by_campaigns)
    return {table: _partitions(con, files) if TABLES[table].partitioned
            else {f: _Source(identity) for f, identity in files.items()} for table, files in current.items()}


def _insert(con, table: str, files: list[str], where: str = "") -> None:
    columns = ", ".join(row[0] for row in con.execute(f"describe {table}").fetchall())
    con.execute(f"insert into {table} ({columns}) select {columns} from read_parquet({sql_list(files)}) {where}")


def _partitions(con, files: dict[str, str]) -> dict[str, _Source]:
    """The rows and campaigns of partition files (their `campaign_id` column is all that is read)."""
    if not files:
        return {}
    found = {name: (rows, ids, nulls) for name, rows, ids, nulls in con.execute(f"""
        select filename, count(*), list(distinct campaign_id) filter (where campaign_id is not null),
               bool_or(campaign_id is null)
        from read_parquet({sql_list(files)}, filename = true) group by filename
    """).fetchall()}
    sources = {}
    for f, identity in files.items():
        rows, ids, nulls = found.get(f, (0, [], False))  # a file of no rows has no group
        sources[f] = _Source(identity, rows, frozenset(ids or ()), bool(nulls))
    return sources


def _plan(lake: Lake, target: Path, current: dict[str, dict[str, str]],
          built_with: str) -> tuple[_Patch | None, str]:
    """What a patch of the published warehouse would read again, or None and why the whole build is needed."""
    if not target.exists():
        return None, "no warehouse yet"
    con = duckdb.connect(config=lake.duckdb_config())
    try:
        lake.prepare(con)
        con.execute(f"attach {sql_literal(str(target))} as published (read_only)")
        recorded_tables = {name for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'published' and schema_name = ?",
            [BUILD_SCHEMA]).fetchall()}
        if recorded_tables != {"build", "sources"}:
            return None, "the published warehouse records nothing of its build (an older smsetl built it)"
        (published_with,) = con.execute(f"select fingerprint from published.{BUILD_SCHEMA}.build").fetchone()
        if published_with != built_with:
            return None, "the tables or views (or DuckDB's version) changed since the published warehouse was built"
        free, used = con.execute("select free_blocks, used_blocks from pragma_database_size() "
                                 "where database_name = 'published'").fetchone()
        if free > used:
            return None, f"{free} of the published file's {free + used} blocks are free space left by patches"
        recorded: dict[str, dict[str, _Source]] = {}
        for table, f, identity, rows, ids, nulls in con.execute(
                f"select * from published.{BUILD_SCHEMA}.sources").fetchall():
            recorded.setdefault(table, {})[f] = _Source(identity, rows, frozenset(ids or ()), bool(nulls))

        patch = _Patch(sources={})
        rewritten: dict[str, set[str]] = {}
        for table, files in current.items():
            before = recorded.get(table, {})
            changed = {f for f, identity in files.items() if f not in before or before[f].identity != identity}
            gone = set(before) - set(files)
            if not TABLES[table].partitioned:
                patch.sources[table] = {f: _Source(identity) for f, identity in files.items()}
                if changed or gone:
                    patch.replaced.append(table)
                continue
            now = _partitions(con, {f: files[f] for f in changed})
            patch.sources[table] = {f: now.get(f) or before[f] for f in files}
            for source in [*now.values(), *(before[f] for f in (changed | gone) & set(before))]:
                patch.reloaded |= source.campaign_ids
                patch.null_campaign |= source.null_campaign
            rewritten[table] = changed

        # A campaign's messages may lie in two partitions (some in `month=unknown` until its campaign row came):
        # every partition holding a reloaded campaign is read, for that campaign's rows only.
        rows_read = rows_all = 0
        for table, files in rewritten.items():
            patch.reread[table] = sorted(
                f for f, source in patch.sources[table].items()
                if f in files or source.campaign_ids & patch.reloaded or (patch.null_campaign and source.null_campaign))
            rows_read += sum(patch.sources[table][f].rows for f in patch.reread[table])
            rows_all += sum(source.rows for source in patch.sources[table].values())
        if rows_read > PATCH_AT_MOST * rows_all:
            return None, (f"the partitions to read again hold {rows_read:,} of {rows_all:,} rows, more than "
                          f"{PATCH_AT_MOST:.0%}")
        patch.reaggregated = patch.reloaded | (_changed_campaigns(con, lake) if "campaigns" in patch.replaced
                                               else set())
        return patch, (f"{len(patch.reloaded):,} campaigns' messages read again ({rows_read:,} of {rows_all:,} "
                       f"partitioned rows' files), {len(patch.replaced)} small tables read whole")
    finally:
        con.close()


def _changed_campaigns(con, lake: Lake) -> set[int]:
    """The campaigns whose row differs between the published warehouse and the lake (either way)."""
    columns = ", ".join(row[0] for row in con.execute("describe published.campaigns").fetchall())
    lake_rows = f"select {columns} from ({lake.relation_sql('campaigns')})"
    published = f"select {columns} from published.campaigns"
    return {cid for (cid,) in con.execute(f"""
        select campaign_id from (({lake_rows} except all {published}) union all ({published} except all {lake_rows}))
    """).fetchall()}


def _campaigns_in(temp_table: str, null_campaign: bool) -> str:
    among = f"campaign_id in (select campaign_id from {temp_table})"
    return f"({among} or campaign_id is null)" if null_campaign else among


def _apply(con, patch: _Patch) -> None:
    """Patch the copied warehouse on `con` as `patch` says, keys checked, aggregates computed again."""
    for name, ids in (("reloaded", patch.reloaded), ("reaggregated", patch.reaggregated)):
        con.execute(f"create temp table {name} as select unnest(?::bigint[]) as campaign_id", [sorted(ids)])
    for table in patch.replaced:
        con.execute(f"delete from {table}")
        if files := list(patch.sources[table]):
            _insert(con, table, files)
    schema.check_keys(con, patch.replaced)
    if not (patch.reaggregated or patch.null_campaign):  # (the reloaded campaigns are among the reaggregated)
        return
    reloaded = _campaigns_in("reloaded", patch.null_campaign)
    for table, files in patch.reread.items():
        con.execute(f"delete from {table} where {reloaded}")
        if files:
            _insert(con, table, files, f"where {reloaded}")
    schema.check_keys(con, list(patch.reread), among=reloaded)
    reaggregated = _campaigns_in("reaggregated", patch.null_campaign)
    for name in MATERIALIZED:
        con.execute(f"delete from {name} where {reaggregated}")
        aggregate_by_campaigns(con, name, view_sql(name), among=reaggregated)


def aggregate_by_campaigns(con, name: str, select: str, among: str = "") -> None:
    """Insert the rows of `select` (a view grouped by `campaign_id`) into table `name`, the campaigns of at most
    `AGGREGATE_BATCH` messages at a time; `among`: a filter on the campaigns to aggregate.

    A quantile's state (every value of its campaign) cannot spill to disk, so aggregating every campaign at once
    needs memory in proportion to the whole history: at 10,000,000 messages in 5,000 campaigns it failed under
    the 256 MB cap even on one thread, and took 1.7 s in batches of 1,000,000 (bench/README.md)."""
    where = f"where {among}" if among else ""
    counts = con.execute(f"select campaign_id, count(*) from messages {where} group by 1 order by 1").fetchall()
    batches: list[list[int]] = []  # [first, last] campaign id; a campaign above the batch size goes alone
    size = 0
    for campaign_id, messages in counts:
        if campaign_id is None:
            continue
        if not batches or size + messages > AGGREGATE_BATCH:
            batches.append([campaign_id, campaign_id])
            size = 0
        batches[-1][1] = campaign_id
        size += messages
    also = f" and {among}" if among else ""
    for first, last in batches:
        con.execute(f"insert into {name} select * from ({select}) where campaign_id between {first} and {last}{also}")
    if any(campaign_id is None for campaign_id, _ in counts):
        con.execute(f"insert into {name} select * from ({select}) where campaign_id is null")


def _record(con, sources: dict[str, dict[str, _Source]], built_with: str) -> None:
    con.execute(f"create schema if not exists {BUILD_SCHEMA}")
    con.execute(f"create or replace table {BUILD_SCHEMA}.build as select ? as fingerprint", [built_with])
    con.execute(f"create or replace table {BUILD_SCHEMA}.sources (table_name varchar, file varchar, "
                "identity varchar, row_count bigint, campaign_ids bigint[], null_campaign boolean)")
    rows = [[table, f, s.identity, s.rows, sorted(s.campaign_ids), s.null_campaign]
            for table, files in sources.items() for f, s in files.items()]
    if rows:
        con.executemany(f"insert into {BUILD_SCHEMA}.sources values (?, ?, ?, ?, ?, ?)", rows)


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
