"""The client-side limiter spaces calls per method and is safe across threads."""
import threading

import pytest

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
    assert all(rl.acquire("X/Y") == (0.0, 0) for _ in range(100))


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


# ---------------------------------------------------------------- adaptive: learns the limit from code 30
def test_the_adaptive_rate_ramps_up_only_while_it_holds_calls_back():
    clock = FakeClock()
    rl = RateLimiter(None, adaptive=True, clock=clock, sleep=clock.sleep)
    rl.acquire("A/B")
    assert rl.rates() == {"A/B": 5.0}  # START_RATE
    rl.answered("A/B", waited=False)
    assert rl.rates() == {"A/B": 5.0}  # not held back: the rate is not what limits the caller
    for _ in range(10):
        rl.answered("A/B", waited=True)
    assert rl.rates() == {"A/B": 15.0}  # one call per second more per clean answer while ramping up


def test_a_code_30_backs_off_to_90_percent_of_what_the_gateway_let_through_once_per_epoch():
    clock = FakeClock()
    rl = RateLimiter(None, adaptive=True, clock=clock, sleep=clock.sleep)
    _, epoch = rl.acquire("A/B")
    for _ in range(80):
        clock.now += 0.025
        rl.answered("A/B", waited=True)  # 40 answers in the last second; the rate ramped to 85
    rl.throttled("A/B", epoch)
    assert rl.rates() == {"A/B": 36.0} and rl.learned() == {"A/B": 40.0}
    rl.throttled("A/B", epoch)  # a call spaced at the old rate: already reacted to
    assert rl.rates() == {"A/B": 36.0}
    _, epoch = rl.acquire("A/B")
    assert epoch == 1
    rl.answered("A/B", waited=True)
    assert rl.rates() == {"A/B": 36.02}  # probing: +0.05 % of the estimate per clean answer


def test_an_estimate_measured_low_is_probed_up_to_and_then_climbed_past():
    clock = FakeClock()
    rl = RateLimiter(None, adaptive=True, clock=clock, sleep=clock.sleep)
    _, epoch = rl.acquire("A/B")
    for _ in range(5):
        clock.now += 0.1
        rl.answered("A/B", waited=True)  # 5 answers so far: another client's calls filled the gateway's window
    rl.throttled("A/B", epoch)
    assert rl.learned() == {"A/B": 5.0} and rl.rates() == {"A/B": 4.5}
    for _ in range(10):
        rl.answered("A/B", waited=True)
    assert rl.rates()["A/B"] == 4.525  # probing below the estimate: +0.05 % of it per answer
    for _ in range(240):
        rl.answered("A/B", waited=True)
    assert rl.rates()["A/B"] > 5.0 * 1.01 ** 40  # 200 answers to reach it, then +1 % per answer


def _simulate(limit: int, calls: int, workers: int = 4, latency: float = 0.004, learned: dict | None = None
              ) -> tuple[float, float, RateLimiter]:
    """A gateway allowing `limit` calls per sliding second (as the sandbox does), `workers` callers each
    waiting for its answer, all on a fake clock: (throughput / limit, share of calls answered code 30, the
    limiter). `learned`: what an earlier run's limiter learned, to start from."""
    import heapq
    from collections import deque

    clock = FakeClock()
    rl = RateLimiter(None, adaptive=True, learned=learned, clock=clock, sleep=lambda s: None)
    allowed: deque = deque()
    ready = [(clock.now, w) for w in range(workers)]  # when each worker asks for its next slot
    done = throttled = 0
    start = clock.now
    while done < calls:
        t, w = heapq.heappop(ready)
        clock.now = t
        wait, epoch = rl.acquire("Message/List")
        sent = t + wait
        clock.now = sent
        while allowed and allowed[0] <= sent - 1.0:
            allowed.popleft()
        if len(allowed) >= limit:
            throttled += 1
            rl.throttled("Message/List", epoch)
        else:
            allowed.append(sent)
            done += 1
            rl.answered("Message/List", wait > 0)
        heapq.heappush(ready, (sent + latency, w))
    return done / (clock.now - start) / limit, throttled / (done + throttled), rl


@pytest.mark.parametrize("limit", [2, 5, 20, 50])
def test_under_an_unknown_limit_throughput_stays_near_it_with_few_code_30s(limit):
    efficiency, code_30_share, _ = _simulate(limit, calls=max(400, 60 * limit))
    assert efficiency >= 0.85 and code_30_share <= 0.02, (efficiency, code_30_share)


def test_a_run_started_from_what_the_last_run_learned_skips_the_ramps_code_30s():
    # A short run under a low limit: from scratch, the first second's ramp (from START_RATE 5 to the limit 2)
    # is most of its code 30 answers; started from the last run's estimate it meets hardly any.
    _, scratch_share, first = _simulate(2, calls=80)
    _, learned_share, _ = _simulate(2, calls=80, learned=first.learned())
    assert first.learned()["Message/List"] == pytest.approx(2, rel=0.1)
    assert learned_share <= 0.02 < scratch_share, (learned_share, scratch_share)


def test_only_a_limit_the_gateway_showed_is_kept_for_the_next_run():
    clock = FakeClock()
    rl = RateLimiter(None, adaptive=True, clock=clock, sleep=clock.sleep)
    _, epoch = rl.acquire("A/B")
    rl.acquire("C/D")
    rl.answered("C/D", waited=True)
    clock.now += 0.1
    rl.answered("A/B", waited=True)
    rl.throttled("A/B", epoch)
    assert rl.learned() == {"A/B": 1.0}  # C/D never met a limit: the next run ramps it up from scratch
    rl2 = RateLimiter(None, adaptive=True, learned={**rl.learned(), "E/F": "junk"}, clock=clock, sleep=clock.sleep)
    rl2.acquire("A/B")
    rl2.acquire("E/F")
    assert rl2.rates() == {"A/B": 0.9, "E/F": 5.0}  # 90 % of the estimate; an unusable value is ignored
