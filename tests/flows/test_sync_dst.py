"""An account in a DST zone whose history crosses the fall-back shift (Europe/Kyiv, 2026-10-25 04:00 EEST
-> 03:00 EET): full and incremental syncs before, inside and after the repeated hour equal the ground truth.

One campaign is placed across the shift: each message ENQUEUD 03:49 and ACCEPTD 03:50 summer time, DELIVRD
03:10 winter time, 21 minutes after it was sent although its wall clock reads earlier. Read naively, the
delivery report is "before" the send and the ACCEPTD reading wins; the lake must keep DELIVRD and a 21-minute
latency, and the incremental cursor's overlap must still cover the repeated hour.
"""

from datetime import datetime, timedelta

import numpy as np
from e2e_support import SyncedSandbox, assert_link_windows_match, assert_matches_truth, metrics_by_campaign

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from sandbox.data import CAMPAIGN_ID_BASE, INF, ST

ZONE = "Europe/Kyiv"
BEFORE_THE_SHIFT = datetime(2026, 10, 25, 3, 55)  # summer time: the first 03:55 of the day


def _place_a_campaign_across_the_shift(sb: Sandbox) -> int:
    """The newest campaign with messages, re-timed across the shift; returns its campaign id."""
    ci = max(i for i in range(sb.n_campaigns()) if len(sb.msg_index(i)) and sb.visible(i))
    idx = sb.msg_index(ci)
    n = np.arange(len(idx))
    summer_0349 = sb.parse("2026-10-25 03:49:00")  # an ambiguous wall time parses as its first (summer) occurrence
    winter_0310 = sb.parse("2026-10-25 03:10:00") + 3600
    c = sb.campaigns[ci]
    c.create = sb.m_tnew[idx] = summer_0349 - 300
    c.start = summer_0349
    sb.m_tenq[idx] = summer_0349 + n
    sb.m_tacc[idx] = summer_0349 + 60 + n
    sb.m_t1[idx] = winter_0310 + n
    sb.m_t2[idx] = INF
    sb.m_s1[idx] = sb.m_s2[idx] = ST["DELIVRD"]
    c.end = int(sb.m_tacc[idx].max())
    sb.invalidate()
    return CAMPAIGN_ID_BASE + ci


def test_syncs_across_the_fall_back_hour_match_the_truth(prefect_harness, tmp_path, monkeypatch):
    sb = Sandbox.generate(seed=5, campaigns=16, messages=1600, now=BEFORE_THE_SHIFT, timezone=ZONE)
    assert sb.fmt(sb.clock.ts) == "2026-10-25 03:55:00" and sb.utc_offset(sb.clock.ts) == 3 * 3600
    cid = _place_a_campaign_across_the_shift(sb)
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=ZONE,
                                SMS_RATE_LIMIT="none").items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, tmp_path / "data")

        state.sync(since=state.as_of() - timedelta(days=120))
        assert metrics_by_campaign(state.data_dir)[cid]["pending"] == len(sb.msg_index(cid - CAMPAIGN_ID_BASE))
        assert_matches_truth(state.data_dir, sb.ground_truth(), sb)

        sb.clock.advance(timedelta(minutes=35))  # 03:30 winter time: the repeated hour, 35 minutes later
        assert sb.fmt(sb.clock.ts) == "2026-10-25 03:30:00" and sb.utc_offset(sb.clock.ts) == 2 * 3600
        inside = state.sync()
        assert inside["watermarks"]["status_updated_from"] is not None  # incremental, not a re-read
        row = metrics_by_campaign(state.data_dir)[cid]
        assert row["delivered"] == len(sb.msg_index(cid - CAMPAIGN_ID_BASE)) and row["pending"] == 0
        assert 21 * 60 <= row["delivery_seconds_p50"] <= 21 * 60 + 10  # sent 03:49 summer, delivered 03:10 winter
        assert_matches_truth(state.data_dir, sb.ground_truth(), sb)

        sb.clock.advance(timedelta(days=3))  # winter time, late reports and clicks of the summer campaigns
        after = state.sync()
        assert after["watermarks"]["status_updated_from"] is not None
        assert_matches_truth(state.data_dir, sb.ground_truth(), sb)
        assert_link_windows_match(state.data_dir, sb)
