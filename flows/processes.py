"""A large backfill's message batches in local worker processes (`SMSETL_PROCESSES`): the machine's other cores.

On one machine a sync's threads share one core's worth of the GIL, and decoding and staging a page costs the
client more CPU than fetching it (bench/backfill.py; bench/README.md). So when the campaigns a
run reads in full hold many messages (`messages_expected`, from their listed counters), their `Message/List`
batches run in spawned worker processes (`concurrent.futures`; no Prefect, no Dask), each batch
`flows.batch_extract.extract_batch` as on a Dask worker, while the flow's threads read the rest (counters, links,
click counts). Everything else stays in the flow's process. An incremental run's batches, small, stay on threads.

The secrets (the API key, the PII key) reach the workers through the pool's initializer, into each worker's own
environment: never a task's argument, never logged. The account's rate limits are shared as on Dask: each of the
N workers gets 1/N (`rate_share`), and the flow's client adopts what they learned (`combined_estimates`). Calls
and rows count as the flow's own, per finished batch. Their log records go to the flow's loggers of the same
names, at the flow's levels (`FORWARDED_LOGGERS`).
"""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from flows import steps
from flows.batch_extract import BatchError, BatchOutcome, adopt_estimates, batch_base, count_outcome, extract_batch
from flows.settings import Settings, current
from smsapi import SmsApi

log = logging.getLogger("smsetl.sync")

AUTO_MESSAGES = 100_000  # `auto`: worker processes for a full read of at least this many messages (below: threads)
AUTO_PROCESSES = 2  # `auto`'s count, at most the machine's cores (bench/backfill.py measured 2, 3 and 4 on 2 cores)


def process_count(setting: str, messages_expected: int, cpus: int | None = None) -> int:
    """How many worker processes read the message batches (`SMSETL_PROCESSES`); 0: the flow's threads."""
    if setting != "auto":
        return int(setting)
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    return min(AUTO_PROCESSES, cpus) if cpus > 1 and messages_expected >= AUTO_MESSAGES else 0


# The workers' log records (a retry, a code 30, an unexpected value) reach the flow's loggers, where the CLI and
# Prefect show the flow's own: a spawned worker's logging is unconfigured, and would print them bare on stderr.
FORWARDED_LOGGERS = ("smsetl", "smsapi", "storage", "flows")  # those `flows.serve.EXTRA_LOGGERS` hands to Prefect


def _worker_init(secrets: dict[str, str], log_queue, levels: dict[str, int]) -> None:
    os.environ.update(secrets)  # this worker's own environment, which `extract_batch`'s settings are read over
    to_flow = logging.handlers.QueueHandler(log_queue)
    for name, level in levels.items():  # the flow's levels: what it would not show is not sent
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(to_flow)
        logger.propagate = False


class _InFlowContext(logging.Handler):
    """Hands a worker's record to the flow's logger of the same name, in the context the batches were started
    from: that is how Prefect tells which run a record belongs to."""

    def __init__(self, context: contextvars.Context):
        super().__init__()
        self._context = context

    def emit(self, record: logging.LogRecord) -> None:
        self._context.run(logging.getLogger(record.name).handle, record)


def _secrets(settings: Settings) -> dict[str, str]:
    values = {"SMS_API_KEY": settings.api_key.get_secret_value(), "SMS_PII_KEY": settings.pii_key.get_secret_value()}
    return {name: value for name, value in values.items() if value}


@contextmanager
def _records_forwarded(log_queue) -> Iterator[None]:
    """The workers' records on `log_queue` are handled in the flow while the block runs; the last of them before
    it ends (run the pool's shutdown within it)."""
    listener = logging.handlers.QueueListener(log_queue, _InFlowContext(contextvars.copy_context()))
    listener.start()
    try:
        yield
    finally:
        listener.stop()


def extract_in_processes(run: steps.RunContext, api: SmsApi, batches: list[tuple[list[int], str | None]],
                         processes: int) -> steps.StepResult:
    """The message batches (`(campaign ids, status_from)` each) in `processes` worker processes; their calls
    count in `api.stats`, their rows in `run.progress`, and their learned limits in `api.limiter`. Waits for every
    batch, then raises the first failure (its calls counted), as the flow's threads do."""
    settings = current()
    result = steps.StepResult()
    if not batches:
        return result
    processes = min(processes, len(batches))
    base, learned = batch_base(run, api, settings, processes)
    log.info("extract: %d message batches in %d worker processes (each at 1/%d of the account's rate limits)",
             len(batches), processes, processes)
    outcomes: list[BatchOutcome] = []
    failure: BaseException | None = None
    spawn = multiprocessing.get_context("spawn")
    log_queue = spawn.Queue()
    levels = {name: logging.getLogger(name).getEffectiveLevel() for name in FORWARDED_LOGGERS}
    with _records_forwarded(log_queue), ProcessPoolExecutor(processes, mp_context=spawn, initializer=_worker_init,
                                                             initargs=(_secrets(settings), log_queue, levels)) as pool:
        futures = [pool.submit(extract_batch, str(run.data_dir), run.run_id, run.as_of.isoformat(), run.timezone,
                               ids, since, base, learned) for ids, since in batches]
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:  # BatchError: the batch's cause; anything else: the worker died
                    failure = failure or exc
                    log.warning("extract: a message batch failed: %s", exc)
                    api.stats.add_snapshot(exc.api if isinstance(exc, BatchError) else {})  # its calls were made
                    continue
                outcomes.append(outcome)
                count_outcome(run, api, outcome)
                result.add(outcome.result)
                log.info("extract: %d/%d message batches done in worker processes, %d messages so far",
                         len(outcomes), len(futures), result.rows["messages"])
        except BaseException:  # interrupted: no batch is started any more
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failure is not None:
        raise failure
    adopt_estimates(api, outcomes)
    return result
