"""High-level methods: pages, windows, id chunks and the wire parameters they send."""
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from .conftest import ok


def paged_router(total, key="items"):
    """A List method with ``total`` items served 0-based in pages of the requested size."""
    def route(req):
        page = int(req.form["pagination[currentPage]"])
        size = int(req.form["pagination[pageSize]"])
        ids = range(page * size, min((page + 1) * size, total))
        return ok({key: [{"id": str(i)} for i in ids], "totalItemCount": str(total)})
    return route


def test_list_campaigns_pages_until_the_total_is_reached(server, api):
    server.router = paged_router(250)
    pages = list(api.list_campaigns(datetime(2026, 1, 1), datetime(2026, 1, 31)))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [r.form["pagination[currentPage]"] for r in server.requests] == ["0", "1", "2"]
    assert {r.form["pagination[pageSize]"] for r in server.requests} == {"100"}


def test_list_campaigns_sends_explicit_windows_of_at_most_90_days(server, api):
    server.router = paged_router(0)
    list(api.list_campaigns(datetime(2025, 1, 1), datetime(2025, 12, 31, 23, 59, 59)))
    windows = [(r.form["criteria[createTsFrom]"], r.form["criteria[createTsTo]"]) for r in server.requests]
    assert windows[0] == ("2025-01-01 00:00:00", "2025-03-31 23:59:59")
    assert windows[-1][1] == "2025-12-31 23:59:59" and len(windows) == 5


def test_list_campaigns_formats_aware_datetimes_in_the_account_zone(server, api):
    server.router = paged_router(0)
    list(api.list_campaigns(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)))
    assert server.requests[0].form["criteria[createTsFrom]"] == "2026-01-01 05:00:00"


def test_an_empty_page_ends_the_listing_even_if_the_total_says_more(server, api):
    server.add(ok({"items": [{"id": "1"}], "totalItemCount": "500"}), ok({"items": [], "totalItemCount": "500"}))
    assert list(api.list_campaigns(datetime(2026, 1, 1), datetime(2026, 1, 2))) == [[{"id": "1"}]]
    assert len(server.requests) == 2


def test_list_messages_sends_campaign_ids_in_chunks_of_100(server, api):
    server.router = paged_router(1)
    pages = list(api.list_messages(range(250)))
    assert len(pages) == 3
    chunks = [[v for k, v in r.form.items() if k.startswith("criteria[campaignIds]")] for r in server.requests]
    assert [len(c) for c in chunks] == [100, 100, 50] and chunks[2][-1] == "249"
    assert server.requests[0].form["withNumberInfo"] == "1"
    assert "criteria[statusUpdateTsFrom]" not in server.requests[0].form


def test_list_messages_filters_on_status_update_time_in_windows(server, api):
    server.router = paged_router(0)
    list(api.list_messages([1], datetime(2026, 1, 1), datetime(2026, 6, 1), with_number_info=False))
    forms = [r.form for r in server.requests]
    assert len(forms) == 2 and forms[0]["withNumberInfo"] == "0"
    assert forms[0]["criteria[statusUpdateTsFrom]"] == "2026-01-01 00:00:00"
    assert forms[1]["criteria[statusUpdateTsTo]"] == "2026-06-01 00:00:00"


def test_get_sms_status_yields_one_list_per_chunk_of_100(server, api):
    server.router = lambda req: ok([{"id": v, "status": "DELIVRD"} for k, v in req.form.items()])
    lists = list(api.get_sms_status(str(i) for i in range(201)))
    assert [len(x) for x in lists] == [100, 100, 1]


def test_get_link_stats_sends_at_most_5_ids_with_type_and_dates(server, api):
    server.router = lambda req: ok({"items": [], "totals": "0"})
    out = list(api.get_link_stats(range(12), "daily", datetime(2026, 1, 1), datetime(2026, 1, 31)))
    assert out == [{"items": [], "totals": "0"}] * 3
    f = server.requests[0].form
    assert [f[f"ids[{i}]"] for i in range(5)] == ["0", "1", "2", "3", "4"] and "ids[5]" not in f
    assert f["type"] == "daily" and f["criteria[dateFrom]"] == "2026-01-01 00:00:00"


def test_get_link_stats_walks_ranges_longer_than_the_period_type_allows(server, api):
    server.router = lambda req: ok({"items": [], "totals": "0"})
    list(api.get_link_stats([1], "hourly", datetime(2026, 1, 1), datetime(2026, 1, 14, 23, 59, 59)))
    assert len(server.requests) == 2


def test_list_links_sends_the_from_bound_as_a_date(server, api):
    server.router = paged_router(3)
    pages = list(api.list_links(created_from=datetime(2026, 1, 1, 10), created_to=datetime(2026, 2, 1)))
    assert pages == [[{"id": "0"}, {"id": "1"}, {"id": "2"}]]
    assert server.requests[0].form["criteria[createTsFrom]"] == "2026-01-01"
    assert server.requests[0].form["criteria[createTsTo]"] == "2026-02-01 00:00:00"


def test_single_object_getters_send_their_id(server, api):
    server.router = lambda req: ok({"endpoint": req.endpoint, **req.form})
    assert api.get_campaign_info(7) == {"endpoint": "Campaign/GetInfo", "id": "7"}
    assert api.get_campaign(7) == {"endpoint": "Campaign/Get", "id": "7"}
    assert api.get_link(3) == {"endpoint": "Link/Get", "id": "3"}
    assert api.task_status(9) == {"endpoint": "TaskQueue/GetStatus", "id": "9"}


def test_senders_use_the_documented_parameter_names(server, api):
    server.router = lambda req: ok({"endpoint": req.endpoint, **req.form})
    assert api.send_sms("+77010000000", "Привет мир", sender="Shop") == {
        "endpoint": "Message/SendSmsMessage", "recipient": "+77010000000", "text": "Привет мир", "from": "Shop"}
    assert server.requests[0].body.startswith("recipient=%2B77010000000&text=%D0%9F")
    created = api.create_campaign("Hi {name}", campaign_type=3, sender="Shop", name="n")
    assert created["data[type]"] == "3" and created["data[text]"] == "Hi {name}"
    assert api.send_campaign(5) == {"endpoint": "Campaign/Send", "id": "5"}


def test_add_recipients_splits_more_than_500_recipients(server, api):
    server.router = lambda req: ok([{"recipient": v, "code": 0} for k, v in req.form.items()
                                    if k.startswith("recipients")])
    result = api.add_recipients(5, [str(i) for i in range(1200)])
    assert len(result) == 1200 and len(server.requests) == 3


def test_payload_strings_come_back_untouched(server, api):
    server.add(ok({"items": [{"id": "11111", "segUserBuy": "0.0600", "startSendTs": None}],
                   "totalItemCount": "1"}))
    pages = list(api.list_messages(["333"]))
    assert pages == [[{"id": "11111", "segUserBuy": "0.0600", "startSendTs": None}]]


def test_one_client_is_safe_to_use_from_a_thread_pool(server, api):
    server.router = lambda req: ok({"id": req.form.get("id")})
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: api.get_campaign(i)["id"], range(80)))
    assert got == [str(i) for i in range(80)]
    assert api.stats.calls["Campaign/Get"] == 80
