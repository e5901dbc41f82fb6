"""Creating data through the API: SendSmsMessage and Campaign Create/AddRecipients/Send."""

from datetime import timedelta


def test_send_sms_message_answers_the_reference_shape_and_the_message_is_delivered(fresh):
    sb, _server, call = fresh
    r = call("Message/SendSmsMessage", {"recipient": "+77011234567", "text": "Тест 😊", "from": "Alpha"})
    assert r["code"] == 0 and r["data"]["status"] == 2
    assert set(r["data"]) == {"campaignId", "messageId", "status"}
    mid = r["data"]["messageId"]
    assert call("Message/GetSMSStatus", {"ids": mid})["data"][0]["status"] in ("NEW", "ENQUEUD")
    sb.clock.advance(timedelta(hours=1))
    final = call("Message/GetSMSStatus", {"ids": mid})["data"][0]["status"]
    assert final in ("DELIVRD", "UNDELIV", "REJECTD")
    assert sb.ground_truth()[int(r["data"]["campaignId"])].messages_total == 1


def test_create_add_recipients_and_send_a_template_campaign(fresh):
    sb, _server, call = fresh
    cid = call("Campaign/Create", {"data[type]": "3", "data[from]": "Shop", "data[name]": "Тест",
                                   "data[text]": "Здравствуйте, {name}!"})["data"]
    r = call("Campaign/AddRecipients", {"id": cid, "recipients[0][recipient]": "77011112233",
                                        "recipients[0][name]": "Айгерим", "recipients[1][recipient]": "77021112233",
                                        "recipients[1][name]": "Nick"})
    assert r["code"] == 0 and [x["code"] for x in r["data"]] == [0, 0]
    assert call("Campaign/Send", {"id": cid}) == {"code": 0, "data": 2, "message": ""}
    assert call("Campaign/Send", {"id": cid})["code"] == 10
    sb.clock.advance(timedelta(hours=1))
    items = call("Message/List", {"criteria[campaignIds]": cid, "pagination[pageSize]": "25"})["data"]["items"]
    assert sorted(m["text"] for m in items) == ["Здравствуйте, Nick!", "Здравствуйте, Айгерим!"]
    info = call("Campaign/GetInfo", {"id": cid})["data"]
    assert info["counters"]["totalMsgNum"] == "2" and info["sendStatus"] in ("SENT", "DONE")


def test_add_recipients_reports_bad_numbers_with_code_98_or_99(fresh):
    _sb, _server, call = fresh
    cid = call("Campaign/Create", {"data[text]": "Hi"})["data"]
    r = call("Campaign/AddRecipients", {"id": cid, "recipients": "77011112233,abc"})
    assert r["code"] == 98 and [x["code"] for x in r["data"]] == [0, 1]
    assert call("Campaign/AddRecipients", {"id": cid, "recipients": "xyz"})["code"] == 99
    many = ",".join(str(77000000000 + i) for i in range(501))
    assert call("Campaign/AddRecipients", {"id": cid, "recipients": many})["code"] == 12


def test_create_with_bad_input_is_code_1_listing_the_fields(fresh):
    _sb, _server, call = fresh
    r = call("Campaign/Create", {"data[type]": "9", "data[text]": "", "data[validity]": "5"})
    assert r["code"] == 1 and set(r["data"]) == {"type", "text", "validity"}
    assert all(isinstance(v, list) and v for v in r["data"].values())
    assert call("Campaign/Create")["code"] == 11


def test_a_text_that_looks_like_a_pre_rendered_fragments_place_holder_comes_back_as_sent(fresh):
    # Message/List items carry their campaign as a pre-rendered fragment, spliced in where a place holder was
    # encoded: a text shaped like a place holder (the old fixed one, or one with a guessed nonce) stays text.
    sb, _server, call = fresh
    texts = ["@@RAW0@@", "@@RAW0123456789abcdef:0@@"]
    cids = [call("Message/SendSmsMessage", {"recipient": "+77011234567", "text": t, "from": "Alpha"})["data"]
            ["campaignId"] for t in texts]
    for cid, text in zip(cids, texts, strict=True):
        items = call("Message/List", {"criteria[campaignIds]": cid})["data"]["items"]
        assert [m["text"] for m in items] == [text]
        assert items[0]["campaign"]["id"] == str(cid)
