"""The API key never appears in exception text, repr or log lines."""
import logging

import pytest

from smsapi import TransportError
from smsapi.redaction import redact

from .conftest import API_KEY


def test_redact_replaces_the_api_key_query_value():
    url = f"http://h/service/User/GetOwnBalance?output=json&api=v1&apiKey={API_KEY}"
    assert redact(url) == "http://h/service/User/GetOwnBalance?output=json&api=v1&apiKey=***"


def test_redact_handles_a_key_followed_by_more_parameters_and_any_case():
    assert redact("x?APIKEY=abc123&y=1") == "x?APIKEY=***&y=1"


def test_the_client_repr_hides_the_key(make_api):
    api = make_api("http://127.0.0.1:9")
    assert API_KEY not in repr(api) and "***" in repr(api)


def test_a_connection_error_is_raised_with_the_url_redacted_and_no_chained_cause(make_api):
    api = make_api("http://127.0.0.1:9", max_retries=1)  # nothing listens on port 9
    with pytest.raises(TransportError) as info:
        api.get_balance()
    assert API_KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "User/GetOwnBalance failed after 2 attempts" in str(info.value)


def test_urllib3_debug_lines_are_redacted(server, api, caplog):
    server.add({"code": 0, "data": {"balance": "1.0000", "currency": "KZT"}, "message": ""})
    with caplog.at_level(logging.DEBUG):
        api.get_balance()
    lines = [r.getMessage() for r in caplog.records]
    assert any("GetOwnBalance" in line for line in lines)
    assert not any(API_KEY in line for line in lines)


def test_retry_warnings_never_contain_the_key(server, api, caplog):
    server.add(("status", 503), {"code": 0, "data": {}, "message": ""})
    with caplog.at_level(logging.WARNING, logger="smsapi"):
        api.get_balance()
    assert caplog.records and all(API_KEY not in r.getMessage() for r in caplog.records)


def test_a_key_with_plus_and_slash_is_redacted_in_its_encoded_form(server, make_api, caplog):
    key = "abc+def/ghi" * 4
    api = make_api("http://127.0.0.1:9", api_key=key, max_retries=0)
    with pytest.raises(TransportError) as info:
        api.get_balance()
    assert key not in str(info.value) and "abc%2Bdef" not in str(info.value)


def test_a_server_that_echoes_the_key_in_an_error_cannot_leak_it(server, api):
    from smsapi import AuthError, ValidationError

    server.add({"code": 8, "data": [], "message": f"failed.api.auth for apiKey={API_KEY}"},
               {"code": 1, "data": {"apiKey": [f"{API_KEY} is not valid here"]}, "message": "bad"})
    with pytest.raises(AuthError) as info:
        api.get_balance()
    assert API_KEY not in str(info.value) and API_KEY not in str(info.value.message)
    with pytest.raises(ValidationError) as info:
        api.call("Campaign", "Create", {"data": {"text": "x"}})
    assert API_KEY not in str(info.value) and API_KEY not in str(info.value.data)
