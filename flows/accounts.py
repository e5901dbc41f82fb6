"""The `sync-accounts` flow: one sync fanned out across the accounts of an accounts file, then the combined
warehouse.

Each account is a data directory of its own, `<data dir>/accounts/<name>/`, synced by the single-account `sync`
flow (`flows.sync`) unchanged, as a subflow of one task per account, with that account's settings
(`flows.settings.activated`: its URL, key, zone and rate limit over the process's settings). So each account
has its own raw store, lake, warehouse, sync lock, learned rate limits (`rate-limits.json`: a gateway's limits
are per account) and PII record, and a failure stays in its account: a bad key fails that account's task with
its message while the others complete. Then `storage.combined` builds `<data dir>/warehouse.duckdb` from every
account's warehouse (each row with its `account`; an account whose sync failed contributes its last published
warehouse, and the `accounts` table says it failed), and the flow fails, naming the failed accounts, if any did.

The key never becomes a parameter (Prefect stores those): the task gets the account's entry (name, URL, zone,
where its key is) and the process's settings without their secrets (`Settings.portable`), and reads the key
itself (`account_config.resolve_key`) where it runs. The accounts run on a thread pool of
`SMSETL_ACCOUNT_WORKERS` threads (each account's sync has its own `SMSETL_WORKERS` extraction threads), or, with
`SMSETL_DASK` (`--dask`), as tasks of a Dask cluster (`account_runner`): the same task, the same results. The
flow's task runner (`AccountRunner`) makes that choice when a run starts, from the run's settings, so a run that
Prefect starts for a deployment (`smsetl serve --accounts`: a process of its own, with the environment's
settings) chooses as `smsetl sync --accounts` does. `scope` is every account's sync's (`flows.steps.SCOPES`).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import account_config, alerts
from flows.account_config import Account
from flows.cluster import check_dask_server, dask_runner  # noqa: F401  check_dask_server: its old home
from flows.settings import Settings, activated, current, load
from smsapi import SmsApi, redact
from storage import combined
from transforms.schema import RUN_FAILED, RUN_SUCCEEDED

log = logging.getLogger("smsetl.accounts")

LOCK = ".sync-accounts.lock"

# The account whose sync runs in this context: log records made in it are prefixed `[name] `, so that the
# interleaved lines of accounts synced at once say whose they are (the extract threads inherit the context).
_account: ContextVar[str | None] = ContextVar("smsetl_account", default=None)
_make_record = logging.getLogRecordFactory()


def _record_with_account(*args, **kwargs) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    name = _account.get()
    if name is not None and isinstance(record.msg, str):
        record.msg = f"[{name}] {record.msg}"
    return record


logging.setLogRecordFactory(_record_with_account)


class AccountSyncError(RuntimeError):
    """One account's sync failed; the message names the account, the cause and the fix (never the key)."""


class AccountsFailed(RuntimeError):
    """Some accounts failed (the others were synced and combined). `results` holds every account's outcome."""

    def __init__(self, results: list[dict]):
        self.results = results
        failed = [r for r in results if r["outcome"] != RUN_SUCCEEDED]
        super().__init__(f"{len(failed)} of {len(results)} accounts failed: "
                         + "; ".join(f"{r['account']}: {r['error']}" for r in failed))


class AccountPool(ThreadPoolTaskRunner):
    """Accounts synced at once: `SMSETL_ACCOUNT_WORKERS` when a run starts."""

    def __enter__(self):
        self._max_workers = current().account_workers
        return super().__enter__()

    def duplicate(self) -> AccountPool:
        return type(self)()


def account_runner(settings: Settings):
    """The task runner of the accounts: threads of this process (`AccountPool`), or with `settings.dask` a Dask
    cluster (`flows.cluster.dask_runner`): `local`, a LocalCluster of `SMSETL_ACCOUNT_WORKERS` workers started
    for the run, or a running scheduler's address (`tcp://host:8786`), whose workers need this package, the
    accounts' key variables (or the Prefect server's Secret blocks), SMS_PII_KEY or its key file, and the data
    directory at the same path."""
    if not settings.dask:
        return AccountPool()
    return dask_runner(settings.dask, settings.account_workers)


