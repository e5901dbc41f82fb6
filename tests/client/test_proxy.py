"""The client goes through the proxy the environment names (`HTTP_PROXY`, `HTTPS_PROXY`), and straight to a host
`NO_PROXY` lists, as requests itself does: it reads those settings once per gateway URL, not per call."""

import pytest

from .conftest import ok

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_calls_go_through_the_proxy_the_environment_names(server, make_api, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the loopback server plays the proxy
    api = make_api("http://gateway.invalid")
    server.add(ok({"balance": "1.0000", "currency": "KZT"}), ok({"balance": "2.0000", "currency": "KZT"}))
    assert api.get_balance()["balance"] == "1.0000"
    assert api.get_balance()["balance"] == "2.0000"
    assert server.endpoints() == ["User/GetOwnBalance"] * 2
    # the absolute form a proxy is sent, naming the gateway: the client never resolved gateway.invalid itself
    assert all(r.target.startswith("http://gateway.invalid/") for r in server.requests)


def test_a_host_no_proxy_lists_is_called_straight(server, second_server, make_api, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", second_server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    api = make_api(server.url)
    server.add(ok({"balance": "1.0000", "currency": "KZT"}))
    assert api.get_balance()["balance"] == "1.0000"
    assert server.endpoints() == ["User/GetOwnBalance"] and second_server.requests == []
