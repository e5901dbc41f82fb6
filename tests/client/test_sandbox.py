"""The client against the sandbox gateway: real page sizes and totals, every code and fault it offers."""
import time
from datetime import datetime, timedelta

import pytest

import transforms
from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsapi import AuthError, NotFoundError, columnar

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
    clicks = {cid: sum(int(link["clickCnt"]) for link in api.get_campaign_links(cid)) for cid in truth}
    assert clicks == {cid: t.clicks for cid, t in truth.items()}


def test_link_listing_and_stats_are_paged_and_chunked(sb, serve, client):
    api = client(serve().url)
    links = [link for page in api.list_links() for link in page]
    if not links:
        pytest.skip("no links generated")
    stats = list(api.get_link_stats([link["id"] for link in links[:12]], "daily", NOW - timedelta(days=30), NOW))
    assert [len(ids) for ids, _ in stats] == [5, 5, 2]
    assert all("items" in data and "totals" in data for _, data in stats)


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


@pytest.mark.parametrize("fault,causes", [("http_5xx", {"http 503"}), ("drop", {"connection"}),
                                          ("truncated", {"connection", "bad body"}), ("code3", {"code 3"}),
                                          ("code999", {"code 999"})])
def test_a_sync_through_a_transient_fault_still_returns_every_campaign_and_message(sb, serve, client, fault,
                                                                                   causes):
    api = client(serve(Faults(**{fault: 0.3}, seed=3)).url, max_retries=10)
    truth = sb.ground_truth()
    assert sorted(int(c["id"]) for c in all_campaigns(api)) == sorted(truth)
    messages = sum(len(page) for page in api.list_messages(list(truth)))
    assert messages == sum(t.messages_total for t in truth.values())
    assert api.stats.retries and set(api.stats.retries) <= causes


def test_slow_responses_past_the_read_timeout_are_retried(sb, serve, client):
    api = client(serve(Faults(slow=0.3, slow_seconds=0.3, seed=5)).url, timeout=(1, 0.1), max_retries=10)
    truth = sb.ground_truth()
    for cid in list(truth)[:12]:
        assert api.get_campaign_info(cid)["id"] == str(cid)
    assert api.stats.retries["timeout"] >= 1


def test_a_wrong_domain_is_followed_and_kept_for_the_session(serve, client):
    server = serve(Faults(wrong_port=True))
    api = client(server.wrong_url)
    assert "balance" in api.get_balance()
    api.get_balance()
    assert api.base_url == server.url and api.stats.domain_switches == 1
    assert api.stats.calls["User/GetOwnBalance"] == 3


def test_a_rate_limited_run_completes_with_the_client_limiter_plus_code_30_backoff(sb, serve, client):
    server = serve(Faults(rate_limit=8))
    api = client(server.url, rate_limit_per_method=20.0, sleep=REAL_SLEEP, backoff=0.1, max_retries=8)
    truth = sb.ground_truth()
    infos = [api.get_campaign_info(cid) for cid in list(truth)[:24]]
    assert [i["id"] for i in infos] == [str(c) for c in list(truth)[:24]]
    assert api.stats.retries["code 30"] >= 1 and api.stats.rate_limit_waits >= 1


def test_a_client_limit_below_the_server_limit_never_sees_code_30(sb, serve, client):
    server = serve(Faults(rate_limit=10))
    api = client(server.url, rate_limit_per_method=7.0, sleep=REAL_SLEEP, backoff=0.1)
    for cid in list(sb.ground_truth())[:10]:
        api.get_campaign_info(cid)
    assert api.stats.retries.get("code 30", 0) == 0


@pytest.fixture
def fresh():
    """A small sandbox of its own: the sending tests add data."""
    return Sandbox.generate(seed=11, campaigns=3, messages=50, now=NOW, timezone="Asia/Almaty")


def test_sending_creates_a_campaign_whose_recipients_come_back_as_messages(fresh, client):
    with fresh.serve(port=0, faults=Faults()) as server:
        api = client(server.url)
        cid = api.create_campaign("Привет, мир! Скидка 10%", campaign_type=2, sender="Shop")
        added = api.add_recipients(cid, ["+77010000001", "77010000002"])
        assert [r["code"] for r in added] == [0, 0]
        assert api.send_campaign(cid) == 2
        ids = [m["id"] for page in api.list_messages([cid]) for m in page]
        assert sorted(ids) == sorted(r["messageId"] for r in added)


def test_a_bad_recipient_among_good_ones_is_a_partial_result(fresh, client):
    with fresh.serve(port=0, faults=Faults()) as server:
        api = client(server.url)
        cid = api.create_campaign("hello", sender="Shop")
        result = api.add_recipients(cid, ["77010000001", "bad"])
        assert result.partial and len(result.processed) == 1 and result.failed[0]["recipient"] == "bad"


def test_a_background_task_is_polled_to_completion(fresh, client, no_sleep):
    with fresh.serve(port=0, faults=Faults(background_tasks=1.0, task_polls=3)) as server:
        api = client(server.url)
        cid = api.create_campaign("hello", sender="Shop")
        result = api.add_recipients(cid, ["77010000001"])
        assert result == [{"id": result[0]["id"], "status": "2", "progress": "100"}]
        assert api.stats.calls["TaskQueue/GetStatus"] == 3 and no_sleep.count(1.0) >= 3


def test_a_validation_error_from_the_sandbox_lists_the_bad_field(fresh, client):
    from smsapi import ValidationError
    with fresh.serve(port=0, faults=Faults()) as server:
        api = client(server.url)
        with pytest.raises(ValidationError, match=r"\(Campaign/Create\).*bad fields: text"):
            api.create_campaign("   ", sender="Shop")


def test_the_sandboxs_message_pages_are_read_by_column_with_the_values_the_dict_path_reads(sb, serve, client):
    """The sync reads Message/List by column (`smsapi.columnar`); a sandbox page that fell back to dicts would
    only be slower, so this says the sandbox still sends the reference's shape, value for value."""
    api = client(serve().url)
    cid = next(cid for cid, t in sb.ground_truth().items() if t.messages_total > 100)
    by_column = list(api.list_messages([cid], decode=columnar.decoder(tuple(transforms.MESSAGE_KEYS))))
    as_dicts = list(api.list_messages([cid]))
    assert by_column and all(isinstance(page, columnar.ColumnPage) for page in by_column)
    assert [row for page in by_column for row in page.columns.to_pylist()] == \
        [{k: m.get(k) for k in transforms.MESSAGE_KEYS} for page in as_dicts for m in page]
