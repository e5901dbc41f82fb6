"""Message/List pages decoded by column (`smsapi.columnar`): the reference's shape becomes a `ColumnPage`, and every
other body is left to the usual decoder, page by page, so that nothing the dict path tolerates is lost."""
import json
from pathlib import Path

import pytest

from smsapi import columnar
from smsapi.paginate import ColumnItems
from transforms.pii import protect_body

from .conftest import ok

KEYS = ("id", "to", "status")
decode = columnar.decoder(KEYS)


def body(items, total="2", code=0) -> bytes:
    return json.dumps({"code": code, "data": {"items": items, "totalItemCount": total}, "message": ""}).encode()


def test_a_page_in_the_references_shape_becomes_columns_and_keeps_its_body():
    raw = body([{"id": "1", "to": "77011234567", "status": "DELIVRD", "campaign": {"id": 9, "n": [1, 2]}},
                {"id": "2", "to": None}])
    envelope = decode(raw)
    page = envelope["data"]["items"]
    assert isinstance(page, ColumnItems) and len(page) == 2 and envelope["data"]["totalItemCount"] == "2"
    assert page.body is raw  # raw gets the page as it came
    assert page.columns.to_pylist() == [{"id": "1", "to": "77011234567", "status": "DELIVRD"},
                                        {"id": "2", "to": None, "status": None}]
    assert page.ids() == ["1", "2"]
    assert page.items() == json.loads(raw)["data"]["items"]  # every field, for the rare dict path


def test_taking_positions_keeps_the_body_and_picks_the_items():
    page = decode(body([{"id": str(i)} for i in range(5)]))["data"]["items"]
    kept = page.take([0, 2, 4]).take([1, 2])
    assert kept.ids() == ["2", "4"] and [item["id"] for item in kept.items()] == ["2", "4"]
    assert kept.body is page.body and len(kept) == 2


@pytest.mark.parametrize("raw", [
    body([{"id": 1}]),  # a number where a string was expected
    body([{"id": "1", "status": True}]),
    body([{"id": "1", "to": {"number": "7701"}}]),
    body([None]),
    body(["1"]),
    body([], code=1),
    b'{"code":"0","data":{"items":[]}}',
    b'{"code":0,"data":[{"id":"1"}]}',  # a plain list
    b'{"code":0,"data":{"total":"1"}}',
    b'{"code":0,"data":{"items":[]}}{"code":0,"data":{"items":[]}}',
    body([{"id": "1", "to": "7701"}]).replace(b"7701", b"\xff\xfe"),  # not UTF-8
    body([{"id": "1", "segUserBuy": 12345678901234567890}]),  # a long number, even in a field not read
    b"",
    b"<html>busy</html>",
], ids=["number", "boolean", "object", "null item", "string item", "code 1", "code as string",
        "plain list", "no items", "two values", "not utf-8", "long number", "empty", "not json"])
def test_a_body_in_any_other_shape_is_left_to_the_usual_decoder(raw):
    assert decode(raw) is None


def test_a_key_twice_reads_as_the_dict_path_reads_it_and_a_recipient_twice_leaves_the_body_to_the_dict_path():
    raw = b'{"code":0,"data":{"items":[{"id":"1","status":"NEW","status":"DELIVRD","to":"7701","to":"7702"}]}}'
    page = decode(raw)["data"]["items"]
    assert page.columns.to_pylist() == [{key: json.loads(raw)["data"]["items"][0][key] for key in KEYS}]
    # the body has two numbers where the column has one: substituting in place could leave one in clear
    assert protect_body(raw, page.columns.field("to").to_pylist(), "hash", b"k" * 32) is None


def test_a_pretty_printed_body_is_read_too():
    raw = json.dumps({"code": 0, "data": {"items": [{"id": "1", "to": "7701"}], "totalItemCount": "1"}},
                     indent=2).encode()
    assert decode(raw)["data"]["items"].ids() == ["1"]


def test_the_client_pages_column_pages_and_dict_pages_alike(server, api):
    """Page 2 carries a number where a string belongs: it comes as dicts; the others by column. Repeats are
    dropped across both kinds, and every item arrives once."""
    server.add(ok({"items": [{"id": str(i), "to": "7"} for i in range(100)], "totalItemCount": "250"}),
               ok({"items": [{"id": str(i), "to": 7} for i in range(99, 200)], "totalItemCount": "251"}),
               ok({"items": [{"id": str(i)} for i in range(199, 251)], "totalItemCount": "251"}))
    pages = list(api.list_messages([1], decode=decode))
    assert [type(p).__name__ for p in pages] == ["ColumnPage", "Page", "ColumnPage"]
    ids = [int(i) for p in pages for i in (p.ids() if isinstance(p, ColumnItems) else [it["id"] for it in p])]
    assert ids == list(range(251))
    assert api.stats.repeated_items == 2
    assert pages[0].total == 250 and pages[2].total is None
    assert pages[2].positions == list(range(1, 52))  # its repeat dropped: the body is no longer the page alone


def test_an_error_code_is_handled_as_without_a_decoder(server, api):
    server.add({"code": 30, "data": None, "message": "too many requests"},
               ok({"items": [{"id": "1"}], "totalItemCount": "1"}))
    (page,) = list(api.list_messages([1], decode=decode))
    assert page.ids() == ["1"] and api.stats.snapshot()["retries"] == {"code 30": 1}


def test_the_references_message_list_example_is_read_by_column_with_the_values_json_reads():
    """The captured example (API.md, tests/transforms/fixtures) is the shape the fast path is for."""
    import transforms

    raw = (Path(__file__).parent.parent / "transforms" / "fixtures" / "f1_message_list.json").read_bytes()
    page = columnar.decoder(tuple(transforms.MESSAGE_KEYS))(raw)["data"]["items"]
    items = json.loads(raw)["data"]["items"]
    assert page.columns.to_pylist() == [{k: item.get(k) for k in transforms.MESSAGE_KEYS} for item in items]
