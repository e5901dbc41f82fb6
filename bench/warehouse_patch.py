"""The warehouse's publish after a small run: patched (storage/warehouse.py) against built whole, as the history
grows.

    .venv/bin/python bench/warehouse_patch.py [--messages 1000000 10000000] [--run-messages 20000] [--repeat 3]

For each history size: `metrics_scale.generate_lake`'s tables (one campaign per 2,000 messages, created over the
year before), with `messages` and `message_status_history` split into one partition per campaign month, as the
sync's merge lays them out. The warehouse is built whole `--repeat` times (the baseline, timed). Then a run adds
a partition of `--run-messages` messages of new campaigns (and their campaign rows), and the publish patches the
warehouse; then the run's partition is rewritten with later statuses `--repeat` times, each publish patched and
timed. The last patched warehouse is compared, table by table, with a whole build of the same lake. Prints a table
(medians, the whole build's median over the patch's) and writes `bench/results/warehouse_patch-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.metrics_scale import _cpu_s, generate_lake  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NEW_IDS = 1_000_000_000_000  # added to the run's message and campaign ids: no clash with the history's
PARTITIONED = ("messages", "message_status_history")


def partition_by_month(lake_root: Path, memory: str) -> int:
    """Split the generated one-file tables into `month=YYYY-MM/` partitions of their campaign's creation month."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory, "temp_directory": str(lake_root.parent / ".duckdb-tmp")})
    con.execute("set timezone = 'UTC'")
    campaigns = lake_root / "campaigns" / "data.parquet"
    months = [m for (m,) in con.execute(f"select distinct strftime(created_at, '%Y-%m') from '{campaigns}'")
              .fetchall()]
    for table in PARTITIONED:
        source = lake_root / table / "data.parquet"
        moved = source.with_name("all.parquet.src")
        os.replace(source, moved)
        for month in months:
            target = lake_root / table / f"month={month}" / "data.parquet"
            target.parent.mkdir(parents=True)
            con.execute(f"""copy (select t.* from read_parquet('{moved}') t join '{campaigns}' c using (campaign_id)
                                  where strftime(c.created_at, '%Y-%m') = '{month}')
                            to '{target}' (format parquet, compression zstd, compression_level 1)""")
        moved.unlink()
    con.close()
    return len(months)


def write_run(lake_root: Path, run_messages: int, version: int, memory: str) -> None:
    """A run's partition: `run_messages` messages of new campaigns (2,000 each), their statuses as of `version`,
    with their status history; on version 0, their campaign rows are added to `campaigns`."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory})
    con.execute("set timezone = 'UTC'")
    messages = lake_root / "messages"
    history = lake_root / "message_status_history"
    campaigns = lake_root / "campaigns" / "data.parquet"
    new_campaigns = max(1, run_messages // 2000)
    # The history's first `run_messages` messages, renumbered into new campaigns; later versions deliver more.
    con.execute(f"""create view run as
        select * replace (message_id + {NEW_IDS} as message_id,
                          {NEW_IDS} + message_id % {new_campaigns} as campaign_id,
                          case when message_id % 7 < {version} then 'DELIVRD' else status end as status,
                          case when message_id % 7 < {version} then 'DELIVRD' else status_raw end as status_raw)
        from read_parquet('{messages}/*/*.parquet', hive_partitioning = false)
        where message_id <= {run_messages}""")
    for folder in (messages, history):
        (folder / "month=run").mkdir(exist_ok=True)
    con.execute(f"copy run to '{messages}/month=run/data.parquet.tmp' (format parquet, compression zstd)")
    con.execute(f"""copy (select message_id, campaign_id, status, status_raw, is_final, status_updated_at,
                                 observed_at, 'run-' || {version} as run_id from run
                          where status_updated_at is not null)
                    to '{history}/month=run/data.parquet.tmp' (format parquet, compression zstd)""")
    if version == 0:
        con.execute(f"""copy (select * from '{campaigns}' union all
                              select c.* replace ({NEW_IDS} + n as campaign_id, 'run campaign ' || n as name)
                              from '{campaigns}' c, range({new_campaigns}) t(n) where c.campaign_id = 1)
                        to '{campaigns}.tmp' (format parquet, compression zstd)""")
        os.replace(f"{campaigns}.tmp", campaigns)
    con.close()
    for folder in (messages, history):
        os.replace(folder / "month=run" / "data.parquet.tmp", folder / "month=run" / "data.parquet")


def same_tables(patched: Path, whole: Path, memory: str) -> bool:
    """Every table of both warehouses' `main` schema holds the same rows (`except all`, both ways)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory})
    con.execute(f"attach '{patched}' as p (read_only)")
    con.execute(f"attach '{whole}' as w (read_only)")
    names = [n for (n,) in con.execute("select table_name from duckdb_tables() where database_name = 'w' and "
                                       "schema_name = 'main'").fetchall()]
    try:
        return all(con.execute(f"select count(*) from ((from p.{n} except all from w.{n}) union all "
                               f"(from w.{n} except all from p.{n}))").fetchone()[0] == 0 for n in names)
    finally:
        con.close()


