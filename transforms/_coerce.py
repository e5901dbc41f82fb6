"""Whole-column coercions from wire values (strings, sometimes ints or bools) to typed pandas columns.

Every coercer takes a raw column (any dtype, usually object or str) and returns `(typed_series, unexpected)`,
where `unexpected` counts values that were present (not null, not blank) but could not be coerced; those become
null. Nothing here loops over rows in Python: the work is done by pyarrow compute and pandas on whole arrays.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import smsapi.glossary as glossary

# The stored vocabulary: the glossary's statuses, then the one for anything outside it.
MESSAGE_STATUSES = (*glossary.MESSAGE_STATUSES, glossary.UNKNOWN_STATUS)
FINAL_STATUSES = glossary.FINAL_STATUSES
CAMPAIGN_TYPES = {"1": "single", "2": "mass", "3": "template", "7": "functional"}

MONEY = pa.decimal128(18, 4)
MONEY_DTYPE = pd.ArrowDtype(MONEY)
TS_DTYPE = "datetime64[us, UTC]"
STRING_DTYPE = pd.StringDtype("pyarrow")
STATUS_DTYPE = pd.CategoricalDtype(list(MESSAGE_STATUSES))
_STATUS_VALUES = pa.array(MESSAGE_STATUSES)

_INT_RE = r"^-?[0-9]{1,19}$"
_WIDE_INT = pa.decimal128(20, 0)
_DEC_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_WIDE = pa.decimal128(38, 12)


def text(raw) -> pa.Array:
    """Raw column -> arrow string array (values kept as sent), with None/NaN/""/all-whitespace as null."""
    return text_and_blanks(raw)[0]


def as_strings(raw) -> pa.Array:
    """Raw column -> arrow string array of the values as sent (ints, bools and the like as their str()), None
    and NaN as null; blanks are kept."""
    if isinstance(raw, pa.Array):
        arr = raw
    else:
        try:  # the common case, all str or None: straight into arrow, no pandas inference
            arr = pa.array(raw.array if isinstance(raw, pd.Series) and isinstance(raw.dtype, pd.StringDtype)
                           else raw, type=pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # ints, bools, floats or objects mixed in: str() them
            arr = pa.array(pd.Series(raw, dtype=object).astype(STRING_DTYPE).array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    return arr


def text_and_blanks(raw) -> tuple[pa.Array, int]:
    """`text`, and how many values were sent as blank strings ("" or whitespace only), not as null."""
    arr = as_strings(raw)
    blank = pc.or_(pc.equal(arr, ""), pc.utf8_is_space(arr))  # utf8_is_space: non-empty, all whitespace
    blanks = int(pc.sum(blank).as_py() or 0)
    if blanks:
        arr = pc.if_else(blank, pa.nulls(len(arr), pa.string()), arr)
    return arr, blanks


def _valid(arr: pa.Array, pattern: str) -> tuple[pa.Array, int]:
    """Null out values not matching `pattern`; count them."""
    ok = pc.match_substring_regex(arr, pattern)
    bad = int(pc.sum(pc.invert(ok)).as_py() or 0)  # nulls stay null in `ok` and are not counted
    if bad:
        arr = pc.if_else(ok, arr, pa.nulls(len(arr), arr.type))
    return arr, bad


def string(raw) -> pd.Series:
    """Raw column -> nullable string column (blank -> null). Text is never unexpected."""
    return pd.Series(text(raw), dtype=STRING_DTYPE)


def integer(raw, dtype: str = "Int64") -> tuple[pd.Series, int]:
    """Digits (as strings or ints) -> nullable Int64/Int32 column; anything else (including values outside the
    type's range, int64 up to 2**63 - 1 exactly) is null and counted."""
    width = pa.int32() if dtype == "Int32" else pa.int64()
    arr = text(raw)
    try:  # fast path: everything valid
        out, bad = pc.cast(arr, width), 0
    except (pa.ArrowInvalid, OverflowError):
        arr, bad = _valid(arr, _INT_RE)
        wide = pc.cast(arr, _WIDE_INT)  # 19 digits fit; the range check is exact, no float involved
        bits = 31 if width == pa.int32() else 63
        ok = pc.and_(pc.greater_equal(wide, pa.scalar(-(2**bits), _WIDE_INT)),
                     pc.less_equal(wide, pa.scalar(2**bits - 1, _WIDE_INT)))
        bad += int(pc.sum(pc.invert(ok)).as_py() or 0)
        out = pc.cast(pc.if_else(ok, wide, pa.nulls(len(wide), _WIDE_INT)), width)
    mapper = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}.get
    return pd.Series(out.to_pandas(types_mapper=mapper), dtype=dtype), bad


