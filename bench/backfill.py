"""Backfill benchmark: the `sync` flow's first run against a raw-fetch floor, on the sandbox gateway.

    .venv/bin/python bench/backfill.py [--messages 200000] [--campaigns 200] [--repeat 3] [--workers 4]

The sandbox runs in its own process (its CPU is not in the measured process). Each measurement runs in a
fresh child process, alternating floor, pipeline, floor, pipeline, ..., so that its peak RSS
(`ru_maxrss` of that child) is its own and slow drift of the machine hits both alike:

- floor: the API calls a first sync makes, with the same worker count and the same task granularity, through
  the same `SmsApi` client, results discarded (ids kept only where the next call needs them).
- pipeline: `flows.sync.sync` into a fresh data directory, `as_of` = the sandbox's clock. The child first runs
  a trivial flow, so the start-up of Prefect's temporary server is measured apart from the sync.

Prints a table and writes the figures to `bench/results/backfill-<timestamp>.json`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TIMEZONE = "Asia/Almaty"
SANDBOX_NOW = "2026-11-01 12:00:00"
BACKFILL_DAYS = 120  # the sandbox creates campaigns up to ~60 days before its clock: `since` covers them all

# The floor mirrors the sync's task granularity and windows (flows.steps: CAMPAIGN_BATCH, INFO_BATCH,
# COUNTERS_BATCH, STATS_BATCH, STATS_TYPES, CLICK_HORIZON): the parent reads them and hands them to the floor
# child, which imports only smsapi and the sync's message batching (flows.message_batches, standard library).


# -- child: one measurement ------------------------------------------------------------------------------------

def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _hwm_mb() -> float | None:
    """VmHWM: the peak RSS of this process's own address space. On Linux, ru_maxrss also counts the address
    space the child was spawned from (the parent's, under vfork), so the parent stays small to keep the two
    equal; both are recorded."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _children() -> tuple[float, float]:
    """CPU seconds and the largest peak RSS (MB) of this process's finished children: the sync's worker
    processes (flows.processes), which its own figures leave out."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def _batches(ids, size):
    ids = list(ids)
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def child_floor(spec: dict) -> dict:
    """The calls of a first sync, results discarded."""
    from concurrent.futures import ThreadPoolExecutor

    from flows import message_batches  # the sync's batches by size (standard library only)
    from smsapi import SmsApi
    from smsapi.client import rate_limit_from_env

    rate = spec["rate_limit"]
    # the client the pipeline gets from the SMS_RATE_LIMIT `run_child` sets
    api = SmsApi(spec["url"], spec["key"], timezone=spec["timezone"],
                 **rate_limit_from_env("none" if rate is None else str(rate)))
    as_of = datetime.fromisoformat(spec["as_of"])
    since = datetime.fromisoformat(spec["since"])
    until = as_of + timedelta(days=1)  # as flows.sync: a day of slack
    stats_types = spec["stats_types"]
    click_horizon = timedelta(seconds=spec["click_horizon"])

    def info(batch):  # flows.steps.extract_campaign_info: one Campaign/List by ids, GetInfo where no counters
        listed = set()
        for page in api.list_campaigns_by_ids(batch):
            listed.update(int(c["id"]) for c in page if isinstance(c.get("counters"), dict))
        for cid in set(batch) - listed:
            api.get_campaign_info(cid)
        return 0, {}

    def messages(batch):
        n = 0
        for page in api.list_messages(batch):
            n += len(page)
        return n, {}

    def links(batch):
        clicks = {}
        for cid in batch:
            clicks.update(_click_counts(api.get_campaign_links(cid) or []))
        return 0, clicks

    listed_links = []

    def link_list():
        clicks = {}
        for page in api.list_links(created_from=as_of - click_horizon):
            clicks.update(_click_counts(page))
            listed_links.append(len(page))
        return 0, clicks

    def link_stats(batch):
        for period_type in stats_types:
            for _ in api.get_link_stats(batch, period_type):
                pass
        return 0, {}

    cpu0, t0 = _cpu_s(), time.perf_counter()
    with api:
        statuses, need_info, sizes = {}, set(), {}
        for page in api.list_campaigns(since, until):
            for c in page:
                cid = int(c["id"])
                statuses[cid] = c.get("sendStatus")
                if c.get("sendStatus") != "DONE" or not isinstance(c.get("counters"), dict):
                    need_info.add(cid)  # the sync's rule (flows.steps.extract_campaigns)
                if isinstance(c.get("counters"), dict):
                    sizes[cid] = message_batches.count(c["counters"].get("totalMsgNum"))
        ids = sorted(statuses)
        n_messages, clicks = 0, {}
        with ThreadPoolExecutor(max_workers=spec["workers"]) as pool:
            futures = [pool.submit(info, b) for b in _batches(sorted(need_info), spec["counters_batch"])]
            futures += [pool.submit(messages, b) for b in message_batches.by_size(ids, sizes, spec["campaign_batch"])]
            futures += [pool.submit(links, b) for b in _batches(ids, spec["info_batch"])]
            futures.append(pool.submit(link_list))
            for f in futures:
                n, c = f.result()
                n_messages += n
                clicks.update(c)
            with_clicks = sorted(lid for lid, n in clicks.items() if n)
            for f in [pool.submit(link_stats, b) for b in _batches(with_clicks, spec["stats_batch"])]:
                f.result()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "cpu_s": _cpu_s() - cpu0, "messages": n_messages, "campaigns": len(ids),
            "links_with_clicks": len(with_clicks), "links_listed": sum(listed_links), "calls": dict(api.stats.calls),
            "peak_rss_mb": _rss_mb(), "vm_hwm_mb": _hwm_mb()}


def api_minimum(floor: dict, stats_types: int) -> int:
    """The fewest calls that can fetch what the floor fetched, at the API's largest pages and batches:
    Campaign/List at 100 a page over one window (its items carry the counters); Link/GetLinks once per campaign
    (the only way to a campaign's links); Link/List at 100 a page; Link/GetStats at 5 links a call per period
    type; Message/List at 100 a page, as if every page were full (a lower bound: a call takes at most 100
    campaignIds, and a batch's last page is rarely full)."""
    def pages(n: int, size: int = 100) -> int:
        return -(-n // size)

    return (pages(floor["campaigns"]) + floor["campaigns"] + pages(floor["links_listed"])
            + stats_types * pages(floor["links_with_clicks"], 5) + pages(floor["messages"]))


def _click_counts(items):
    counts = {}
    for item in items:
        try:
            counts[int(item["id"])] = int(str(item.get("clickCnt") or 0))
        except (KeyError, TypeError, ValueError):
            continue
    return counts


def child_pipeline(spec: dict) -> dict:
    """Prefect start-up (a trivial flow), then the sync's first run into a fresh data directory."""
    import logging

    t_import = time.perf_counter()
    from prefect import flow

    from flows.sync import sync
    import_s = time.perf_counter() - t_import

    phases: list[tuple[float, int, str]] = []  # seconds into the sync, peak RSS MB so far, message
    origin = [time.perf_counter()]

    class Phases(logging.Handler):
        def emit(self, record):
            phases.append((round(time.perf_counter() - origin[0], 3), round(_rss_mb()), record.getMessage()))

    sync_log = logging.getLogger("smsetl.sync")
    sync_log.setLevel(logging.INFO)
    sync_log.addHandler(Phases())
    sync_log.propagate = False

    @flow(name="bench-warmup")
    def warmup() -> int:
        return 1

    t0 = time.perf_counter()
    warmup()
    startup_s = time.perf_counter() - t0
    rss_after_startup = _rss_mb()

    data_dir = Path(tempfile.mkdtemp(prefix="smsetl-bench-data-"))
    try:
        since = datetime.fromisoformat(spec["since"])
        cpu0, (children_cpu0, children_rss0) = _cpu_s(), _children()
        origin[0] = t0 = time.perf_counter()
        summary = sync(str(data_dir), since=since)
        wall = time.perf_counter() - t0
        cpu = _cpu_s() - cpu0
        children_cpu, children_rss = _children()
        disk = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                for p in data_dir.iterdir() if p.is_dir()}
        disk["warehouse.duckdb"] = (data_dir / "warehouse.duckdb").stat().st_size
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"wall_s": wall, "cpu_s": cpu, "startup_s": startup_s, "import_s": import_s,
            "messages": summary["staged_rows"].get("messages", 0), "campaigns": summary["rows"]["campaigns"]["added"],
            "links_with_clicks": summary["links_with_new_clicks"], "calls": summary["api"]["calls"],
            "retries": summary["api"]["retries"], "peak_rss_mb": _rss_mb(), "vm_hwm_mb": _hwm_mb(),
            "rss_after_startup_mb": rss_after_startup,
            # ru_maxrss of children is a maximum since this process started (Prefect's own subprocesses included):
            # the workers' only where they raised it
            "workers_cpu_s": children_cpu - children_cpu0,
            "workers_peak_rss_mb": children_rss if children_rss > children_rss0 else None,
            "rows": summary["rows"], "mismatches": len(summary["reconciliation_mismatches"]),
            "phases": phases, "sync_phase_seconds": summary.get("phase_seconds"), "disk_bytes": disk}


# -- parent: sandbox, children, table ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    # urllib, not requests: the parent stays small (see _hwm_mb)
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as response:
        return json.load(response)


def _sync_constants() -> dict:
    """flows.steps' batch size and windows and the sandbox's key, read in a throwaway interpreter so that the
    parent never imports pandas, pyarrow, duckdb or numpy (its memory would show up in the children's
    ru_maxrss)."""
    code = ("import json; from flows import steps; from sandbox import SANDBOX_API_KEY;"
            " print(json.dumps({'campaign_batch': steps.CAMPAIGN_BATCH, 'info_batch': steps.INFO_BATCH,"
            " 'counters_batch': steps.COUNTERS_BATCH,"
            " 'stats_batch': steps.STATS_BATCH, 'key': SANDBOX_API_KEY,"
            " 'click_horizon': steps.CLICK_HORIZON.total_seconds(),"
            " 'stats_types': list(steps.STATS_TYPES)}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_child(kind: str, spec: dict, sandbox, python: str = sys.executable, script: Path | None = None) -> dict:
    """One measurement in a fresh interpreter (`python` running `script`'s `--child kind`; by default this
    file under this interpreter); the sandbox's own call counts are diffed around it."""
    env = dict(os.environ)
    prefect_home = tempfile.mkdtemp(prefix="smsetl-bench-prefect-")
    env.update(PREFECT_HOME=prefect_home, DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
               SMS_API_URL=spec["url"], SMS_API_KEY=spec["key"], SMS_TIMEZONE=spec["timezone"],
               SMS_RATE_LIMIT="none" if spec["rate_limit"] is None else str(spec["rate_limit"]),
               SMSETL_WORKERS=str(spec["workers"]), PYTHONPATH=str(ROOT))
    env.pop("PREFECT_API_URL", None)  # ephemeral mode, as documented in the README
    before, sandbox_cpu = sandbox.calls(), sandbox.cpu_s()
    with tempfile.NamedTemporaryFile(mode="r", suffix=".json") as out:
        proc = subprocess.run([python, str(script or Path(__file__).resolve()), "--child", kind,
                               "--spec", json.dumps(spec), "--out", out.name],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        shutil.rmtree(prefect_home, ignore_errors=True)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
        result = json.load(out)
    after = sandbox.calls()
    if sandbox_cpu is not None:
        result["sandbox_cpu_s"] = sandbox.cpu_s() - sandbox_cpu
    result["sandbox_calls"] = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    return result


def _versions() -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version(), "cores": os.cpu_count(), "machine": platform.machine(),
           "platform": platform.platform()}
    for name in ("prefect", "duckdb", "pyarrow", "pandas", "requests"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = None
    return out


def _median(values):
    return statistics.median(values) if values else float("nan")


def _fmt_calls(calls: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))


def report(results: dict) -> str:
    runs = results["runs"]
    floor = [r for r in runs if r["kind"] == "floor"]
    pipe = [r for r in runs if r["kind"] == "pipeline"]
    m = results["machine"]
    cfg = results["config"]
    lines = [
        f"machine: {m['cores']} cores {m['machine']}, python {m['python']}, prefect {m['prefect']}, "
        f"duckdb {m['duckdb']}, pyarrow {m['pyarrow']}, pandas {m['pandas']}",
        f"sandbox: {cfg['messages']} messages requested, {cfg['campaigns']} campaigns, seed {cfg['seed']}, "
        f"clock {cfg['as_of']}, response latency {cfg['latency_ms']:g} ms; up in {results['sandbox_startup_s']:.1f} s",
        f"workers {cfg['workers']}, client rate limit {cfg['rate_limit'] or 'none'}, since {cfg['since']}, "
        f"repeats {cfg['repeat']}",
        "",
        f"{'measurement':<12} {'wall s (median)':>16} {'messages/s':>11} {'API calls':>10} {'CPU s':>7} "
        f"{'peak RSS MB':>12}",
    ]
    for name, rs in (("floor", floor), ("pipeline", pipe)):
        wall = _median([r["wall_s"] for r in rs])
        msgs = rs[0]["messages"]
        lines.append(f"{name:<12} {wall:>16.2f} {msgs / wall:>11,.0f} {sum(rs[0]['calls'].values()):>10} "
                     f"{_median([r['cpu_s'] for r in rs]):>7.1f} {max(r['peak_rss_mb'] for r in rs):>12.0f}")
    sandbox_cpu = {name: _median([r["sandbox_cpu_s"] for r in rs])
                   for name, rs in (("floor", floor), ("pipeline", pipe)) if all("sandbox_cpu_s" in r for r in rs)}
    workers_rss = [r["workers_peak_rss_mb"] for r in pipe if r.get("workers_peak_rss_mb")]
    lines.append(f"CPU s beside the table's: the pipeline's worker processes (SMSETL_PROCESSES) "
                 f"{_median([r.get('workers_cpu_s', 0.0) for r in pipe]):.1f}"
                 + (f" (the largest one's peak RSS {max(workers_rss):.0f} MB)" if workers_rss else "")
                 + "; the sandbox " + (", ".join(f"{name} {v:.1f}" for name, v in sandbox_cpu.items()) or "unknown"))
    ratios = results["ratios"]
    lines += [
        "",
        f"pipeline / floor (wall): median {results['ratio_median']:.2f}; per repeat "
        + ", ".join(f"{x:.2f}" for x in ratios),
        f"Prefect start-up (trivial flow, ephemeral server; not in the pipeline's wall): median "
        f"{_median([r['startup_s'] for r in pipe]):.2f} s; imports {_median([r['import_s'] for r in pipe]):.2f} s",
        f"messages fetched: floor {floor[0]['messages']}, pipeline {pipe[0]['messages']}; campaigns "
        f"{floor[0]['campaigns']} / {pipe[0]['campaigns']}; links with clicks {floor[0]['links_with_clicks']} / "
        f"{pipe[0]['links_with_clicks']}",
        "",
        "API calls (client count; the sandbox's own count, if different, in brackets):",
    ]
    for name, r in (("floor", floor[0]), ("pipeline", pipe[0])):
        differs = "" if r["sandbox_calls"] == r["calls"] else f"  [sandbox: {_fmt_calls(r['sandbox_calls'])}]"
        lines.append(f"  {name:<9} {_fmt_calls(r['calls'])}{differs}")
    minimum = results["api_minimum"]
    lines.append(f"  the API's minimum for the same data: {minimum}; pipeline / minimum "
                 f"{sum(pipe[0]['calls'].values()) / minimum:.3f} (issue 8's target: <= 1.05)")
    if floor[0]["calls"] != pipe[0]["calls"]:
        lines.append("  WARNING: floor and pipeline made different calls; the ratio is not like for like")
    lines += ["", "pipeline phases (median s, from the smsetl.sync log):"]
    phases = [r["phase_s"] for r in pipe]
    for key in phases[0]:
        lines.append(f"  {key:<40} {_median([p[key] for p in phases]):>7.2f}")
    marks = [(rss, msg) for _, rss, msg in pipe[0]["phases"]
             if msg.startswith(("extracted in", "merged into", "published"))]
    lines.append("pipeline peak RSS so far, at: " + "; ".join(f"{m.split(' in ')[0]} {r} MB" for r, m in marks)
                 + f"; end {pipe[0]['peak_rss_mb']:.0f} MB"
                 + f" (after imports and Prefect start-up: {pipe[0]['rss_after_startup_mb']:.0f} MB)")
    lines.append(f"pipeline mismatches against the gateway's counters: {pipe[0]['mismatches']}")
    return "\n".join(lines)


def phase_seconds(result: dict) -> dict:
    """The sync's logged phases, as durations: campaign listing, the rest of extraction, merge, publish, rest."""
    logged = {}
    for t, _, msg in result["phases"]:
        if msg.startswith("campaigns:") and "listed_at" not in logged:
            logged["listed_at"] = t
        elif msg.startswith("extracted in"):
            logged["extracted_at"] = t
            logged["extract"] = float(msg.split()[2])
        elif msg.startswith("merged into the lake in"):
            logged["merge"] = float(msg.split()[5])
        elif msg.startswith("published the warehouse in"):
            logged["publish"] = float(msg.split()[4])
    listed_at, extracted_at = logged.get("listed_at", 0.0), logged.get("extracted_at", 0.0)
    merge, publish = logged.get("merge", 0.0), logged.get("publish", 0.0)
    return {
        "flow start + plan + Campaign/List": listed_at,
        "extract (after Campaign/List)": extracted_at - listed_at,
        "merge into the lake": merge,
        "publish the warehouse": publish,
        "rest (run record, artifact, flow end)": result["wall_s"] - extracted_at - merge - publish,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay every sandbox response this long, like a gateway across a network (default 0)")
    parser.add_argument("--rate-limit", default="none",
                        help="client calls/s per method, as SMS_RATE_LIMIT (default none: the sandbox has no limit)")
    parser.add_argument("--child", choices=("floor", "pipeline"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        sys.path.insert(0, str(ROOT))
        spec = json.loads(args.spec)
        result = (child_floor if args.child == "floor" else child_pipeline)(spec)
        Path(args.out).write_text(json.dumps(result, default=str))
        return 0

    sys.path.insert(0, str(ROOT))
    from zoneinfo import ZoneInfo

    constants = _sync_constants()

    rate = None if args.rate_limit.lower() in ("0", "none", "off", "unlimited") else float(args.rate_limit)
    print(f"starting the sandbox: {args.messages} messages, {args.campaigns} campaigns ...", flush=True)
    from sandbox.process import SandboxProcess  # stdlib only: the parent stays small

    latency = ("--slow", "1", "--slow-seconds", str(args.latency_ms / 1000)) if args.latency_ms else ()
    sandbox = SandboxProcess(args.seed, args.campaigns, args.messages,
                             datetime.strptime(SANDBOX_NOW, "%Y-%m-%d %H:%M:%S"), TIMEZONE, extra_args=latency)
    try:
        as_of = sandbox.clock().replace(tzinfo=ZoneInfo(TIMEZONE))
        spec = {"url": sandbox.url, "timezone": TIMEZONE, "rate_limit": rate,
                "workers": args.workers, "as_of": as_of.isoformat(),
                "since": (as_of - timedelta(days=BACKFILL_DAYS)).isoformat(), **constants}
        runs = []
        for rep in range(args.repeat):
            for kind in ("floor", "pipeline"):
                r = run_child(kind, spec, sandbox)
                r.update(kind=kind, repeat=rep)
                if kind == "pipeline":
                    r["phase_s"] = phase_seconds(r)
                runs.append(r)
                extra = f", Prefect start-up {r['startup_s']:.1f} s" if kind == "pipeline" else ""
                print(f"  repeat {rep + 1}/{args.repeat} {kind:<8} {r['wall_s']:7.2f} s, "
                      f"{r['messages']} messages, peak RSS {r['peak_rss_mb']:.0f} MB{extra}", flush=True)
    finally:
        sandbox.stop()

    floor = [r for r in runs if r["kind"] == "floor"]
    pipe = [r for r in runs if r["kind"] == "pipeline"]
    ratios = [p["wall_s"] / f["wall_s"] for f, p in zip(floor, pipe)]
    results = {
        "benchmark": "backfill",
        "timestamp": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": _versions(),
        "config": {"messages": args.messages, "campaigns": args.campaigns, "repeat": args.repeat,
                   "workers": args.workers, "seed": args.seed, "rate_limit": rate, "as_of": spec["as_of"],
                   "since": spec["since"], "latency_ms": args.latency_ms},
        "sandbox_startup_s": sandbox.startup_s,
        "api_minimum": api_minimum(floor[0], len(spec["stats_types"])),
        "summary": {
            kind: {"wall_s_median": _median([r["wall_s"] for r in rs]),
                   "messages": rs[0]["messages"],
                   "messages_per_s": rs[0]["messages"] / _median([r["wall_s"] for r in rs]),
                   "api_calls": sum(rs[0]["calls"].values()),
                   "cpu_s_median": _median([r["cpu_s"] for r in rs]),
                   "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rs)}
            for kind, rs in (("floor", floor), ("pipeline", pipe))
        },
        "ratios": ratios,
        "ratio_median": _median(ratios),
        "prefect_startup_s_median": _median([r["startup_s"] for r in pipe]),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"backfill-{datetime.now():%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(report(results))
    print(f"\nfigures: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
