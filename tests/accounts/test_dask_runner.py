"""Which task runner a multi-account sync runs on (`SMSETL_DASK`, `--dask`), as plain functions; the Dask-run
sync itself is in tests/serve/test_dask_accounts.py (it needs a real Prefect server)."""

import logging

import pytest

from flows.accounts import AccountPool, account_runner, sync_account
from flows.settings import SettingsError, load


def test_without_dask_the_accounts_run_on_threads_of_this_process():
    assert isinstance(account_runner(load(SMSETL_DASK="")), AccountPool)


def test_local_starts_a_local_cluster_of_one_thread_processes_one_per_account_worker():
    from prefect_dask import DaskTaskRunner

    runner = account_runner(load(SMSETL_DASK="local", SMSETL_ACCOUNT_WORKERS=3))
    assert isinstance(runner, DaskTaskRunner) and runner.address is None
    assert runner.cluster_class == "distributed.LocalCluster"
    assert runner.cluster_kwargs == {"n_workers": 3, "threads_per_worker": 1, "processes": True,
                                     "dashboard_address": None, "silence_logs": logging.CRITICAL}


def test_a_scheduler_address_connects_to_that_cluster():
    runner = account_runner(load(SMSETL_DASK="tcp://scheduler.internal:8786"))
    assert runner.address == "tcp://scheduler.internal:8786"


@pytest.mark.parametrize("value", ["yes", "scheduler:8786", "tcp://"])
def test_a_bad_smsetl_dask_names_the_values_it_takes(value):
    with pytest.raises(SettingsError, match=r"SMSETL_DASK='.*': .*must be 'local'.*tcp://scheduler:8786"):
        load(SMSETL_DASK=value)


def test_settings_reach_a_worker_without_their_secrets(monkeypatch):
    monkeypatch.setenv("SMS_PII_KEY", "pii-secret-000")
    settings = load(SMS_API_KEY="api-secret-000", SMSETL_WORKERS=7, SMS_RATE_LIMIT="3")
    portable = settings.portable()
    assert "api_key" not in portable and "pii_key" not in portable
    assert "secret-000" not in repr(portable)
    monkeypatch.setenv("SMS_PII_KEY", "the-workers-own")
    again = load(**portable)  # as a Dask worker does, over its own environment
    assert again.workers == 7 and again.rate_limit == "3" and again.pii_key.get_secret_value() == "the-workers-own"


def test_the_account_task_takes_no_key_only_where_it_is():
    import inspect

    assert list(inspect.signature(sync_account.fn).parameters) == ["account", "data_dir", "since", "until", "base",
                                                                   "scope"]


def test_one_accounts_sync_on_dask_without_a_prefect_server_says_how_to_start_one(capsys, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from smsetl import cli

    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # before the key or the gateway is needed
        assert cli.main(["sync", "--dask", "local", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "smsetl sync: SMSETL_DASK=local needs a Prefect server" in err and "prefect server start" in err
    assert not (tmp_path / "data").exists()


def test_an_accounts_sync_on_a_dask_worker_reads_its_batches_on_threads(tmp_path, monkeypatch):
    from flows.account_config import Account
    from flows.accounts import account_settings

    monkeypatch.setenv("NORTH_KEY", "k" * 20)
    account = Account(name="north", api_url="http://127.0.0.1:1", key_env="NORTH_KEY", timezone="Asia/Almaty")
    settings = account_settings(load(SMSETL_DASK="local"), account, tmp_path)
    assert settings.dask == "" and settings.api_url == "http://127.0.0.1:1"


def test_dask_without_a_prefect_server_says_how_to_start_one():
    from flows.accounts import check_dask_server

    with pytest.raises(SettingsError, match=r"SMSETL_DASK=local needs a Prefect server.*prefect server start"):
        check_dask_server(load(SMSETL_DASK="local"), None)
    check_dask_server(load(SMSETL_DASK="local"), "http://127.0.0.1:4200/api")
    check_dask_server(load(SMSETL_DASK=""), None)  # threads: the temporary server will do
