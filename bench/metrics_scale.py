"""Metric views at scale: a warehouse of 10,000,000 messages built without the API, then its views timed.

    .venv/bin/python bench/metrics_scale.py [--messages 10000000] [--campaigns 2000] [--repeat 5]

The base tables are generated straight into a lake folder with DuckDB SQL, at the columns and types of
`transforms/schema.py` (each table's Parquet is cast to its Arrow schema), with plausible distributions:
campaigns of very different sizes, most messages delivered and the rest spread over every other status (a few
still pending, a few unknown), delivery latencies of seconds to hours, a status history row per status
reached, short links on most campaigns with hourly, daily and monthly click buckets. Then the warehouse is
built by the pipeline's own code (`storage.warehouse.build`: the tables, their keys checked, the views of
`sql/`, the per-campaign aggregates materialized) under the sync's DuckDB memory cap (`--memory`), and each
top-level view is timed with `SELECT * FROM <view>` (`--repeat` times: median, min and CPU seconds), in a fresh
read-only connection (`storage.warehouse.connect`), as `smsetl metrics` and the notebooks read it.

Prints a table and writes the figures to `bench/results/metrics-<timestamp>.json`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# The views a user reads (README's metric views); `int_*` and `stg_*` are timed through them.
VIEWS = ("campaign_metrics", "campaign_daily_metrics", "delivery_latency", "sender_metrics", "operator_metrics",
         "link_metrics", "reconciliation")

AS_OF = "2026-11-01 06:00:00+00"  # the clock of the one successful sync run; campaigns span the year before
STATUSES = "['NEW','ENQUEUD','ACCEPTD','PDLIVRD','DELIVRD','UNDELIV','REJECTD','EXPIRED','DELETED','UNKNOWN']"
FINAL = "('DELIVRD','UNDELIV','REJECTD','EXPIRED','DELETED')"

# One SELECT per base table, over the `params` macro values. `h(x)` is a deterministic hash in [0, 1), so a
# seed gives the same warehouse every time (no random() in a parallel plan).
GENERATORS = {
    "campaigns": """
        select c as campaign_id,
               (['mass','mass','mass','template','single','functional'])[1 + c % 6] as campaign_type,
               1 + c % 4 as type_code, 'campaign ' || c as name, 'SENDER' || (c % 40) as sender,
               'Hello from campaign ' || c as text, 'DONE' as common_status, 'ACCEPT' as moderation_status,
               case when c % 50 = 0 then 'SENDING' else 'DONE' end as send_status, 1 as creation_way,
               c % 97 = 0 as is_deleted, c % 3 = 0 as track_short_link_recipients, 1440 as validity_minutes,
               created as created_at, created + interval 5 minute as send_started_at,
               created + interval 2 hour as send_ended_at,
               null::timestamptz as deferred_to, created + interval 3 hour as counters_updated_at,
               null::bigint as total_msg_count, null::bigint as total_seg_count, null::decimal(18,4) as total_cost,
               'KZT' as currency, timestamptz '{as_of}' as observed_at
        from (select c, timestamptz '{as_of}' - to_seconds(cast(h(c * 7 + 1) * 365 * 86400 as bigint)) as created
              from range(1, {campaigns} + 1) t(c))
    """,
    # Campaign sizes vary by three orders of magnitude: message i goes to campaign 1 + floor(n * u^3).
    "messages": """
        with m as (
            select i as message_id,
                   1 + cast(floor({campaigns} * pow(h(i * 3 + 11), 3)) as bigint) as campaign_id,
                   h(i * 5 + 13) as u_status, h(i * 7 + 17) as u_latency, h(i * 11 + 19) as u_segments
            from range(1, {messages} + 1) t(i)
        ), s as (
            select m.*, c.send_started_at as campaign_start,
                   case when u_status < 0.86 then 'DELIVRD' when u_status < 0.91 then 'UNDELIV'
                        when u_status < 0.94 then 'EXPIRED' when u_status < 0.95 then 'REJECTD'
                        when u_status < 0.955 then 'DELETED' when u_status < 0.97 then 'PDLIVRD'
                        when u_status < 0.985 then 'ACCEPTD' when u_status < 0.99 then 'ENQUEUD'
                        when u_status < 0.995 then 'NEW' else 'UNKNOWN' end as status
            from m join campaigns c using (campaign_id)
        )
        select message_id, campaign_id, null::varchar as sender,
               'h:' || substr(md5(message_id::varchar), 1, 24) as recipient, 'Hello' as text,
               1 + cast(u_segments < 0.1 as int) as segments, 12.5::decimal(18,4) as segment_price,
               ((1 + cast(u_segments < 0.1 as int)) * 12.5)::decimal(18,4) as cost,
               case when status = 'UNKNOWN' then 'UNKNOWN' else status end as status,
               case when status = 'UNKNOWN' then 'WEIRDST' else status end as status_raw,
               status in {final} as is_final, status = 'UNKNOWN' as is_unexpected,
               campaign_start + to_seconds(cast(u_latency * 600 as bigint)) as send_started_at,
               case when status = 'NEW' then null
                    else campaign_start + to_seconds(cast(u_latency * 600 + pow(u_latency, 4) * 86400 + 2
                                                          as bigint)) end as status_updated_at,
               (['KZ','KZ','KZ','RU','UZ'])[1 + message_id % 5] as country_a2,
               (['Beeline','Kcell','Tele2','Activ','Altel'])[1 + (message_id // 5) % 5] as operator_name,
               md5(message_id::varchar) as uuid, campaign_start as first_observed_at,
               timestamptz '{as_of}' as observed_at
        from s
    """,
    # Every message's current status, and ACCEPTD before it for the final ones (the sync's observations).
    "message_status_history": """
        select message_id, campaign_id, status, status_raw, is_final, status_updated_at, observed_at,
               'run-1' as run_id
        from messages where status_updated_at is not null
        union all
        select message_id, campaign_id, 'ACCEPTD', 'ACCEPTD', false, send_started_at + interval 1 second,
               observed_at, 'run-1'
        from messages where is_final and send_started_at is not null
    """,
    "campaign_counters": """
        select campaign_id, status::varchar as status, count(*) as msg_count, sum(segments) as seg_count,
               sum(cost) as cost, timestamptz '{as_of}' as observed_at
        from messages group by campaign_id, status
    """,
    # Two links on two campaigns in three.
    "links": """
        select c * 10 + k as link_id, c as campaign_id, 'c' || c || 'k' || k as code,
               'https://mzn.kz/c' || c || 'k' || k as short_link, 'https://example.kz/offer/' || c as full_link,
               null::varchar as comment, 1 as status, cast(floor(h(c * 10 + k) * 5000) as bigint) as click_count,
               cast(floor(h(c * 10 + k) * 4000) as bigint) as redirect_count,
               timestamptz '{as_of}' as observed_at
        from range(1, {campaigns} + 1) t(c), range(1, 3) k(k) where c % 3 <> 0
    """,
    # Hourly buckets for the last week, daily for 90 days, monthly for a year; clicks fade with the bucket's age.
    "link_click_stats": """
        with buckets as (
            select 'hourly' as period_type, timestamptz '{as_of}' - to_hours(n) as period_start,
                   interval 1 hour as len, n
            from range(1, 169) t(n)
            union all select 'daily', timestamptz '{as_of}' - to_days(n), interval 1 day, n * 24 from range(1, 91) t(n)
            union all select 'monthly', timestamptz '{as_of}' - to_days(30 * n), interval 30 day, n * 720
            from range(1, 13) t(n)
        )
        select link_id, period_type, period_start, period_start + len as period_end,
               cast(floor(h(link_id * 31 + n) * 40 * epoch(len) / 3600 / (1 + n / 24)) as bigint)
                   as click_count,
               0::bigint as redirect_count, timestamptz '{as_of}' as observed_at
        from links, buckets
    """,
    "sync_runs": """
        select 'run-1' as run_id, timestamptz '{as_of}' as as_of, timestamptz '{as_of}' as started_at,
               timestamptz '{as_of}' + interval 10 minute as ended_at, 'success' as outcome, 100000::bigint
               as api_calls, '{{}}' as summary
    """,
    "sync_run_entities": """
        select 'run-1' as run_id, 'messages' as entity, {messages}::bigint as rows_added, 0::bigint as rows_changed,
               0::bigint as unexpected_values
    """,
    "sync_watermarks": "select 'message_status' as name, '2026-11-01 11:00:00' as value, 'run-1' as run_id",
}


def generate_lake(lake_root: Path, messages: int, campaigns: int, memory_limit: str) -> dict:
    """Write every base table's Parquet under `lake_root` (one file per table); returns rows per table."""
    import duckdb
    import pyarrow.parquet as pq

    from storage.lake import PARQUET_OPTIONS, sql_literal
    from transforms import ARROW_SCHEMAS

    con = duckdb.connect(config={"memory_limit": memory_limit,
                                 "temp_directory": str(lake_root.parent / ".duckdb-tmp")})
    con.execute("set timezone = 'UTC'")
    con.execute("set preserve_insertion_order = false")
    con.execute("create macro h(x) as (hash(x) % 1000003) / 1000003.0")
    fmt = {"as_of": AS_OF, "messages": messages, "campaigns": campaigns, "final": FINAL}
    rows = {}
    for table, sql in GENERATORS.items():
        schema = ARROW_SCHEMAS[table]
        body = sql.format(**fmt)
        path = lake_root / table / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"create or replace view {table} as {body}")
        columns = ", ".join(schema.names)
        con.execute(f"copy (select {columns} from {table}) to {sql_literal(path)} ({PARQUET_OPTIONS})")
        # Cast to the table's Arrow schema: exactly what the lake holds after a sync (the same types).
        data = pq.read_table(path)
        if data.schema != schema:
            pq.write_table(data.select(schema.names).cast(schema), path, compression="zstd")
        con.execute(f"create or replace view {table} as select * from read_parquet({sql_literal(path)})")
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.close()
    return rows


def _cpu_s() -> float:
    """This process's CPU time (DuckDB's threads included): on a shared machine, steadier than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def time_views(data_dir: Path, views, repeat: int) -> dict:
    from storage import warehouse

    timings = {}
    for view in views:
        runs, cpu, count = [], [], None
        for _ in range(repeat):
            con = warehouse.connect(data_dir)
            try:
                t0, c0 = time.perf_counter(), _cpu_s()
                count = len(con.execute(f"select * from {view}").fetchall())
                runs.append(time.perf_counter() - t0)
                cpu.append(_cpu_s() - c0)
            finally:
                con.close()
        timings[view] = {"median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs,
                         "cpu_s_median": statistics.median(cpu), "rows": count}
    return timings


def report(results: dict) -> str:
    lines = [f"warehouse: {results['rows']['messages']:,} messages, {results['rows']['campaigns']:,} campaigns, "
             f"{results['warehouse_bytes'] / 2**20:,.0f} MB (generated in {results['generate_s']:.1f} s, "
             f"built in {results['build_s']:.1f} s)",
             f"{'view':<24}{'median s':>10}{'min s':>10}{'CPU s':>10}{'rows':>10}"]
    for view, t in results["timings"].items():
        lines.append(f"{view:<24}{t['median_s']:>10.3f}{t['min_s']:>10.3f}{t['cpu_s_median']:>10.3f}{t['rows']:>10,}")
    median = results["timings"]["campaign_metrics"]["median_s"]
    verdict = "met" if median < 1 else "NOT met"
    lines.append(f"campaign_metrics median {median:.3f} s (issue 8's target < 1 s: {verdict})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory", default=None, help="DuckDB's memory cap for the build (default: the sync's)")
    parser.add_argument("--keep", help="build into this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import duckdb

    from storage import warehouse
    from storage.lake import DEFAULT_DUCKDB_MEMORY, Lake

    memory = args.memory or DEFAULT_DUCKDB_MEMORY
    data_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="smsetl-metrics-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lake = Lake(data_dir / "lake", memory_limit=memory)
        shutil.rmtree(lake.root, ignore_errors=True)
        t0 = time.perf_counter()
        rows = generate_lake(lake.root, args.messages, args.campaigns, memory)
        generate_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = warehouse.build(lake, data_dir, whole=True).path
        build_s = time.perf_counter() - t0
        timings = time_views(data_dir, VIEWS, args.repeat)
        results = {"benchmark": "metrics_scale", "timestamp": datetime.now().astimezone().isoformat(timespec="seconds"),
                   "config": {"messages": args.messages, "campaigns": args.campaigns, "repeat": args.repeat,
                              "memory_limit": memory},
                   "machine": {"cores": os.cpu_count(), "duckdb": duckdb.__version__},
                   "rows": rows, "generate_s": generate_s, "build_s": build_s,
                   "warehouse_bytes": path.stat().st_size, "timings": timings}
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"metrics-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(report(results))
    print(f"\nfigures: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
