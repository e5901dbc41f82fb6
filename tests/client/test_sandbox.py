"""The client against the sandbox gateway: real page sizes and totals, every code and fault it offers."""
import time
from datetime import datetime, timedelta

import pytest

sandbox = pytest.importorskip("sandbox")
if not all(hasattr(sandbox, name) for name in ("Sandbox", "Faults", "SANDBOX_API_KEY")):
    pytest.skip("the sandbox server has not landed yet", allow_module_level=True)

from sandbox import SANDBOX_API_KEY, Faults, Sandbox  # noqa: E402

from smsapi import AuthError, NotFoundError, SmsApi  # noqa: E402

NOW = datetime(2026, 11, 1, 12, 0)
REAL_SLEEP = time.sleep


@pytest.fixture(scope="module")
def sb():
    return Sandbox.generate(seed=7, campaigns=40, messages=4000, now=NOW, timezone="Asia/Almaty")


@pytest.fixture
def serve(sb):
    servers = []

    def start(faults=None):
        ctx = sb.serve(port=0, faults=faults or Faults())
        server = ctx.__enter__()
        servers.append(ctx)
        return server

    yield start
    for ctx in servers:
        ctx.__exit__(None, None, None)


@pytest.fixture
def client(make_api):
    def build(url, **kw):
        return make_api(url, api_key=kw.pop("api_key", SANDBOX_API_KEY), **kw)
    return build


def all_campaigns(api):
    return [c for page in api.list_campaigns(NOW - timedelta(days=400), NOW) for c in page]


def test_campaign_listing_walks_windows_and_pages_to_every_campaign_in_the_ground_truth(sb, serve, client):
    api = client(serve().url)
    campaigns = all_campaigns(api)
    assert sorted(int(c["id"]) for c in campaigns) == sorted(sb.ground_truth())
    assert api.stats.calls["Campaign/List"] >= 5  # 400 days -> five windows


def test_message_pages_add_up_to_each_campaigns_ground_truth(sb, serve, client):
    api = client(serve().url)
    truth = sb.ground_truth()
    counts: dict[int, int] = {}
    for page in api.list_messages(list(truth)):
        assert len(page) <= 100
        for m in page:
            counts[int(m["campaignId"])] = counts.get(int(m["campaignId"]), 0) + 1
    assert counts == {cid: t.messages_total for cid, t in truth.items() if t.messages_total}


def test_sms_statuses_match_the_ground_truth_counts(sb, serve, client):
    api = client(serve().url)
    truth = sb.ground_truth()
    cid = max(truth, key=lambda c: truth[c].messages_total)
    ids = [m["id"] for page in api.list_messages([cid]) for m in page]
    statuses: dict[str, int] = {}
    for chunk in api.get_sms_status(ids):
        for row in chunk:
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    assert statuses == {s: n for s, n in truth[cid].status_counts.items() if n}


def test_campaign_info_links_and_balance_come_back_as_wire_strings(sb, serve, client):
    api = client(serve().url)
    truth = sb.ground_truth()
    cid = next(iter(truth))
    info = api.get_campaign_info(cid)
    assert info["id"] == str(cid)
    assert isinstance(api.get_campaign_links(cid), list)
    assert isinstance(api.get_balance()["balance"], str)


def test_link_clicks_match_the_ground_truth(sb, serve, client):
    api = client(serve().url)
    truth = sb.ground_truth()
    clicks = {cid: sum(int(l["clickCnt"]) for l in api.get_campaign_links(cid)) for cid in truth}
    assert clicks == {cid: t.clicks for cid, t in truth.items()}


def test_link_listing_and_stats_are_paged_and_chunked(sb, serve, client):
    api = client(serve().url)
    links = [link for page in api.list_links() for link in page]
    if not links:
        pytest.skip("no links generated")
    stats = list(api.get_link_stats([l["id"] for l in links[:12]], "daily", NOW - timedelta(days=30), NOW))
    assert len(stats) == 3 and all("items" in s and "totals" in s for s in stats)


def test_a_bad_key_fails_fast_naming_code_8_and_sms_api_key_without_the_key(serve, client):
    bad_key = "wrong" + "1" * 35
    api = client(serve().url, api_key=bad_key)
    with pytest.raises(AuthError) as info:
        api.get_balance()
    text = str(info.value)
    assert "API code 8" in text and "SMS_API_KEY" in text and bad_key not in text and bad_key not in repr(api)
    assert api.stats.total_calls == 1


def test_an_unknown_campaign_is_code_2(serve, client):
    api = client(serve().url)
    with pytest.raises(NotFoundError):
        api.get_campaign_info(1)
