"""Publish time with the lake on S3 against the local lake only: a backfill and an incremental sync of one
sandbox, into a local data directory and into one with `SMS_LAKE_URL` (moto's S3 server on 127.0.0.1).

    .venv/bin/python bench/s3_publish.py [--campaigns 40] [--messages 20000] [--hours 6]

Needs the test extra (moto). The publish phase is, locally, the warehouse build; with S3, the upload of the new
files and the manifest, then the warehouse build from the bucket. Prints both per run, the files uploaded, and
whether the two warehouses are equal row by row; writes `bench/results/s3-publish-<timestamp>.json`.
Loopback S3 has no network latency: against a remote store, uploads and reads take longer.
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

sys.path.insert(0, str(ROOT / "tests" / "reliability"))  # dump_warehouse

RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 1, 12, 0)
ZONE = "Asia/Almaty"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=40)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.update(prefect_env())
    import logging

    import boto3
    from moto.server import ThreadedMotoServer
    from reliability_support import dump_warehouse

    from flows.sync import sync
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret", AWS_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://{host}:{port}")
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket="bench")
    runs, dumps = {}, {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for target in ("local", "s3"):
                os.environ.pop("SMS_LAKE_URL", None)
                if target == "s3":
                    os.environ["SMS_LAKE_URL"] = "s3://bench/lake"
                sb = Sandbox.generate(seed=args.seed, campaigns=args.campaigns, messages=args.messages, now=NOW,
                                      timezone=ZONE)
                data_dir = Path(tmp) / target
                with sb.serve(port=0, faults=Faults()) as server:
                    os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=ZONE,
                                      SMS_RATE_LIMIT="none")
                    runs[target, "backfill"] = sync(str(data_dir), since=NOW - timedelta(days=120))
                    sb.clock.advance(timedelta(hours=args.hours))
                    runs[target, "incremental"] = sync(str(data_dir))
                dumps[target] = dump_warehouse(data_dir)
    finally:
        s3.stop()
    figures = {}
    for run in ("backfill", "incremental"):
        local, remote = runs["local", run], runs["s3", run]
        figures[run] = {"messages_added": local["rows"].get("messages", {}).get("added", 0),
                        "publish_local_s": local["phase_seconds"]["publish"],
                        "publish_s3_s": remote["phase_seconds"]["publish"], "s3": remote["published"]}
        f = figures[run]
        print(f"{run}: publish {f['publish_local_s']:.2f} s local, {f['publish_s3_s']:.2f} s with S3 "
              f"(upload {f['s3']['lake_seconds']:.2f} s: {f['s3']['uploaded']} of {f['s3']['files']} files, "
              f"{f['s3']['uploaded_bytes']:,} bytes; warehouse from S3 {f['s3']['warehouse_seconds']:.2f} s)")
    equal = dumps["local"] == dumps["s3"]
    print(f"warehouses equal row by row: {equal}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"s3-publish-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "runs": figures, "warehouses_equal": equal}, indent=2))
    print(f"figures: {out}")
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
