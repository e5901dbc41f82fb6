"""Date windows and the account's time zone.

The gateway takes naive ``YYYY-MM-DD HH:MM:SS`` in the account's zone and silently clamps list windows to 90
days, so the client converts every datetime to account-local time and walks long ranges in windows.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

__all__ = ["MAX_WINDOW", "WIRE_FORMAT", "format_ts", "get_zone", "split_windows", "to_local"]

MAX_WINDOW = timedelta(days=90)
WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
_ONE_SECOND = timedelta(seconds=1)


def get_zone(name: str | tzinfo, variable: str = "SMS_TIMEZONE") -> tzinfo:
    """The zone called ``name``; an unknown name raises ConfigError naming ``variable`` and the fix."""
    if isinstance(name, tzinfo):
        return name
    try:
        if not name or not isinstance(name, str):
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"unknown time zone {name!r} in {variable}: set it to the account's IANA zone name, "
            "e.g. Asia/Almaty or Europe/Kyiv"
        ) from None


def to_local(value: datetime | date | str, zone: tzinfo) -> datetime:
    """``value`` as a naive account-local datetime (naive input is taken as already account-local; a wire
    string ``YYYY-MM-DD HH:MM:SS`` is the gateway's own wall time and is only parsed, never converted)."""
    if isinstance(value, str):
        return datetime.strptime(value, WIRE_FORMAT)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value.replace(microsecond=0)


def format_ts(value: datetime | date | str, zone: tzinfo) -> str:
    """The wire form of ``value``; strings pass through untouched."""
    if isinstance(value, str):
        return value
    return to_local(value, zone).strftime(WIRE_FORMAT)


def split_windows(start: datetime | date | str, end: datetime | date | str, zone: tzinfo,
                  max_window: timedelta = MAX_WINDOW) -> Iterator[tuple[str, str]]:
    """Yield ``(from, to)`` wire strings covering ``[start, end]`` in consecutive windows of at most
    ``max_window``; bounds are inclusive to the second, so windows neither overlap nor leave gaps."""
    lo, hi = to_local(start, zone), to_local(end, zone)
    if hi < lo:
        raise ValueError(f"window end {hi} is before its start {lo}")
    while True:
        upper = min(lo + max_window - _ONE_SECOND, hi) if max_window > _ONE_SECOND else hi
        yield lo.strftime(WIRE_FORMAT), upper.strftime(WIRE_FORMAT)
        if upper >= hi:
            return
        lo = upper + _ONE_SECOND
