"""Date windows of at most 90 days, formatted as naive account-local time."""
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from smsapi.errors import ConfigError
from smsapi.windows import format_ts, get_zone, split_windows

ALMATY = get_zone("Asia/Almaty")


def parse(s):
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


def test_a_short_range_is_one_window_with_its_own_bounds():
    w = list(split_windows(datetime(2026, 1, 1), datetime(2026, 1, 10, 12, 30), ALMATY))
    assert w == [("2026-01-01 00:00:00", "2026-01-10 12:30:00")]


def test_a_year_is_walked_in_windows_of_at_most_ninety_days_without_gaps_or_overlap():
    start, end = datetime(2025, 1, 1), datetime(2026, 1, 1)
    w = list(split_windows(start, end, ALMATY))
    assert len(w) == 5
    assert parse(w[0][0]) == start and parse(w[-1][1]) == end
    for lo, hi in w:
        assert parse(hi) - parse(lo) <= timedelta(days=90)
    for (_, hi), (lo, _) in pairwise(w):
        assert parse(lo) - parse(hi) == timedelta(seconds=1)


def test_aware_datetimes_are_converted_to_the_account_zone():
    assert format_ts(datetime(2026, 3, 1, 0, 0, tzinfo=UTC), ALMATY) == "2026-03-01 05:00:00"


def test_naive_datetimes_are_taken_as_account_local():
    assert format_ts(datetime(2026, 3, 1, 0, 0, 7, 999), ALMATY) == "2026-03-01 00:00:07"


def test_an_unknown_zone_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError, match="SMS_TIMEZONE.*IANA"):
        get_zone("Mars/Olympus")


def test_an_end_before_the_start_is_refused():
    with pytest.raises(ValueError):
        list(split_windows(datetime(2026, 2, 1), datetime(2026, 1, 1), ALMATY))
