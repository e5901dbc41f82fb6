"""Every response code and transport failure gets its deliberate outcome (issue 2, section 2)."""
import pytest

from smsapi import (
    ApiError,
    AuthError,
    BadRequestError,
    NothingDoneError,
    PartialResult,
    RateLimitError,
    ServerError,
    TaskFailedError,
    TransportError,
    ValidationError,
    WrongDomainError,
)

from .conftest import API_KEY, err, ok


def test_code_0_returns_data_as_on_the_wire(server, api):
    server.add(ok({"balance": "6.0000", "currency": "KZT"}))
    assert api.get_balance() == {"balance": "6.0000", "currency": "KZT"}


def test_requests_post_a_form_body_to_the_service_url_with_the_query_defaults(server, api):
    server.add(ok([]))
    list(api.get_sms_status(["123", "556"]))
    req = server.requests[0]
    assert req.http_method == "POST" and req.path == "/service/Message/GetSMSStatus"
    assert req.query == {"output": "json", "api": "v1", "apiKey": API_KEY}
    assert req.body == "ids%5B0%5D=123&ids%5B1%5D=556"


@pytest.mark.parametrize("code", [1, 2, 4, 5, 6, 8, 9, 11, 12, 14, 15])
def test_fail_fast_codes_raise_after_a_single_request(server, api, code):
    server.router = lambda req: err(code, "server says no")
    with pytest.raises(ApiError) as info:
        api.call("Campaign", "Get", {"id": 1})
    assert info.value.code == code and len(server.requests) == 1
    assert f"API code {code}: " in str(info.value) and "(Campaign/Get): server says no" in str(info.value)


def test_a_bad_key_fails_fast_naming_code_8_and_sms_api_key_without_the_key(server, api):
    server.router = lambda req: err(8, "failed.api.auth", [])
    with pytest.raises(AuthError) as info:
        api.get_balance()
    assert str(info.value) == "API code 8: login failed (User/GetOwnBalance): failed.api.auth; check SMS_API_KEY"
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)


def test_code_1_error_lists_the_bad_fields(server, api):
    server.add(err(1, "invalid", {"text": ["Text is empty"], "from": ["Unknown sender"]}))
    with pytest.raises(ValidationError, match="bad fields: text: Text is empty, from: Unknown sender"):
        api.send_sms("77010000000", "")


@pytest.mark.parametrize("code", [3, 10, 999])
def test_transient_codes_are_retried_with_backoff_then_succeed(server, api, no_sleep, code):
    server.add(err(code, "busy"), err(code, "busy"), ok({"balance": "1.0000"}))
    assert api.get_balance() == {"balance": "1.0000"}
    assert len(server.requests) == 3 and len(no_sleep) == 2
    assert api.stats.retries[f"code {code}"] == 2


def test_backoff_grows_exponentially_with_jitter(server, make_api, no_sleep):
    api = make_api(server.url, backoff=1.0, max_retries=4)
    server.router = lambda req: err(999, "general")
    with pytest.raises(ServerError, match="gave up after 5 attempts"):
        api.get_balance()
    assert len(no_sleep) == 4
    for i, delay in enumerate(no_sleep):
        assert 0.5 * 2 ** i <= delay < 1.5 * 2 ** i


def test_retries_are_bounded_and_the_error_names_the_code(server, make_api):
    api = make_api(server.url, max_retries=2)
    server.router = lambda req: err(3, "oops")
    with pytest.raises(ServerError) as info:
        api.get_balance()
    assert info.value.code == 3 and len(server.requests) == 3


def test_code_30_backs_off_and_retries(server, api, no_sleep):
    server.add(err(30, "too many"), ok({"balance": "1"}))
    assert api.get_balance() == {"balance": "1"}
    assert api.stats.retries["code 30"] == 1 and len(no_sleep) == 1


def test_code_30_that_never_clears_ends_in_a_rate_limit_error(server, make_api):
    api = make_api(server.url, max_retries=3)
    server.router = lambda req: err(30, "too many")
    with pytest.raises(RateLimitError, match="API code 30: too many requests"):
        api.get_balance()


@pytest.mark.parametrize("failure", [("status", 500), ("status", 503), ("drop",), ("truncate", '{"code":0,"da'),
                                     ("raw", 200, "<html>proxy</html>"), ("raw", 429, "slow down")])
def test_transport_failures_are_retried_and_then_succeed(server, api, failure):
    server.add(failure, ok({"balance": "2"}))
    assert api.get_balance() == {"balance": "2"}
    assert len(server.requests) == 2 and sum(api.stats.retries.values()) == 1


def test_transport_failures_that_persist_name_the_last_cause(server, make_api):
    api = make_api(server.url, max_retries=2)
    server.add(("drop",), ("truncate", "{"), ("status", 502))
    with pytest.raises(TransportError, match=r"User/GetOwnBalance failed after 3 attempts; last cause: HTTP 502"):
        api.get_balance()


def test_a_timeout_is_retried(server, make_api):
    import time as real_time
    api = make_api(server.url, timeout=(1, 0.2), max_retries=1)

    def slow(req):
        real_time.sleep(0.5)
        return ok("late")

    server.add(slow, ok("fast"))
    assert api.call("A", "B") == "fast"
    assert api.stats.retries["timeout"] == 1


