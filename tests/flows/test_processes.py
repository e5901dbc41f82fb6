"""A large backfill's message batches in local worker processes (`flows.processes`, `SMSETL_PROCESSES`): when
they are used, the batches themselves in spawned workers against the sandbox, a failing batch, and one sync
through the real flow with its batches in processes, matching the ground truth."""

import importlib
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from flows import privacy, steps
from flows.batch_extract import BatchError
from flows.processes import AUTO_MESSAGES, extract_in_processes, process_count
from flows.progress import Progress
from flows.settings import SettingsError, activated, load
from smsapi import SmsApi
from storage import raw


def test_auto_uses_worker_processes_for_a_large_full_read_on_a_machine_of_several_cores():
    assert process_count("auto", AUTO_MESSAGES, cpus=2) == 2
    assert process_count("auto", AUTO_MESSAGES, cpus=8) == 2
    assert process_count("auto", AUTO_MESSAGES - 1, cpus=8) == 0  # a small run: threads start at once
    assert process_count("auto", 10 * AUTO_MESSAGES, cpus=1) == 0  # one core: nothing to gain
    assert process_count("3", 0, cpus=1) == 3 and process_count("0", 10 * AUTO_MESSAGES, cpus=8) == 0


def test_the_setting_is_auto_or_a_count_and_a_bad_one_names_the_variable(monkeypatch):
    assert load().processes == "auto"
    monkeypatch.setenv("SMSETL_PROCESSES", " AUTO ")
    assert load().processes == "auto"
    monkeypatch.setenv("SMSETL_PROCESSES", "03")
    assert load().processes == "3"
    for bad in ("two", "65", "-1"):
        monkeypatch.setenv("SMSETL_PROCESSES", bad)
        with pytest.raises(SettingsError, match=r"SMSETL_PROCESSES='?%s'?: .*0 \(the sync's threads\) to 64" % bad):
            load()


def test_the_campaign_list_records_how_many_messages_a_full_read_holds():
    stager_rows = []

    class Ex:
        result = steps.StepResult()

        def take(self, params, page):
            stager_rows.extend(page)

    ex = Ex()
    steps._take_campaigns(ex, {}, [{"id": "7", "sendStatus": "DONE", "counters": {"totalMsgNum": "120"}},
                                   {"id": 8, "sendStatus": "DONE", "counters": {"totalMsgNum": None}},
                                   {"id": 9, "sendStatus": "NEW"}])
    assert ex.result.ids["messages_expected"] == {7: 120, 8: 0}  # 9 has no counters: its size is not known
    assert len(stager_rows) == 3


@pytest.fixture
def run_on_sandbox(monkeypatch, tmp_path):
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    sb = Sandbox.generate(seed=5, campaigns=6, messages=900, now=datetime(2026, 11, 1, 12, 0), timezone="Asia/Almaty")
    # the key only in the activated settings, not in the environment: the workers get it from the pool
    monkeypatch.delenv("SMS_API_KEY", raising=False)
    with sb.serve(port=0, faults=Faults()) as server:
        settings = load(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE="Asia/Almaty",
                        SMS_RATE_LIMIT="none", SMS_DATA_DIR=str(tmp_path))
        with activated(settings):
            pii = privacy.for_sync(tmp_path)
            run = steps.RunContext(tmp_path, "20261101T060000000000Z-1", datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
                                   "Asia/Almaty", pii=pii, progress=Progress(observers=[]))
            with SmsApi.from_env(settings.client_env()) as api:
                yield sb, server, run, api


def test_batches_in_two_worker_processes_stage_every_message_and_count_their_calls(run_on_sandbox):
    sb, server, run, api = run_on_sandbox
    ids = sorted(sb.ground_truth())  # the campaigns that sent messages (the others are drafts)
    assert len(ids) >= 3
    result = extract_in_processes(run, api, [(ids[:1], None), (ids[1:2], None), (ids[2:], None)], 2)
    total = sum(t.messages_total for t in sb.ground_truth().values())
    assert result.rows["messages"] == total
    assert api.stats.calls["Message/List"] == server.calls()["Message/List"] >= 3  # the workers' calls, counted
    assert {e.entity: e.items for e in run.progress.snapshot().entities}["messages"] == total
    records = list(raw.read(run.data_dir / "raw", "messages", run.run_id))
    assert sum(len(r["data"]) for r in records) == total
    assert all(not item["to"].startswith("+") for r in records for item in r["data"])  # hashed in the workers too
    staged = list((run.staging_dir / "messages").glob("*.parquet"))
    assert len(staged) == 3  # one part per batch, none overwritten by another process's


