"""The client-side limiter spaces calls per method and is safe across threads."""
import threading

from smsapi.ratelimit import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, s):
        pass


def test_calls_to_one_method_are_spaced_by_the_interval():
    clock = FakeClock()
    rl = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    waits = [rl.reserve("Message/List") for _ in range(4)]
    assert waits == [0.0, 0.25, 0.5, 0.75]


def test_different_methods_do_not_wait_for_each_other():
    clock = FakeClock()
    rl = RateLimiter(1.0, clock=clock, sleep=clock.sleep)
    assert rl.reserve("Campaign/List") == 0.0
    assert rl.reserve("Message/List") == 0.0


def test_none_means_no_limit():
    rl = RateLimiter(None)
    assert all(rl.acquire("X/Y") == 0.0 for _ in range(100))


def test_threads_get_distinct_slots():
    clock = FakeClock()
    rl = RateLimiter(10.0, clock=clock, sleep=clock.sleep)
    waits, lock = [], threading.Lock()

    def worker():
        for _ in range(50):
            w = rl.reserve("Link/GetStats")
            with lock:
                waits.append(round(w, 6))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [round(i * 0.1, 6) for i in range(400)]


def test_time_passing_frees_the_slot():
    clock = FakeClock()
    rl = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    rl.reserve("A/B")
    clock.now += 1.0
    assert rl.reserve("A/B") == 0.0
