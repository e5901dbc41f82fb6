"""Message/List and Message/GetSMSStatus items -> typed rows."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


from decimal import Decimal

import pandas as pd
import pyarrow as pa

import transforms
from transforms import COLUMNS

ALMATY = "Asia/Almaty"


def test_f1_message_becomes_one_typed_row(f1_item, observed):
    result = transforms.messages([f1_item], ALMATY, observed)
    row = result.frame.iloc[0]
    assert result.unexpected == 0
    assert list(result.frame.columns) == COLUMNS["messages"]
    assert row["message_id"] == 11111
    assert row["campaign_id"] == 333333333
    assert row["sender"] == "N-666666"
    assert row["recipient"] == "5511941439844"
    assert row["segments"] == 1
    assert row["segment_price"] == Decimal("0.0600")
    assert row["cost"] == Decimal("0.0600")
    assert row["status"] == "DELIVRD" and row["status_raw"] == "DELIVRD"
    assert bool(row["is_final"]) and not bool(row["is_unexpected"])
    assert pd.isna(row["country_a2"]) and pd.isna(row["operator_name"])
    assert row["uuid"] == "bb1a64f6-0017-1a8a-9fa7-xxxxxxxxxxx"
    assert row["first_observed_at"] == observed and row["observed_at"] == observed


def test_message_dtypes_are_typed(f1_item, observed):
    dtypes = transforms.messages([f1_item], ALMATY, observed).frame.dtypes.astype(str).to_dict()
    assert dtypes["message_id"] == "Int64"
    assert dtypes["segments"] == "Int32"
    assert dtypes["segment_price"] == dtypes["cost"] == "decimal128(18, 4)[pyarrow]"
    assert dtypes["send_started_at"] == dtypes["status_updated_at"] == "datetime64[us, UTC]"
    assert dtypes["is_final"] == "boolean"


def test_almaty_local_time_is_converted_to_utc(f1_item, observed):
    row = transforms.messages([f1_item], ALMATY, observed).frame.iloc[0]
    # Asia/Almaty was UTC+6 in 2021
    assert row["send_started_at"] == pd.Timestamp("2021-09-04 07:31:12", tz="UTC")
    assert row["status_updated_at"] == pd.Timestamp("2021-09-04 07:31:19", tz="UTC")


def test_cost_is_segments_times_price_exactly(f1_item, observed):
    f1_item.update(segNum="3", segUserBuy="0.0600")
    row = transforms.messages([f1_item], ALMATY, observed).frame.iloc[0]
    assert row["cost"] == Decimal("0.1800")
    assert str(row["cost"]) == "0.1800"


def test_money_is_parsed_without_a_float_round_trip(f1_item, observed):
    f1_item.update(segNum="1", segUserBuy="12345678901234.1234")
    row = transforms.messages([f1_item], ALMATY, observed).frame.iloc[0]
    assert row["segment_price"] == Decimal("12345678901234.1234")


def test_unknown_status_is_mapped_to_unknown_kept_raw_flagged_and_counted(f1_item, observed):
    f1_item["status"] = "QUEUED_X"
    result = transforms.messages([f1_item], ALMATY, observed)
    row = result.frame.iloc[0]
    assert row["status"] == "UNKNOWN"
    assert row["status_raw"] == "QUEUED_X"
    assert bool(row["is_unexpected"]) and not bool(row["is_final"])
    assert result.unexpected == 1


def test_pdlivrd_is_not_final_and_expired_is(f1_item, observed):
    a, b = dict(f1_item, id="1", status="PDLIVRD"), dict(f1_item, id="2", status="EXPIRED")
    frame = transforms.messages([a, b], ALMATY, observed).frame
    assert frame["is_final"].tolist() == [False, True]


def test_non_numeric_segment_count_is_null_and_counted(f1_item, observed):
    f1_item["segNum"] = "two"
    result = transforms.messages([f1_item], ALMATY, observed)
    row = result.frame.iloc[0]
    assert pd.isna(row["segments"]) and pd.isna(row["cost"])
    assert result.unexpected == 1


def test_null_and_blank_timestamps_are_nat_not_unexpected_and_blanks_counted_apart(f1_item, observed):
    items = [dict(f1_item, id="1", startSendTs=None, statusUpdateTs=""),
             dict(f1_item, id="2", startSendTs=" ", statusUpdateTs="   "),
             dict(f1_item, id="3", startSendTs="\t", statusUpdateTs="0000-00-00 00:00:00")]
    result = transforms.messages(items, ALMATY, observed)
    assert result.frame["send_started_at"].isna().all()
    assert result.frame["status_updated_at"].isna().all()
    assert result.blank_timestamps == 4  # null is the reference's unset; blank strings are bad input
    assert result.unexpected == 1  # a zero date is not a time: unparseable (the reference never mentions it)
    statuses = transforms.message_statuses([{"id": "1", "status": "DELIVRD", "statusUpdateTs": " "}], ALMATY,
                                           observed)
    assert (statuses.blank_timestamps, statuses.unexpected) == (1, 0)
    campaigns = transforms.campaigns([{"id": "5", "type": "2", "createTs": "", "counters": {"updateTs": " "}}],
                                     ALMATY, observed)
    assert (campaigns.blank_timestamps, campaigns.unexpected) == (2, 0)


def test_malformed_timestamp_is_nat_and_counted(f1_item, observed):
    f1_item["statusUpdateTs"] = "2021-09-04 13-31-19"
    result = transforms.messages([f1_item], ALMATY, observed)
    assert pd.isna(result.frame.iloc[0]["status_updated_at"])
    assert result.unexpected == 1


def test_numbers_sent_as_json_ints_are_accepted(f1_item, observed):
    f1_item.update(id=42, campaignId=7, segNum=2)
    row = transforms.messages([f1_item], ALMATY, observed).frame.iloc[0]
    assert (row["message_id"], row["campaign_id"], row["segments"]) == (42, 7, 2)


def test_extra_fields_are_ignored(f1_item, observed):
    f1_item.update(brandNewField={"nested": [1, 2]}, anotherOne=3.5)
    result = transforms.messages([f1_item], ALMATY, observed)
    assert list(result.frame.columns) == COLUMNS["messages"]
    assert result.unexpected == 0


def test_message_without_an_id_is_dropped_and_counted_whether_malformed_or_missing(f1_item, observed):
    items = [dict(f1_item, id="1"), dict(f1_item, id="x"), dict(f1_item, id=None)]
    result = transforms.messages(items, ALMATY, observed)
    assert result.frame["message_id"].tolist() == [1]
    assert result.unexpected == 2  # a dropped row is never silent


def test_empty_message_list_gives_empty_typed_frame(f1_item, observed):
    empty = transforms.messages([], ALMATY, observed).frame
    full = transforms.messages([f1_item], ALMATY, observed).frame
    assert len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()


def test_f2_status_row_is_typed(f2_items, observed):
    result = transforms.message_statuses(f2_items, ALMATY, observed)
    row = result.frame.iloc[0]
    assert list(result.frame.columns) == COLUMNS["message_statuses"]
    assert (row["message_id"], row["status"], row["segments"]) == (123, "DELIVRD", 1)
    assert row["send_started_at"] == pd.Timestamp("2021-09-04 07:28:29", tz="UTC")
    assert row["status_updated_at"] == pd.Timestamp("2021-09-04 07:28:35", tz="UTC")
    assert bool(row["is_final"]) and result.unexpected == 0


def test_2016_status_row_without_timestamps_is_tolerated(f2_2016_items, observed):
    result = transforms.message_statuses(f2_2016_items, ALMATY, observed)
    row = result.frame.iloc[0]
    assert (row["message_id"], row["status"]) == (6300284, "ACCEPTD")
    assert not bool(row["is_final"])
    assert pd.isna(row["send_started_at"]) and pd.isna(row["status_updated_at"])
    assert result.unexpected == 0


def test_empty_status_list_gives_empty_typed_frame(f2_items, observed):
    empty = transforms.message_statuses([], ALMATY, observed).frame
    full = transforms.message_statuses(f2_items, ALMATY, observed).frame
    assert len(empty) == 0 and list(empty.columns) == COLUMNS["message_statuses"]
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()


def test_an_ambiguous_report_time_is_ordered_after_the_send_start_across_a_fall_back(observed):
    """Europe/Kyiv, 2026-10-25 04:00 summer -> 03:00 winter: sent 03:50 (summer), delivered 20 minutes later,
    at the second 03:10 (winter). The wire alone reads 03:10 as the first one, before the send."""
    item = {"id": "1", "campaignId": "2", "status": "DELIVRD", "startSendTs": "2026-10-25 03:50:00",
            "statusUpdateTs": "2026-10-25 03:10:00"}
    for frame in (transforms.messages([item], "Europe/Kyiv", observed).frame,
                  transforms.message_statuses([item], "Europe/Kyiv", observed).frame):
        row = frame.iloc[0]
        assert row["status_updated_at"] - row["send_started_at"] == pd.Timedelta(minutes=20)


def test_an_ambiguous_time_after_the_send_start_keeps_its_first_reading(observed):
    item = {"id": "1", "campaignId": "2", "status": "DELIVRD", "startSendTs": "2026-10-25 03:05:00",
            "statusUpdateTs": "2026-10-25 03:10:00"}
    row = transforms.messages([item], "Europe/Kyiv", observed).frame.iloc[0]
    assert row["status_updated_at"] == pd.Timestamp("2026-10-25 00:10", tz="UTC")


def test_columns_gathered_page_by_page_give_the_rows_and_counts_the_items_give(f1_item, f2_items, observed):
    second = {**f1_item, "id": "11112", "status": "NOSUCH", "segNum": "x"}
    pages = [[f1_item, "not an object"], [second, {**f1_item, "id": None}], []]
    gathered = transforms.Columns(transforms.MESSAGE_KEYS)
    for page in pages:
        gathered.extend(page)
    assert len(gathered) == 4 and gathered.skipped == 1
    from_items = transforms.messages([it for page in pages for it in page], ALMATY, observed)
    from_columns = transforms.messages(gathered, ALMATY, observed)
    pd.testing.assert_frame_equal(from_columns.frame, from_items.frame)
    assert (from_columns.unexpected, from_columns.blank_timestamps) == (from_items.unexpected,
                                                                        from_items.blank_timestamps)
    assert from_items.unexpected == 4  # the non-object, the unknown status, the bad segments, the missing id
    statuses = transforms.Columns(transforms.STATUS_KEYS)
    statuses.extend(f2_items)
    pd.testing.assert_frame_equal(transforms.message_statuses(statuses, ALMATY, observed).frame,
                                  transforms.message_statuses(f2_items, ALMATY, observed).frame)


def test_columns_from_pages_read_by_column_and_pages_of_dicts_give_the_rows_the_items_give(f1_item, observed):
    """`extend_columns` (a page the client decoded into Arrow strings) and `extend` (a page of dicts, with a
    number and a blank where strings belong) mix in one batch without changing a row or a count."""
    strings = pa.struct([(key, pa.string()) for key in transforms.MESSAGE_KEYS])
    by_column = [{**f1_item, "id": str(11200 + i), "startSendTs": " " if i == 1 else f1_item["startSendTs"]}
                 for i in range(3)]
    as_dicts = [{**f1_item, "id": 11300, "segNum": 2}, {**f1_item, "id": "11301", "status": "NOSUCH"}]
    gathered = transforms.Columns(transforms.MESSAGE_KEYS)
    gathered.extend_columns(pa.array([{k: it.get(k) for k in transforms.MESSAGE_KEYS} for it in by_column[:2]],
                                     type=strings))
    gathered.extend(as_dicts)
    gathered.extend_columns(pa.array([{k: by_column[2].get(k) for k in transforms.MESSAGE_KEYS}], type=strings))
    assert len(gathered) == 5
    from_items = transforms.messages([*by_column[:2], *as_dicts, by_column[2]], ALMATY, observed)
    from_columns = transforms.messages(gathered, ALMATY, observed)
    pd.testing.assert_frame_equal(from_columns.frame, from_items.frame)
    assert (from_columns.unexpected, from_columns.blank_timestamps) == (from_items.unexpected, 1)
    assert from_columns.frame["segments"].tolist()[2] == 2
