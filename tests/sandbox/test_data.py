"""Generated data and the clock: realism, progression, determinism, and ground truth equal to the API."""

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from sandbox import Sandbox
from sandbox.data import INF, ST, STATUSES

NOW = datetime(2026, 11, 1, 12, 0, 0)
WIDE = {"criteria[createTsFrom]": "2026-08-10 00:00:00", "criteria[createTsTo]": "2026-11-05 00:00:00"}


def test_the_same_seed_generates_the_same_data_and_another_seed_does_not():
    a, b = (Sandbox.generate(seed=5, campaigns=20, messages=2000, now=NOW) for _ in range(2))
    c = Sandbox.generate(seed=6, campaigns=20, messages=2000, now=NOW)
    assert a.ground_truth() == b.ground_truth()
    assert np.array_equal(a.m_t1, b.m_t1) and np.array_equal(a.k_t, b.k_t)
    idx = np.arange(50)
    assert a.message_texts(idx) == b.message_texts(idx) and a.message_numbers(idx) == b.message_numbers(idx)
    assert a.ground_truth() != c.ground_truth()


def test_every_campaign_type_and_realistic_texts_are_generated(sb):
    assert {c.type for c in sb.campaigns} == {1, 2, 3, 7}
    texts = " ".join(c.text for c in sb.campaigns)
    assert any("\u0400" <= ch <= "\u04ff" for ch in texts)
    assert any(ord(ch) > 0xFFFF for ch in texts)  # emoji
    assert all(c.sender.replace(".", "").replace("_", "").replace("-", "").isalnum() for c in sb.campaigns)
    assert set(np.unique(sb.m_seg)) <= {1, 2, 3, 4} and sb.m_seg.max() >= 3


def test_template_messages_carry_filled_placeholders(call, sb):
    ci = next(i for i, c in enumerate(sb.campaigns) if c.type == 3 and c.create <= sb.clock.ts)
    items = call("Message/List", {"criteria[campaignIds]": str(400_000 + ci), "pagination[pageSize]": "25"})
    texts = [m["text"] for m in items["data"]["items"]]
    assert "{" in sb.campaigns[ci].text and not any("{" in t for t in texts)
    assert len(set(texts)) > 1


def test_prices_are_per_campaign_and_cost_is_segments_times_price(sb):
    truth = sb.ground_truth()
    for cid, t in truth.items():
        price = Decimal(sb.campaigns[cid - 400_000].price) / 10000
        assert t.cost_total == (t.segments_total * price).quantize(Decimal("0.0001"))


def test_statuses_progress_new_enqueud_acceptd_then_final_as_the_clock_advances():
    sb = Sandbox.generate(seed=3, campaigns=30, messages=3000, now=NOW)
    ci = next(i for i, c in enumerate(sb.campaigns) if c.deferred and c.deferred > sb.clock.ts
              and c.create <= sb.clock.ts)
    idx = sb.msg_index(ci)
    assert set(sb.status_at(idx)[0].tolist()) == {ST["NEW"]}
    seen = []
    start = sb.campaigns[ci].start
    for t in (start, start + 40, start + 3 * 86400):
        sb.clock.set(t)
        seen.append({STATUSES[s] for s in sb.status_at(idx)[0].tolist()})
    assert "ENQUEUD" in seen[0] or "NEW" in seen[0]
    assert seen[-1] <= {"DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED", "PDLIVRD", "ACCEPTD"}
    assert any(s & {"DELIVRD"} for s in seen)


def test_a_message_status_never_goes_back_and_its_update_time_never_decreases(sb):
    idx = np.arange(len(sb.m_camp))
    times = sorted({sb.clock.ts - 40 * 86400, sb.clock.ts - 86400, sb.clock.ts, sb.clock.ts + 10 * 86400})
    rank = {"NEW": 0, "ENQUEUD": 1, "ACCEPTD": 2, "PDLIVRD": 3}
    prev = None
    for t in times:
        st, ts, _ = sb.status_at(idx, now=t)
        r = np.array([rank.get(STATUSES[s], 4) for s in st])
        if prev is not None:
            assert (r >= prev[0]).all() and (ts >= prev[1]).all()
        prev = (r, ts)


def test_late_reports_arrive_days_after_acceptance(sb):
    late = (sb.m_t1 - sb.m_tacc > 86400) & (sb.m_s1 != ST["EXPIRED"])
    assert late.any()
    i = int(np.flatnonzero(late)[0])
    st, _, _ = sb.status_at(np.array([i]), now=int(sb.m_tacc[i]) + 3600)
    assert STATUSES[st[0]] == "ACCEPTD"


def test_partly_delivered_messages_become_delivered_after_the_validity_period(sb):
    pd = np.flatnonzero(sb.m_s1 == ST["PDLIVRD"])
    assert len(pd)
    i = pd[:1]
    assert STATUSES[sb.status_at(i, now=int(sb.m_t1[i[0]]) + 1)[0][0]] == "PDLIVRD"
    assert STATUSES[sb.status_at(i, now=int(sb.m_t2[i[0]]))[0][0]] == "DELIVRD"
    assert (sb.m_seg[pd] > 1).all()


def test_campaigns_created_after_now_appear_once_the_clock_passes_them(fresh):
    sb, _server, call = fresh
    future = [400_000 + i for i, c in enumerate(sb.campaigns) if c.create > sb.clock.ts]
    assert future and not set(future) & set(sb.ground_truth())
    before = {int(c["id"]) for c in call.all_pages("Campaign/List", WIDE)}
    sb.clock.advance(timedelta(days=4))
    after = {int(c["id"]) for c in call.all_pages("Campaign/List", WIDE)}
    assert set(future) <= after and not set(future) & before


