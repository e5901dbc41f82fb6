"""A sync under the gateway's faults ends as specified: complete and exact, or a clear error."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, assert_matches_truth

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from storage import rate_limits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def sandbox_env(monkeypatch):
    def configure(url, rate_limit="none"):
        monkeypatch.setenv("SMS_API_URL", url)
        monkeypatch.setenv("SMS_API_KEY", SANDBOX_API_KEY)
        monkeypatch.setenv("SMS_TIMEZONE", SANDBOX_TZ)
        monkeypatch.setenv("SMS_RATE_LIMIT", rate_limit)
    return configure


def small_sandbox(seed):
    return Sandbox.generate(seed=seed, campaigns=12, messages=1200, now=SANDBOX_NOW, timezone=SANDBOX_TZ)


def test_a_sync_through_5xx_drops_truncated_bodies_and_codes_3_and_999_is_still_exact(
        prefect_harness, sandbox_env, tmp_path):
    sb = small_sandbox(21)
    faults = Faults(http_5xx=0.04, drop=0.04, truncated=0.04, code3=0.04, code999=0.04, seed=5)
    with sb.serve(port=0, faults=faults) as server:
        sandbox_env(server.url)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        summary = state.sync(since=state.as_of() - timedelta(days=120))
    assert sum(summary["api"]["retries"].values()) > 0  # the faults were met, and retried
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)


def test_a_rate_limited_sync_backs_off_and_completes_exactly(prefect_harness, sandbox_env, tmp_path):
    sb = small_sandbox(22)
    with sb.serve(port=0, faults=Faults(rate_limit=8)) as server:
        sandbox_env(server.url, rate_limit="auto")  # the default: the client learns the limit from code 30
        state = SyncedSandbox(sb, server, tmp_path / "data")
        summary = state.sync(since=state.as_of() - timedelta(days=120))
    assert summary["api"]["retries"].get("code 30", 0) > 0
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)
    # what the client learned is kept for the next run: the limit of each method that met it
    learned = rate_limits.load(state.data_dir)
    assert learned and learned == summary["rate_limits_learned"]
    # about the limit: answers are counted when they arrive here, and on a loaded machine one window's worth
    # of answers can arrive bunched into less than a second, so one over the limit is a correct reading
    assert all(4 <= rate <= 8 * 1.25 for rate in learned.values()), learned


def test_a_sync_pointed_at_the_wrong_domain_follows_code_13(prefect_harness, sandbox_env, tmp_path):
    sb = small_sandbox(23)
    with sb.serve(port=0, faults=Faults(wrong_port=True)) as server:
        sandbox_env(server.wrong_url)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        summary = state.sync(since=state.as_of() - timedelta(days=120))
    assert summary["api"]["domain_switches"] >= 1
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "smsetl.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT, timeout=300)


def test_sync_with_a_bad_key_stops_at_start_naming_code_8_and_the_variable_without_the_key(tmp_path):
    sb = small_sandbox(24)
    bad_key = "badkey" + "1" * 34
    with sb.serve(port=0, faults=Faults()) as server:
        result = run_cli("sync", "--data-dir", str(tmp_path), env={
            "SMS_API_URL": server.url, "SMS_API_KEY": bad_key, "SMS_TIMEZONE": SANDBOX_TZ})
    assert result.returncode == 2
    assert "API code 8" in result.stderr and "SMS_API_KEY" in result.stderr
    assert bad_key not in result.stderr + result.stdout


def test_sync_without_a_key_says_which_variable_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SMS_API_KEY"}
    result = subprocess.run([sys.executable, "-m", "smsetl.cli", "sync", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, env={**env, "SMS_API_URL": "http://127.0.0.1:9"},
                            cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "SMS_API_KEY is not set" in result.stderr


def test_sync_with_an_unknown_time_zone_is_a_clear_error(tmp_path):
    result = run_cli("sync", "--data-dir", str(tmp_path), "--timezone", "Mars/Olympus", env={
        "SMS_API_URL": "http://127.0.0.1:9", "SMS_API_KEY": SANDBOX_API_KEY})
    assert result.returncode == 2
    assert "Mars/Olympus" in result.stderr and "SMS_TIMEZONE" in result.stderr


def test_a_failed_sync_is_recorded_with_its_error_and_leaves_the_data_unchanged(
        prefect_harness, sandbox_env, tmp_path, monkeypatch):
    import duckdb

    from smsapi import AuthError

    sb = small_sandbox(25)
    with sb.serve(port=0, faults=Faults()) as server:
        sandbox_env(server.url)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        state.sync(since=state.as_of() - timedelta(days=120))
        bad_key = "revoked" + "2" * 33
        monkeypatch.setenv("SMS_API_KEY", bad_key)
        with pytest.raises(AuthError):
            state.sync()
    con = duckdb.connect(str(state.data_dir / "warehouse.duckdb"), read_only=True)
    outcomes = con.execute("select outcome, json_extract_string(summary, '$.error') from sync_runs"
                           " order by started_at").fetchall()
    assert [o for o, _ in outcomes] == ["success", "failed"]
    assert "API code 8" in outcomes[1][1] and bad_key not in outcomes[1][1]
    con.close()
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)


def test_a_failing_click_series_task_fails_the_run_once_the_other_series_tasks_have_ended(
        prefect_harness, sandbox_env, tmp_path, monkeypatch):
    import importlib
    import time

    from flows import steps

    sync_module = importlib.import_module("flows.sync")
    monkeypatch.setattr(steps, "STATS_BATCH", 1)  # a task a link
    real, submitted, started, ended = steps.extract_link_stats, [], [], []

    def the_first_submitted_fails_the_others_take_a_while(api, run, stager, batch):
        started.append(batch)
        if batch == submitted[0]:  # the one the flow waits for first
            raise RuntimeError("the first click series failed")
        time.sleep(0.5)
        out = real(api, run, stager, batch)
        ended.append(batch)
        return out

    task = sync_module._task(the_first_submitted_fails_the_others_take_a_while, "extract-link-stats")

    class Recorded:
        def submit(self, api, run, stager, batch):
            submitted.append(batch)
            return task.submit(api, run, stager, batch)

    monkeypatch.setattr(sync_module, "extract_link_stats", Recorded())
    # Seen when the failed run is recorded (its staging dropped, the warehouse published): the flow's task runner
    # waits for its threads only after that, as the flow ends.
    at_failure, record_failure = [], sync_module._record_failure
    monkeypatch.setattr(sync_module, "_record_failure",
                        lambda *a: (at_failure.append((len(started), len(ended))), record_failure(*a)))
    sb = small_sandbox(26)
    with sb.serve(port=0, faults=Faults()) as server:
        sandbox_env(server.url)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        with pytest.raises(RuntimeError, match="the first click series failed"):
            state.sync(since=state.as_of() - timedelta(days=120))
    assert len(started) >= 3  # several series tasks, so that some were still running when the first failed
    assert at_failure == [(len(started), len(started) - 1)]  # every other one had ended; none started after
