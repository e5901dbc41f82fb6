"""dlt comparison benchmark: the same backfill through dlt's `rest_api` source into DuckDB, beside smsetl's sync.

    .venv/bin/python bench/dlt_compare.py [--messages 1000000] [--campaigns 500] [--repeat 1]

dlt lives in its own virtual environment, `bench/.venv-dlt` (git-ignored), which this script creates on first use
(`python3 -m venv` + `pip install "dlt[duckdb,parquet]>=1.0"`), so dlt never enters smsetl's dependencies and its
own pins cannot clash with Prefect's. The sandbox gateway runs in its own process; each measurement runs in a
fresh child process: a floor and smsetl pair before each dlt run and after the last (floor, smsetl, dlt default,
floor, smsetl, dlt tuned, floor, smsetl per repeat; `schedule`), and each dlt run's ratio divides by the median of
its repeat's smsetl runs (bench/backfill.py's floor and pipeline children are reused as they are). Every tool
must land the same rows in `messages`; the script says so, or fails. Prints a table and writes
`bench/results/dlt-<timestamp>.json`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import backfill  # noqa: E402  (stdlib only at import: the parent stays small, see backfill._hwm_mb)

ROOT = BENCH.parent
RESULTS = BENCH / "results"
DLT_VENV = BENCH / ".venv-dlt"
DLT_REQUIREMENT = "dlt[duckdb,parquet]>=1.0"
TOOLS = ("floor", "smsetl", "dlt-default", "dlt-tuned")
PAGE_SIZE = 100  # the largest page the gateway serves (smsapi.paginate.PAGE_SIZE)
LIST_WINDOW_DAYS = 90  # Campaign/List's widest createTs window; the sandbox's campaigns span about 60 days

# "tuned": what dlt's performance guide offers for a run like this one. The data writer's settings go in as
# dlt's own environment variables; the rest are arguments of extract() and normalize().
TUNED_ENV = {
    "DATA_WRITER__BUFFER_MAX_ITEMS": "50000",  # default 5,000 items buffered per table before a write
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "100000",  # rotate extract files, so normalize workers share a table
}
TUNED_NORMALIZE_WORKERS = 2  # processes (default 1: in-process); this machine has 2 cores
TUNED_LOADER = "parquet"  # default for duckdb: insert_values (SQL INSERT statements)


# -- child: one dlt run -----------------------------------------------------------------------------------------

def source_config(spec: dict, parallelized: bool, paginator) -> dict:
    """The `rest_api` config for the endpoints a first sync reads (the floor's calls, see bench/README.md).

    The gateway's contract (API.md 1.1-1.5): `POST {base}/service/{module}/{method}?output=json&api=v1&apiKey=K`,
    parameters form-encoded with PHP brackets. rest_api expresses that as `method: POST` with a flat `data` dict
    (bracket keys written out), the key through `api_key` auth in the query, and the page number as the query
    parameter `pagination[currentPage]` (the gateway reads query and body together). Dependent resources take one
    parent row per request: Message/List goes out per campaign (the sync sends 100 `campaignIds` a call) and
    Link/GetStats per link and period type, for every link (the sync asks 5 links a call, only those with clicks;
    rest_api has no way to filter a parent's rows for a child without filtering its table)."""
    as_of = datetime.fromisoformat(spec["as_of"]).replace(tzinfo=None)  # account-local wall time
    until = as_of + timedelta(days=1)
    fmt = "%Y-%m-%d %H:%M:%S"
    link_from = (as_of - timedelta(seconds=spec["click_horizon"])).strftime("%Y-%m-%d")
    paged = {"pagination[pageSize]": PAGE_SIZE, "sort[id]": "ASC"}

    def endpoint(path: str, data: dict, selector: str = "data.items", pages: bool = True) -> dict:
        return {"path": path, "method": "POST", "params": {"output": "json", "api": "v1"}, "data": data,
                "data_selector": selector, "paginator": paginator(PAGE_SIZE) if pages else "single_page",
                "response_actions": [_raise_on_api_error]}

    resources = [
        {"name": "campaigns", "endpoint": endpoint("campaign/list", {
            "criteria[createTsFrom]": (until - timedelta(days=LIST_WINDOW_DAYS)).strftime(fmt),
            "criteria[createTsTo]": until.strftime(fmt), **paged})},
        {"name": "messages", "parallelized": parallelized, "endpoint": endpoint("message/list", {
            "criteria[campaignIds]": "{resources.campaigns.id}", "withNumberInfo": 1, **paged})},
        {"name": "links", "parallelized": parallelized, "include_from_parent": ["id"], "endpoint": endpoint(
            "link/getLinks", {"campaignId": "{resources.campaigns.id}"}, selector="data", pages=False)},
        {"name": "link_list", "endpoint": endpoint("link/list", {"criteria[createTsFrom]": link_from, **paged})},
    ]
    resources += [
        {"name": f"link_stats_{period}", "parallelized": parallelized, "include_from_parent": ["id"],
         "endpoint": endpoint("link/getStats", {"ids[0]": "{resources.links.id}", "type": period}, pages=False)}
        for period in spec["stats_types"]
    ]
    return {
        "client": {"base_url": f"{spec['url']}/service/",
                   "auth": {"type": "api_key", "name": "apiKey", "api_key": spec["key"], "location": "query"}},
        "resources": resources,
    }


def _raise_on_api_error(response, *args, **kwargs):
    """The gateway answers errors with HTTP 200 and a non-zero `code` (API.md 1.5); unchecked, dlt would read
    an error's `data` as an empty page and land a short table without a word. The prefix test spares a second
    JSON parse of every page."""
    if response.content.startswith(b'{"code":0,'):
        return
    body = response.json()
    if body.get("code") != 0:
        raise RuntimeError(f"{response.request.path_url.split('?')[0]}: gateway code {body.get('code')}: "
                           f"{body.get('message')!r}")


def _short_page_paginator():
    """PageNumberPaginator (0-based, `pagination[currentPage]`) that stops on a page shorter than the page size.

    The stock paginator's `total_path` is a count of pages; the gateway's `totalItemCount` counts items, so with
    it the stock one runs on to an empty page: one extra call per listing and a second JSON parse per page."""
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

    class ShortPagePaginator(PageNumberPaginator):
        def __init__(self, page_size: int):
            super().__init__(base_page=0, page_param="pagination[currentPage]", total_path=None)
            self.page_size = page_size

        def update_state(self, response, data=None):
            super().update_state(response, data)  # advances the page; stops on an empty one
            if data is not None and len(data) < self.page_size:
                self._has_next_page = False

    return ShortPagePaginator


def child_dlt(spec: dict) -> dict:
    """One dlt pipeline run into a fresh DuckDB file: `pipeline.run` with dlt's defaults, or the tuned steps."""
    tuned = spec["variant"] == "dlt-tuned"
    work = Path(tempfile.mkdtemp(prefix="smsetl-bench-dlt-"))
    os.chdir(work)  # dlt reads ./.dlt/*.toml: there is none here
    os.environ.update(RUNTIME__DLTHUB_TELEMETRY="false", RUNTIME__LOG_LEVEL="WARNING")
    if tuned:
        os.environ.update(TUNED_ENV)
    t_import = time.perf_counter()
    import dlt
    from dlt.sources.rest_api import rest_api_source
    import_s = time.perf_counter() - t_import
    try:
        pipeline = dlt.pipeline(pipeline_name="smsetl_bench", pipelines_dir=str(work / "pipelines"),
                                destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
                                dataset_name="mobizon")
        source = rest_api_source(source_config(spec, parallelized=tuned, paginator=_short_page_paginator()))
        cpu0, t0 = _cpu_all(), time.perf_counter()
        if tuned:
            pipeline.extract(source, workers=spec["dlt_workers"], loader_file_format=TUNED_LOADER)
            pipeline.normalize(workers=TUNED_NORMALIZE_WORKERS)
            pipeline.load()
        else:
            pipeline.run(source)
        wall = time.perf_counter() - t0
        cpu = _cpu_all() - cpu0
        with pipeline.sql_client() as client:
            rows = {t: client.execute_sql(f"select count(*) from {client.make_qualified_table_name(t)}")[0][0]
                    for t in pipeline.default_schema.data_table_names()}
        db_bytes = (work / "dlt.duckdb").stat().st_size
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "cpu_s": cpu, "import_s": import_s, "messages": rows.get("messages", 0),
            "rows": rows, "peak_rss_mb": backfill._rss_mb(), "vm_hwm_mb": backfill._hwm_mb(),
            "workers_peak_rss_mb": children or None, "duckdb_bytes": db_bytes, "dlt": dlt.__version__,
            "settings": {"loader_file_format": TUNED_LOADER if tuned else "default (insert_values)",
                         "parallelized": tuned, "extract_workers": spec["dlt_workers"] if tuned else "default",
                         "normalize_workers": TUNED_NORMALIZE_WORKERS if tuned else "default (1)",
                         "env": TUNED_ENV if tuned else {}}}


def _cpu_all() -> float:
    """This process's CPU plus its reaped children's (dlt's normalize worker processes)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# -- parent -----------------------------------------------------------------------------------------------------

def find_dlt_python(explicit: str | None = None) -> Path | None:
    """An interpreter that imports dlt: `explicit`, else bench/.venv-dlt's; None if there is none (nothing is
    installed here)."""
    python = Path(explicit) if explicit else DLT_VENV / "bin" / "python"
    if not python.exists():
        return None
    ok = subprocess.run([str(python), "-c", "import dlt"], capture_output=True).returncode == 0
    return python if ok else None


def make_dlt_venv() -> Path:
    print(f"creating {DLT_VENV.relative_to(ROOT)} with {DLT_REQUIREMENT} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DLT_VENV)], check=True)
    python = DLT_VENV / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", DLT_REQUIREMENT], check=True)
    return python


def _dlt_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import dlt; print(dlt.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def landed_rows(kind: str, result: dict) -> int:
    """Rows in `messages`: the floor's fetched items, smsetl's added rows, dlt's table count."""
    if kind == "smsetl":
        return result["rows"]["messages"]["added"]
    return result["messages"]


