"""Scheduled syncs: the deployment of the `sync` flow, its schedules, and serving it (`smsetl serve`).

There is one flow, and its `scope` parameter says what a run refreshes (`flows.steps.SCOPES`), so the cadences
are three schedules of one deployment, each with its scope: `every-10-minutes` (`--every-minutes`), scope
`frequent`: statuses and clicks; `hourly` (`--hourly-at-minute M`, UTC; `off` drops it), scope `hourly`: campaign
counters and link click series too; `nightly` (`--nightly-at HH:MM`, UTC; `off`), scope `full`: the re-check of
settled campaigns' counters too, then reconciliation as every run. One deployment, not three, so that its
concurrency limit (1, CANCEL_NEW) covers them all: a run that would overlap the one in progress is cancelled,
and the next one catches up, since a frequent run refreshes the counters and series itself once they are an
hour old (the settled re-check once a day old). The file lock of `flows.sync.sync_lock` still stops a sync
started by other means on the same data directory.

Many accounts (`accounts_file`, `smsetl serve --accounts FILE`): the same schedules, scopes and concurrency limit
on a deployment of the `sync-accounts` flow (`flows.accounts`), whose parameters are the accounts file and the
top-level data directory (never a key: each account's task reads its own). Its concurrency limit keeps its runs
from overlapping; each account's data directory lock, any other sync of that account. The alerts are the same,
aimed at that deployment: a failed run's event names the accounts that failed, the mismatch alert takes any
account's (their data directories are under the top-level one), and stale data is judged by the deployment's
completed runs (a run any account failed does not complete). `--dask` reaches the runs as SMSETL_DASK in their
environment (read when a run starts: by `flows.accounts.AccountRunner` for the accounts, and by the `sync`
flow for one account's message batches, `flows.batches`).

`deployment_spec` is the one definition: `serve` builds the served deployment from it, and `prefect.yaml`
declares it for work pools (a test checks the file against it). Scheduling needs a real Prefect server
(`prefect server start`), never the temporary one a bare flow call starts: `check_server` says what is missing.
`alert_automations` are the automations `smsetl serve` creates: a run failed, mismatches persist
(`flows.alerts`), and no run completed within twice the interval (stale data).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import requests

ENTRYPOINT = "flows/sync.py:sync"
ACCOUNTS_ENTRYPOINT = "flows/accounts.py:sync_accounts"
DEFAULT_NAME = "scheduled"
DEFAULT_EVERY_MINUTES = 10.0
DEFAULT_NIGHTLY_AT = "03:00"  # UTC
DEFAULT_HOURLY_AT_MINUTE = 30  # not on the hour: the nightly run's 03:00 would cancel one of the two
CONCURRENCY = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
# The pipeline's own loggers: their records reach the run's logs in the Prefect UI.
EXTRA_LOGGERS = "smsetl,flows,smsapi,storage"
SERVER_FIX = ("start one with `prefect server start --host 127.0.0.1` (offline: with DO_NOT_TRACK=1 and "
              "PREFECT_SERVER_ANALYTICS_ENABLED=false) and export PREFECT_API_URL=http://127.0.0.1:4200/api")


class ServeError(RuntimeError):
    """Serving cannot start; the message names what is missing and the fix."""


def nightly_cron(at: str) -> str:
    """`HH:MM` as a daily cron string (`03:00` -> `0 3 * * *`)."""
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at)
    if not m:
        raise ServeError(f"--nightly-at {at!r} is not a time of day: use HH:MM (UTC), e.g. 03:00, or 'off'")
    return f"{int(m.group(2))} {int(m.group(1))} * * *"


def hourly_minute(text: str | int | None) -> int | None:
    """`--hourly-at-minute`: a minute past each hour (0-59), or None for `off`."""
    if text is None or str(text).strip().lower() == "off":
        return None
    if not re.fullmatch(r"[0-5]?\d", str(text).strip()):
        raise ServeError(f"--hourly-at-minute {text!r} is not a minute past the hour: use 0 to 59 (UTC), e.g. 30, "
                         "or 'off'")
    return int(text)


def deployment_spec(data_dir: str, every_minutes: float = DEFAULT_EVERY_MINUTES,
                    nightly_at: str | None = DEFAULT_NIGHTLY_AT, name: str = DEFAULT_NAME,
                    hourly_at_minute: int | None = DEFAULT_HOURLY_AT_MINUTE, accounts_file: str | None = None) -> dict:
    """The deployment as `prefect.yaml` spells it (no work pool): name, entrypoint, parameters, schedules (each
    with its `scope`), concurrency limit. `every_minutes` may be fractional (seconds are whole);
    `hourly_at_minute` / `nightly_at` None: no hourly / nightly schedule. With `accounts_file`, the `sync-accounts`
    flow of the accounts it lists, into `data_dir`'s `accounts/<name>/`."""
    if not every_minutes or every_minutes <= 0:
        raise ServeError(f"--every-minutes {every_minutes} must be more than 0 (minutes between syncs, e.g. 10)")
    seconds = max(round(every_minutes * 60), 1)
    schedules = [{"interval": seconds, "slug": f"every-{_minutes_text(seconds)}", "active": True,
                  "parameters": {"scope": "frequent"}}]
    if hourly_at_minute is not None:
        schedules.append({"cron": f"{hourly_minute(hourly_at_minute)} * * * *", "timezone": "UTC", "slug": "hourly",
                          "active": True, "parameters": {"scope": "hourly"}})
    if nightly_at is not None:
        schedules.append({"cron": nightly_cron(nightly_at), "timezone": "UTC", "slug": "nightly", "active": True,
                          "parameters": {"scope": "full"}})
    if accounts_file is None:
        entrypoint, what, parameters = ENTRYPOINT, "one data directory", {"data_dir": data_dir}
    else:
        entrypoint, what = ACCOUNTS_ENTRYPOINT, "every account of an accounts file, then the combined warehouse"
        parameters = {"accounts_file": accounts_file, "data_dir": data_dir}
    description = (f"smsetl sync of {what}: delivery reports and clicks every few minutes, campaign counters and "
                   "click series hourly, everything nightly")
    return {"name": name, "entrypoint": entrypoint, "tags": ["smsetl"], "description": description,
            "parameters": parameters, "schedules": schedules, "concurrency_limit": dict(CONCURRENCY)}