def test_a_non_json_4xx_fails_without_retrying(server, api):
    server.add(("raw", 404, "not here"))
    with pytest.raises(TransportError, match="HTTP 404"):
        api.get_balance()
    assert len(server.requests) == 1


def test_code_13_switches_to_a_host_port_domain_and_keeps_it(server, second_server, api):
    server.router = lambda req: err(13, "wrong server", f"127.0.0.1:{second_server.port}")
    second_server.router = lambda req: ok({"balance": "3"})
    assert api.get_balance() == {"balance": "3"}
    assert api.get_balance() == {"balance": "3"}
    assert len(server.requests) == 1 and len(second_server.requests) == 2
    assert api.base_url == second_server.url and api.stats.domain_switches == 1


@pytest.mark.parametrize("shape", ["url", "object"])
def test_code_13_accepts_a_full_url_or_a_domain_object(server, second_server, api, shape):
    data = second_server.url + "/" if shape == "url" else {"domain": second_server.url}
    server.add(err(13, "", data))
    second_server.router = lambda req: ok("there")
    assert api.call("User", "GetOwnBalance") == "there"


def test_code_13_with_a_bare_host_keeps_the_current_scheme(make_api):
    api = make_api("http://127.0.0.1:9")
    api._switch_domain("api.mobizon.kz", "User", "GetOwnBalance", "")
    assert api.base_url == "http://api.mobizon.kz"
    api._switch_domain("https://api.mobizon.ua/service/", "User", "GetOwnBalance", "")
    assert api.base_url == "https://api.mobizon.ua"


def test_code_13_loops_are_bounded(server, api):
    server.router = lambda req: err(13, "", server.url.split("//")[1])
    with pytest.raises(WrongDomainError, match="gave up after 3 domain switches"):
        api.get_balance()


def test_code_13_without_a_domain_is_a_clear_error(server, api):
    server.add(err(13, "wrong", None))
    with pytest.raises(WrongDomainError, match="no usable domain"):
        api.get_balance()


def test_code_100_polls_the_task_once_a_second_until_completed(server, api, no_sleep):
    server.add(err(100, "", "77"), ok({"status": "0", "progress": "0"}), ok({"status": "1", "progress": "50"}),
               ok({"status": "2", "progress": "100"}))
    result = api.add_recipients(5, ["77010000001"])
    assert server.endpoints() == ["Campaign/AddRecipients"] + ["TaskQueue/GetStatus"] * 3
    assert server.requests[1].form == {"id": "77"}
    assert no_sleep == [1.0, 1.0, 1.0]
    assert result == [{"status": "2", "progress": "100"}]


def test_code_100_task_rejected_raises(server, api):
    server.add(err(100, "", "78"), ok({"status": "3", "progress": "10"}))
    with pytest.raises(TaskFailedError, match="background task 78 was rejected"):
        api.call("Campaign", "AddRecipients", {"id": 1, "recipientGroups": [1]})


def test_code_98_returns_a_partial_result_with_processed_and_failed_items(server, api):
    items = [{"recipient": "1", "code": 0, "messageId": "9"}, {"recipient": "2", "code": 3, "messageId": None}]
    server.add(err(98, "partly", items))
    result = api.add_recipients(5, ["1", "2"])
    assert isinstance(result, PartialResult) and not result.ok
    assert result.processed == items[:1] and result.failed == items[1:]


def test_code_98_with_processed_and_not_processed_lists(server, api):
    server.add(err(98, "", {"processed": ["1"], "notProcessed": ["2"]}))
    result = api.call("Link", "Delete", {"ids": [1, 2]})
    assert result.processed == ["1"] and result.failed == ["2"]


def test_code_99_raises_with_the_items(server, api):
    items = [{"recipient": "1", "code": 3}]
    server.add(err(99, "nothing", items))
    with pytest.raises(NothingDoneError) as info:
        api.add_recipients(5, ["1"])
    assert info.value.items == items


def test_stats_count_calls_per_method_and_errors(server, api):
    server.add(ok({}), err(2, "nope"))
    api.get_balance()
    with pytest.raises(ApiError):
        api.get_campaign(1)
    snap = api.stats.snapshot()
    assert snap["calls"] == {"User/GetOwnBalance": 1, "Campaign/Get": 1}
    assert snap["errors"] == {"code 2": 1}


def test_get_campaign_links_falls_back_to_campaign_getlinks_on_code_5(server, api):
    server.router = lambda req: err(5, "no method") if req.module == "Link" else ok([{"id": "1"}])
    assert api.get_campaign_links(10) == [{"id": "1"}]
    assert api.get_campaign_links(11) == [{"id": "1"}]
    assert server.endpoints() == ["Link/GetLinks", "Campaign/GetLinks", "Campaign/GetLinks"]


def test_get_campaign_links_does_not_fall_back_on_other_codes(server, api):
    server.router = lambda req: err(2, "not found")
    with pytest.raises(ApiError):
        api.get_campaign_links(10)
    assert server.endpoints() == ["Link/GetLinks"]


def test_bad_request_codes_are_bad_request_errors(server, api):
    server.add(err(12, "too many ids"))
    with pytest.raises(BadRequestError):
        api.get_link(1)
