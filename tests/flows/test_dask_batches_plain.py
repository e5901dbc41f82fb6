"""One account's message batches on Dask (`flows.batches`), as plain functions: the rate-limit shares, the
estimates kept afterwards, and the batch task itself run in this process (the Dask-run sync is
tests/serve/test_dask_batches.py, which needs a real Prefect server)."""

import inspect
import pickle
from datetime import UTC, datetime

import pytest

from flows import privacy
from flows.batch_extract import BatchError, RateShare, combined_estimates, extract_batch, rate_share
from flows.settings import activated, load
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


def test_the_accounts_estimate_counts_the_batches_that_ran_side_by_side():
    # batches a, b and d ran together (0-10 s), c alone after them (10-20 s); d learned nothing
    learned = [({"Message/List": 4.5}, 0.0, 10.0), ({"Message/List": 5.5, "Campaign/GetInfo": 1.0}, 0.0, 10.0),
               ({"Message/List": 10.0}, 10.0, 20.0), ({}, 0.0, 10.0)]
    # a and b each ran beside two others: 3 x 4.5, 3 x 5.5; c alone: 10
    assert combined_estimates(learned) == {"Message/List": round((13.5 + 16.5 + 10.0) / 3, 3),
                                           "Campaign/GetInfo": 3.0}
    assert combined_estimates([({"Message/List": 5.0}, 0.0, 10.0), ({"Message/List": 5.0}, 5.0, 15.0)]) == {
        "Message/List": 7.5}  # half the time side by side
    assert combined_estimates([({}, 0.0, 1.0), ({}, 0.0, 1.0)]) == {}  # nothing learned: the next run ramps up


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
    with pytest.raises(BatchError, match=r"failed on the worker .*:\d+: .*code 8") as caught:
        extract_batch(str(tmp_path), "r1", datetime(2026, 11, 1, tzinfo=UTC).isoformat(), "Asia/Almaty", [400000],
                      None, _base(server), {})
    assert "7" * 35 not in str(caught.value)
    assert caught.value.api["calls"]["Message/List"] == server.calls()["Message/List"]  # its calls, for the run
    again = pickle.loads(pickle.dumps(caught.value))  # as it comes back from a worker
    assert (str(again), again.api) == (str(caught.value), caught.value.api)


def test_two_workers_side_by_side_learn_a_share_each_and_together_the_accounts_limit(monkeypatch, tmp_path):
    """Two batch clients at once against a gateway limiting Message/List to 10 calls/s (the limit is the
    account's, so they share it): each learns about half, and the estimate kept is about the limit."""
    from concurrent.futures import ThreadPoolExecutor

    from sandbox import SANDBOX_API_KEY, Faults, Sandbox
    from sandbox.data import CAMPAIGN_ID_BASE

    limit = 10.0  # two campaigns of 3,052 and 2,948 messages: about 30 pages each
    sb = Sandbox.generate(seed=16, campaigns=2, messages=6000, now=datetime(2026, 11, 1, 12, 0), timezone="Asia/Almaty")
    monkeypatch.setenv("SMS_API_KEY", SANDBOX_API_KEY)
    with sb.serve(port=0, faults=Faults(rate_limit_methods={"Message/List": limit})) as server:
        base = {**_base(server), "rate_limit": rate_share("auto", {}, 2).rate_limit}
        with activated(load(**base)):
            privacy.for_sync(tmp_path)  # as the flow does before its batches start: pii.json, the key file
        as_of = datetime(2026, 11, 1, 6, 0, tzinfo=UTC).isoformat()
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(lambda cid: extract_batch(str(tmp_path), "r1", as_of, "Asia/Almaty", [cid], None,
                                                               base, {}),
                                     [CAMPAIGN_ID_BASE, CAMPAIGN_ID_BASE + 1]))
    learned = [o.learned.get("Message/List") for o in outcomes]
    kept = combined_estimates([(o.learned, o.started, o.ended) for o in outcomes])["Message/List"]
    print("learned each:", learned, "kept:", kept)
    assert all(o.api["retries"].get("code 30") for o in outcomes)  # both met the shared limit
    assert all(rate < 0.8 * limit for rate in learned)  # a share each, not the whole
    assert 0.7 * limit <= kept <= 1.25 * limit  # about the account's limit (answers bunch on a loaded machine)


def test_a_running_clusters_slots_are_its_worker_threads():
    from distributed import LocalCluster

    from flows.batches import cluster_slots

    assert cluster_slots(load(SMSETL_DASK="local", SMSETL_WORKERS=3)) == 3
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=None,
                      host="127.0.0.1") as cluster:
        assert cluster_slots(load(SMSETL_DASK=cluster.scheduler_address)) == 4