def measure(messages: int, run_messages: int, repeat: int, memory: str) -> dict:
    from storage import warehouse
    from storage.lake import Lake

    with tempfile.TemporaryDirectory(prefix="smsetl-patch-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        lake = Lake(data_dir / "lake", memory_limit=memory)
        rows = generate_lake(lake.root, messages, max(1, messages // 2000), memory)
        months = partition_by_month(lake.root, memory)

        def timed(**kw) -> tuple[float, float, warehouse.Built]:
            t0, c0 = time.perf_counter(), _cpu_s()
            built = warehouse.build(lake, data_dir, **kw)
            return time.perf_counter() - t0, _cpu_s() - c0, built

        print(f"{messages:,} messages: lake generated, {months} months; building whole x{repeat}", flush=True)
        whole = [timed(whole=True) for _ in range(repeat)]
        print(f"  whole: {', '.join(f'{w[0]:.2f}' for w in whole)} s; patching after each run", flush=True)
        whole_mb = (data_dir / warehouse.WAREHOUSE_FILE).stat().st_size / 1e6
        write_run(lake.root, run_messages, 0, memory)
        first = timed()
        again = []
        for version in range(1, repeat + 1):
            write_run(lake.root, run_messages, version, memory)
            again.append(timed())
        patched_mb = (data_dir / warehouse.WAREHOUSE_FILE).stat().st_size / 1e6
        check = Path(tmp) / "check"
        check.mkdir()
        warehouse.build(lake, check, whole=True)
        equal = same_tables(data_dir / warehouse.WAREHOUSE_FILE, check / warehouse.WAREHOUSE_FILE, "2GB")
        shutil.rmtree(check)
    whole_s = statistics.median(w[0] for w in whole)
    again_s = statistics.median(a[0] for a in again)
    return {"messages": rows["messages"], "history_rows": rows["message_status_history"], "months": months,
            "run_messages": run_messages,
            "whole_s": [round(w[0], 3) for w in whole], "whole_cpu_s": [round(w[1], 3) for w in whole],
            "whole_median_s": round(whole_s, 3),
            "first_patch_s": round(first[0], 3), "first_patch_patched": first[2].patched,
            "patch_s": [round(a[0], 3) for a in again], "patch_cpu_s": [round(a[1], 3) for a in again],
            "patch_median_s": round(again_s, 3), "all_patched": all(a[2].patched for a in [first, *again]),
            "reasons": [a[2].reason for a in [first, *again]],
            "whole_over_patch": round(whole_s / again_s, 2),
            "file_mb_whole": round(whole_mb, 1), "file_mb_after_patches": round(patched_mb, 1),
            "same_as_whole_build": equal}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--run-messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", default="256MB", help="DuckDB's memory cap, as the sync's default")
    args = parser.parse_args(argv)
    import duckdb

    results = [measure(n, args.run_messages, args.repeat, args.memory) for n in args.messages]
    print(f"\nwarehouse publish after a run of {args.run_messages:,} messages (DuckDB {duckdb.__version__}, "
          f"{os.cpu_count()} cores, memory cap {args.memory}); medians of {args.repeat}")
    print(f"{'messages':>12} {'months':>6} {'whole s':>8} {'patch s':>8} {'first':>6} {'whole/patch':>11} "
          f"{'MB whole':>8} {'MB patched':>10}  same rows")
    for r in results:
        print(f"{r['messages']:>12,} {r['months']:>6} {r['whole_median_s']:>8.2f} {r['patch_median_s']:>8.2f} "
              f"{r['first_patch_s']:>6.2f} {r['whole_over_patch']:>10.1f}x {r['file_mb_whole']:>8.1f} "
              f"{r['file_mb_after_patches']:>10.1f}  {r['same_as_whole_build'] and r['all_patched']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"warehouse_patch-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"\nfigures: {out}")
    return 0 if all(r["same_as_whole_build"] and r["all_patched"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
