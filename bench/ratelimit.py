"""Rate-limit benchmark: the adaptive limiter against per-method limits it is not told, on the sandbox.

    .venv/bin/python bench/ratelimit.py [--limits 2,5,20,50] [--seconds 40] [--workers 4] [--repeat 1]

For each limit L the sandbox answers code 30 past L calls per sliding second per method (its `rate_limit`
fault). Three clients then make `Campaign/GetInfo` calls from `--workers` threads for about `--seconds`:
- told: a fixed limiter at exactly L calls/s (`adaptive_rate_limit=False`): a client that knows the limit, the
  baseline measured in the same run (spaced at exactly L, jitter makes it meet code 30 and back off, so at low
  limits it gets less than the adaptive one);
- adaptive: the default client, not told anything (`SMS_RATE_LIMIT` unset), starting from scratch;
- learned: the default client started from what the adaptive one learned, as the next sync starts from the
  data directory's `rate-limits.json`.
Each reports answered calls per second over L, and the share (and number) of its calls answered code 30,
medians over `--repeat` runs; then a small full sync runs under the same limit with the default client and must
succeed. Prints a table and writes `bench/results/ratelimit-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.offline import prefect_env  # noqa: E402
from sandbox import SANDBOX_API_KEY, Faults, Sandbox  # noqa: E402
from smsapi import SmsApi  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 1, 12, 0)
ZONE = "Asia/Almaty"


def measure(url: str, campaign_ids: list[int], seconds: float, workers: int, told: float | None,
            learned: dict | None = None) -> dict:
    """`workers` threads calling Campaign/GetInfo for `seconds`: answered calls/s and code-30 answers.
    `learned`: the adaptive client starts from these rates (what an earlier run learned), as a sync does."""
    api = SmsApi(url, SANDBOX_API_KEY, timezone=ZONE, rate_limit_per_method=told,
                 adaptive_rate_limit=told is None, learned_rates=learned, max_retries=50, backoff=0.05)
    stop = time.monotonic() + seconds
    answered = [0] * workers

    def work(w: int) -> None:
        i = w
        while time.monotonic() < stop:
            api.get_campaign_info(campaign_ids[i % len(campaign_ids)])
            answered[w] += 1
            i += workers

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    calls = api.stats.calls["Campaign/GetInfo"]
    throttled = api.stats.retries.get("code 30", 0)
    api.close()
    return {"answered": sum(answered), "calls": calls, "code_30": throttled, "seconds": round(elapsed, 2),
            "rate": sum(answered) / elapsed, "learned": api.limiter.learned()}


def full_sync(url: str) -> dict:
    """A first sync of a small account under the limit, with the default (adaptive) client."""
    from flows.sync import sync

    env = dict(SMS_API_URL=url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=ZONE)
    saved = {k: os.environ.get(k) for k in [*env, "SMS_RATE_LIMIT"]}
    os.environ.update(env)
    os.environ.pop("SMS_RATE_LIMIT", None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            summary = sync(str(Path(tmp) / "data"), since=datetime(2026, 6, 1))
            api = summary["api"]
            return {"outcome": "succeeded", "seconds": round(time.monotonic() - t0, 1),
                    "calls": api["total_calls"], "code_30": api["retries"].get("code 30", 0)}
    except Exception as exc:  # the figure to report is that it failed, and why
        return {"outcome": f"failed: {exc}"}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="2,5,20,50")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-sync", action="store_true", help="skip the full sync under each limit")
    args = parser.parse_args(argv)
    # the full syncs' Prefect: a private, temporary home (its own database), offline, quiet
    os.environ.update(prefect_env(pii_key=False))
    limits = [float(x) for x in args.limits.split(",")]

    sb = Sandbox.generate(seed=7, campaigns=20, messages=2000, now=NOW, timezone=ZONE)
    ids = [cid for cid, t in sb.ground_truth().items()]
    rows = []
    for limit in limits:
        with sb.serve(port=0, faults=Faults(rate_limit=limit)) as server:
            runs = []
            for _ in range(args.repeat):
                told = measure(server.url, ids, args.seconds, args.workers, told=limit)
                time.sleep(1.5)  # the sandbox's window forgets the told client's calls
                adaptive = measure(server.url, ids, args.seconds, args.workers, told=None)
                time.sleep(1.5)
                again = measure(server.url, ids, args.seconds, args.workers, told=None, learned=adaptive["learned"])
                time.sleep(1.5)
                runs.append((told, adaptive, again))
            synced = None if args.no_sync else full_sync(server.url)
        told = statistics.median(r[0]["rate"] for r in runs)
        adaptive = statistics.median(r[1]["rate"] for r in runs)
        share = statistics.median(r[1]["code_30"] / r[1]["calls"] for r in runs)
        again = statistics.median(r[2]["rate"] for r in runs)
        again_share = statistics.median(r[2]["code_30"] / r[2]["calls"] for r in runs)
        counts = [statistics.median(r[i]["code_30"] for r in runs) for i in (1, 2)]  # a share hides how few
        rows.append({"limit": limit, "told_rate": round(told, 2), "adaptive_rate": round(adaptive, 2),
                     "adaptive_of_limit": round(adaptive / limit, 3), "adaptive_of_told": round(adaptive / told, 3),
                     "adaptive_code_30_share": round(share, 4), "adaptive_code_30": counts[0],
                     "learned_rate": round(again, 2), "learned_of_limit": round(again / limit, 3),
                     "learned_code_30_share": round(again_share, 4), "learned_code_30": counts[1],
                     "runs": runs, "full_sync": synced})
        print(f"limit {limit:g}/s: told {told:.2f}/s, adaptive {adaptive:.2f}/s "
              f"({adaptive / limit:.1%} of the limit, {adaptive / told:.1%} of told), code 30: {share:.2%} "
              f"({counts[0]:g}); from what it learned {again:.2f}/s ({again / limit:.1%}), code 30: "
              f"{again_share:.2%} ({counts[1]:g})",
              flush=True)

    print()
    print(f"{'':>36} {'from scratch':^34} {'from what it learned':^27}")
    print(f"{'limit/s':>8} {'told/s':>8} {'adaptive/s':>11} {'of limit':>9} {'of told':>8} {'code 30':>14} "
          f"{'of limit':>9} {'code 30':>14}  full sync")
    for r in rows:
        s = r["full_sync"]
        sync_text = "skipped" if s is None else (
            f"{s['outcome']} in {s['seconds']} s, {s['calls']} calls, {s['code_30']} code 30"
            if s["outcome"] == "succeeded" else s["outcome"])
        scratch_30 = f"{r['adaptive_code_30_share']:.2%} ({r['adaptive_code_30']:g})"
        learned_30 = f"{r['learned_code_30_share']:.2%} ({r['learned_code_30']:g})"
        print(f"{r['limit']:>8g} {r['told_rate']:>8.2f} {r['adaptive_rate']:>11.2f} {r['adaptive_of_limit']:>9.1%} "
              f"{r['adaptive_of_told']:>8.1%} {scratch_30:>14} {r['learned_of_limit']:>9.1%} {learned_30:>14}  "
              f"{sync_text}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ratelimit-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