class AccountRunner(TaskRunner):
    """The `sync-accounts` flow's task runner: when a run starts, the one `account_runner` chooses from the run's
    settings (`current()`), which it then is for the run (entering returns it). A task runner is fixed when the
    flow is defined, but a deployment's run loads the flow from its entrypoint in a process of its own, whose
    settings are its environment's; so `smsetl serve --accounts --dask` reaches its runs as SMSETL_DASK."""

    def __init__(self):
        super().__init__()
        self._chosen: TaskRunner | None = None

    def duplicate(self) -> AccountRunner:
        return type(self)()

    def __enter__(self) -> TaskRunner:
        self._chosen = account_runner(current())
        return self._chosen.__enter__()

    def __exit__(self, *exc_info) -> None:
        chosen, self._chosen = self._chosen, None
        if chosen is not None:
            chosen.__exit__(*exc_info)

    def submit(self, task, parameters, wait_for=None, dependencies=None):
        # Never called: the flow run's task runner is the chosen one (`__enter__` returns it).
        if self._chosen is None:
            raise RuntimeError("AccountRunner: enter it before submitting tasks")
        return self._chosen.submit(task, parameters, wait_for, dependencies)


def account_settings(base: Settings, account: Account, data_dir: Path) -> Settings:
    """The settings account `account` syncs with: its URL, key, zone, rate limit (else the base's) and data
    directory over `base`; with `SMS_LAKE_URL`, its lake is published under `<lake url>/accounts/<name>`.
    Reads the key (`resolve_key`). No `SMSETL_DASK`: that is for the accounts; no worker processes."""
    lake_url = combined.account_lake_url(base.lake_url, account.name) if base.lake_url else None
    settings = base.with_flags(api_url=account.api_url, api_key=account_config.resolve_key(account),
                               timezone=account.timezone, rate_limit=account.rate_limit or None,
                               data_dir=combined.account_dir(data_dir, account.name), lake_url=lake_url)
    # `SMSETL_DASK` spreads the accounts here; each account's sync reads its batches on its own threads, within
    # the process (the Dask worker) that runs it, not on the cluster a second time. Nor in worker processes
    # (`SMSETL_PROCESSES`): the accounts synced at once already share the cores, and a Dask worker is a daemonic
    # process, which may not start processes of its own.
    return settings.model_copy(update={"dask": "", "processes": "0"})


def sync_one(account: Account, data_dir: str, since: datetime | None = None, until: datetime | None = None,
             base: dict | None = None, scope: str = "full") -> dict:
    """Sync one account into its own data directory and return the run summary; AccountSyncError otherwise.
    `base`: the settings to start from (`Settings.portable`) over this process's environment, else `current()`;
    `scope`: the sync's (`flows.steps.SCOPES`).

    The key, URL and domain are tried with one cheap call first, so a bad key fails in a second, before the
    subflow starts (as `smsetl sync` does), and writes nothing."""
    from flows.sync import sync

    key = ""
    token = _account.set(account.name)
    try:
        settings = account_settings(current() if base is None else load(**base), account, Path(data_dir))
        key = settings.api_key.get_secret_value()
        with activated(settings):
            with SmsApi.from_env(settings.client_env()) as api:
                api.get_balance()
            return sync(str(settings.data_dir), since=since, until=until, scope=scope)
    except Exception as exc:
        raise AccountSyncError(account_message(account, exc, key)) from None
    finally:
        _account.reset(token)


def account_message(account: Account, exc: BaseException, key: str = "") -> str:
    """`exc` as said of `account`: the variables a single-account message names (SMS_API_KEY, SMS_API_URL) become
    where this account's values come from; the key, if it shows up at all, is redacted."""
    text = str(exc) if isinstance(exc, account_config.AccountConfigError) else f"{exc}"
    text = (text.replace("SMS_API_KEY", f"the key in {account.key_source}")
            .replace("SMS_API_URL", f"account {account.name}'s api_url in the accounts file")
            .replace("SMS_TIMEZONE", f"account {account.name}'s timezone in the accounts file"))
    prefix = "" if text.startswith(f"account {account.name!r}") else f"account {account.name!r}: "
    return prefix + redact(text, key, quote_plus(key))


