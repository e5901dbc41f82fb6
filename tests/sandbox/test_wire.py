"""Wire rules of the sandbox gateway, as the reference (API.md sections 1, 2, 5) states them."""

import json

import pytest
import requests

from sandbox import SANDBOX_API_KEY

WIDE = {"criteria[createTsFrom]": "2026-08-10 00:00:00", "criteria[createTsTo]": "2026-11-01 12:00:00"}

F1_MESSAGE_KEYS = {"contentProviderName", "partnerId", "userId", "usedStopListWords", "countryA2", "operatorName",
                   "id", "campaignId", "segNum", "segUserBuy", "status", "uuid", "from", "to", "groups", "text",
                   "startSendTs", "statusUpdateTs", "contactCardId", "contentProviderId", "segPartnerSell",
                   "segPartnerBuy", "segSystemSell", "segSystemBuy", "systemCurrency", "campaign"}
F1_CAMPAIGN_KEYS = {"commonStatus", "counters", "createTs", "creationWay", "currency", "deferredToTs", "endSendTs",
                    "expirationTs", "extra", "from", "globalComment", "globalModStatus", "groups", "groupsList",
                    "highlightedText", "id", "isTemplateComment", "moderationStatus", "msgType", "name", "partnerId",
                    "partnerModStatus", "rateLimit", "ratePeriod", "recipientsSource", "sendStatus", "startSendTs",
                    "text", "type", "usedStopListWords", "userId"}
STATUS_WORDS = ["New", "Enqueud", "Acceptd", "Delivrd", "Rejectd", "Expired", "Undeliv", "Deleted", "Unknown",
                "Pdlivrd"]
F1_COUNTER_KEYS = ({"campaignId", "updateTs", "totalSegNum", "totalMsgNum", "totalCost", "totalPartnerCost",
                    "partnerCurrency", "userCurrency", "recipientsRejected"}
                   | {f"total{w}{k}" for w in STATUS_WORDS for k in ("SegNum", "MsgNum", "MsgCost")})


def some_campaign(call) -> dict:
    return call("Campaign/List", dict(WIDE, **{"pagination[pageSize]": "100"}))["data"]["items"][0]


def test_page_size_other_than_25_50_or_100_is_code_12(call):
    for size in ("10", "101", "200"):
        assert call("Campaign/List", dict(WIDE, **{"pagination[pageSize]": size}))["code"] == 12
    for size in ("25", "50", "100"):
        assert call("Campaign/List", dict(WIDE, **{"pagination[pageSize]": size}))["code"] == 0


def test_pages_are_zero_based_and_cover_every_item_once(call):
    first = call("Campaign/List", dict(WIDE, **{"pagination[pageSize]": "25", "pagination[currentPage]": "0"}))
    second = call("Campaign/List", dict(WIDE, **{"pagination[pageSize]": "25", "pagination[currentPage]": "1"}))
    ids = [c["id"] for c in first["data"]["items"] + second["data"]["items"]]
    assert len(ids) == len(set(ids)) == int(first["data"]["totalItemCount"])
    assert first["data"]["totalItemCount"] == second["data"]["totalItemCount"]


def test_more_than_100_ids_is_code_12(call):
    ids = ",".join(str(50_000_000 + i) for i in range(101))
    assert call("Message/GetSMSStatus", {"ids": ids})["code"] == 12
    many = {f"criteria[campaignIds][{i}]": str(400_000 + i) for i in range(101)}
    assert call("Message/List", dict(many, **{"pagination[pageSize]": "100"}))["code"] == 12
    assert call("Message/GetSMSStatus", {"ids": ids.rsplit(",", 1)[0]})["code"] == 0


def test_campaign_list_without_dates_returns_only_the_last_24_hours(call, sb):
    items = call.all_pages("Campaign/List", {})
    now = sb.clock.ts
    expected = {str(400_000 + i) for i, c in enumerate(sb.campaigns) if now - 86400 <= c.create <= now}
    assert expected and {c["id"] for c in items} == expected


def test_campaign_list_window_wider_than_90_days_is_clamped_silently(call, sb):
    r = call("Campaign/List", {"criteria[createTsFrom]": "2026-06-01 00:00:00",
                               "criteria[createTsTo]": "2026-11-01 12:00:00", "pagination[pageSize]": "100"})
    assert r["code"] == 0
    assert all(c["createTs"] <= "2026-08-30 00:00:00" for c in r["data"]["items"])
    assert int(r["data"]["totalItemCount"]) < len(sb.ground_truth())


def test_campaign_list_with_ids_ignores_the_default_window(call, sb):
    old = [str(400_000 + i) for i, c in enumerate(sb.campaigns) if c.create < sb.clock.ts - 30 * 86400][:3]
    r = call("Campaign/List", {"criteria[ids]": ",".join(old), "pagination[pageSize]": "25"})
    assert sorted(c["id"] for c in r["data"]["items"]) == sorted(old)