def _median(values):
    return statistics.median(values) if values else float("nan")


def schedule(tools: tuple[str, ...]) -> list[str]:
    """One repeat's runs in order: a floor and smsetl pair (about 3 minutes at 1,000,000 messages) before each dlt
    run (half an hour for its defaults) and after the last, so that a machine's slow or quiet spell does not
    decide the smsetl figure every dlt ratio divides by."""
    fast = [t for t in tools if not t.startswith("dlt")]
    slow = [t for t in tools if t.startswith("dlt")]
    if not fast or not slow:
        return list(tools)
    order = list(fast)
    for tool in slow:
        order += [tool, *fast]
    return order


def summarize(runs: list[dict], tools: tuple[str, ...]) -> dict:
    by = {t: [r for r in runs if r["kind"] == t] for t in tools}
    reps = sorted({r["repeat"] for r in runs})
    walls: dict[tuple[str, int], list[float]] = {}
    for r in runs:
        walls.setdefault((r["kind"], r["repeat"]), []).append(r["wall_s"])

    def per_repeat(num: str, den: str) -> list[float]:
        if not num.startswith("dlt"):  # floor and smsetl run in pairs: each pair's ratio
            return [a / b for i in reps for a, b in zip(walls.get((num, i), []), walls.get((den, i), []))]
        # a dlt run against the median of its repeat's smsetl runs
        return [walls[num, i][0] / _median(walls[den, i]) for i in reps if (num, i) in walls and (den, i) in walls]

    summary = {t: {"wall_s_median": _median([r["wall_s"] for r in rs]),
                   # with its worker processes' (smsetl's batches, dlt's normalize workers): all the tool used
                   "cpu_s_median": _median([r["cpu_s"] + (r.get("workers_cpu_s") or 0.0) for r in rs]),
                   "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rs),
                   "workers_peak_rss_mb_max": max((r.get("workers_peak_rss_mb") or 0) for r in rs) or None,
                   "api_calls": sum(rs[0]["sandbox_calls"].values()),
                   "calls": rs[0]["sandbox_calls"],
                   "rows_in_messages": sorted({landed_rows(t, r) for r in rs})}
               for t, rs in by.items()}
    ratios = {}
    for t in tools:
        if t != "floor" and "floor" in tools:
            ratios[f"{t} / floor"] = per_repeat(t, "floor")
        if t.startswith("dlt") and "smsetl" in tools:
            ratios[f"{t} / smsetl"] = per_repeat(t, "smsetl")
    rows = {landed_rows(r["kind"], r) for r in runs}
    return {"summary": summary, "ratios": ratios, "ratio_medians": {k: _median(v) for k, v in ratios.items()},
            "rows_in_messages": sorted(rows), "rows_equal": len(rows) == 1}


