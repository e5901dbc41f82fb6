"""``smsetl sandbox``: serve a generated gateway until interrupted."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .data import SANDBOX_API_KEY, parse_ts
from .faults import Faults
from .gateway import Sandbox


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--now", default=None, help="account-local 'YYYY-MM-DD HH:MM:SS' (default: wall clock)")
    parser.add_argument("--timezone", default="Asia/Almaty")
    parser.add_argument("--api-key", default=SANDBOX_API_KEY,
                        help="the account's API key: any other is answered code 8 (default: the sandbox's own); "
                             "one sandbox per account, each on its port (its domain), with its --seed and key")
    f = parser.add_argument_group("faults (rates are per call, 0..1, reproducible from --seed)")
    f.add_argument("--rate-limit", type=float, default=0.0, help="calls/s allowed per method (code 30)")
    f.add_argument("--rate-limit-method", action="append", default=[], metavar="MODULE/METHOD=N",
                   help="per-method limit, repeatable")
    f.add_argument("--wrong-port", type=int, nargs="?", const=-1, default=None, metavar="PORT",
                   help="also serve a port answering code 13 (default PORT: --port + 1)")
    f.add_argument("--background-tasks", type=float, default=0.0, help="share of AddRecipients answered code 100")
    f.add_argument("--task-polls", type=int, default=3)
    f.add_argument("--http-5xx", type=float, default=0.0)
    f.add_argument("--drop", type=float, default=0.0, help="close the connection without a response")
    f.add_argument("--slow", type=float, default=0.0)
    f.add_argument("--slow-seconds", type=float, default=1.0)
    f.add_argument("--truncated", type=float, default=0.0)
    f.add_argument("--code3", type=float, default=0.0)
    f.add_argument("--code999", type=float, default=0.0)
    f.add_argument("--webhook-duplicate", type=float, default=0.0, help="share of webhooks sent twice")
    f.add_argument("--webhook-retry-after-ok", type=float, default=0.0,
                   help="share of webhooks sent again after a 2xx (attempt + 1), as when the answer is missed")
    w = parser.add_argument_group("delivery-report webhooks (API.md section 8)")
    w.add_argument("--webhook-url", help="POST a signed sms-delivery-report here for each message that becomes "
                                         "final as the clock moves (e.g. http://127.0.0.1:8780/)")
    w.add_argument("--webhook-secret", help="the secret the events are signed with (default: $SMS_WEBHOOK_SECRET)")
    w.add_argument("--webhook-retry-step", type=float, default=60.0, metavar="SECONDS",
                   help="a failed attempt n is retried n x this later, up to 10 attempts (the gateway: 60)")


def faults_from_args(args) -> Faults:
    per = {}
    for item in args.rate_limit_method:
        name, _, n = item.partition("=")
        per[name] = float(n)
    return Faults(rate_limit=args.rate_limit, rate_limit_methods=per, wrong_port=args.wrong_port is not None,
                  background_tasks=args.background_tasks, task_polls=args.task_polls, http_5xx=args.http_5xx,
                  drop=args.drop, slow=args.slow, slow_seconds=args.slow_seconds, truncated=args.truncated,
                  code3=args.code3, code999=args.code999, webhook_duplicate=args.webhook_duplicate,
                  webhook_retry_after_ok=args.webhook_retry_after_ok, seed=args.seed)


def run(args) -> int:
    secret = args.webhook_secret or os.environ.get("SMS_WEBHOOK_SECRET", "")
    if args.webhook_url and not secret:
        print("smsetl sandbox: --webhook-url needs a secret to sign with: set SMS_WEBHOOK_SECRET (the receiver's) "
              "or pass --webhook-secret", file=sys.stderr)
        return 2
    if args.now:
        now = datetime(1970, 1, 1) + timedelta(seconds=parse_ts(args.now, "UTC"))  # the wall time as written
    else:
        now = datetime.now(ZoneInfo(args.timezone)).replace(tzinfo=None, second=0, microsecond=0)
    sb = Sandbox.generate(seed=args.seed, campaigns=args.campaigns, messages=args.messages, now=now,
                          timezone=args.timezone)
    sb.api_key = args.api_key
    faults = faults_from_args(args)
    wrong = 0
    if args.wrong_port is not None:
        wrong = args.port + 1 if args.wrong_port == -1 and args.port else max(args.wrong_port, 0)
    server = sb.serve(port=args.port, faults=faults, host=args.host, wrong_port=wrong)
    if args.webhook_url:
        try:
            server.send_webhooks(args.webhook_url, secret, retry_step=args.webhook_retry_step)
        except ValueError as exc:
            server.close()
            print(f"smsetl sandbox: {exc}", file=sys.stderr)
            return 2
    truth = sb.ground_truth()
    print(f"sandbox gateway: {server.url}")
    print(f"  API key:   {sb.api_key}")
    print(f"  time zone: {args.timezone}, clock at {sb.clock.now:%Y-%m-%d %H:%M:%S}")
    print(f"  serving:   {len(truth)} campaigns visible of {sb.n_campaigns()}, "
          f"{sum(t.messages_total for t in truth.values())} messages visible of {len(sb.m_camp)}, "
          f"{len(sb.l_code)} short links, {len(sb.k_t)} clicks in total")
    print(f"  example:   {server.url}/service/Campaign/List?output=json&api=v1&apiKey={sb.api_key}")
    print(f"  admin:     GET/POST {server.url}/admin/clock (advance=SECONDS | now=YYYY-MM-DD HH:MM:SS), "
          f"GET/POST {server.url}/admin/faults (JSON), GET {server.url}/admin/stats, GET {server.url}/admin/webhooks")
    if server.webhooks:
        print(f"  webhooks:  sms-delivery-report to {args.webhook_url} as the clock moves (signed)")
    if server.wrong_url:
        print(f"  wrong-domain port (code 13): {server.wrong_url}")
    print(f"  faults:    {faults.to_dict()}")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
