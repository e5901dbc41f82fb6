"""`smsetl sync --accounts FILE`: the multi-account sync's command (the flow is `flows.accounts`; `smsetl serve
--accounts FILE` serves it, making the same checks first: `refusal`); and `smsetl build --accounts FILE`, the
combined warehouse built again from the accounts' lakes.

Exit status: 0 when every account synced; 1 when some failed (the others are synced and in the combined
warehouse; each failure is printed with its cause and fix); 2 when nothing could start (a bad accounts file, a
flag that belongs in the file, another multi-account sync running).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


def where(workers: int | None = None) -> str:
    """Where the accounts' syncs (or, given its `workers`, one account's message batches) run, as the command's
    first line says it."""
    from flows.settings import current

    settings = current()
    workers = settings.account_workers if workers is None else workers
    if settings.dask == "local":
        return f"on a Dask LocalCluster of {workers} worker processes"
    if settings.dask:
        return f"on the Dask cluster at {settings.dask}"
    return f"on {workers} threads"


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
    from flows.accounts import AccountsFailed, format_results, run
    from flows.cluster import check_dask_server
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


def build_accounts(args: argparse.Namespace, data_dir: Path) -> int:
    """`smsetl build --accounts FILE`: each account's warehouse built again from its lake, then the combined one.
    With `SMS_LAKE_URL` (`--lake-url`) each account's lake is the one its sync published under
    `<lake url>/accounts/<name>`, so any machine can build the agency's combined warehouse from the bucket alone.
    An account's outcome is its last recorded run's; an account with no lake yet has no data and fails the
    command (exit 1, naming it), after the others are built."""
    import duckdb

    from flows import account_config
    from flows.settings import current
    from storage import combined, warehouse
    from storage.lake import Lake
    from storage.objectstore import ObjectStoreError, PublishedLake

    try:
        accounts = account_config.load(Path(args.accounts))
    except account_config.AccountConfigError as exc:
        print(f"smsetl build: {exc}", file=sys.stderr)
        return 2
    settings = current()
    if (store := settings.object_store()) is not None:
        store.check()  # a wrong bucket, endpoint or credentials: once, naming the setting (exit 2), not per account
    states, missing = [], []
    for account in accounts:
        account_dir = combined.account_dir(data_dir, account.name)
        try:
            if store is not None:
                account_dir.mkdir(parents=True, exist_ok=True)
                account_store = dataclasses.replace(store, url=combined.account_lake_url(store.url, account.name))
                lake, source = PublishedLake(account_store, account_dir, settings.duckdb_memory), account_store.url
            elif (account_dir / "lake").exists():
                lake, source = Lake(account_dir / "lake", settings.duckdb_memory), account_dir / "lake"
            else:
                raise FileNotFoundError(f"no lake in {account_dir}: run `smsetl sync --accounts {args.accounts}` "
                                        "first (or give --lake-url)")
            path = warehouse.build(lake, account_dir, whole=True).path
        except (ObjectStoreError, FileNotFoundError) as exc:
            missing.append(f"account {account.name!r}: {exc}")
            states.append(combined.AccountState(account.name, account.api_url, account.timezone, "failed", str(exc)))
            continue
        con = duckdb.connect(str(path), read_only=True)
        try:
            last = con.execute("select outcome, summary from sync_runs order by started_at desc limit 1").fetchone()
        finally:
            con.close()
        outcome, summary = last if last else ("failed", "{}")
        error = "" if outcome == RUN_SUCCEEDED else json.loads(summary or "{}").get("error", "no run recorded")
        states.append(combined.AccountState(account.name, account.api_url, account.timezone, outcome, error))
        print(f"{account.name}: warehouse rebuilt from {source} (last run: {outcome})")
    path = combined.build(data_dir, states, memory_limit=settings.duckdb_memory)
    print(f"combined warehouse: {path}")
    for line in missing:
        print(f"  {line}", file=sys.stderr)
    if missing:
        print(f"smsetl build: {len(missing)} of {len(accounts)} accounts have no lake to build from",
              file=sys.stderr)
        return 1
    return 0
