"""The encoder emits exactly what PHP http_build_query emits (API.md 1.3-1.4)."""
from datetime import date, datetime
from decimal import Decimal

from smsapi.encoding import flatten, http_build_query


def test_a_list_encodes_with_indexed_percent_encoded_brackets():
    assert http_build_query({"ids": [123, 556, 988]}) == "ids%5B0%5D=123&ids%5B1%5D=556&ids%5B2%5D=988"


def test_nested_criteria_and_pagination_flatten_to_bracket_keys():
    pairs = list(flatten({"criteria": {"campaignIds": [7, 8]}, "pagination": {"currentPage": 0, "pageSize": 100}}))
    assert pairs == [("criteria[campaignIds][0]", "7"), ("criteria[campaignIds][1]", "8"),
                     ("pagination[currentPage]", "0"), ("pagination[pageSize]", "100")]


def test_spaces_become_plus_and_a_leading_plus_in_a_phone_becomes_percent_2b():
    assert http_build_query({"recipient": "+77011234567", "text": "Hello world"}) == (
        "recipient=%2B77011234567&text=Hello+world")


def test_cyrillic_text_is_utf8_percent_encoded():
    assert http_build_query({"text": "Привет"}) == "text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"


def test_two_level_template_recipients_nest_index_then_field():
    q = http_build_query({"recipients": [{"recipient": "380971112233", "name": "Ann"}]})
    assert q == "recipients%5B0%5D%5Brecipient%5D=380971112233&recipients%5B0%5D%5Bname%5D=Ann"


def test_dotted_sort_field_keeps_its_dot():
    assert http_build_query({"sort": {"counters.totalCost": "DESC"}}) == "sort%5Bcounters.totalCost%5D=DESC"


def test_unreserved_characters_stay_and_others_are_escaped():
    assert http_build_query({"t": "a-b_c.d~e&f=g/h"}) == "t=a-b_c.d~e%26f%3Dg%2Fh"


def test_none_values_are_dropped_and_booleans_are_one_or_zero():
    assert http_build_query({"a": None, "b": True, "c": False}) == "b=1&c=0"


def test_datetimes_dates_and_decimals_use_wire_forms():
    q = http_build_query({"ts": datetime(2026, 1, 2, 3, 4, 5), "d": date(2026, 1, 2), "m": Decimal("0.0600")})
    assert q == "ts=2026-01-02+03%3A04%3A05&d=2026-01-02&m=0.0600"


def test_empty_params_encode_to_an_empty_body():
    assert http_build_query({}) == "" and http_build_query(None) == ""
