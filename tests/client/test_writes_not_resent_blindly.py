"""A write (sending, creating) is never sent twice blindly: after a lost answer the client looks for what it
would have made, and sends once more only if the gateway has no trace of it. Reads are retried freely."""
import socket
from datetime import datetime

import pytest
import requests

from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsapi import TransportError, UncertainWriteError

NOW = datetime(2026, 11, 1, 12, 0)
NUMBER = "77010009999"


@pytest.fixture
def sb():
    return Sandbox.generate(seed=11, campaigns=3, messages=50, now=NOW, timezone="Asia/Almaty")


@pytest.fixture
def gateway(sb, make_api):
    """start(faults) -> a client of a sandbox served with those faults."""
    started = []

    def start(faults: Faults, **kw):
        ctx = sb.serve(port=0, faults=faults)
        server = ctx.__enter__()
        started.append((ctx, server))
        return make_api(server.url, api_key=SANDBOX_API_KEY, timeout=(2, 3), **kw)

    yield start
    for ctx, _ in started:
        ctx.__exit__(None, None, None)


def messages_to(sb: Sandbox, number: str) -> int:
    return sum(1 for to, _ in sb.msg_override.values() if to == number)


def test_a_sent_sms_whose_answer_was_lost_is_found_and_not_sent_again(sb, gateway):
    start = gateway
    api = start(Faults(lost_answers={"Message/SendSmsMessage": 1.0}))
    result = api.send_sms("+" + NUMBER, "Ваш код 1234")
    assert messages_to(sb, NUMBER) == 1
    assert result["status"] is None and result["messageId"] and result["campaignId"]
    assert api.stats.calls["Message/SendSmsMessage"] == 1 and api.stats.calls["Message/List"] >= 1


class RequestNeverArrives(requests.Session):
    """The first write's request is lost on the way (a read timeout the gateway never saw)."""

    def __init__(self):
        super().__init__()
        self.lost = 0

    def send(self, request, **kwargs):
        if "SendSmsMessage" in request.url and not self.lost:
            self.lost += 1
            raise requests.exceptions.ReadTimeout("read timed out")
        return super().send(request, **kwargs)


def test_an_sms_the_gateway_never_received_is_sent_once_more_after_the_check(sb, gateway):
    start = gateway
    api = start(Faults(), session=RequestNeverArrives())
    result = api.send_sms(NUMBER, "hello")
    assert messages_to(sb, NUMBER) == 1 and result["status"] == 2
    assert api.stats.retries["timeout (checked, resent)"] == 1


def test_a_write_answered_code_3_is_not_retried_and_a_failing_check_says_so(sb, gateway):
    start = gateway
    api = start(Faults(code3=1.0), max_retries=2)
    with pytest.raises(UncertainWriteError, match="may have been carried out.*the check failed too"):
        api.send_sms(NUMBER, "hello")
    assert api.stats.calls["Message/SendSmsMessage"] == 1  # never resent without an answer to the check
    assert api.stats.calls["Message/List"] == 3  # the check is a read: retried


def test_a_write_that_could_not_connect_is_retried_like_a_read(make_api):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        api = make_api(f"http://127.0.0.1:{port}", max_retries=2)
        with pytest.raises(TransportError) as caught:
            api.send_sms(NUMBER, "hello")
    assert not isinstance(caught.value, UncertainWriteError)
    assert api.stats.calls["Message/SendSmsMessage"] == 3


def test_a_created_campaign_and_a_started_send_whose_answers_were_lost_are_not_repeated(sb, gateway):
    start = gateway
    api = start(Faults(lost_answers={"Campaign/Create": 1.0, "Campaign/Send": 1.0}))
    before = sb.n_campaigns()
    cid = api.create_campaign("Скидка 10% только сегодня", sender="Shop", name="lost answer")
    assert sb.n_campaigns() == before + 1 and int(cid) == 400_000 + before
    api.add_recipients(cid, [NUMBER])
    assert api.send_campaign(cid) == 2  # sending began: not sent again (a second Send would be code 10)
    assert api.stats.calls["Campaign/Send"] == 1 and api.stats.calls["Campaign/GetInfo"] == 1


def test_lost_recipients_are_not_added_again_and_the_error_says_which_may_be(sb, gateway):
    start = gateway
    api = start(Faults(lost_answers={"Campaign/AddRecipients": 1.0}))
    cid = api.create_campaign("hello", sender="Shop")
    with pytest.raises(UncertainWriteError, match=r"recipients 1-0 were added, 1-2 may have been"):
        api.add_recipients(cid, [NUMBER, "77010009998"])
    assert api.stats.calls["Campaign/AddRecipients"] == 1