def test_clicks_start_after_delivery_and_keep_arriving_for_weeks(sb):
    assert len(sb.k_t)
    spans = []
    for j in range(len(sb.l_code)):
        t = sb.k_t[sb.l_off[j]:sb.l_off[j + 1]]
        if len(t):
            c = sb.campaigns[int(sb.l_camp[j])]
            assert t.min() > c.start
            spans.append(t.max() - t.min())
    assert max(spans) > 14 * 86400


def test_clicks_as_of_the_clock_grow_as_it_advances(sb):
    now = sb.clock.ts
    counts = [sum(sb.link_counts(j, now=now + d * 86400)[0] for j in range(len(sb.l_code))) for d in (-5, 0, 10)]
    assert counts[0] < counts[1] < counts[2]


def test_send_status_is_done_once_every_message_is_final(call, sb):
    for c in call.all_pages("Campaign/List", WIDE):
        cnt = c["counters"]
        open_ = sum(int(cnt[f"total{w}MsgNum"]) for w in ("New", "Enqueud", "Acceptd", "Pdlivrd"))
        assert (c["sendStatus"] == "DONE") == (open_ == 0 and int(cnt["totalMsgNum"]) > 0)


def _truth_over_http(call):
    got = {}
    campaigns = call.all_pages("Campaign/List", {"criteria[createTsFrom]": "2026-08-01 00:00:00",
                                                 "criteria[createTsTo]": "2026-10-30 00:00:00"})
    campaigns += call.all_pages("Campaign/List", {"criteria[createTsFrom]": "2026-10-30 00:00:01",
                                                  "criteria[createTsTo]": "2026-11-20 00:00:00"})
    for c in campaigns:
        msgs = call.all_pages("Message/List", {"criteria[campaignIds][0]": c["id"]})
        links = call("Link/GetLinks", {"campaignId": c["id"]})["data"]
        counts = Counter(m["status"] for m in msgs)
        got[int(c["id"])] = {
            "messages_total": len(msgs),
            "status_counts": {s: counts.get(s, 0) for s in STATUSES},
            "segments_total": sum(int(m["segNum"]) for m in msgs),
            "cost_total": sum(int(m["segNum"]) * Decimal(m["segUserBuy"]) for m in msgs),
            "clicks": sum(int(x["clickCnt"]) for x in links),
            "redirects": sum(int(x["redirectCnt"]) for x in links),
            "counters_total": int(c["counters"]["totalMsgNum"]),
            "counters_cost": Decimal(c["counters"]["totalCost"]),
        }
    return got


def test_ground_truth_equals_what_the_api_reports_when_paged_in_full(fresh):
    sb, _server, call = fresh
    for step in (0, 2):
        sb.clock.advance(timedelta(days=step))
        truth = sb.ground_truth()
        got = _truth_over_http(call)
        assert set(got) == set(truth)
        for cid, t in truth.items():
            g = got[cid]
            assert g["messages_total"] == t.messages_total == g["counters_total"]
            assert g["status_counts"] == t.status_counts
            assert g["segments_total"] == t.segments_total
            assert g["cost_total"] == t.cost_total == g["counters_cost"]
            assert (g["clicks"], g["redirects"]) == (t.clicks, t.redirects)


def test_get_sms_status_agrees_with_message_list(call, sb):
    ci = next(i for i, c in enumerate(sb.campaigns) if c.type == 2 and c.create <= sb.clock.ts)
    items = call("Message/List", {"criteria[campaignIds]": str(400_000 + ci),
                                  "pagination[pageSize]": "100"})["data"]["items"]
    status = call("Message/GetSMSStatus", {"ids": ",".join(m["id"] for m in items)})["data"]
    assert [(s["id"], s["status"], s["statusUpdateTs"]) for s in status] == \
        [(m["id"], m["status"], m["statusUpdateTs"]) for m in items]
    assert all(m["startSendTs"] is None for m in items if m["status"] == "NEW")
    assert INF > 0


def test_a_pages_timestamps_formatted_together_read_as_each_formatted_alone():
    # Message/List formats a page's times in one vectorized call: the same wall times as one at a time, on both
    # sides of daylight-saving shifts, and None where a message has no such time yet
    from sandbox.data import fmt_ts, fmt_ts_many

    rng = np.random.default_rng(3)
    start = int(datetime(2025, 1, 1).timestamp())
    ts = np.concatenate([rng.integers(start, start + 2 * 365 * 86400, 2000),
                         [int(datetime(2026, 3, 29, 0, 59, 59).timestamp()) + k for k in range(0, 7200, 450)],
                         [INF, 0]])
    for zone in ("Asia/Almaty", "Europe/Berlin", "America/Sao_Paulo", "UTC"):
        assert fmt_ts_many(ts, zone) == [fmt_ts(t, zone) for t in ts.tolist()]
    assert fmt_ts_many(np.array([INF]), "Europe/Berlin") == [None]


def test_history_days_sets_how_far_back_campaigns_were_created():
    def days_back(sb) -> list[float]:
        return [(sb.clock.ts - c.create) / 86400 for c in sb.campaigns]

    default = days_back(Sandbox.generate(seed=5, campaigns=200, messages=4000, now=NOW))
    year = days_back(Sandbox.generate(seed=5, campaigns=200, messages=4000, now=NOW, history_days=365))
    assert max(default) <= 60 and max(year) <= 365
    assert max(year) > 300 and sum(d > 60 for d in year) > 100  # most of a year's campaigns are older than 60 days