def test_message_list_without_criteria_returns_only_the_last_24_hours(call, sb):
    items = call.all_pages("Message/List", {})
    now = sb.clock.ts
    recent = {400_000 + i for i, c in enumerate(sb.campaigns) if now - 86400 <= c.create <= now}
    assert items and {int(m["campaignId"]) for m in items} <= recent


def test_message_list_filters_by_status_update_window(call):
    items = call.all_pages("Message/List", {"criteria[statusUpdateTsFrom]": "2026-10-31 12:00:00",
                                            "criteria[statusUpdateTsTo]": "2026-11-01 12:00:00"})
    assert items and all("2026-10-31 12:00:00" <= m["statusUpdateTs"] <= "2026-11-01 12:00:00" for m in items)


def test_module_and_method_names_are_case_insensitive(call):
    forms = ["Campaign/GetInfo", "campaign/getinfo", "CAMPAIGN/GETINFO", "cAmPaIgN/getInfo"]
    cid = some_campaign(call)["id"]
    answers = [call(f, {"id": cid}) for f in forms]
    assert all(a["code"] == 0 for a in answers)
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1


def test_bracket_params_accept_encoded_literal_indexed_empty_and_comma_forms(call, served):
    ids = [str(50_000_000 + i) for i in (1, 2, 3)]
    base = f"{served.url}/service/message/getSMSStatus?output=json&api=v1&apiKey={SANDBOX_API_KEY}"
    bodies = ["ids%5B0%5D=50000001&ids%5B1%5D=50000002&ids%5B2%5D=50000003",
              "ids[0]=50000001&ids[1]=50000002&ids[2]=50000003",
              "ids[]=50000001&ids[]=50000002&ids[]=50000003",
              "ids%5B%5D=50000001&ids%5B%5D=50000002&ids%5B%5D=50000003",
              "ids=50000001,50000002,50000003"]
    for body in bodies:
        r = requests.post(base, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
        assert [m["id"] for m in r["data"]] == ids, body
    r = requests.get(base + "&ids=50000001,50000002,50000003").json()
    assert [m["id"] for m in r["data"]] == ids


def test_api_key_is_accepted_in_the_body_and_output_defaults_to_json(served):
    r = requests.post(f"{served.url}/service/user/getownbalance", data={"apiKey": SANDBOX_API_KEY}).json()
    assert r["code"] == 0


def test_a_bad_key_is_code_8_with_an_empty_list(call):
    assert call("User/GetOwnBalance", apiKey="k" * 40) == {"code": 8, "data": [], "message": "failed.api.auth"}
    assert call("User/GetOwnBalance", apiKey="")["code"] == 8


def test_unknown_module_method_or_format_are_codes_4_5_and_6(call):
    r = call("mess/list")
    assert r["code"] == 4 and r["data"] is None and "mess" in r["message"]
    assert call("message/lst")["code"] == 5
    assert call("message/list", output="xml")["code"] == 6


def test_missing_params_are_code_11(call):
    assert call("Link/GetStats") == {"code": 11, "data": None, "message": call("Link/GetStats")["message"]}
    assert call("Campaign/GetInfo")["code"] == 11
    assert call("Message/SendSmsMessage", {"text": "hi"})["code"] == 11


def test_unknown_records_are_code_2(call):
    assert call("Campaign/GetInfo", {"id": "1"})["code"] == 2
    assert call("Link/GetLinks", {"campaignId": "1"})["code"] == 2
    assert call("Message/GetSMSStatus")["code"] == 2
    assert call("TaskQueue/GetStatus", {"id": "42"})["code"] == 2


def test_every_response_is_http_200_with_the_envelope(call):
    for path in ("Campaign/List", "mess/list", "Link/GetStats"):
        r = call.raw(path)
        assert r.status_code == 200
        assert set(r.json()) == {"code", "data", "message"}
        assert int(r.headers["Content-Length"]) == len(r.content)


def test_message_list_items_have_the_shape_of_the_captured_response(call):
    cid = some_campaign(call)["id"]
    r = call("Message/List", {"criteria[campaignIds][0]": cid, "pagination[pageSize]": "25"})
    assert r["code"] == 0 and isinstance(r["data"]["totalItemCount"], str)
    m = r["data"]["items"][0]
    assert set(m) == F1_MESSAGE_KEYS
    assert set(m["campaign"]) == F1_CAMPAIGN_KEYS
    assert set(m["campaign"]["counters"]) == F1_COUNTER_KEYS
    assert m["campaign"]["id"] == m["campaignId"] == cid
    assert set(m["campaign"]["extra"]) == {"validity", "mclass", "isTestAlphanameUsed", "coding", "charset",
                                           "trackShortLinkRecipients"}
    assert m["campaign"]["extra"]["trackShortLinkRecipients"] in (0, 1)
    assert m["countryA2"] is None and m["operatorName"] is None


def test_numbers_on_the_wire_are_strings(call):
    c = some_campaign(call)
    assert all(isinstance(v, str) for v in c["counters"].values())
    for key in ("id", "type", "creationWay"):
        assert isinstance(c[key], str)
    m = call("Message/List", {"criteria[campaignIds]": c["id"], "pagination[pageSize]": "25"})["data"]["items"][0]
    for key in ("id", "campaignId", "segNum", "segUserBuy"):
        assert isinstance(m[key], str)
    assert len(m["segUserBuy"].split(".")[1]) == 4


def test_with_number_info_adds_country_and_operator(call):
    cid = max(call.all_pages("Campaign/List", WIDE), key=lambda c: int(c["counters"]["totalMsgNum"]))["id"]
    items = call("Message/List", {"criteria[campaignIds][0]": cid, "withNumberInfo": "1",
                                  "pagination[pageSize]": "100"})["data"]["items"]
    assert all(m["countryA2"] and m["operatorName"] for m in items)
    assert any(any("\u0400" <= ch <= "\u04ff" for ch in m["operatorName"]) for m in items)


def test_get_sms_status_has_the_reference_shape(call):
    r = call("Message/GetSMSStatus", {"ids[0]": "50000000"})
    assert r["code"] == 0 and r["message"] == ""
    assert set(r["data"][0]) == {"id", "status", "segNum", "startSendTs", "statusUpdateTs"}


def test_unknown_message_ids_are_silently_omitted(call):
    r = call("Message/GetSMSStatus", {"ids": "50000000,1,99999999999"})
    assert [m["id"] for m in r["data"]] == ["50000000"]


def test_balance_has_the_reference_shape(call):
    r = call("User/GetOwnBalance")
    assert set(r["data"]) == {"balance", "currency"} and r["data"]["currency"] == "KZT"
    assert len(r["data"]["balance"].split(".")[1]) == 4


def test_campaign_get_links_and_link_get_links_answer_the_same(call, sb):
    ci = next(i for i, c in enumerate(sb.campaigns) if c.link_ids and c.create <= sb.clock.ts)
    a = call("Campaign/GetLinks", {"campaignId": str(400_000 + ci)})
    b = call("Link/GetLinks", {"campaignId": str(400_000 + ci)})
    assert a == b and a["code"] == 0
    assert set(a["data"][0]) == {"id", "code", "fullLink", "shortLink", "clickCnt", "redirectCnt", "comment"}


def test_link_get_finds_a_link_by_id_code_or_short_link(call):
    link = call("Link/List", {"pagination[pageSize]": "25"})["data"]["items"][0]
    for form in ({"id": link["id"]}, {"code": link["code"]}, {"shortLink": link["shortLink"]}):
        got = call("Link/Get", form)["data"]
        assert got == {k: v for k, v in link.items() if k in got}
    assert call("Link/Get")["code"] == 12


def test_link_list_items_carry_the_captured_fields_redirects_included(call, sb):
    link = call("Link/List", {"pagination[pageSize]": "25"})["data"]["items"][0]
    assert {"domain", "partnerId", "userId", "isTmp", "isCustom", "domainId", "redirectCnt", "deletedTs",
            "updateTs", "realExpirationDate", "analyticsKey"} <= set(link)
    assert int(link["redirectCnt"]) == sb.link_counts(int(link["id"]) - 4000)[1]
    assert link["domain"] == "mbzn.co" and link["shortLink"].startswith("https://mbzn.co/")


def test_get_info_has_validity_mclass_and_tracking_only_in_extra_as_strings(call):
    cid = call("Campaign/List", {"criteria[createTsFrom]": "2026-08-01 00:00:00",
                                 "criteria[createTsTo]": "2026-11-01 12:00:00"})["data"]["items"][0]["id"]
    info = call("Campaign/GetInfo", {"id": cid})["data"]
    assert not {"validity", "mclass", "trackShortLinkRecipients"} & set(info)
    assert all(isinstance(info["extra"][k], str) for k in ("validity", "mclass", "trackShortLinkRecipients"))
    assert info["extra"]["isTestAlphanameUsed"] is False and info["currency"] is None
    assert info["onPartnerModeration"] == 0 and info["onGlobalModeration"] == 0
    assert info["counters"]["userCurrency"] and "recipientsRejected" in info["counters"]


def _busiest_link(sb):
    j = max(range(len(sb.l_code)), key=lambda j: sb.link_counts(j)[0])
    return j, str(4000 + j)


def test_link_stats_is_a_period_major_grid_with_a_column_pair_per_position(call, sb):
    j, lid = _busiest_link(sb)
    r = call("Link/GetStats", {"ids[0]": "999999", "ids[1]": lid, "type": "monthly"})
    assert r["code"] == 0
    items, totals = r["data"]["items"], r["data"]["totals"]
    assert all(set(row) == {"param", "clicks0", "redirects0", "clicks1", "redirects1"} for row in items)
    assert all(len(row["param"]) == 7 for row in items)  # YYYY-MM
    assert [row["param"] for row in items] == sorted(row["param"] for row in items)
    assert all(row["clicks0"] == 0 and row["redirects0"] == 0 for row in items)  # an unknown id: zeros
    values = [row["clicks1"] for row in items]
    assert all(v == 0 or (isinstance(v, str) and v != "0") for v in values)  # zeros numbers, others strings
    clicks, redirects = sb.link_counts(j)
    assert sum(int(v) for v in values) == int(totals["totalClicks1"]) == clicks
    assert sum(int(row["redirects1"]) for row in items) == redirects


def test_link_stats_lists_every_period_of_the_window_empty_ones_included(call, sb):
    _, lid = _busiest_link(sb)
    daily = call("Link/GetStats", {"ids[]": lid, "type": "daily", "criteria[dateFrom]": "2026-08-05 00:00:00",
                                   "criteria[dateTo]": "2026-11-01 12:00:00"})["data"]["items"]
    assert [row["param"] for row in daily][:2] == ["2026-08-05", "2026-08-06"] and daily[-1]["param"] == "2026-11-01"
    assert len(daily) == 89


@pytest.mark.parametrize("style,label", [("hm", "2026-11-01 10:00"), ("h", "2026-11-01 10"),
                                         ("hms", "2026-11-01 10:00:00")])
def test_hourly_labels_follow_the_switchable_style(call, sb, style, label):
    sb.stats_label_style = style
    try:
        items = call("Link/GetStats", {"ids[]": "4000", "type": "hourly", "criteria[dateFrom]": "2026-11-01 10:00:00",
                                       "criteria[dateTo]": "2026-11-01 11:59:59"})["data"]["items"]
    finally:
        sb.stats_label_style = "hm"
    assert items[0]["param"] == label and len(items) == 2


def test_link_stats_limits_ids_to_5_and_checks_the_type(call):
    six = {f"ids[{i}]": str(4000 + i) for i in range(6)}
    assert call("Link/GetStats", dict(six, type="daily"))["code"] == 12
    assert call("Link/GetStats", {"ids[]": "4000", "type": "weekly"})["code"] == 12


def test_link_stats_windows_are_clamped_to_the_type_maximum(call):
    r = call("Link/GetStats", {"ids[]": "4000", "type": "minute", "criteria[dateFrom]": "2026-09-01 00:00:00",
                               "criteria[dateTo]": "2026-10-01 00:00:00"})
    items = r["data"]["items"]
    assert items[0]["param"] == "2026-09-01 00:00" and items[-1]["param"] <= "2026-09-01 03:00" and len(items) == 181


def test_link_stats_without_dates_answer_the_last_interval_by_the_sandbox_clock(call):
    items = call("Link/GetStats", {"ids[]": "4000", "type": "minute"})["data"]["items"]
    assert items[-1]["param"] == "2026-11-01 12:00" and len(items) == 181


def test_every_response_carries_the_simulated_clock_in_its_date_header(fresh):
    import email.utils
    import urllib.request
    from datetime import UTC, datetime

    _, server, _ = fresh
    with urllib.request.urlopen(server.url + "/admin/clock") as response:
        date = email.utils.parsedate_to_datetime(response.headers["Date"])
    assert date == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 12:00 in Asia/Almaty (UTC+5)


def test_admin_clock_reads_sets_and_advances(fresh):
    sb, server, _call = fresh
    assert requests.get(f"{server.url}/admin/clock").json() == {"now": "2026-11-01 12:00:00"}
    r = requests.post(f"{server.url}/admin/clock", data={"advance": "3600"}).json()
    assert r == {"now": "2026-11-01 13:00:00"}
    r = requests.post(f"{server.url}/admin/clock", data={"now": "2026-11-05 00:00:00"}).json()
    assert r == {"now": "2026-11-05 00:00:00"} and sb.clock.now.day == 5


def test_admin_stats_counts_calls_per_method(fresh):
    _sb, server, call = fresh
    call("campaign/list")
    call("Campaign/List")
    call("message/getsmsstatus", {"ids": "50000000"})
    assert requests.get(f"{server.url}/admin/stats").json() == {
        "calls": {"Campaign/List": 2, "Message/GetSMSStatus": 1}}
