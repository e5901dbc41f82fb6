"""The sandbox runs an account in a DST zone: instants inside, the zone's wall times on the wire.

Europe/Kyiv falls back on 2026-10-25 at 04:00 EEST (UTC+3) to 03:00 EET (UTC+2): the wall times
03:00-03:59 happen twice that day, and the day lasts 25 hours.
"""

import email.utils
from datetime import datetime

import numpy as np
import pytest

from sandbox import Faults, Sandbox
from sandbox.data import INF, ST, fmt_ts, parse_ts, to_ts

ZONE = "Europe/Kyiv"


def test_wall_times_are_written_in_the_zone_and_an_ambiguous_one_reads_as_its_first_occurrence():
    first = parse_ts("2026-10-25 03:30:00", ZONE)
    assert datetime.fromisoformat("2026-10-25T00:30:00+00:00").timestamp() == first  # EEST, UTC+3
    assert fmt_ts(first, ZONE) == fmt_ts(first + 3600, ZONE) == "2026-10-25 03:30:00"
    assert fmt_ts(first + 2 * 3600, ZONE) == "2026-10-25 04:30:00"
    assert parse_ts("2026-10-26 00:00:00", ZONE) - parse_ts("2026-10-25 00:00:00", ZONE) == 25 * 3600
    assert to_ts(datetime(2026, 10, 25, 3, 30), ZONE) == first
    assert fmt_ts(INF, ZONE) is None


@pytest.fixture
def kyiv(make_caller):
    sb = Sandbox.generate(seed=3, campaigns=12, messages=600, now=datetime(2026, 10, 27, 12, 0), timezone=ZONE)
    with sb.serve(port=0, faults=Faults()) as server:
        yield sb, make_caller(server.url)


def test_the_clock_is_a_wall_time_in_the_zone_and_the_date_header_its_instant(kyiv):
    sb, call = kyiv
    assert sb.clock.now == datetime(2026, 10, 27, 12, 0) and sb.utc_offset(sb.clock.ts) == 2 * 3600
    date = email.utils.parsedate_to_datetime(call.raw("User/GetOwnBalance").headers["Date"])
    assert date.timestamp() == sb.clock.ts
    sb.clock.set(datetime(2026, 10, 25, 3, 55))
    assert sb.utc_offset(sb.clock.ts) == 3 * 3600  # a naive ambiguous time: its first (summer) occurrence


def test_a_report_in_the_repeated_hour_is_written_as_the_wall_clock_shows_it_and_counts_real_time(kyiv):
    sb, call = kyiv
    ci = next(i for i in range(sb.n_campaigns()) if len(sb.msg_index(i)) and sb.visible(i))
    k = int(sb.msg_index(ci)[0])
    summer_0349 = sb.parse("2026-10-25 03:49:00")
    sb.m_tenq[k], sb.m_tacc[k] = summer_0349, summer_0349 + 60
    sb.m_t1[k], sb.m_t2[k], sb.m_s1[k], sb.m_s2[k] = summer_0349 + 21 * 60, INF, ST["DELIVRD"], ST["DELIVRD"]
    sb.invalidate()
    item = call("Message/GetSMSStatus", {"ids[]": str(50_000_000 + k)})["data"][0]
    assert (item["status"], item["startSendTs"], item["statusUpdateTs"]) == \
        ("DELIVRD", "2026-10-25 03:49:00", "2026-10-25 03:10:00")
    status, updated, started = sb.status_at(np.array([k]))
    assert int(updated[0] - started[0]) == 21 * 60  # the ground truth counts real seconds


def _clicks_at(sb: Sandbox, j: int, times: list[int]) -> None:
    """Replace link j's click times by `times` (its first len(times) clicks), keeping its slice sorted."""
    a, b = sb.l_off[j], sb.l_off[j + 1]
    assert b - a >= len(times), "the link has too few clicks to re-time"
    sb.k_t[a:b] = np.sort(np.concatenate([times, np.full(b - a - len(times), sb.parse("2026-10-26 12:00:00"))]))
    sb.invalidate()


def test_the_grid_has_local_days_of_25_hours_and_the_repeated_hour_twice(kyiv):
    sb, call = kyiv
    j = int(np.argmax(np.diff(sb.l_off)))
    p = sb.parse
    _clicks_at(sb, j, [p("2026-10-25 00:30:00"), p("2026-10-25 03:30:00"), p("2026-10-25 03:30:00") + 3600,
                       p("2026-10-25 23:30:00")])
    lid = str(4000 + j)
    daily = call("Link/GetStats", {"ids[]": lid, "type": "daily", "criteria[dateFrom]": "2026-10-24 00:00:00",
                                   "criteria[dateTo]": "2026-10-26 23:59:59"})["data"]["items"]
    assert [(row["param"], int(row["clicks0"])) for row in daily] == \
        [("2026-10-24", 0), ("2026-10-25", 4), ("2026-10-26", int(sb.l_off[j + 1] - sb.l_off[j]) - 4)]
    hourly = call("Link/GetStats", {"ids[]": lid, "type": "hourly", "criteria[dateFrom]": "2026-10-25 02:00:00",
                                    "criteria[dateTo]": "2026-10-25 04:59:59"})["data"]["items"]
    assert [(row["param"], int(row["clicks0"])) for row in hourly] == [
        ("2026-10-25 02:00", 0), ("2026-10-25 03:00", 1), ("2026-10-25 03:00", 1), ("2026-10-25 04:00", 0)]
