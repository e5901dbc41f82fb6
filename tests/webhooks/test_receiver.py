"""The receiver over real HTTP: valid, forged, replayed, malformed and oversized requests; a burst; a kill."""

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from webhook_support import SECRET, Receiver, signed_event

from webhooks.store import EventStore, read_log


@pytest.fixture
def receiver(tmp_path):
    r = Receiver(tmp_path)
    yield r
    r.stop()


def stored_ids(data_dir) -> list:
    return [e["eventId"] for _, e, _ in read_log(data_dir / "webhooks") if e is not None]


def test_a_valid_event_is_stored_before_the_200_without_the_recipients_number(receiver, tmp_path):
    answer = requests.post(receiver.url, json=signed_event(1, 50000001), timeout=5)
    assert answer.status_code == 200
    events = [e for _, e, _ in read_log(tmp_path / "webhooks")]
    assert [e["eventId"] for e in events] == [1]
    assert "to" not in events[0]["data"]


def test_ids_sent_as_strings_verify_like_ints(receiver, tmp_path):
    assert requests.post(receiver.url, json=signed_event("2", "50000002"), timeout=5).status_code == 200


def test_a_forged_sign_is_refused_and_not_stored(receiver, tmp_path):
    forged = signed_event(3, 50000003, secret="not-the-secret")
    assert requests.post(receiver.url, json=forged, timeout=5).status_code == 401
    tampered = signed_event(4, 50000004)
    tampered["attempt"] = 2  # the sign covers the attempt
    assert requests.post(receiver.url, json=tampered, timeout=5).status_code == 401
    assert stored_ids(tmp_path) == []


def test_a_replayed_event_id_is_answered_200_and_stored_once(receiver, tmp_path):
    for attempt in (1, 1, 2, 3):
        assert requests.post(receiver.url, json=signed_event(5, 50000005, attempt=attempt), timeout=5).ok
    assert stored_ids(tmp_path) == [5]
    assert receiver.health()["counts"] == {"stored": 1, "duplicate": 3}


def test_malformed_json_and_missing_fields_are_400(receiver, tmp_path):
    bad_json = requests.post(receiver.url, data=b"{not json", headers={"Content-Type": "application/json"},
                             timeout=5)
    assert bad_json.status_code == 400
    assert requests.post(receiver.url, json=[1, 2], timeout=5).status_code == 400
    no_sign = signed_event(6, 50000006)
    del no_sign["sign"]
    assert requests.post(receiver.url, json=no_sign, timeout=5).status_code == 400
    no_message = signed_event(7, 50000007)
    del no_message["data"]["messageId"]
    assert requests.post(receiver.url, json=no_message, timeout=5).status_code == 400
    assert stored_ids(tmp_path) == []


def test_an_oversized_body_is_413_whether_or_not_it_declares_its_length(receiver, tmp_path):
    big = signed_event(8, 50000008)
    big["padding"] = "x" * 70_000
    assert requests.post(receiver.url, json=big, timeout=5).status_code == 413
    chunked = requests.post(receiver.url, data=iter([b"{", b" " * 70_000, b"}"]), timeout=5)  # no Content-Length
    assert chunked.status_code == 413
    assert stored_ids(tmp_path) == []


def test_other_methods_are_405_and_other_event_types_are_200_but_not_stored(receiver, tmp_path):
    assert requests.get(receiver.url, timeout=5).status_code == 405
    other = signed_event(9, 50000009)
    other["eventType"] = "sms-incoming"
    assert requests.post(receiver.url, json=other, timeout=5).status_code == 200
    assert stored_ids(tmp_path) == []


def test_a_burst_of_10000_events_loses_none(receiver, tmp_path):
    session_local = threading.local()

    def send(i):
        session = getattr(session_local, "s", None) or setattr(session_local, "s", requests.Session()) \
            or session_local.s
        return session.post(receiver.url, json=signed_event(10_000 + i, 50_000_000 + i), timeout=5).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(10_000)))
    seconds = time.monotonic() - started
    print(f"burst: 10000 events in {seconds:.1f} s, {10_000 / seconds:.0f} events/s")
    assert codes == [200] * 10_000
    assert sorted(stored_ids(tmp_path)) == list(range(10_000, 20_000))


def test_a_receiver_killed_mid_burst_keeps_every_event_it_answered_200(tmp_path):
    first = Receiver(tmp_path)
    answered, stop = [], threading.Event()

    def send(worker):
        session = requests.Session()
        for i in range(worker, 100_000, 4):
            if stop.is_set():
                return
            try:
                if session.post(first.url, json=signed_event(i, 50_000_000 + i), timeout=5).status_code == 200:
                    answered.append(i)
            except requests.RequestException:
                return

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while len(answered) < 500:
        time.sleep(0.01)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    stop.set()
    for t in threads:
        t.join()
    second = Receiver(tmp_path)
    try:
        assert set(answered) <= set(stored_ids(tmp_path))
        assert requests.post(second.url, json=signed_event(answered[0], 1), timeout=5).json()["message"] \
            == "already received"
    finally:
        second.stop()


def test_a_torn_last_line_is_counted_and_the_next_event_starts_a_fresh_line(tmp_path):
    log = tmp_path / "webhooks" / "events.jsonl"
    log.parent.mkdir()
    log.write_bytes(b'{"eventId": 1, "data": {}}\n{"eventId": 2, "da')
    store = EventStore(tmp_path)
    try:
        assert store.torn_lines == 1 and store.seen == {"1"}
        assert store.put(signed_event(3, 50000003))
    finally:
        store.close()
    assert [e["eventId"] if e else None for _, e, _ in read_log(tmp_path / "webhooks")] == [1, None, 3]


def test_a_second_receiver_on_the_same_data_directory_is_refused(tmp_path):
    from webhooks.store import StoreBusyError

    store = EventStore(tmp_path)
    try:
        with pytest.raises(StoreBusyError, match="another webhook receiver"):
            EventStore(tmp_path)
    finally:
        store.close()


def test_the_secret_never_appears_in_an_answer(receiver):
    answer = requests.post(receiver.url, json=signed_event(11, 1, secret="wrong"), timeout=5)
    assert SECRET not in answer.text
