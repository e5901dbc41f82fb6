"""A message batch's extraction where it runs: a Dask worker (`flows.batches`) or a local worker process
(`flows.processes`). Nothing here imports Prefect, so a worker process starts in the time pandas takes to import.

A batch takes plain values only (the data directory, the run's id, clock and zone, its campaign ids and status
cursor, the settings without their secrets, its share of the rate limits) and builds what the flow's threads share
in-process: its own client (the key read from the worker's environment), its own `RunContext` and its own
`Stager`, writing into the run's raw and staging folders. It returns its `StepResult`, its client's call counts
and the rate limits it learned; the caller counts the calls as its own (`ApiStats.add_snapshot`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus

from flows import privacy, steps
from flows.progress import Progress
from flows.settings import Settings, activated, load
from smsapi import SmsApi, redact
from smsapi.client import rate_limit_from_env
from storage import rate_limits

log = logging.getLogger("smsetl.sync")


class BatchError(RuntimeError):
    """A message batch failed where it ran; the message names the batch, the worker, the cause (never a key).
    `api`: its client's `ApiStats.snapshot()`, so that the failed run still counts the calls it made."""

    def __init__(self, message: str, api: dict | None = None):
        super().__init__(message)
        self.api = api or {}

    def __reduce__(self):  # pickled back from the worker with its calls
        return type(self), (str(self), self.api)


@dataclass
class BatchOutcome:
    """What one batch task did, pickled back from its worker."""

    result: steps.StepResult
    learned: dict[str, float]  # its client's learned estimates (calls/s per method), where it met a code 30
    api: dict  # its client's `ApiStats.snapshot()`
    worker: str  # `host:pid`
    started: float = 0.0  # wall clock (time.time) of its first and last moment: which batches ran side by side
    ended: float = 0.0


@dataclass(frozen=True)
class RateShare:
    """What each of N clients sharing one account's limits starts with."""

    rate_limit: str  # its SMS_RATE_LIMIT: `auto`, `none`, or 1/N of the cap
    learned: dict[str, float] = field(default_factory=dict)  # 1/N of each learned estimate


def rate_share(rate_limit: str, learned: Mapping[str, float], workers: int) -> RateShare:
    """One of `workers` clients' share of the account's `rate_limit` (`SMS_RATE_LIMIT`) and `learned` rates."""
    client = rate_limit_from_env(rate_limit)
    if not client["adaptive_rate_limit"]:
        return RateShare("none")
    cap = client["rate_limit_per_method"]
    return RateShare("auto" if cap is None else str(cap / workers),
                     {method: rate / workers for method, rate in learned.items()})


def combined_estimates(batches: list[tuple[Mapping[str, float], float, float]]) -> dict[str, float]:
    """The account's estimate per method from the batches' own: `(learned, started, ended)` per batch, `learned`
    {} for one that met no code 30. A batch measured its share of the limit while others ran beside it, so its
    estimate times the number of batches running during it, on average (itself included), is one measure of the
    account's limit; the result is the mean of those. Not the workers' count times their mean: a batch that ran
    alone at the end, the others done, measured the whole limit. Methods no batch learned are left out (the
    next run ramps them up, as always)."""
    by_method: dict[str, list[float]] = {}
    for learned, started, ended in batches:
        span = ended - started
        overlap = sum(max(0.0, min(ended, end) - max(started, start)) for _, start, end in batches)
        side_by_side = overlap / span if span > 0 else 1.0
        for method, rate in learned.items():
            by_method.setdefault(method, []).append(rate * side_by_side)
    return {method: round(sum(rates) / len(rates), 3) for method, rates in by_method.items()}


def batch_base(run: steps.RunContext, api: SmsApi, settings: Settings, workers: int) -> tuple[dict, dict[str, float]]:
    """What each of `workers` batch clients starts from: the settings they run with (`Settings.portable`, no
    secret; one worker's share of the rate limit) and its share of the learned rates. Tracks the run's
    `Message/List` calls as its `messages` row, which the batches' outcomes fill (`count_outcome`)."""
    share = rate_share(settings.rate_limit, {**rate_limits.load(run.data_dir), **api.limiter.learned()}, workers)
    # The URL the flow's client ended on: a code 13 domain switch is followed once, not once per batch. A batch
    # runs on its own worker's threads: never on Dask or worker processes of its own.
    base = {**settings.portable(), "api_url": api.base_url, "rate_limit": share.rate_limit, "dask": "",
            "processes": "0"}
    run.progress.track("messages", "Message/List")
    return base, share.learned


def count_outcome(run: steps.RunContext, api: SmsApi, outcome: BatchOutcome) -> None:
    """A finished batch's calls into the flow's client count, its messages into the run's progress."""
    api.stats.add_snapshot(outcome.api)
    run.progress.read("messages", outcome.result.rows["messages"])


def adopt_estimates(api: SmsApi, outcomes: list[BatchOutcome]) -> None:
    """The account's limits as the batches learned them (`combined_estimates`), into the flow's client."""
    api.limiter.adopt(combined_estimates([(o.learned, o.started, o.ended) for o in outcomes]))


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def extract_batch(data_dir: str, run_id: str, as_of: str, timezone: str, campaign_ids: list[int],
                  status_from: str | None, base: dict, learned: dict[str, float]) -> BatchOutcome:
    """`steps.extract_messages` for one batch, where it runs: its settings are `base` (`Settings.portable`) over
    this process's environment, which holds the key (`SMS_API_KEY`) and the PII key."""
    started = time.time()
    settings = load(**base)
    key = settings.api_key.get_secret_value()
    api = None
    try:
        with activated(settings):
            data_path = Path(data_dir)
            pii = privacy.for_sync(data_path)  # this worker's key, checked against the data directory's
            with SmsApi.from_env(settings.client_env(), learned_rates=learned) as api:
                run = steps.RunContext(data_path, run_id, datetime.fromisoformat(as_of), timezone, pii=pii,
                                       progress=Progress(observers=[]))  # the flow reports each batch's rows
                stager = steps.Stager(run.staging_dir)
                try:
                    result = steps.extract_messages(api, run, stager, campaign_ids, status_from)
                finally:
                    stager.close()
                return BatchOutcome(result, api.limiter.learned(), api.stats.snapshot(), _worker(), started,
                                    time.time())
    except Exception as exc:
        text = redact(f"{type(exc).__name__}: {exc}", key, quote_plus(key)) if key else f"{type(exc).__name__}: {exc}"
        raise BatchError(f"the message batch of {len(campaign_ids)} campaigns from {campaign_ids[:1]} failed on "
                         f"the worker {_worker()}: {text}", api.stats.snapshot() if api else None) from None
