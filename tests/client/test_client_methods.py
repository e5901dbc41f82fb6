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


def test_get_link_stats_sends_at_most_5_ids_and_yields_each_answer_with_the_ids_it_sent(server, api):
    server.router = lambda req: ok({"items": [], "totals": []})
    out = list(api.get_link_stats(range(12), "daily", datetime(2026, 1, 1), datetime(2026, 1, 31)))
    assert out == [([0, 1, 2, 3, 4], {"items": [], "totals": []}), ([5, 6, 7, 8, 9], {"items": [], "totals": []}),
                   ([10, 11], {"items": [], "totals": []})]
    f = server.requests[0].form
    assert [f[f"ids[{i}]"] for i in range(5)] == ["0", "1", "2", "3", "4"] and "ids[5]" not in f
    assert f["type"] == "daily" and f["criteria[dateFrom]"] == "2026-01-01 00:00:00"


def test_get_link_stats_without_dates_leaves_the_window_to_the_gateways_clock(server, api):
    server.router = lambda req: ok({"items": [], "totals": []})
    list(api.get_link_stats([1, 2], "minute"))
    assert server.requests[0].form == {"ids[0]": "1", "ids[1]": "2", "type": "minute"}


def test_get_link_stats_walks_ranges_longer_than_the_period_type_allows(server, api):
    server.router = lambda req: ok({"items": [], "totals": []})
    list(api.get_link_stats([1], "hourly", datetime(2026, 1, 1), datetime(2026, 1, 14, 23, 59, 59)))
    assert len(server.requests) == 2


def test_lists_are_paged_in_id_order_unless_the_caller_sorts(server, api):
    server.router = paged_router(1)
    list(api.list_messages([1]))
    list(api.list_campaigns(datetime(2026, 1, 1), datetime(2026, 1, 2), sort={"createTs": "DESC"}))
    list(api.list_links())
    assert server.requests[0].form["sort[id]"] == "ASC"
    assert server.requests[1].form["sort[createTs]"] == "DESC" and "sort[id]" not in server.requests[1].form
    assert server.requests[2].form["sort[id]"] == "ASC"


def test_an_item_repeated_across_pages_is_dropped_and_counted(server, api):
    """An item that joined the set behind the cursor pushes the page boundary: the next page repeats one."""
    server.add(ok({"items": [{"id": str(i)} for i in range(100)], "totalItemCount": "150"}),
               ok({"items": [{"id": str(i)} for i in range(99, 150)], "totalItemCount": "151"}))
    pages = list(api.list_messages([1]))
    ids = [int(item["id"]) for page in pages for item in page]
    assert ids == list(range(150))
    assert api.stats.repeated_items == 1 and api.stats.snapshot()["repeated_items"] == 1


def test_a_list_that_shrinks_while_paged_is_read_again_so_no_item_is_skipped(server, api):
    """Item 5 leaves the set after page 0 was read: item 100 slides onto page 0, which was already read."""
    server.add(ok({"items": [{"id": str(i)} for i in range(100)], "totalItemCount": "150"}),
               ok({"items": [{"id": str(i)} for i in range(101, 150)], "totalItemCount": "149"}),
               ok({"items": [{"id": str(i)} for i in range(101) if i != 5], "totalItemCount": "149"}),
               ok({"items": [{"id": str(i)} for i in range(101, 150)], "totalItemCount": "149"}))
    seen = {int(item["id"]) for page in api.list_messages([1]) for item in page}
    assert seen == set(range(150))  # 100 included: without the second reading it would be skipped
    assert api.stats.lists_shrunk == 1 and len(server.requests) == 4


def test_the_gateways_clock_is_its_date_header_not_this_machines(server, api):
    server.date_header = "Sun, 01 Nov 2026 07:00:00 GMT"
    assert api.gateway_now() is None
    clock = api.gateway_clock()  # no response yet: one cheap call shows it
    assert server.endpoints() == ["User/GetOwnBalance"]
    assert datetime(2026, 11, 1, 7, 0, tzinfo=UTC) <= clock < datetime(2026, 11, 1, 7, 1, tzinfo=UTC)
    assert api.now_local().strftime("%Y-%m-%d %H:%M") == "2026-11-01 12:00"  # Asia/Almaty, UTC+5
    api.gateway_clock()
    assert len(server.requests) == 1  # known from then on


def test_a_gateway_without_a_date_header_has_no_clock_to_show(server, api):
    server.date_header = "not a date"
    assert api.gateway_clock() is None


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
