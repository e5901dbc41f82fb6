"""Incremental cost: API calls and rows of a backfill, of a sync after the gateway's clock moves, and of a sync
with nothing changed, against the sandbox.

    .venv/bin/python bench/incremental.py [--campaigns 200] [--messages 100000] [--hours 1] [--history-days 60]

Runs three syncs of one data directory, in this process, against an in-process sandbox (`SMS_RATE_LIMIT=none`):
the backfill; then, after the sandbox clock moves `--hours` (late delivery reports arrive, new campaigns start),
an incremental sync; then, with the clock moved one second, a sync with nothing changed. Prints the calls per
method, the rows added and changed per table and the phase seconds of each (the local work beside the calls), and
the two ratios the issue holds the sync to (nothing changed: <= 1 % of the backfill's calls), and whether the
last run's warehouse (patched, or built whole, each run says which and why) holds the rows of a whole build of
the same lake; writes `bench/results/incremental-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.offline import prefect_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 1, 12, 0)
ZONE = "Asia/Almaty"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--history-days", type=int, default=60,
                        help="how far back the sandbox's campaigns were created (a long-lived account: 365)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.update(prefect_env())
    from flows.sync import sync
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    sb = Sandbox.generate(seed=args.seed, campaigns=args.campaigns, messages=args.messages, now=NOW, timezone=ZONE,
                          history_days=args.history_days)
    runs = {}
    with sb.serve(port=0, faults=Faults()) as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=ZONE,
                          SMS_RATE_LIMIT="none")
        data_dir = str(Path(tmp) / "data")
        runs["backfill"] = sync(data_dir, since=NOW - timedelta(days=args.history_days + 60))
        sb.clock.advance(timedelta(hours=args.hours))
        runs[f"after {args.hours:g} h"] = sync(data_dir)
        sb.clock.advance(timedelta(seconds=1))
        runs["nothing changed"] = sync(data_dir)
        same = same_as_whole_build(Path(data_dir), Path(tmp) / "check")

    print(f"\nthe last run's warehouse holds the rows of a whole build of its lake: {same}")
    full_calls = runs["backfill"]["api"]["total_calls"]
    figures = {name: {"calls": s["api"]["calls"], "total_calls": s["api"]["total_calls"], "rows": s["rows"],
                      "duration_s": s["duration_s"], "phase_seconds": s["phase_seconds"],
                      "warehouse": s["published"]["warehouse"], "warehouse_reason": s["published"]["warehouse_reason"],
                      "of_backfill_calls": round(s["api"]["total_calls"] / full_calls, 4)}
               for name, s in runs.items()}
    for name, f in figures.items():
        print(f"\n{name}: {f['total_calls']} calls ({f['of_backfill_calls']:.2%} of the backfill's), "
              f"{f['duration_s']} s")
        # the local work beside the calls: the merge rewrites the partitions touched, the publish patches the
        # warehouse where a run touched little of the history (or builds it whole, and says why)
        print("  phases s: " + ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in f["phase_seconds"].items()))
        print(f"  warehouse {f['warehouse']}: {f['warehouse_reason']}")
        for method, n in sorted(f["calls"].items()):
            print(f"  {method:<28} {n:>6}")
        for table, r in sorted(f["rows"].items()):
            if r["added"] or r["changed"]:
                print(f"  rows {table:<23} +{r['added']:<8} ~{r['changed']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"incremental-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "runs": figures, "same_as_whole_build": same}, indent=2))
    print(f"\nfigures: {out}")
    return 0 if same else 1


def same_as_whole_build(data_dir: Path, check_dir: Path) -> bool:
    """Whether the sync's (patched) warehouse holds, table by table, what a whole build of its lake holds."""
    from bench.warehouse_patch import same_tables
    from storage import warehouse
    from storage.lake import Lake

    check_dir.mkdir()
    built = warehouse.build(Lake(data_dir / "lake"), check_dir, whole=True)
    return same_tables(data_dir / warehouse.WAREHOUSE_FILE, built.path, "2GB")


if __name__ == "__main__":
    raise SystemExit(main())
