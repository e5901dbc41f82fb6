"""One account's message batches on a Dask cluster (`SMSETL_DASK`, `smsetl sync --dask local|tcp://...`).

A backfill's bulk is its `Message/List` batches (`steps.CAMPAIGN_BATCH` campaigns each, `steps.extract_messages`).
With `SMSETL_DASK` the sync flow runs them, full and incremental, as the tasks of a nested flow,
`extract-message-batches`, on prefect-dask's `DaskTaskRunner` (`flows.cluster.dask_runner`: a LocalCluster of
`SMSETL_WORKERS` one-thread worker processes, or a scheduler's address), while its own threads read the rest
(counters, links, click counts) as without Dask. Everything else stays in the flow's process: the plan, the
campaign list, the merge, reconciliation and its repair (threads), the run's record and the publish.

A batch task is `flows.batch_extract.extract_batch`: plain values in (never the key: Prefect stores parameters,
and task arguments cross the network; each worker reads its own from its environment), its own client, run
context and stager writing into the run's raw and staging folders. So the workers need the data directory at
the same path (a shared file system), and part names are unique across machines (`storage.parts`).

The account's rate limit is shared: the N worker slots (`cluster_slots`) each get 1/N of the cap
(`SMS_RATE_LIMIT`) and start from 1/N of the learned estimates (`rate_share`); code 30 backs each one off on its
own. After the batches the flow's client adopts, for each method a batch learned, the account's estimate
(`combined_estimates`: each batch's estimate times the batches that ran beside it, itself included), which the
run keeps in `rate-limits.json` as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from flows import steps
from flows.batch_extract import BatchOutcome, adopt_estimates, batch_base, count_outcome, extract_batch
from flows.cluster import dask_runner
from flows.settings import Settings, current
from smsapi import SmsApi

log = logging.getLogger("smsetl.sync")


def cluster_slots(settings: Settings) -> int:
    """How many batches run at once: a LocalCluster's `SMSETL_WORKERS` one-thread processes, else the scheduler's
    worker threads as the run starts (workers joining later are not given a share: the cap may be exceeded)."""
    if settings.dask == "local":
        return settings.workers
    from distributed import Client

    with Client(settings.dask, timeout=30, set_as_default=False) as client:
        workers = client.scheduler_info()["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))


@task(name="extract-message-batch", cache_policy=NO_CACHE, retries=0)
def extract_message_batch(data_dir: str, run_id: str, as_of: str, timezone: str, campaign_ids: list[int],
                          status_from: str | None, base: dict, learned: dict[str, float]) -> BatchOutcome:
    """`extract_batch` as a task (a task of its own name: Dask pickles it by reference to this module)."""
    return extract_batch(data_dir, run_id, as_of, timezone, campaign_ids, status_from, base, learned)

# The caller's hook for each finished batch (`extract_on_dask`: its calls and rows into the run's client and
# progress; a failed batch's calls too). A context variable, not a parameter: Prefect stores a flow's parameters,
# and a callback is no value.
_on_batch: ContextVar[Callable[[BatchOutcome], None] | None] = ContextVar("smsetl_on_batch", default=None)


def _report(outcome: BatchOutcome) -> None:
    # A function of its own, not `_on_batch` in the flow's body: a flow given another task runner is a copy,
    # pickled with the globals it names when its tasks are sent to Dask, and a ContextVar does not pickle.
    if (hook := _on_batch.get()) is not None:
        hook(outcome)


@flow(name="extract-message-batches", log_prints=True)
def extract_message_batches(data_dir: str, run_id: str, as_of: str, timezone: str, batches: list[dict],
                            base: dict, learned: dict[str, float]) -> list[BatchOutcome]:
    """Each of `batches` (`{"campaign_ids": [...], "status_from": ...}`) as a task of this flow's task runner.
    Waits for every batch, then raises the first failure, as a thread pool's batches all run to their end."""
    futures = [extract_message_batch.with_options(task_run_name=f"messages-{i}").submit(
        data_dir, run_id, as_of, timezone, b["campaign_ids"], b["status_from"], base, learned)
        for i, b in enumerate(batches, 1)]
    outcomes, failure, messages = [], None, 0
    for future in as_completed(futures):
        try:
            outcome = future.result()
        except Exception as exc:
            failure = failure or exc
            log.warning("extract: a message batch failed: %s", exc)
            _report(BatchOutcome(steps.StepResult(), {}, getattr(exc, "api", {}), ""))  # its calls were made
            continue
        outcomes.append(outcome)
        messages += outcome.result.rows["messages"]
        _report(outcome)
        log.info("extract: %d/%d message batches done on Dask, %d messages so far", len(outcomes), len(futures),
                 messages)
    if failure is not None:
        raise failure
    return outcomes


def extract_on_dask(run: steps.RunContext, api: SmsApi, batches: list[tuple[list[int], str | None]]
                    ) -> steps.StepResult:
    """The message batches (`(campaign ids, status_from)` each) on the cluster `SMSETL_DASK` names; their calls
    count in `api.stats`, their rows in `run.progress`, and their learned limits in `api.limiter`."""
    settings = current()
    result = steps.StepResult()
    if not batches:
        return result
    slots = cluster_slots(settings)
    base, learned = batch_base(run, api, settings, slots)

    def counted(outcome: BatchOutcome) -> None:  # a failed batch's calls too: the run made them
        count_outcome(run, api, outcome)

    log.info("extract: %d message batches on Dask (%s, %d at once, each at 1/%d of the account's rate limits)",
             len(batches), settings.dask, slots, slots)
    token = _on_batch.set(counted)
    try:
        flow_run = extract_message_batches.with_options(task_runner=dask_runner(settings.dask, settings.workers))
        outcomes = flow_run(str(run.data_dir), run.run_id, run.as_of.isoformat(), run.timezone,
                            [{"campaign_ids": ids, "status_from": since} for ids, since in batches],
                            base, learned)
    finally:
        _on_batch.reset(token)
    for outcome in outcomes:
        result.add(outcome.result)
    adopt_estimates(api, outcomes)
    log.info("extract: %d message batches read by %d Dask worker processes", len(outcomes),
             len({o.worker for o in outcomes}))
    return result