def test_a_failing_batch_fails_the_extract_after_the_others_and_never_shows_the_key(run_on_sandbox, monkeypatch):
    from sandbox.data import CAMPAIGN_ID_BASE

    sb, server, run, api = run_on_sandbox
    wrong = "wrong" + "7" * 35
    with activated(load(SMS_API_URL=server.url, SMS_API_KEY=wrong, SMS_TIMEZONE="Asia/Almaty",
                        SMS_RATE_LIMIT="none")):
        with pytest.raises(BatchError, match=r"failed on the worker .*:\d+: .*code 8") as caught:
            extract_in_processes(run, api, [([CAMPAIGN_ID_BASE], None), ([CAMPAIGN_ID_BASE + 1], None)], 2)
    assert "7" * 35 not in str(caught.value)
    assert api.stats.calls["Message/List"] == server.calls()["Message/List"] == 2  # both batches ran, counted


class Collected(logging.Handler):
    def __init__(self):
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.parametrize("flow_level", [logging.WARNING, logging.ERROR])
def test_the_workers_log_records_reach_the_flows_loggers_at_the_flows_levels(run_on_sandbox, monkeypatch,
                                                                            flow_level):
    """A retry in a worker is the flow's warning (the CLI and Prefect show it), not a bare line on the worker's
    stderr; a flow that shows errors only is sent none."""
    from sandbox import Faults

    sb, server, run, api = run_on_sandbox
    ids = sorted(sb.ground_truth())
    server.set_faults(Faults(http_5xx=0.3, seed=3))
    client_log, collected = logging.getLogger("smsapi"), Collected()
    monkeypatch.setattr(client_log, "level", flow_level)
    client_log.addHandler(collected)
    try:
        result = extract_in_processes(run, api, [(ids[:1], None), (ids[1:], None)], 2)
    finally:
        client_log.removeHandler(collected)
    assert result.rows["messages"] == sum(t.messages_total for t in sb.ground_truth().values())
    retries = [r for r in collected.records if "retry" in r.getMessage()]
    assert sum(api.stats.retries.values()) >= 1  # the workers retried
    if flow_level == logging.WARNING:
        assert len(retries) == sum(api.stats.retries.values())  # every retry the workers made, each once
        assert all(r.levelno == logging.WARNING and r.process != os.getpid() for r in retries)
    else:
        assert retries == []


def test_a_sync_with_its_batches_in_worker_processes_matches_the_ground_truth(prefect_harness, tmp_path,
                                                                               monkeypatch):
    from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox, assert_matches_truth

    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    sb = Sandbox.generate(seed=31, campaigns=10, messages=1000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    monkeypatch.setattr(steps, "CAMPAIGN_BATCH", 3)  # four batches for two workers
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                                SMS_RATE_LIMIT="none", SMSETL_PROCESSES="2").items():
            monkeypatch.setenv(name, value)
        # The batches start only once the click series are being read: which they are, beside the batches, as
        # soon as the links are (else this waits 30 s in vain, and the assertion below fails).
        sync_module, stats_calls_seen = importlib.import_module("flows.sync"), []

        def batches_once_click_series_are_read(*args):
            deadline = time.monotonic() + 30
            while not server.calls().get("Link/GetStats") and time.monotonic() < deadline:
                time.sleep(0.05)
            stats_calls_seen.append(server.calls().get("Link/GetStats", 0))
            return extract_in_processes(*args)

        monkeypatch.setattr(sync_module, "extract_in_processes", batches_once_click_series_are_read)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        backfill = state.sync(since=state.as_of() - timedelta(days=120))
        assert stats_calls_seen[0] > 0
        assert_matches_truth(state.data_dir, sb.ground_truth(), sb)
        assert backfill["api"]["calls"]["Message/List"] == server.calls()["Message/List"]
        sb.clock.advance(timedelta(days=2))
        state.sync()  # incremental: its batches in the workers too (SMSETL_PROCESSES is not auto)
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)
    assert backfill["rows"]["messages"]["added"] == sum(t.messages_total for t in sb.ground_truth().values())


def test_a_backfill_is_batched_by_its_campaigns_sizes():
    from flows.message_batches import by_size, count

    sizes = {1: 50_000, 2: 9_000, 3: 8_000, 4: 7_000, 5: 100, 6: 100}
    assert by_size([1, 2, 3, 4, 5, 6, 7], sizes, campaigns=100, messages=20_000) == [[1], [2, 3], [4, 5, 6, 7]]
    # cut in their order, the largest batch first
    assert by_size([4, 2, 1, 3], sizes, campaigns=100, messages=20_000) == [[1], [4, 2], [3]]
    assert by_size(range(1, 8), {}, campaigns=3) == [[1, 2, 3], [4, 5, 6], [7]]  # sizes unknown: by count only
    assert by_size([], sizes, campaigns=100) == []
    assert [count(v) for v in ("120", 7, None, "x", -3)] == [120, 7, 0, 0, 0]
