"""`smsetl sync --accounts FILE`: the multi-account sync's command (the flow is `flows.accounts`; `smsetl serve
--accounts FILE` serves it, making the same checks first: `refusal`).

Exit status: 0 when every account synced; 1 when some failed (the others are synced and in the combined
warehouse; each failure is printed with its cause and fix); 2 when nothing could start (a bad accounts file, a
flag that belongs in the file, another multi-account sync running).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storage.combined import ACCOUNTS_DIR
from transforms.schema import RUN_SUCCEEDED


def is_multi_account(data_dir: Path) -> bool:
    """Whether `data_dir` is a multi-account data directory (it holds `accounts/`)."""
    return (data_dir / ACCOUNTS_DIR).is_dir()


def single_account_refusal(data_dir: Path, command: str) -> str | None:
    """The message for a single-account `command` aimed at a multi-account data directory, else None."""
    if not is_multi_account(data_dir):
        return None
    names = sorted(p.name for p in (data_dir / ACCOUNTS_DIR).iterdir() if p.is_dir())
    example = data_dir / ACCOUNTS_DIR / (names[0] if names else "NAME")
    return (f"{data_dir} is a multi-account data directory (accounts: {', '.join(names) or 'none yet'}): run "
            f"`smsetl {command} --accounts FILE --data-dir {data_dir}`, or name one account's directory, e.g. "
            f"--data-dir {example}")


def where() -> str:
    """Where the accounts' syncs run, as the first line says it."""
    from flows.settings import current

    settings = current()
    if settings.dask == "local":
        return f"on a Dask LocalCluster of {settings.account_workers} worker processes"
    if settings.dask:
        return f"on the Dask cluster at {settings.dask}"
    return f"on {settings.account_workers} threads"


def refusal(args: argparse.Namespace, data_dir: Path) -> str | None:
    """Why `--accounts FILE` cannot run on `data_dir` (a flag that belongs in the file, a single account's data
    directory, a bad accounts file), else None."""
    from flows import account_config

    for flag in ("api_url", "timezone"):
        if getattr(args, flag, None):
            return f"--{flag.replace('_', '-')} does not go with --accounts: each account's is in {args.accounts}"
    if (data_dir / "lake").exists() or (data_dir / "raw").exists():
        return (f"{data_dir} holds a single account's data (raw/, lake/): give the accounts their own data "
                "directory (--data-dir), or move this one to <data dir>/accounts/<name>/")
    try:
        account_config.load(Path(args.accounts))
    except account_config.AccountConfigError as exc:
        return str(exc)
    return None


def sync_accounts(args: argparse.Namespace, data_dir: Path) -> int:
    from prefect.settings import PREFECT_API_URL

    from flows import account_config, privacy
    from flows.accounts import AccountsFailed, check_dask_server, format_results, run
    from flows.settings import current
    from flows.sync import sync_lock

    if problem := refusal(args, data_dir):
        print(f"smsetl sync: {problem}", file=sys.stderr)
        return 2
    accounts = account_config.load(Path(args.accounts))
    privacy.mode_from_env()  # a bad SMS_PII fails at once, before Prefect starts
    check_dask_server(current(), PREFECT_API_URL.value())  # and Dask without a Prefect server
    print(f"syncing {len(accounts)} accounts into {data_dir / ACCOUNTS_DIR}: {', '.join(a.name for a in accounts)}"
          f" {where()}", flush=True)
    try:  # a second multi-account sync fails here, at once, not after Prefect starts; the flow locks too
        with sync_lock(data_dir, ".sync-accounts-cli.lock"):
            results = run(str(args.accounts), str(data_dir), since=args.since, until=args.until, scope=args.scope)
    except AccountsFailed as exc:
        print(format_results(exc.results))
        print(f"combined warehouse: {data_dir / 'warehouse.duckdb'}")
        failed = [r for r in exc.results if r["outcome"] != RUN_SUCCEEDED]
        print(f"smsetl sync: {len(failed)} of {len(exc.results)} accounts failed: "
              + ", ".join(r["account"] for r in failed), file=sys.stderr)
        for r in failed:
            print(f"  {r['error']}", file=sys.stderr)
        return 1
    print(format_results(results))
    print(f"combined warehouse: {data_dir / 'warehouse.duckdb'}")
    return 0
