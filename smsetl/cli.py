"""The `smsetl` command: demo, sync, serve, rebuild, build, metrics, report, sandbox.

Settings come from the environment (`SMS_API_URL`, `SMS_API_KEY`, `SMS_TIMEZONE`, `SMS_RATE_LIMIT`,
`SMS_DATA_DIR`, `SMS_PII`, ...: `flows.settings`); flags are laid over them in one `Settings` object that the
command runs with (`flows.settings.activated`), never written into `os.environ`. The key is never a flow
parameter, so a `--api-key` flag is not offered: export SMS_API_KEY instead. Nor is a flag offered for the
recipients' hashing key (`SMS_PII_KEY` or its key file, `flows.privacy`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

# The flags that are settings too (`flows.settings.Settings` fields of the same names), over the environment's.
SETTING_FLAGS = ("api_url", "timezone", "rate_limit", "pii", "data_dir", "dask", "lake_url")


def data_dir_from(args: argparse.Namespace) -> Path:
    """The data directory the command runs on: `--data-dir`, else `SMS_DATA_DIR`, else ./data."""
    from flows.settings import current

    return current().data_dir


def _date(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="gateway base URL (default: $SMS_API_URL)")
    parser.add_argument("--timezone", help="the account's IANA time zone (default: $SMS_TIMEZONE)")
    parser.add_argument("--rate-limit",
                        help="API calls per second per method: 'auto' (learn the gateway's limit), a number (a cap on "
                             "what is learned) or 'none' (default: $SMS_RATE_LIMIT or auto)")
    parser.add_argument("--data-dir", help="where raw, lake and warehouse live (default: $SMS_DATA_DIR or ./data)")


def _add_lake_url_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--lake-url", metavar="s3://BUCKET/PREFIX",
                        help=f"{what} (default: $SMS_LAKE_URL; credentials and endpoint from AWS_ACCESS_KEY_ID, "
                             "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION)")


def check_object_store() -> None:
    """A wrong bucket, endpoint or credentials fail here, before Prefect starts, naming the setting to fix."""
    from flows.settings import current

    if (store := current().object_store()) is not None:
        store.check()


def _add_pii_flag(parser: argparse.ArgumentParser, note: str = "") -> None:
    from transforms.pii import PII_MODES

    parser.add_argument("--pii", choices=PII_MODES,
                        help="recipients' phone numbers as stored: hash (keyed), keep (as sent) or drop (NULL); "
                             f"default: $SMS_PII or hash{note}")


def cmd_sync(args: argparse.Namespace) -> int:
    from flows import privacy
    from flows.settings import current
    from flows.sync import format_summary, sync, sync_lock
    from smsapi import SmsApi
    from smsetl.progress import progress_display

    if args.since and args.until and args.since >= args.until:  # else the flow fails late, in a task
        print(f"smsetl sync: --since {args.since:%Y-%m-%d} is not before --until {args.until:%Y-%m-%d}:"
              " swap them, or drop one", file=sys.stderr)
        return 2
    check_object_store()
    if args.accounts:  # many accounts, each in <data dir>/accounts/<name>/: smsetl/accounts.py
        from smsetl.accounts import sync_accounts

        return sync_accounts(args, data_dir_from(args))
    from smsetl.accounts import single_account_refusal

    if refusal := single_account_refusal(data_dir_from(args), "sync"):
        print(f"smsetl sync: {refusal}", file=sys.stderr)
        return 2
    # A bad SMS_PII, or a mode the data directory does not hold, fails here, before the API or Prefect.
    privacy.check_sync(data_dir_from(args))
    if current().dask:  # the message batches on a Dask cluster (flows.batches): a Prefect server first
        from prefect.settings import PREFECT_API_URL

        from flows.cluster import check_dask_server
        from smsetl.accounts import where

        check_dask_server(current(), PREFECT_API_URL.value())
        print(f"message batches {where(current().workers)}", flush=True)
    # A missing key, URL or zone, a bad key or a wrong domain fails here, before Prefect starts.
    with SmsApi.from_env(current().client_env()) as api:
        api.get_balance()
    # A sync already running fails here, at once, not after Prefect starts; the flow takes its own lock too.
    with sync_lock(data_dir_from(args), ".sync-cli.lock"), progress_display():  # live on a terminal, else log lines
        summary = sync(str(data_dir_from(args)), since=args.since, until=args.until, scope=args.scope)
    print(format_summary(summary))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from flows import privacy
    from flows.rebuild import rebuild

    privacy.mode_from_env()  # a bad SMS_PII fails at once
    data_dir = data_dir_from(args)
    before = privacy.held(data_dir)
    done = rebuild(data_dir)
    print(f"rebuilt lake and warehouse from {done.runs} runs of raw payloads in {data_dir}"
          f" ({done.folded} of them from raw's snapshot, {done.replayed} replayed)")
    after = privacy.held(data_dir)
    if before is not None and after is not None and before.mode != after.mode:
        print(f"recipients' phone numbers converted from {before.mode} to {after.mode} in raw, lake and warehouse")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from flows.settings import current
    from storage import warehouse
    from storage.lake import Lake
    from storage.objectstore import PublishedLake

    data_dir = data_dir_from(args)
    if args.accounts:  # the combined warehouse, each account's built again from its lake: smsetl/accounts.py
        from smsetl.accounts import build_accounts

        return build_accounts(args, data_dir)
    from smsetl.accounts import single_account_refusal

    if refusal := single_account_refusal(data_dir, "build"):
        print(f"smsetl build: {refusal}", file=sys.stderr)
        return 2
    if (store := current().object_store()) is not None:  # the published lake: any machine can build from it
        data_dir.mkdir(parents=True, exist_ok=True)
        lake, source = PublishedLake(store, data_dir, memory_limit=current().duckdb_memory), store.url
    elif (data_dir / "lake").exists():
        lake, source = Lake(data_dir / "lake", memory_limit=current().duckdb_memory), data_dir / "lake"
    else:
        raise FileNotFoundError(f"no lake in {data_dir}: run `smsetl sync` first (or give --lake-url)")
    path = warehouse.build(lake, data_dir, whole=True).path  # asked for: read everything again
    print(f"warehouse rebuilt from {source} with the views of sql/: {path}")
    return 0


def cmd_housekeep(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from flows.rebuild import fold
    from flows.sync import sync_lock
    from storage import housekeeping

    data_dir = data_dir_from(args)
    if not (data_dir / "raw").exists():
        raise FileNotFoundError(f"no raw store in {data_dir}: run `smsetl sync` first")
    with sync_lock(data_dir):
        print(f"removed {len(housekeeping.remove_leftovers(data_dir))} leftovers of killed runs in {data_dir}")
        if args.compact:
            done = housekeeping.compact(data_dir / "raw")
            print(f"raw compacted: {done.parts_before} parts -> {done.parts_after} (one per run and entity)")
            folded = fold(data_dir)
            print(f"raw's snapshot: {folded} more runs folded into it (rebuild replays only the runs after it)")
        if args.prune_older_than is not None:
            done = housekeeping.prune(data_dir / "raw", timedelta(days=args.prune_older_than))
            print(f"raw pruned: payloads of {len(done.runs_pruned)} failed or killed runs ({done.bytes_freed:,} bytes);"
                  f" {done.completed_runs_kept} completed runs older than that kept: rebuild replays them")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from flows import privacy
    from smsetl.demo import demo

    privacy.mode_from_env()  # a bad SMS_PII fails at once, before the sandbox starts
    return demo(data_dir_from(args), campaigns=args.campaigns, messages=args.messages, seed=args.seed)


def cmd_serve(args: argparse.Namespace) -> int:
    from flows import privacy, serve
    from flows.settings import current
    from smsapi import SmsApi
    from smsetl import accounts

    nightly_at = None if args.nightly_at == "off" else args.nightly_at
    data_dir = data_dir_from(args)
    try:  # what is missing fails here, before anything is scheduled: the server, then the accounts or gateway
        hourly = serve.hourly_minute(args.hourly_at_minute)
        serve.deployment_spec("", args.every_minutes, nightly_at, hourly_at_minute=hourly)  # bad schedule flags
        serve.check_server()
        if args.accounts:  # each account's key and gateway are its runs' to check: one failing stops no other
            problem = accounts.refusal(args, data_dir)
            privacy.mode_from_env()
        else:
            problem = accounts.single_account_refusal(data_dir, "serve")
        if problem:
            print(f"smsetl serve: {problem}", file=sys.stderr)
            return 2
        if not args.accounts:
            privacy.check_sync(data_dir)
            with SmsApi.from_env(current().client_env()) as api:
                api.get_balance()
        serve.serve(data_dir, args.every_minutes, nightly_at, name=args.name, alerts=not args.no_alerts,
                    notify=args.notify, hourly_at_minute=hourly, accounts_file=args.accounts,
                    dask=current().dask)
    except serve.ServeError as exc:
        print(f"smsetl serve: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsetl", description="SMS campaign analytics pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="start the sandbox gateway, sync twice (late reports arrive), print metrics")
    p.add_argument("--data-dir", help="default: $SMS_DATA_DIR or ./data")
    p.add_argument("--campaigns", type=int, default=40)
    p.add_argument("--messages", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    _add_pii_flag(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("sync", help="pull campaigns, delivery reports and clicks into the lake and warehouse")
    _add_connection_flags(p)
    p.add_argument("--since", type=_date,
                   help="first run backfills campaigns created from this date, 00:00 UTC (default: 365 days ago)")
    p.add_argument("--until", type=_date,
                   help="campaigns created before this date, 00:00 UTC (default: now, plus a day of clock slack)")
    _add_pii_flag(p, "; must be the mode the data directory holds")
    _add_lake_url_flag(p, "also publish the lake here, and build the warehouse from it")
    # flows.steps.SCOPES, spelled out: importing flows here would load Prefect for `smsetl --help`
    p.add_argument("--scope", choices=("full", "hourly", "frequent"), default="full",
                   help="full: everything (default); hourly: settled campaigns re-checked only once a day; frequent: "
                        "also counters and click series only once an hour old (what `smsetl serve` runs every "
                        "10 minutes); with --accounts, every account's sync")
    p.add_argument("--accounts", metavar="FILE", help="sync every account of this TOML file, each into <data dir>/"
                                                      "accounts/<name>/, then the combined warehouse")
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT",
                   help="run the message batches (with --accounts: the accounts' syncs) on a Dask cluster, a "
                        "LocalCluster started for the run or a running scheduler (default: $SMSETL_DASK, else "
                        "threads of this process)")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("serve", help="run the sync on schedules against a Prefect server (flows/serve.py)",
                       description="Settings come from the environment (SMS_API_KEY, SMS_API_URL, ...), which "
                                   "each scheduled run inherits; PREFECT_API_URL must name a running server. With "
                                   "--accounts FILE, the multi-account sync (`smsetl sync --accounts`) on the same "
                                   "schedules: each account's key from where the file says.")
    p.add_argument("--data-dir", help="default: $SMS_DATA_DIR or ./data")
    p.add_argument("--accounts", metavar="FILE",
                   help="serve the sync of every account of this TOML file, each into <data dir>/accounts/<name>/, "
                        "then the combined warehouse (deployment sync-accounts/NAME)")
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT",
                   help="the runs' message batches (with --accounts: their account syncs) on a Dask cluster, a "
                        "LocalCluster started for each run or a running scheduler (default: $SMSETL_DASK, else "
                        "threads of the run's process)")
    p.add_argument("--every-minutes", type=float, default=10.0,
                   help="minutes between the syncs of delivery reports and clicks (default: 10)")
    p.add_argument("--hourly-at-minute", default="30",
                   help="minute past each hour (UTC) of the sync that also refreshes campaign counters and click "
                        "series, or 'off' (default: 30)")
    p.add_argument("--nightly-at", default="03:00",
                   help="HH:MM (UTC) of the nightly full sync (settled campaigns re-checked too), or 'off' "
                        "(default: 03:00)")
    p.add_argument("--name", default="scheduled", help="the deployment's name, one per data directory "
                                                       "(default: scheduled: sync/scheduled, or "
                                                       "sync-accounts/scheduled with --accounts)")
    p.add_argument("--notify", metavar="TYPE/NAME", help="notification block the alerts send through, e.g. "
                                                          "slack-webhook/ops (default: alerts show in the UI only)")
    p.add_argument("--no-alerts", action="store_true", help="do not create the alert automations")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("rebuild", help="rebuild lake and warehouse from the raw payloads, without the API")
    p.add_argument("--data-dir")
    _add_pii_flag(p, "; a stronger mode than the data directory holds converts it, raw included")
    p.set_defaults(func=cmd_rebuild)

    p = sub.add_parser("build", help="rebuild the warehouse file and its views from the lake")
    p.add_argument("--data-dir")
    _add_lake_url_flag(p, "build from the lake published here instead of the local one")
    p.add_argument("--accounts", metavar="FILE", help="build every account's warehouse of this TOML file again (each "
                                                      "from <lake url>/accounts/<name> with --lake-url), then the "
                                                      "combined warehouse")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("housekeep", help="remove what killed runs left; compact or prune the raw store")
    p.add_argument("--data-dir")
    p.add_argument("--compact", action="store_true",
                   help="one raw part per run and entity, and every completed run folded into raw's snapshot:"
                        " rebuild replays only the runs after it")
    p.add_argument("--prune-older-than", type=int, metavar="DAYS",
                   help="delete failed and killed runs' payloads older than DAYS (completed runs are kept)")
    p.set_defaults(func=cmd_housekeep)

    from smsetl import metrics

    p = sub.add_parser("metrics", help="print campaign metrics from the warehouse")
    metrics.add_arguments(p)
    p.set_defaults(func=metrics.run)

    from smsetl import report

    p = sub.add_parser("report", help="write one self-contained HTML page from the warehouse's views")
    report.add_arguments(p)
    p.set_defaults(func=report.run)

    from webhooks import cli as webhook_cli

    p = sub.add_parser("webhook", help="receive the gateway's delivery-report webhooks into the data directory")
    webhook_cli.add_arguments(p)
    p.set_defaults(func=webhook_cli.run)

    from sandbox import cli as sandbox_cli

    p = sub.add_parser("sandbox", help="run the local gateway emulator")
    sandbox_cli.add_arguments(p)
    p.set_defaults(func=sandbox_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Offline-friendly defaults for the temporary Prefect server; an explicit setting wins.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if args.command == "serve" else "WARNING")
    # `--dask local`: the LocalCluster's scheduler runs in this process, and Dask logs its start and stop at INFO
    # (read when distributed is imported; its worker processes inherit it): no news on a terminal.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("smsetl").setLevel(logging.INFO)  # progress of long work; libraries stay quiet
    from flows import settings

    try:
        # `smsetl sandbox --rate-limit` is the emulated gateway's limit (a fault), not the client's setting.
        names = () if args.command == "sandbox" else SETTING_FLAGS
        flags = {name: getattr(args, name, None) for name in names}
        with settings.activated(settings.load().with_flags(**flags)):
            return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # user-facing errors: the message names cause and fix; no traceback
        from flows.privacy import PiiError
        from flows.sync import SyncBusyError
        from smsapi import SmsApiError
        from storage.objectstore import ObjectStoreError

        if isinstance(exc, SmsApiError | SyncBusyError | PiiError | settings.SettingsError | FileNotFoundError
                      | FileExistsError | ObjectStoreError):
            print(f"smsetl {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