def is_accounts(spec: dict) -> bool:
    """Whether `spec` deploys the `sync-accounts` flow (many accounts), not one account's `sync`."""
    return spec["entrypoint"] == ACCOUNTS_ENTRYPOINT


def _minutes_text(seconds: int) -> str:
    return f"{seconds // 60}-minutes" if seconds % 60 == 0 else f"{seconds}-seconds"


def to_deployment(spec: dict):
    """The served deployment (a Prefect RunnerDeployment) of a `deployment_spec`."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.schedules import Cron, Interval

    if is_accounts(spec):
        from flows.accounts import sync_accounts as served
    else:
        from flows.sync import sync as served

    schedules = [Interval(timedelta(seconds=s["interval"]), slug=s["slug"], parameters=s["parameters"])
                 if "interval" in s else Cron(s["cron"], timezone=s["timezone"], slug=s["slug"],
                                              parameters=s["parameters"]) for s in spec["schedules"]]
    return served.to_deployment(name=spec["name"], description=spec["description"], tags=spec["tags"],
                                parameters=spec["parameters"], schedules=schedules,
                                concurrency_limit=ConcurrencyLimitConfig(**spec["concurrency_limit"]))


def check_server(api_url: str | None = None, timeout: float = 5.0) -> str:
    """The Prefect API URL (`PREFECT_API_URL`, from the environment or the Prefect profile) if a server answers
    its `/health`; else ServeError naming the fix."""
    if api_url is None:
        from prefect.settings import PREFECT_API_URL

        api_url = PREFECT_API_URL.value()
    if not api_url:
        raise ServeError(f"no Prefect server: PREFECT_API_URL is not set; {SERVER_FIX}")
    try:
        response = requests.get(api_url.rstrip("/") + "/health", timeout=timeout)
    except requests.RequestException as exc:
        raise ServeError(f"no Prefect server answers at PREFECT_API_URL={api_url} ({type(exc).__name__}): "
                         f"{SERVER_FIX}") from None
    if response.status_code != 200:
        raise ServeError(f"the Prefect server at PREFECT_API_URL={api_url} answered /health with HTTP "
                         f"{response.status_code}: check the URL ends in /api, or {SERVER_FIX}")
    return api_url


def run_environment(workdir: Path, dask: str = "") -> dict[str, str]:
    """Settings for the served runs (child processes inherit them): the pipeline's loggers reach the run's logs at
    INFO, and with `dask` (`--dask`, over SMSETL_DASK) the runs' message batches (`flows.batches`), or
    with accounts their syncs, run on that cluster. Writes Prefect's
    default logging config with those loggers at INFO into `workdir`; logging settings the user gave win."""
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    for name in EXTRA_LOGGERS.split(","):
        config["loggers"][name] = {"level": "INFO"}  # Prefect adds its API handler to each (extra loggers)
    path = workdir / "prefect-logging.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    wanted = {"PREFECT_LOGGING_EXTRA_LOGGERS": EXTRA_LOGGERS, "PREFECT_LOGGING_SETTINGS_PATH": str(path)}
    return {k: v for k, v in wanted.items() if not os.environ.get(k)} | ({"SMSETL_DASK": dask} if dask else {})


def alert_automations(deployment_id, spec: dict, data_dir: Path, notify_block_id=None) -> list:
    """The automations of a served deployment: a run failed; reconciliation mismatches persist (both the flow's
    events, `flows.alerts`); no run completed within twice the interval (stale: also a run that crashed). Each
    sends a notification through the block `notify_block_id` when given, else only shows as triggered in the
    Prefect UI (Automations, Event feed). For a `sync-accounts` deployment (`is_accounts`), the failure is the
    flow's event naming the accounts that failed (the notification names them), and the mismatches are any
    account's."""
    from prefect.events.actions import DoNothing, SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    from flows import alerts
    from storage.combined import ACCOUNTS_DIR

    def action(body: str):
        if notify_block_id is None:
            return DoNothing()
        return SendNotification(block_document_id=notify_block_id, subject=f"smsetl: {body}", body=body)

    ours = {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment_id}"}
    stale_after = timedelta(seconds=2 * spec["schedules"][0]["interval"])
    label = f"{spec['name']} ({data_dir})"
    failed, mismatches = f"a sync of {data_dir} failed", f"reconciliation mismatches persist in {data_dir}"
    mismatched = alerts.resource(data_dir)
    if is_accounts(spec):  # Jinja, filled in from the event when the notification is sent
        failed += ": accounts {{ event.payload.accounts | join(', ') }}"
        mismatches += ", account {{ event.resource.name }}"
        mismatched = alerts.resources_under(Path(data_dir) / ACCOUNTS_DIR)
    return [
        AutomationCore(name=f"smsetl {label}: a sync failed", actions=[action(failed)],
                       trigger=EventTrigger(expect={alerts.FAILED_EVENT}, match=alerts.resource(data_dir),
                                            posture=Posture.Reactive, threshold=1)),
        AutomationCore(name=f"smsetl {label}: mismatches persist", actions=[action(mismatches)],
                       trigger=EventTrigger(expect={alerts.MISMATCH_EVENT}, match=mismatched,
                                            posture=Posture.Reactive, threshold=1)),
        AutomationCore(name=f"smsetl {label}: data is stale",
                       actions=[action(f"no sync of {data_dir} completed within {stale_after}")],
                       trigger=EventTrigger(expect={"prefect.flow-run.Completed"}, match_related=ours,
                                            posture=Posture.Proactive, threshold=1, within=stale_after)),
    ]


