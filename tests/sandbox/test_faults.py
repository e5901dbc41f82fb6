"""Each fault flag does what it says, at its rate, reproducibly from the seed."""

import time
from datetime import datetime

import pytest
import requests

from sandbox import SANDBOX_API_KEY, Faults, Sandbox

NOW = datetime(2026, 11, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def small():
    return Sandbox.generate(seed=2, campaigns=10, messages=300, now=NOW)


def serve(sb, **faults):
    return sb.serve(port=0, faults=Faults(seed=1, **faults))


def codes(call, n, path="User/GetOwnBalance"):
    out = []
    for _ in range(n):
        try:
            r = call.raw(path)
            out.append(r.json()["code"] if r.status_code == 200 else r.status_code)
        except requests.exceptions.JSONDecodeError:
            out.append("truncated")
        except requests.exceptions.ConnectionError:
            out.append("dropped")
    return out


def test_rate_limit_answers_code_30_with_null_data_per_method(make_caller, small):
    with serve(small, rate_limit_methods={"User/GetOwnBalance": 2}) as server:
        call = make_caller(server.url)
        got = [call("User/GetOwnBalance") for _ in range(4)]
        assert [g["code"] for g in got] == [0, 0, 30, 30] and got[2]["data"] is None
        assert call("Message/GetSMSStatus", {"ids": "50000000"})["code"] == 0
        time.sleep(1.05)
        assert call("User/GetOwnBalance")["code"] == 0


def test_wrong_port_answers_code_13_naming_the_right_port(make_caller, small):
    with serve(small, wrong_port=True) as server:
        r = make_caller(server.wrong_url)("Campaign/List")
        assert r["code"] == 13 and r["data"] == f"127.0.0.1:{server.port}"
        assert make_caller(server.url)("User/GetOwnBalance")["code"] == 0


@pytest.mark.parametrize("kind,expected", [("http_5xx", 503), ("code3", 3), ("code999", 999),
                                           ("truncated", "truncated"), ("drop", "dropped")])
def test_each_failure_fault_fires_at_its_rate(make_caller, small, kind, expected):
    with serve(small, **{kind: 1.0}) as server:
        assert codes(make_caller(server.url), 3) == [expected] * 3
    with serve(small, **{kind: 0.5}) as server:
        got = codes(make_caller(server.url), 40)
        assert 5 < got.count(expected) < 35 and got.count(0) == 40 - got.count(expected)


def test_faults_are_reproducible_from_the_seed(make_caller, small):
    runs = []
    for _ in range(2):
        with serve(small, code999=0.3, http_5xx=0.2) as server:
            runs.append(codes(make_caller(server.url), 30))
    assert runs[0] == runs[1]


def test_slow_responses_are_delayed(make_caller, small):
    with serve(small, slow=1.0, slow_seconds=0.3) as server:
        t = time.monotonic()
        assert make_caller(server.url)("User/GetOwnBalance")["code"] == 0
        assert time.monotonic() - t >= 0.3


def test_faults_can_be_changed_through_the_admin_route(make_caller, small):
    with serve(small) as server:
        call = make_caller(server.url)
        assert call("User/GetOwnBalance")["code"] == 0
        r = requests.post(f"{server.url}/admin/faults", json={"code999": 1.0})
        assert r.json()["code999"] == 1.0
        assert call("User/GetOwnBalance")["code"] == 999
        assert requests.post(f"{server.url}/admin/faults", json={"nonsense": 1}).status_code == 400


def test_add_recipients_by_groups_is_a_background_task_that_completes_after_polls(make_caller, small):
    with serve(small, task_polls=3) as server:
        call = make_caller(server.url)
        cid = call("Campaign/Create", {"data[text]": "Привет!", "data[type]": "2"})["data"]
        r = call("Campaign/AddRecipients", {"id": cid, "recipientGroups[]": "100604"})
        assert r["code"] == 100 and isinstance(r["data"], str)
        polls = [call("TaskQueue/GetStatus", {"id": r["data"]})["data"] for _ in range(3)]
        assert [p["status"] for p in polls][-1] == "2" and polls[-1]["progress"] == "100"
        assert [p["status"] for p in polls][:-1] != ["2", "2"]


def test_background_task_rate_applies_to_add_recipients(make_caller, small):
    with serve(small, background_tasks=1.0, task_polls=1) as server:
        call = make_caller(server.url)
        cid = call("Campaign/Create", {"data[text]": "Hi", "data[type]": "2"})["data"]
        r = call("Campaign/AddRecipients", {"id": cid, "recipients": "77011234567,77021234567"})
        assert r["code"] == 100
        assert call("TaskQueue/GetStatus", {"id": r["data"]})["data"]["status"] == "2"


def test_key_check_comes_before_faults_and_an_unfaulted_key_error_is_code_8(make_caller, small):
    with serve(small, code999=1.0) as server:
        r = requests.get(f"{server.url}/service/user/getownbalance?apiKey=bad").json()
        assert r["code"] == 8
        assert SANDBOX_API_KEY