TARGETS = {"dlt-default / smsetl": 20.0, "dlt-tuned / smsetl": 3.0}  # issue 8: smsetl this many times faster


def report(results: dict) -> str:
    cfg, m, s = results["config"], results["machine"], results["summary"]
    lines = [
        f"machine: {m['cores']} cores {m['machine']}, python {m['python']}; prefect {m['prefect']}, duckdb "
        f"{m['duckdb']} (smsetl); dlt {results['dlt_version']} in {results['dlt_python']}",
        f"sandbox: {cfg['messages']} messages requested, {cfg['campaigns']} campaigns, seed {cfg['seed']}, clock "
        f"{cfg['as_of']}; smsetl workers {cfg['workers']}, dlt tuned extract workers {cfg['dlt_workers']}, "
        f"repeats {cfg['repeat']}",
        "",
        f"{'tool':<12} {'wall s (median)':>16} {'x floor':>8} {'messages/s':>11} {'API calls':>10} {'CPU s':>7} "
        f"{'peak RSS MB':>12} {'rows in messages':>17}",
    ]
    floor = s.get("floor", {}).get("wall_s_median")
    for tool, t in s.items():
        wall = t["wall_s_median"]
        rss = f"{t['peak_rss_mb_max']:.0f}"
        if t["workers_peak_rss_mb_max"]:
            rss += f" (+{t['workers_peak_rss_mb_max']:.0f})"
        rows = "/".join(str(n) for n in t["rows_in_messages"])
        x = f"{wall / floor:.2f}" if floor else "-"
        lines.append(f"{tool:<12} {wall:>16.2f} {x:>8} {t['rows_in_messages'][0] / wall:>11,.0f} "
                     f"{t['api_calls']:>10} {t['cpu_s_median']:>7.1f} {rss:>12} {rows:>17}")
    lines.append("")
    for name, median in results["ratio_medians"].items():
        per = ", ".join(f"{x:.2f}" for x in results["ratios"][name])
        target = TARGETS.get(name)
        verdict = f"  (target >= {target:g}: {'met' if median >= target else 'NOT met'})" if target else ""
        if name.endswith("/ smsetl"):
            label, each = f"smsetl speed-up over {name.split(' / ')[0]}", "per repeat (against its smsetl median)"
        else:
            label, each = name + " (wall)", "per pair"
        lines.append(f"{label}: median {median:.2f} x; {each} {per}{verdict}")
    rows = results["rows_in_messages"]
    lines.append("rows in messages: " + (f"{rows[0]} for every tool and run" if results["rows_equal"]
                                         else f"DIFFER across tools: {rows}"))
    lines += ["", "API calls per method (the sandbox's count):"]
    for tool, t in s.items():
        lines.append(f"  {tool:<11} " + ", ".join(f"{k} {v}" for k, v in sorted(t["calls"].items())))
    lines.append("peak RSS: the measured process's ru_maxrss; (+N): dlt's normalize worker processes' largest")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="smsetl's SMSETL_WORKERS and the floor's threads")
    parser.add_argument("--dlt-workers", type=int, default=8, help="dlt tuned: extract workers (dlt's default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--dlt-python", help=f"an interpreter with dlt (default: {DLT_VENV.relative_to(ROOT)}, "
                                             "created when missing)")
    parser.add_argument("--child", choices=("dlt-default", "dlt-tuned"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = child_dlt({**json.loads(args.spec), "variant": args.child})
        Path(args.out).write_text(json.dumps(result, default=str))
        return 0

    tools = tuple(t.strip() for t in args.tools.split(",") if t.strip())
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}: choose from {', '.join(TOOLS)}")
    dlt_python = None
    if any(t.startswith("dlt") for t in tools):
        dlt_python = find_dlt_python(args.dlt_python)
        if dlt_python is None:
            if args.dlt_python:
                raise SystemExit(f"{args.dlt_python} cannot import dlt: install {DLT_REQUIREMENT!r} into it, "
                                 f"or leave out --dlt-python to use {DLT_VENV.relative_to(ROOT)}")
            dlt_python = make_dlt_venv()
    dlt_version = _dlt_version(dlt_python) if dlt_python else None

    sys.path.insert(0, str(ROOT))
    from zoneinfo import ZoneInfo

    from sandbox.process import SandboxProcess  # stdlib only: the parent stays small

    constants = backfill._sync_constants()
    print(f"starting the sandbox: {args.messages} messages, {args.campaigns} campaigns ...", flush=True)
    sandbox = SandboxProcess(args.seed, args.campaigns, args.messages,
                             datetime.strptime(backfill.SANDBOX_NOW, "%Y-%m-%d %H:%M:%S"), backfill.TIMEZONE)
    try:
        as_of = sandbox.clock().replace(tzinfo=ZoneInfo(backfill.TIMEZONE))
        spec = {"url": sandbox.url, "timezone": backfill.TIMEZONE, "rate_limit": None, "workers": args.workers,
                "dlt_workers": args.dlt_workers, "as_of": as_of.isoformat(),
                "since": (as_of - timedelta(days=backfill.BACKFILL_DAYS)).isoformat(), **constants}
        runs = []
        for rep in range(args.repeat):
            for tool in schedule(tools):
                if tool.startswith("dlt"):
                    r = backfill.run_child(tool, spec, sandbox, python=str(dlt_python), script=Path(__file__))
                else:
                    r = backfill.run_child("pipeline" if tool == "smsetl" else "floor", spec, sandbox)
                r.update(kind=tool, repeat=rep)
                runs.append(r)
                print(f"  repeat {rep + 1}/{args.repeat} {tool:<11} {r['wall_s']:8.2f} s, "
                      f"{landed_rows(tool, r)} rows in messages, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    finally:
        sandbox.stop()

    results = {
        "benchmark": "dlt",
        "timestamp": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": backfill._versions(),
        "dlt_version": dlt_version, "dlt_python": str(dlt_python) if dlt_python else None,
        "config": {"messages": args.messages, "campaigns": args.campaigns, "repeat": args.repeat,
                   "workers": args.workers, "dlt_workers": args.dlt_workers, "seed": args.seed, "tools": tools,
                   "as_of": spec["as_of"], "since": spec["since"],
                   "dlt_tuned": {"loader_file_format": TUNED_LOADER, "parallelized": True,
                                 "extract_workers": args.dlt_workers, "normalize_workers": TUNED_NORMALIZE_WORKERS,
                                 "env": TUNED_ENV}},
        "sandbox_startup_s": sandbox.startup_s,
        **summarize(runs, tools),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"dlt-{datetime.now():%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(report(results))
    print(f"\nfigures: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if not results["rows_equal"]:
        print("FAILED: the tools landed different numbers of rows in messages; the comparison is not like for like",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