def create_automations(automations: list) -> None:
    """Create `automations`, replacing those of the same names (so a restarted `serve` does not add copies)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in automations:
            for old in client.read_automations_by_name(name=automation.name):
                client.delete_automation(old.id)
            client.create_automation(automation)


def notify_block_id(name: str):
    """The id of the notification block `type-slug/name` (e.g. `slack-webhook/ops`), made in the Prefect UI."""
    from prefect.blocks.core import Block

    try:
        return Block.load(name)._block_document_id
    except (ValueError, RuntimeError) as exc:
        raise ServeError(f"--notify {name!r}: no such notification block ({exc}); create one in the Prefect UI "
                         "(Blocks) and give it as TYPE/NAME, e.g. slack-webhook/ops") from None


def serve(data_dir: Path, every_minutes: float = DEFAULT_EVERY_MINUTES, nightly_at: str | None = DEFAULT_NIGHTLY_AT,
          name: str = DEFAULT_NAME, alerts: bool = True, notify: str | None = None,
          hourly_at_minute: int | None = DEFAULT_HOURLY_AT_MINUTE, accounts_file: Path | None = None,
          dask: str = "") -> None:
    """Serve the sync of `data_dir` on its schedules until interrupted (the server must be up: `check_server`);
    with `accounts_file`, the sync of its accounts into `data_dir`; on the Dask cluster `dask` if given."""
    from prefect import serve as prefect_serve

    accounts = str(Path(accounts_file).resolve()) if accounts_file else None
    spec = deployment_spec(str(Path(data_dir).resolve()), every_minutes, nightly_at, name, hourly_at_minute, accounts)
    check_server()
    block_id = notify_block_id(notify) if notify else None
    with tempfile.TemporaryDirectory(prefix="smsetl-serve-") as workdir:
        os.environ.update(run_environment(Path(workdir), dask))  # for the runs, which are child processes
        deployment = to_deployment(spec)
        if alerts:
            deployment_id = deployment.apply()
            create_automations(alert_automations(deployment_id, spec, Path(data_dir).resolve(), block_id))
        prefect_serve(deployment)
