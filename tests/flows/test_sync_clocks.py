"""An incremental sync never depends on this machine's clock or zone agreeing with the gateway's.

Each case runs the sandbox's clock days away from this machine's (or SMS_TIMEZONE an hour off the account's
zone), syncs in full, moves the sandbox's clock a few days, and syncs incrementally: every `campaign_metrics`
column equals the sandbox's ground truth after both. The pipeline can learn the gateway's clock only the way
it would from the real gateway: its responses (the sandbox's admin routes are never called by the sync).
"""

from datetime import datetime, timedelta

import pytest
from e2e_support import SyncedSandbox, assert_matches_truth

from sandbox import SANDBOX_API_KEY, Faults, Sandbox

ACCOUNT_ZONE = "Asia/Almaty"  # UTC+5 since 2024-03-01
ONE_HOUR_EAST = "Asia/Dhaka"  # UTC+6: what Almaty was before, as a stale tzdata would still say


def _machine_now() -> datetime:
    return datetime.now().replace(microsecond=0)


CASES = {
    "gateway clock 6 days behind": (timedelta(days=-6), ACCOUNT_ZONE),
    "gateway clock 6 days ahead": (timedelta(days=6), ACCOUNT_ZONE),
    "SMS_TIMEZONE an hour off": (timedelta(0), ONE_HOUR_EAST),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_full_then_an_incremental_sync_match_the_truth_whatever_the_clocks_say(prefect_harness, tmp_path,
                                                                                  monkeypatch, case):
    offset, configured_zone = CASES[case]
    sb = Sandbox.generate(seed=5, campaigns=16, messages=1600, now=_machine_now() + offset, timezone=ACCOUNT_ZONE)
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=configured_zone,
                                SMS_RATE_LIMIT="none").items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        full = state.sync(since=state.as_of() - timedelta(days=120))
        assert_matches_truth(state.data_dir, sb.ground_truth(), sb)
        before = sb.ground_truth()
        sb.clock.advance(timedelta(days=3))
        incremental = state.sync()
        truth = sb.ground_truth()
    assert any(before[c].status_counts != truth[c].status_counts for c in before), "nothing changed: no test"
    assert incremental["watermarks"]["status_updated_from"] is not None  # incremental, not a re-read
    assert incremental["api_calls"] < full["api_calls"]
    assert incremental["as_of_source"] == "gateway Date header"
    assert_matches_truth(state.data_dir, truth, sb)