@task(name="sync-account", task_run_name="sync-{account.name}", cache_policy=NO_CACHE, retries=0)
def sync_account(account: Account, data_dir: str, since: datetime | None, until: datetime | None,
                 base: dict, scope: str = "full") -> dict:
    """One account's sync, as a task of its own: its state in the UI is the account's. `base` carries the
    settings, since a Dask worker has none of this process's context."""
    return sync_one(account, data_dir, since, until, base, scope)


@flow(name="sync-accounts", task_runner=AccountRunner(), log_prints=True)
def sync_accounts(accounts_file: str, data_dir: str, since: datetime | None = None,
                  until: datetime | None = None, scope: str = "full") -> list[dict]:
    """Sync every account of `accounts_file` into `<data_dir>/accounts/<name>/`, each with `scope`
    (`flows.steps.SCOPES`, as `sync`'s), then build the combined warehouse. Returns one result per account
    (`account`, `outcome`: `success` or `failed` as in `sync_runs`, and the run's `summary` or the `error`);
    raises AccountsFailed, after the combined build, when any account failed (and emits `smsetl.sync.failed`
    naming them: `flows.alerts`)."""
    from flows.steps import check_scope
    from flows.sync import sync_lock

    check_scope(scope)  # a bad scope fails here, before any account starts
    accounts = account_config.load(Path(accounts_file))
    root = Path(data_dir)
    with sync_lock(root, LOCK):
        base = current().portable()
        futures = [(a, sync_account.submit(a, data_dir, since, until, base, scope)) for a in accounts]
        results = []
        for account, future in futures:
            outcome = future.result(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                error = str(outcome) if isinstance(outcome, AccountSyncError) else account_message(account, outcome)
                log.warning("%s", error)
                results.append({"account": account.name, "outcome": RUN_FAILED, "error": error})
            else:
                results.append({"account": account.name, "outcome": RUN_SUCCEEDED, "summary": outcome})
        states = [combined.AccountState(a.name, a.api_url, a.timezone, r["outcome"], r.get("error", ""))
                  for a, r in zip(accounts, results)]
        path = combined.build(root, states, memory_limit=current().duckdb_memory)
        log.info("combined warehouse of %d accounts: %s", len(states), path)
    create_markdown_artifact(key="sync-accounts", markdown=format_results(results, markdown=True),
                             description=f"multi-account sync into {root}")
    if failed := {r["account"]: r["error"] for r in results if r["outcome"] != RUN_SUCCEEDED}:
        alerts.report_accounts_failure(root, failed, len(results))
        raise AccountsFailed(results)
    return results


def format_results(results: list[dict], markdown: bool = False) -> str:
    """One line per account: its run's duration, API calls and new messages, or the error."""
    lines = ["| account | outcome | seconds | API calls | messages added | error |", "|---|---|---:|---:|---:|---|"
             ] if markdown else []
    for r in results:
        s = r.get("summary") or {}
        seconds, calls = s.get("duration_s", ""), s.get("api_calls", "")
        added = s.get("rows", {}).get("messages", {}).get("added", 0)
        if markdown:
            error = r.get("error", "").replace("|", "\\|")
            lines.append(f"| {r['account']} | {r['outcome']} | {seconds} | {calls} | {added} | {error} |")
        elif r["outcome"] == RUN_SUCCEEDED:
            lines.append(f"{r['account']}: synced in {seconds} s, {calls} API calls, +{added:,} messages"
                         f" (run {s.get('run_id')})")
        else:
            lines.append(f"{r['account']}: FAILED: {r['error']}")
    return "\n".join(lines)


def run(accounts_file: str, data_dir: str, since: datetime | None = None, until: datetime | None = None,
        scope: str = "full") -> list[dict]:
    """`sync_accounts` on the task runner the settings choose (`account_runner`, checked here first, so that a
    missing prefect-dask fails before Prefect starts)."""
    account_runner(current())
    return sync_accounts(accounts_file, data_dir, since=since, until=until, scope=scope)