def decimal(raw) -> tuple[pd.Series, int]:
    """Decimal strings -> decimal128(18,4), parsed exactly (no float); rounded half-up beyond 4 places."""
    arr, bad = text(raw), 0
    try:  # fast path: everything valid
        wide = pc.cast(arr, _WIDE)
    except pa.ArrowInvalid:
        arr, bad = _valid(arr, _DEC_RE)
    try:
        wide = pc.cast(arr, _WIDE)
    except pa.ArrowInvalid:  # too many digits for 38,12: treat as unexpected
        ok = pc.less_equal(pc.utf8_length(arr), 26)
        before = len(arr) - arr.null_count
        arr = pc.if_else(ok, arr, pa.nulls(len(arr), pa.string()))
        bad += before - (len(arr) - arr.null_count)
        wide = pc.cast(arr, _WIDE)
    rounded = pc.round(wide, 4, round_mode="half_up")
    too_big = pc.greater_equal(pc.abs(rounded), pa.scalar(10**14, _WIDE))
    n_big = int(pc.sum(too_big).as_py() or 0)
    if n_big:
        rounded = pc.if_else(too_big, pa.nulls(len(rounded), _WIDE), rounded)
        bad += n_big
    return pd.Series(pc.cast(rounded, MONEY), dtype=MONEY_DTYPE), bad


def boolean(raw) -> tuple[pd.Series, int]:
    """"0"/"1"/0/1/true/false (any case) -> nullable boolean; anything else is null and counted."""
    arr = pc.utf8_lower(text(raw))
    is_true = pc.is_in(arr, pa.array(["1", "true"]))
    is_false = pc.is_in(arr, pa.array(["0", "false"]))
    known = pc.or_(is_true, is_false)
    bad = int(pc.sum(pc.and_(pc.is_valid(arr), pc.invert(known))).as_py() or 0)
    out = pc.if_else(known, is_true, pa.nulls(len(arr), pa.bool_()))
    return pd.Series(out.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), dtype="boolean"), bad


def timestamp(raw, tz: str) -> tuple[pd.Series, int]:
    """`YYYY-MM-DD HH:MM:SS` naive local time in IANA zone `tz` -> UTC `datetime64[us, UTC]`.

    DST policy: an ambiguous wall time (the repeated hour when clocks go back) is read as its earliest instant
    (the first occurrence, still on summer time) unless the caller orders it (`timestamp_readings`); a
    nonexistent wall time (the skipped hour when clocks go forward) is shifted forward to the first valid
    instant. Blank or null -> NaT, not counted here (`text_and_blanks` counts the blank ones, which the
    reference says the gateway should send as null); an unparseable string -> NaT, counted.
    """
    earliest, _, bad = timestamp_readings(raw, tz)
    return earliest, bad


