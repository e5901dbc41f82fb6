"""Campaign/List, Get, GetInfo items -> `campaigns` and `campaign_counters` rows."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


from decimal import Decimal

import pandas as pd

import transforms
from transforms import COLUMNS

ALMATY = "Asia/Almaty"
STATUSES = ["NEW", "ENQUEUD", "ACCEPTD", "PDLIVRD", "DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"]


def test_f1_campaign_becomes_one_typed_row(f1_campaign, observed):
    result = transforms.campaigns([f1_campaign], ALMATY, observed)
    row = result.frame.iloc[0]
    assert list(result.frame.columns) == COLUMNS["campaigns"]
    assert result.unexpected == 0
    assert (row["campaign_id"], row["campaign_type"], row["type_code"]) == (399768, "single", 1)
    assert row["sender"] == "SMS" and row["text"] == "Mobizon SMS API" and pd.isna(row["name"])
    assert (row["common_status"], row["moderation_status"], row["send_status"]) == ("DONE", "READY_FOR_SEND", "DONE")
    assert row["creation_way"] == 1
    assert row["created_at"] == pd.Timestamp("2021-09-04 07:31:11", tz="UTC")
    assert row["send_ended_at"] == pd.Timestamp("2021-09-04 07:31:19", tz="UTC")
    assert pd.isna(row["deferred_to"])
    assert row["counters_updated_at"] == pd.Timestamp("2021-09-04 07:31:29", tz="UTC")
    assert (row["total_msg_count"], row["total_seg_count"], row["total_cost"]) == (1, 1, Decimal("0.0600"))
    assert row["currency"] == "BRL"  # campaign currency is null: falls back to counters.userCurrency


def test_validity_and_tracking_are_read_from_extra(f1_campaign, observed):
    row = transforms.campaigns([f1_campaign], ALMATY, observed).frame.iloc[0]
    assert row["validity_minutes"] == 1440
    assert not bool(row["track_short_link_recipients"])


def test_validity_and_tracking_are_read_top_level_first(f1_campaign, observed):
    f1_campaign.update(validity="60", trackShortLinkRecipients="1", isDeleted="0")
    row = transforms.campaigns([f1_campaign], ALMATY, observed).frame.iloc[0]
    assert row["validity_minutes"] == 60
    assert bool(row["track_short_link_recipients"]) and not bool(row["is_deleted"])


def test_campaign_types_map_to_names(f1_campaign, observed):
    items = [dict(f1_campaign, id=str(i), type=t) for i, t in enumerate(["1", "2", "3", "7"], start=1)]
    result = transforms.campaigns(items, ALMATY, observed)
    assert result.frame["campaign_type"].tolist() == ["single", "mass", "template", "functional"]
    assert result.unexpected == 0


def test_unknown_campaign_type_keeps_its_digits_and_is_counted(f1_campaign, observed):
    f1_campaign["type"] = "9"
    result = transforms.campaigns([f1_campaign], ALMATY, observed)
    row = result.frame.iloc[0]
    assert (row["campaign_type"], row["type_code"]) == ("9", 9)
    assert result.unexpected == 1


def test_campaign_without_counters_has_null_totals(f1_campaign, observed):
    del f1_campaign["counters"]
    row = transforms.campaigns([f1_campaign], ALMATY, observed).frame.iloc[0]
    assert pd.isna(row["total_msg_count"]) and pd.isna(row["total_cost"]) and pd.isna(row["currency"])


def test_empty_campaign_list_gives_empty_typed_frame(f1_campaign, observed):
    empty = transforms.campaigns([], ALMATY, observed).frame
    full = transforms.campaigns([f1_campaign], ALMATY, observed).frame
    assert len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()


def test_getinfo_counters_become_one_row_per_status(f1_campaign, observed):
    result = transforms.campaign_counters([f1_campaign], observed)
    frame = result.frame
    assert list(frame.columns) == COLUMNS["campaign_counters"]
    assert frame["status"].tolist() == STATUSES
    assert (frame["campaign_id"] == 399768).all()
    delivered = frame.set_index("status").loc["DELIVRD"]
    assert (delivered["msg_count"], delivered["seg_count"], delivered["cost"]) == (1, 1, Decimal("0.0600"))
    assert frame["msg_count"].sum() == 1
    assert result.unexpected == 0


def test_missing_counter_keys_read_as_zero(f1_campaign, observed):
    del f1_campaign["counters"]["totalEnqueudMsgNum"]
    row = transforms.campaign_counters([f1_campaign], observed).frame.set_index("status").loc["ENQUEUD"]
    assert row["msg_count"] == 0


def test_campaign_without_counters_gives_no_counter_rows(f1_campaign, observed):
    other = dict(f1_campaign, id="2")
    del other["counters"]
    frame = transforms.campaign_counters([f1_campaign, other], observed).frame
    assert set(frame["campaign_id"]) == {399768} and len(frame) == 10


def test_non_numeric_counter_is_null_and_counted(f1_campaign, observed):
    f1_campaign["counters"]["totalDelivrdMsgNum"] = "lots"
    result = transforms.campaign_counters([f1_campaign], observed)
    assert pd.isna(result.frame.set_index("status").loc["DELIVRD", "msg_count"])
    assert result.unexpected == 1


def test_counters_of_several_campaigns_are_grouped_by_campaign(f1_campaign, observed):
    other = dict(f1_campaign, id="5")
    frame = transforms.campaign_counters([f1_campaign, other], observed).frame
    assert frame["campaign_id"].tolist() == [5] * 10 + [399768] * 10


def test_empty_counters_input_gives_empty_typed_frame(f1_campaign, observed):
    empty = transforms.campaign_counters([], observed).frame
    full = transforms.campaign_counters([f1_campaign], observed).frame
    assert len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()
