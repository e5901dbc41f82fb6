"""`smsetl webhook`: run the delivery-report receiver; the secret comes from `SMS_WEBHOOK_SECRET` only."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--data-dir", help="where the event log goes, under webhooks/ (default: $SMS_DATA_DIR or "
                                           "./data)")


def run(args: argparse.Namespace) -> int:
    from webhooks.receiver import serve
    from webhooks.store import EventStore, StoreBusyError

    secret = os.environ.get("SMS_WEBHOOK_SECRET", "")
    if not secret:
        print("smsetl webhook: SMS_WEBHOOK_SECRET is not set: export the secret key shown for the webhook in the "
              "gateway's web interface", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or os.environ.get("SMS_DATA_DIR") or "data")
    try:  # fail before serving when another receiver holds the log
        EventStore(data_dir).close()
    except StoreBusyError as exc:
        print(f"smsetl webhook: {exc}", file=sys.stderr)
        return 2
    print(f"webhook receiver on http://{args.host}:{args.port}/ storing to {data_dir / 'webhooks'}", flush=True)
    serve(data_dir, secret, host=args.host, port=args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webhooks")
    add_arguments(parser)
    return run(parser.parse_args(argv))
