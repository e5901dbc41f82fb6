"""One account's message batches on Dask (`flows.batches`), as plain functions: the rate-limit shares, the
estimates kept afterwards, and the batch task itself run in this process (the Dask-run sync is
tests/serve/test_dask_batches.py, which needs a real Prefect server)."""

import inspect
from datetime import UTC, datetime

import pytest

from flows.batches import BatchError, RateShare, combined_estimates, extract_batch, rate_share
from flows.settings import load
from smsapi.client import ApiStats
from smsapi.ratelimit import BACK_OFF, RateLimiter
from storage import raw


def test_each_of_n_workers_gets_an_nth_of_the_cap_and_of_the_learned_rates():
    assert rate_share("10", {"Message/List": 8.0, "Campaign/List": 3.0}, 4) == RateShare(
        "2.5", {"Message/List": 2.0, "Campaign/List": 0.75})


def test_auto_stays_auto_and_starts_from_a_share_of_what_was_learned():
    assert rate_share("auto", {"Message/List": 9.0}, 3) == RateShare("auto", {"Message/List": 3.0})
    assert rate_share("", {}, 3) == RateShare("auto", {})


def test_no_limit_is_no_limit_for_every_worker():
    assert rate_share("none", {"Message/List": 9.0}, 3) == RateShare("none", {})


def test_the_accounts_estimate_is_the_workers_mean_times_their_number():
    # two slots; three batches learned Message/List side by side, one met no code 30
    learned = [{"Message/List": 4.5}, {}, {"Message/List": 5.5, "Campaign/GetInfo": 1.0}, {"Message/List": 5.0}]
    assert combined_estimates(learned, 2) == {"Message/List": 10.0, "Campaign/GetInfo": 2.0}
    assert combined_estimates([{}, {}], 2) == {}  # nothing learned: nothing kept, the next run ramps up


def test_the_flows_client_adopts_the_combined_estimate_within_its_cap():
    limiter = RateLimiter(6.0, adaptive=True, learned={"Campaign/List": 2.0})
    limiter.adopt({"Message/List": 10.0, "Link/List": 4.0})
    assert limiter.learned() == {"Message/List": 6.0, "Link/List": 4.0}  # the cap holds
    assert limiter.rates()["Link/List"] == pytest.approx(BACK_OFF * 4.0)
    fixed = RateLimiter(5.0)
    fixed.adopt({"Message/List": 10.0})
    assert fixed.learned() == {}  # a fixed rate learns nothing


def test_the_workers_calls_count_as_the_runs():
    run, worker = ApiStats(), ApiStats()
    run.add_call("Campaign/List")
    worker.add_call("Message/List")
    worker.add_call("Message/List")
    worker.add_retry("code 30")
    worker.add_paging(1, shrunk=True)
    run.add_snapshot(worker.snapshot())
    snapshot = run.snapshot()
    assert snapshot["calls"] == {"Campaign/List": 1, "Message/List": 2}
    assert (snapshot["total_calls"], snapshot["retries"], snapshot["repeated_items"], snapshot["lists_shrunk"]
            ) == (3, {"code 30": 1}, 1, 1)


def test_the_batch_task_takes_plain_values_and_no_key():
    assert list(inspect.signature(extract_batch).parameters) == [
        "data_dir", "run_id", "as_of", "timezone", "campaign_ids", "status_from", "base", "learned"]
    assert "api_key" not in load(SMS_API_KEY="secret-key-000000").portable()


@pytest.fixture
def gateway(monkeypatch):
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    sb = Sandbox.generate(seed=5, campaigns=4, messages=400, now=datetime(2026, 11, 1, 12, 0), timezone="Asia/Almaty")
    monkeypatch.setenv("SMS_API_KEY", SANDBOX_API_KEY)  # where a worker's key is: its environment
    with sb.serve(port=0, faults=Faults()) as server:
        yield sb, server


def _base(server) -> dict:
    return load(SMS_API_URL=server.url, SMS_TIMEZONE="Asia/Almaty", SMS_RATE_LIMIT="none").portable()


def test_two_batches_write_into_the_runs_raw_and_staging_with_clients_of_their_own(gateway, tmp_path):
    from sandbox.data import CAMPAIGN_ID_BASE

    sb, server = gateway
    run_id, as_of = "20261101T060000000000Z-1", datetime(2026, 11, 1, 6, 0, tzinfo=UTC).isoformat()
    outcomes = [extract_batch(str(tmp_path), run_id, as_of, "Asia/Almaty", ids, None, _base(server), {})
                for ids in ([CAMPAIGN_ID_BASE + 0, CAMPAIGN_ID_BASE + 1], [CAMPAIGN_ID_BASE + 2, CAMPAIGN_ID_BASE + 3])]
    total = sum(t.messages_total for t in sb.ground_truth().values())
    assert sum(o.result.rows["messages"] for o in outcomes) == total
    assert sum(o.api["calls"]["Message/List"] for o in outcomes) == server.calls()["Message/List"]
    records = list(raw.read(tmp_path / "raw", "messages", run_id))
    assert sum(len(r["data"]) for r in records) == total and all(r["observed_at"] == as_of for r in records)
    staged = list((tmp_path / "staging" / run_id / "messages").glob("*.parquet"))
    assert len(staged) == 2  # one part per batch, both kept
    assert all(not item["to"].startswith("+") for r in records for item in r["data"])  # hashed (SMS_PII's default)


def test_a_batch_that_fails_names_the_worker_and_the_cause_never_the_key(gateway, tmp_path, monkeypatch):
    _, server = gateway
    monkeypatch.setenv("SMS_API_KEY", "wrong" + "7" * 35)
    with pytest.raises(BatchError, match=r"failed on the Dask worker .*:\d+: .*code 8") as caught:
        extract_batch(str(tmp_path), "r1", datetime(2026, 11, 1, tzinfo=UTC).isoformat(), "Asia/Almaty", [400000],
                      None, _base(server), {})
    assert "7" * 35 not in str(caught.value)
