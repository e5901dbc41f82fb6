"""`smsetl serve --accounts FILE`: the deployment of the `sync-accounts` flow, its alerts and the command's checks,
as plain functions (the served run itself: test_served_accounts.py)."""

import inspect
from pathlib import Path
from uuid import uuid4

import pytest

from flows import alerts, serve

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = """
[[account]]
name = "acme"
api_url = "http://127.0.0.1:9"
key_env = "ACME_SMS_API_KEY"
timezone = "Asia/Almaty"
"""


def accounts_spec(**kwargs) -> dict:
    return serve.deployment_spec("/data", accounts_file="/etc/smsetl/agency.toml", **kwargs)


def test_the_accounts_deployment_runs_sync_accounts_on_the_single_accounts_schedules_and_limit():
    spec, single = accounts_spec(), serve.deployment_spec("/data")
    assert spec["entrypoint"] == "flows/accounts.py:sync_accounts" and serve.is_accounts(spec)
    assert not serve.is_accounts(single)
    assert spec["parameters"] == {"accounts_file": "/etc/smsetl/agency.toml", "data_dir": "/data"}
    assert spec["schedules"] == single["schedules"]
    assert [s["parameters"] for s in spec["schedules"]] == [{"scope": "frequent"}, {"scope": "hourly"},
                                                            {"scope": "full"}]
    assert spec["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    alone = accounts_spec(every_minutes=2.5, nightly_at=None, hourly_at_minute=None)["schedules"]
    assert [(s["interval"], s["parameters"]) for s in alone] == [(150, {"scope": "frequent"})]


def test_the_served_accounts_deployment_takes_the_file_and_directory_never_a_key(monkeypatch):
    from flows.accounts import sync_accounts

    monkeypatch.setenv("ACME_SMS_API_KEY", "acme-secret-" + "9" * 28)
    monkeypatch.setenv("SMS_API_KEY", "single-secret-" + "8" * 26)
    deployment = serve.to_deployment(accounts_spec())
    assert deployment.flow_name == "sync-accounts" and deployment.name == "scheduled"
    assert deployment.parameters == {"accounts_file": "/etc/smsetl/agency.toml", "data_dir": "/data"}
    assert [s.parameters for s in deployment.schedules] == [{"scope": "frequent"}, {"scope": "hourly"},
                                                            {"scope": "full"}]
    assert deployment.concurrency_limit == 1 and deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
    # Every parameter a schedule or the deployment passes is one the flow takes; none of them is a key.
    taken = set(inspect.signature(sync_accounts.fn).parameters)
    assert set(deployment.parameters) | {"scope"} <= taken
    assert not {name for name in taken if "key" in name or "secret" in name}
    assert "secret" not in deployment.model_dump_json()


def test_the_accounts_alerts_aim_at_its_deployment_its_directory_and_every_accounts_directory():
    from prefect.events.schemas.events import Resource, ResourceSpecification

    deployment_id = uuid4()
    failed, mismatches, stale = serve.alert_automations(deployment_id, accounts_spec(), Path("/data"))
    assert failed.trigger.expect == {alerts.FAILED_EVENT}
    assert failed.trigger.match["prefect.resource.id"] == ["smsetl.data-dir./data"]
    assert mismatches.trigger.expect == {alerts.MISMATCH_EVENT}

    def matched(spec: ResourceSpecification, data_dir: str) -> bool:
        return spec.matches(Resource.model_validate(alerts.resource(Path(data_dir))))

    assert matched(mismatches.trigger.match, "/data/accounts/acme")  # an account's sync emits about its own
    assert not matched(mismatches.trigger.match, "/data") and not matched(mismatches.trigger.match, "/other/acme")
    assert not matched(failed.trigger.match, "/data/accounts/acme")  # the flow's event names the accounts
    assert stale.trigger.posture == "Proactive" and stale.trigger.expect == {"prefect.flow-run.Completed"}
    assert stale.trigger.match_related["prefect.resource.id"] == [f"prefect.deployment.{deployment_id}"]
    assert failed.name == "smsetl scheduled (/data): a sync failed"


def test_the_accounts_notifications_name_the_accounts_from_the_event():
    from prefect.server.utilities.user_templates import render_user_template_sync

    block = uuid4()
    failed, mismatches, _ = serve.alert_automations(uuid4(), accounts_spec(), Path("/data"), notify_block_id=block)
    event = {"payload": {"accounts": ["beta", "gamma"]}, "resource": {"name": "acme"}}
    assert render_user_template_sync(failed.actions[0].body, {"event": event}) == (
        "a sync of /data failed: accounts beta, gamma")
    assert render_user_template_sync(mismatches.actions[0].body, {"event": event}) == (
        "reconciliation mismatches persist in /data, account acme")
    single, _, _ = serve.alert_automations(uuid4(), serve.deployment_spec("/data"), Path("/data"), block)
    assert single.actions[0].body == "a sync of /data failed"


def test_a_run_that_accounts_failed_emits_the_failure_naming_them(monkeypatch, caplog):
    emitted = []
    monkeypatch.setattr(alerts, "_emit", lambda event, data_dir, payload: emitted.append((event, data_dir, payload)))
    errors = {"gamma": "account 'gamma': API code 8: login failed", "beta": "account 'beta': timed out"}
    alerts.report_accounts_failure(Path("/data"), errors, 3)
    assert "2 of 3 accounts failed in /data: beta, gamma" in caplog.text
    assert emitted == [(alerts.FAILED_EVENT, Path("/data"), {"accounts": ["beta", "gamma"], "errors": errors,
                                                             "total": 3})]


def test_the_accounts_flow_chooses_its_task_runner_from_the_runs_settings(monkeypatch):
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows import accounts
    from flows.settings import activated, load

    assert isinstance(accounts.sync_accounts.task_runner, accounts.AccountRunner)
    chosen = []

    def runner(settings):
        chosen.append(settings.dask)
        return ThreadPoolTaskRunner(max_workers=1)

    monkeypatch.setattr(accounts, "account_runner", runner)
    outer = accounts.sync_accounts.task_runner.duplicate()
    with activated(load(SMSETL_DASK="tcp://scheduler.internal:8786")):  # as SMSETL_DASK in a served run's env
        with outer as inner:  # the flow run's task runner is the one entering returns
            assert isinstance(inner, ThreadPoolTaskRunner) and inner._started
    assert chosen == ["tcp://scheduler.internal:8786"] and not inner._started


def test_served_runs_get_dask_from_the_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("SMSETL_DASK", "local")
    assert serve.run_environment(tmp_path, "tcp://scheduler.internal:8786")["SMSETL_DASK"] == (
        "tcp://scheduler.internal:8786")  # the flag wins over the environment, as for every setting
    assert "SMSETL_DASK" not in serve.run_environment(tmp_path)  # no flag: the runs inherit the environment's


@pytest.fixture
def served(monkeypatch):
    """`smsetl serve` up to serving: the server check passes, and `serve.serve` records what it was asked."""
    calls = []
    monkeypatch.setattr(serve, "check_server", lambda *a, **k: "http://127.0.0.1:4200/api")
    monkeypatch.setattr(serve, "serve", lambda data_dir, *args, **kwargs: calls.append((data_dir, args, kwargs)))
    return calls


def test_smsetl_serve_accounts_serves_the_file_into_the_data_directory_with_dask(served, tmp_path):
    from smsetl.cli import main

    (tmp_path / "agency.toml").write_text(ACCOUNTS)
    assert main(["serve", "--accounts", str(tmp_path / "agency.toml"), "--data-dir", str(tmp_path / "data"),
                 "--dask", "local", "--every-minutes", "5"]) == 0
    [(data_dir, args, kwargs)] = served
    assert data_dir == tmp_path / "data" and args[0] == 5.0
    assert kwargs["accounts_file"] == str(tmp_path / "agency.toml") and kwargs["dask"] == "local"


def test_smsetl_serve_accounts_refuses_a_bad_file_and_a_single_accounts_directory(served, tmp_path, capsys):
    from smsetl.cli import main

    (tmp_path / "agency.toml").write_text(ACCOUNTS.replace('key_env = "ACME_SMS_API_KEY"', ""))
    assert main(["serve", "--accounts", str(tmp_path / "agency.toml"), "--data-dir", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.startswith(f"smsetl serve: {tmp_path / 'agency.toml'}:")
    (tmp_path / "agency.toml").write_text(ACCOUNTS)
    (tmp_path / "single" / "lake").mkdir(parents=True)
    assert main(["serve", "--accounts", str(tmp_path / "agency.toml"), "--data-dir", str(tmp_path / "single")]) == 2
    assert "holds a single account's data" in capsys.readouterr().err
    (tmp_path / "multi" / "accounts" / "acme").mkdir(parents=True)
    assert main(["serve", "--data-dir", str(tmp_path / "multi")]) == 2  # one account's serve on many accounts'
    assert "run `smsetl serve --accounts FILE" in capsys.readouterr().err
    assert served == []


def test_smsetl_serve_of_one_account_gives_its_runs_dask_for_the_message_batches(served, tmp_path, monkeypatch):
    from sandbox import SANDBOX_API_KEY, Sandbox
    from smsetl.cli import main

    sb = Sandbox.generate(seed=3, campaigns=2, messages=20)
    with sb.serve(port=0) as server:
        for name, value in (("SMS_API_URL", server.url), ("SMS_API_KEY", SANDBOX_API_KEY),
                            ("SMS_TIMEZONE", sb.timezone), ("SMS_RATE_LIMIT", "none")):
            monkeypatch.setenv(name, value)
        assert main(["serve", "--dask", "tcp://scheduler.internal:8786", "--data-dir", str(tmp_path / "one")]) == 0
    [(data_dir, _, kwargs)] = served
    assert data_dir == tmp_path / "one" and kwargs["accounts_file"] is None
    assert kwargs["dask"] == "tcp://scheduler.internal:8786"  # the runs' SMSETL_DASK (run_environment)
