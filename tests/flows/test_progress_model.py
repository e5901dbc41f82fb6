"""The sync's progress model (flows/progress.py): totals, rates, ETAs, calls and phases, from a fake clock."""

import logging
import threading
from collections import Counter

import pytest

from flows import progress as progress_module
from flows.progress import EntityProgress, LogObserver, Observer, Progress, describe, format_seconds, observing


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def entity(p: Progress, name: str) -> EntityProgress:
    return {e.entity: e for e in p.snapshot().entities}[name]


@pytest.fixture
def clock():
    return FakeClock()


def test_the_total_is_the_sum_of_the_totals_of_the_listings_begun(clock):
    p = Progress(clock=clock, observers=[])
    p.read("messages", 100, total=250)  # first page of one listing
    p.read("messages", 100)
    p.read("messages", 100, total=40)  # first page of another
    assert (entity(p, "messages").items, entity(p, "messages").total) == (300, 290)


def test_rate_and_eta_come_from_the_items_read_over_the_entitys_active_time(clock):
    p = Progress(clock=clock, observers=[])
    p.track("messages", "Message/List")
    clock.now += 2
    p.read("messages", 100, total=1000)
    clock.now += 2
    p.read("messages", 100)
    e = entity(p, "messages")
    assert e.rate_per_s == pytest.approx(50.0)  # 200 items in 4 s
    assert e.eta_s == pytest.approx(16.0)  # 800 left at 50/s


def test_the_rate_holds_still_once_an_entity_stops_reading(clock):
    p = Progress(clock=clock, observers=[])
    p.track("campaigns", "Campaign/List")
    clock.now += 1
    p.read("campaigns", 40, total=40)
    clock.now += 60
    assert entity(p, "campaigns").rate_per_s == pytest.approx(40.0)


def test_eta_is_zero_at_the_total_and_unknown_without_a_total_or_a_rate(clock):
    p = Progress(clock=clock, observers=[])
    p.track("a", "A/List")
    clock.now += 1
    p.read("a", 40, total=40)
    p.read("links", 7)  # no total
    p.expect("message_statuses", 500)  # a total, nothing read yet
    assert entity(p, "a").eta_s == 0
    assert entity(p, "links").eta_s is None
    assert entity(p, "message_statuses").eta_s is None and entity(p, "message_statuses").total == 500


def test_an_entitys_calls_are_the_clients_counts_of_its_methods(clock):
    calls = Counter({"Link/GetLinks": 3, "Link/List": 2, "Message/List": 9, "User/GetOwnBalance": 1})
    p = Progress(calls=lambda: dict(calls), clock=clock, observers=[])
    p.track("campaign_links", "Link/GetLinks")
    p.track("links", "Link/List")
    p.track("messages", "Message/List")
    assert [(e.entity, e.calls) for e in p.snapshot().entities] == [
        ("campaign_links", 3), ("links", 2), ("messages", 9)]
    calls["Message/List"] += 1
    assert entity(p, "messages").calls == 10  # read live, not copied


def test_phases_are_timed_in_the_order_they_began_and_a_repeated_phase_adds_up(clock):
    p = Progress(clock=clock, observers=[])
    for phase, seconds in [("plan", 0.1), ("extract", 4.2), ("merge", 1.0), ("repair", 2.0), ("merge", 0.3)]:
        p.begin(phase)
        clock.now += seconds
    assert p.snapshot().phase == "merge"
    assert p.finish() == pytest.approx({"plan": 0.1, "extract": 4.2, "merge": 1.3, "repair": 2.0})
    assert list(p.phase_seconds()) == ["plan", "extract", "merge", "repair"]
    assert p.snapshot().phase is None


def test_reads_from_many_threads_lose_no_item_and_no_total():
    p = Progress(observers=[])
    threads_n, reads = 8, 2000
    barrier = threading.Barrier(threads_n)

    def work(n):
        barrier.wait()
        for i in range(reads):
            p.read(f"e{n % 2}", 3, total=5 if i % 10 == 0 else None)
            if i % 100 == 0:
                p.snapshot()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_entity = threads_n // 2 * reads
    assert {e.entity: (e.items, e.total) for e in p.snapshot().entities} == {
        "e0": (3 * per_entity, 5 * per_entity // 10), "e1": (3 * per_entity, 5 * per_entity // 10)}


class Recorder(Observer):
    def __init__(self):
        self.events = []

    def attach(self, progress):
        self.events.append("attach")

    def changed(self, progress, entity):
        self.events.append(f"changed {entity}")

    def phase_began(self, progress, phase):
        self.events.append(f"phase {phase}")

    def finished(self, progress):
        self.events.append("finished")


def test_a_registered_observer_replaces_the_default_log_lines_for_runs_begun_while_it_is_registered():
    recorder = Recorder()
    with observing(recorder):
        p = Progress()
    p.begin("extract")
    p.read("messages", 10)
    p.finish()
    assert recorder.events == ["attach", "phase extract", "changed messages", "finished"]
    assert progress_module.registered_observers() == []
    assert [type(o) for o in Progress()._observers] == [LogObserver]  # unregistered: the plain lines again


def test_an_entity_is_described_with_its_total_rate_eta_and_calls():
    e = EntityProgress("messages", 500, 5, 1000, 10.0)
    assert describe(e) == "500/1,000 messages (50/s, ETA 10 s, 5 calls)"
    assert describe(EntityProgress("links", 1, 1, None, 0.0)) == "1 links (1 call)"
    assert describe(EntityProgress("campaigns", 40, 1, 40, 1.0)) == "40/40 campaigns (40/s, 1 call)"


def test_seconds_read_as_a_person_would_say_them():
    assert [format_seconds(s) for s in (0.04, 4.25, 12.4, 185, 3720)] == [
        "0.0 s", "4.2 s", "12 s", "3 min 05 s", "1 h 02 min"]


def test_the_plain_observer_logs_a_line_at_most_every_interval(clock, caplog):
    p = Progress(clock=clock, observers=[LogObserver(every=10)])
    p.track("messages", "Message/List")
    with caplog.at_level(logging.INFO, logger="smsetl.sync"):
        clock.now += 5
        p.read("messages", 100, total=1000)  # 5 s after the run began: too soon
        clock.now += 5
        p.read("messages", 100)  # 10 s: a line
        clock.now += 3
        p.read("messages", 100)  # 3 s later: too soon
    assert [r.getMessage() for r in caplog.records] == [
        "read so far: 200/1,000 messages (20/s, ETA 40 s, 0 calls)"]
