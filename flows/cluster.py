"""The Dask cluster that `SMSETL_DASK` (`--dask`) names, as a Prefect task runner: one construction for the two
things that run on it, the accounts of `sync --accounts` (`flows.accounts`) and one account's message batches
(`flows.batches`)."""

from __future__ import annotations

import logging

from flows.settings import Settings, SettingsError


def dask_runner(dask: str, workers: int):
    """prefect-dask's `DaskTaskRunner` for `dask`: `local`, a LocalCluster of `workers` worker processes started
    for the flow run, or a running scheduler's address (`tcp://host:8786`), whose workers need this package,
    the variables of the secrets (keys, SMS_PII_KEY or its key file) and the data directory at the same path."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise SettingsError(f"SMSETL_DASK={dask}: {exc.name} is not installed: pip install prefect-dask "
                            "(a core dependency: reinstall smsetl)") from None

    if dask != "local":
        return DaskTaskRunner(address=dask)
    # Worker processes of one thread each, not threads: a task here is a process's worth of work (an account's
    # sync, or a batch's fetching, pages and Parquet writing holding the GIL in turns), so processes use the
    # cores and keep one task's memory and crashes its own; and a local process does what a remote worker does
    # (no shared context, its own environment, results pickled back), so `local` tests the path that a real
    # cluster takes. One thread: the task is the unit of work.
    # Dask's own log lines only at CRITICAL: its workers' chatter as the cluster stops (heartbeats to a closed
    # scheduler) is no news, and what matters comes back as the task's outcome (a lost worker, too).
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None, "silence_logs": logging.CRITICAL})


def check_dask_server(settings: Settings, api_url: str | None) -> None:
    """Dask needs a real Prefect server: with none configured, each worker process would start a temporary one of
    its own, and the task runs would be recorded nowhere the command can read. SettingsError if so."""
    if settings.dask and not api_url:
        from flows.serve import SERVER_FIX

        raise SettingsError(f"SMSETL_DASK={settings.dask} needs a Prefect server and PREFECT_API_URL is not set: "
                            f"{SERVER_FIX}")
