"""Response bodies are read in one go and decoded fast (orjson) and exactly: a number beyond 64 bits stays the
integer it was, JSON that only the standard decoder accepts still decodes, a gzip body is unpacked, the
connection is kept for the next call, and no call looks for a ~/.netrc."""

import requests.sessions

from .conftest import ok


def test_a_number_beyond_64_bits_is_kept_exactly_not_rounded_to_a_float(server, api):
    server.add(("raw", 200, '{"code": 0, "message": "", "data": {"id": 123456789012345678901234567890,'
                            ' "small": 5, "text": "a 12345678901234567890 in a text"}}'))
    data = api.call("Campaign", "Get", {"id": 1})
    assert data == {"id": 123456789012345678901234567890, "small": 5, "text": "a 12345678901234567890 in a text"}
    assert isinstance(data["id"], int)


def test_ids_within_64_bits_and_unicode_decode_as_the_standard_decoder_would(server, api):
    server.add(ok({"id": 9_223_372_036_854_775_807, "ids": ["4294967297"], "text": "Привет 👋 مرحبا"}))
    assert api.call("Campaign", "Get", {"id": 1}) == {
        "id": 9_223_372_036_854_775_807, "ids": ["4294967297"], "text": "Привет 👋 مرحبا"}


def test_json_only_the_standard_decoder_accepts_still_decodes(server, api):
    server.add(("raw", 200, '{"code": 0, "message": "", "data": {"cost": NaN}}'))
    cost = api.call("Campaign", "Get", {"id": 1})["cost"]
    assert cost != cost  # NaN


def test_no_call_looks_for_a_netrc_file(server, api, monkeypatch):
    looked = []
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", lambda *a, **k: looked.append(a))
    server.add(ok({"balance": "1"}), ok({"balance": "2"}))
    api.get_balance()
    api.get_balance()
    assert looked == [] and len(server.requests) == 2


def test_a_gzip_encoded_body_is_decoded(server, api):
    server.add(("gzip", ok({"balance": "12.5000", "currency": "KZT", "note": "Привет"})))
    assert api.get_balance() == {"balance": "12.5000", "currency": "KZT", "note": "Привет"}


def test_the_body_is_read_whole_and_its_connection_serves_the_next_calls(server, api):
    # a body read in one go must still hand its connection back to the pool: five calls, one connection
    page = ok({"items": [{"id": str(i), "text": "x" * 3000} for i in range(100)], "totalItemCount": "100"})
    server.add(*[page] * 5)
    for _ in range(5):
        assert len(api.call("Message", "List", {})["items"]) == 100
    assert len(server.requests) == 5 and len(server.peers) == 1


def test_a_long_number_is_found_wherever_the_digit_prefilter_lets_the_exact_check_run():
    from smsapi.client import _maybe_long_number

    assert _maybe_long_number(b'{"id": 1234567890123456789}')  # 19 digits: the exact check runs and matches
    assert _maybe_long_number(b'{"id": -12345678901234567890123}')
    assert not _maybe_long_number(b'{"id": 123456789012345678}')  # 18 digits: orjson keeps it exactly
    assert not _maybe_long_number(b'{"text": "12345678901234567890"}')  # in a string: the prefilter passes it on
    assert not _maybe_long_number(b'{"cost": 0.12345678901234567890}')  # a fraction: orjson's float is right
    assert not _maybe_long_number('{"t": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩"}'.encode())  # non-ASCII digits are not numbers