def timestamp_readings(raw, tz: str) -> tuple[pd.Series, pd.Series, int]:
    """Both readings of each wire time: (earliest instant, latest instant, unparseable count). They differ only
    for a wall time in the repeated hour of a fall-back shift, where the wire alone cannot tell which was meant."""
    arr = text(raw)
    parsed = pc.strptime(arr, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
    bad = parsed.null_count - arr.null_count  # malformed or impossible (month 13)
    naive = pd.Series(parsed.to_numpy(zero_copy_only=False), dtype="datetime64[us]")
    return _localize(naive, tz, True), _localize(naive, tz, False), bad


def _localize(naive: pd.Series, tz: str, earliest: bool) -> pd.Series:
    local = naive.dt.tz_localize(tz, ambiguous=np.full(len(naive), earliest, dtype=bool),
                                 nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").astype(TS_DTYPE)


def not_before(earliest: pd.Series, latest: pd.Series, floor: pd.Series) -> pd.Series:
    """The earliest reading, unless only the latest reading is at or after `floor` (a time that must precede
    it: a status cannot change before sending started). This is how an ambiguous wall time is resolved by the
    order the gateway reported: ACCEPTD 03:50 summer time then DELIVRD 03:10 is DELIVRD 03:10 winter time."""
    use_latest = (earliest < floor) & (latest >= floor) & (earliest != latest)
    return earliest.where(~use_latest.fillna(False).to_numpy(dtype=bool), latest)


def ordered(earliest: pd.Series, latest: pd.Series) -> pd.Series:
    """Readings of times listed in chronological order (a GetStats grid): where a wall time does not come
    after the one before it (the repeated hour of a fall-back shift), its latest reading is taken."""
    if earliest.equals(latest):
        return earliest
    values = earliest.to_list()
    late = latest.to_list()
    previous = None
    for i, value in enumerate(values):
        if value is not pd.NaT and previous is not None and value <= previous and late[i] > previous:
            values[i] = late[i]
        if values[i] is not pd.NaT:
            previous = values[i]
    return pd.Series(values, dtype=TS_DTYPE, index=earliest.index)


def status(raw) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, int]:
    """Wire status -> (status enum, status_raw, is_final, is_unexpected, unexpected count).

    A status outside the glossary becomes UNKNOWN, keeps its original in status_raw, is flagged and counted.
    A missing status stays null everywhere and is not counted.
    """
    arr = text(raw)
    upper = pc.utf8_upper(arr)
    known = pc.is_in(upper, pa.array(glossary.MESSAGE_STATUSES))
    present = pc.is_valid(arr)
    unexpected = pc.and_(present, pc.invert(known))
    unknown = pc.if_else(present, pa.scalar(glossary.UNKNOWN_STATUS), pa.nulls(len(arr), pa.string()))
    mapped = pc.if_else(known, upper, unknown)
    final = pc.if_else(present, pc.is_in(mapped, pa.array(sorted(FINAL_STATUSES))), pa.nulls(len(arr), pa.bool_()))
    n = int(pc.sum(unexpected).as_py() or 0)
    to_bool = {pa.bool_(): pd.BooleanDtype()}.get
    return (
        pd.Series(pd.Categorical.from_codes(
            pc.fill_null(pc.index_in(mapped, value_set=_STATUS_VALUES), -1).to_numpy(zero_copy_only=False),
            dtype=STATUS_DTYPE)),
        pd.Series(arr, dtype=STRING_DTYPE),
        pd.Series(final.to_pandas(types_mapper=to_bool), dtype="boolean"),
        pd.Series(pc.fill_null(unexpected, False).to_pandas(types_mapper=to_bool), dtype="boolean"),
        n,
    )


def constant_ts(value: datetime | pd.Timestamp | str, n: int) -> pd.Series:
    """`observed_at` broadcast to n rows; a naive value is taken as UTC."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return pd.Series(np.full(n, ts.as_unit("us").asm8), dtype="datetime64[us]").dt.tz_localize("UTC")


def multiply_money(price: pd.Series, count: pd.Series) -> pd.Series:
    """Exact decimal price x integer count -> decimal128(18,4); null if either is null."""
    p = pa.array(price.array)
    c = pa.array(count.astype("Int64").array, type=pa.int64()).cast(pa.decimal128(19, 0))
    out = pc.multiply(p, c)
    return pd.Series(pc.cast(out, MONEY), dtype=MONEY_DTYPE)


def column(items: list, key: str) -> list:
    """One key of a list of dicts (None when absent or the item is not a dict)."""
    return [it.get(key) if isinstance(it, dict) else None for it in items]
