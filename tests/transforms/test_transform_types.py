"""Column coercions: time zones and DST, blanks, booleans, observed_at."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


import pandas as pd

import transforms

KYIV = "Europe/Kyiv"


def _statuses(ts: str, tz: str):
    items = [{"id": "1", "status": "DELIVRD", "segNum": "1", "statusUpdateTs": ts}]
    return transforms.message_statuses(items, tz, pd.Timestamp("2025-01-01", tz="UTC"))


def test_kyiv_summer_time_is_utc_plus_three():
    assert _statuses("2024-07-01 12:00:00", KYIV).frame.iloc[0]["status_updated_at"] == pd.Timestamp(
        "2024-07-01 09:00", tz="UTC")


def test_ambiguous_hour_when_clocks_go_back_reads_as_the_earliest_instant():
    # 2024-10-27: 04:00 EEST -> 03:00 EET, so 03:30 happens twice; the first is 00:30 UTC
    result = _statuses("2024-10-27 03:30:00", KYIV)
    assert result.frame.iloc[0]["status_updated_at"] == pd.Timestamp("2024-10-27 00:30", tz="UTC")
    assert result.unexpected == 0


def test_nonexistent_hour_when_clocks_go_forward_shifts_forward():
    # 2024-03-31: 03:00 EET -> 04:00 EEST, so 03:30 never happens; shifted to 04:00 EEST = 01:00 UTC
    result = _statuses("2024-03-31 03:30:00", KYIV)
    assert result.frame.iloc[0]["status_updated_at"] == pd.Timestamp("2024-03-31 01:00", tz="UTC")
    assert result.unexpected == 0


def test_impossible_date_is_nat_and_counted():
    result = _statuses("2021-13-01 00:00:00", "UTC")
    assert pd.isna(result.frame.iloc[0]["status_updated_at"]) and result.unexpected == 1


def test_booleans_accept_strings_ints_and_true(f1_campaign, observed):
    items = [dict(f1_campaign, id=str(i), isDeleted=v) for i, v in enumerate(["0", "1", 0, 1, True, "true"])]
    result = transforms.campaigns(items, "UTC", observed)
    assert result.frame["is_deleted"].tolist() == [False, True, False, True, True, True]
    assert result.unexpected == 0


def test_unrecognised_boolean_is_null_and_counted(f1_campaign, observed):
    f1_campaign["isDeleted"] = "maybe"
    result = transforms.campaigns([f1_campaign], "UTC", observed)
    assert pd.isna(result.frame.iloc[0]["is_deleted"]) and result.unexpected == 1


def test_blank_text_is_null(f1_item, observed):
    f1_item.update(countryA2=" ", operatorName="")
    row = transforms.messages([f1_item], "UTC", observed).frame.iloc[0]
    assert pd.isna(row["country_a2"]) and pd.isna(row["operator_name"])


def test_naive_observed_at_is_taken_as_utc(f1_item):
    row = transforms.messages([f1_item], "UTC", pd.Timestamp("2021-09-05 03:00")).frame.iloc[0]
    assert row["observed_at"] == pd.Timestamp("2021-09-05 03:00", tz="UTC")


def test_aware_observed_at_is_converted_to_utc(f1_item):
    row = transforms.messages([f1_item], "UTC", pd.Timestamp("2021-09-05 09:00", tz="Asia/Almaty")).frame.iloc[0]
    assert row["observed_at"] == pd.Timestamp("2021-09-05 03:00", tz="UTC")


def test_transforms_do_not_mutate_their_input(f1_item, observed):
    before = repr(f1_item)
    transforms.messages([f1_item], "UTC", observed)
    transforms.campaigns([f1_item["campaign"]], "UTC", observed)
    assert repr(f1_item) == before
