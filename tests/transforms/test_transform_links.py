"""Link/GetLinks, Link/List and Link/GetStats items -> `links` and `link_click_stats` rows."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


import pandas as pd
import pytest

import transforms
from transforms import COLUMNS

# GetLinks: shape from the docs (synthetic); Link/List: the captured item (API.md 10.1) carries redirectCnt too.
GETLINKS = [{"id": "4165", "code": "ceB", "fullLink": "https://example.com/a", "shortLink": "http://mbzn.co/ceB",
             "clickCnt": "12", "redirectCnt": "10", "comment": ""}]
LINKLIST = [{"id": "4166", "status": "1", "moderatorStatus": "1", "clickCnt": "3", "createTs": "2021-09-04 13:00:00",
             "expirationDate": None, "code": "ceC", "fullLink": "https://example.com/b",
             "shortLink": "http://mbzn.co/ceC", "comment": "promo", "moderatorComment": None, "domain": "mbzn.co",
             "partnerId": "8", "userId": "88296", "isTmp": "0", "isCustom": "0", "domainId": "1", "redirectCnt": "2",
             "deletedTs": None, "updateTs": "2021-09-04 13:05:00", "realExpirationDate": None, "analyticsKey": None}]
# Link/GetStats as captured from the live API (API.md 5.9, source CAP): a period-major grid, N = position of
# the link in the ids sent; non-zero counts as strings, zeros as numbers, null and "" meaning 0.
CAPTURED_MONTHLY = {
    "items": [{"param": "2025-09", "clicks0": 0, "redirects0": 0, "clicks1": 0, "redirects1": 0},
              {"param": "2025-10", "clicks0": "1", "redirects0": "1", "clicks1": 0, "redirects1": 0},
              {"param": "2025-11", "clicks0": 0, "redirects0": 0, "clicks1": 0, "redirects1": 0}],
    "totals": {"totalClicks0": 1, "totalRedirects0": 1, "totalClicks1": 0, "totalRedirects1": 0}}


def _grid(rows, totals=None):
    return {"items": rows, "totals": {} if totals is None else totals}


def test_getlinks_items_take_the_given_campaign(observed):
    result = transforms.links(GETLINKS, 399768, observed)
    row = result.frame.iloc[0]
    assert list(result.frame.columns) == COLUMNS["links"]
    assert (row["link_id"], row["campaign_id"], row["click_count"], row["redirect_count"]) == (4165, 399768, 12, 10)
    assert row["short_link"] == "http://mbzn.co/ceB" and pd.isna(row["comment"]) and pd.isna(row["status"])


def test_several_calls_items_take_each_its_own_campaign_and_junk_is_counted(observed):
    items = [*GETLINKS, "junk", {**GETLINKS[0], "id": "4170"}, {**GETLINKS[0], "id": "4171"}]
    result = transforms.links(items, [399768, 399768, 399769, None], observed)
    assert result.frame["link_id"].tolist() == [4165, 4170, 4171]
    assert result.frame["campaign_id"].tolist() == [399768, 399769, pd.NA] and result.unexpected == 1
    with pytest.raises(ValueError):  # one campaign an item, or none
        transforms.links(items, [399768], observed)


def test_link_list_items_have_a_null_campaign(observed):
    row = transforms.links(LINKLIST, None, observed).frame.iloc[0]
    assert pd.isna(row["campaign_id"]) and row["status"] == 1 and row["comment"] == "promo"
    assert (row["click_count"], row["redirect_count"]) == (3, 2)


def test_a_captured_monthly_grid_gives_one_row_per_period_per_link_sent(observed):
    result = transforms.link_click_stats(CAPTURED_MONTHLY, ["4165", "4166"], "monthly", "Asia/Almaty", observed)
    frame = result.frame
    assert list(frame.columns) == COLUMNS["link_click_stats"]
    assert result.unexpected == 0
    assert len(frame) == 6  # 3 periods x 2 links, empty periods included
    first = frame[frame["link_id"] == 4165].sort_values("period_start")
    assert first["click_count"].tolist() == [0, 1, 0] and first["redirect_count"].tolist() == [0, 1, 0]
    # a monthly label is the month's first midnight in the account's zone (UTC+5)
    assert first["period_start"].tolist()[1] == pd.Timestamp("2025-09-30 19:00", tz="UTC")
    assert first["period_end"].tolist()[1] == pd.Timestamp("2025-10-31 19:00", tz="UTC")
    assert frame[frame["link_id"] == 4166]["click_count"].sum() == 0


def test_grid_columns_map_back_to_the_ids_in_the_order_they_were_sent(observed):
    grid = _grid([{"param": "2026-11-01", "clicks0": "7", "clicks1": "3", "clicks2": 0}])
    frame = transforms.link_click_stats(grid, [30, 10, 20], "daily", "UTC", observed).frame
    assert dict(zip(frame["link_id"], frame["click_count"])) == {30: 7, 10: 3, 20: 0}


def test_mixed_numbers_strings_nulls_and_empty_strings_read_as_counts(observed):
    grid = _grid([{"param": "2026-11-01", "clicks0": 5, "redirects0": "4"},
                  {"param": "2026-11-02", "clicks0": None, "redirects0": ""},
                  {"param": "2026-11-03", "clicks0": "12", "redirects0": None}])
    result = transforms.link_click_stats(grid, ["9"], "daily", "UTC", observed)
    assert result.frame["click_count"].tolist() == [5, 0, 12]
    assert result.frame["redirect_count"].tolist() == [4, 0, 0]
    assert result.unexpected == 0


def test_a_grid_of_numbers_only_reads_as_counts_and_a_number_beyond_int64_is_null_and_counted(observed):
    """Numbers only (a grid without clicks: the capture sends zeros as numbers) take a path that skips text: it
    must agree with the mixed one."""
    grid = _grid([{"param": "2026-11-01", "clicks0": 5, "redirects0": 0, "clicks1": 2**63 - 1, "redirects1": 1},
                  {"param": "2026-11-02", "clicks0": 0, "redirects0": 3, "clicks1": 7, "redirects1": 0}])
    result = transforms.link_click_stats(grid, [1, 2], "daily", "UTC", observed)
    assert str(result.frame["click_count"].dtype) == "Int64" and result.unexpected == 0
    assert result.frame["click_count"].tolist() == [5, 0, 2**63 - 1, 7]
    assert result.frame["redirect_count"].tolist() == [0, 3, 1, 0]
    grid["items"][1]["redirects1"] = True  # not a count: a bool is no number here
    result = transforms.link_click_stats(grid, [1, 2], "daily", "UTC", observed)
    assert pd.isna(result.frame["redirect_count"].iloc[3]) and result.unexpected == 1
    grid["items"][1]["redirects1"] = 0
    grid["items"][0]["clicks0"] = 2**63
    result = transforms.link_click_stats(grid, [1, 2], "daily", "UTC", observed)
    clicks = result.frame["click_count"].tolist()
    assert pd.isna(clicks[0]) and clicks[1:] == [0, 2**63 - 1, 7] and result.unexpected == 1


def test_a_count_that_is_not_a_whole_number_is_kept_null_and_counted(observed):
    grid = _grid([{"param": "2026-11-01", "clicks0": "x", "redirects0": 0}])
    result = transforms.link_click_stats(grid, ["9"], "daily", "UTC", observed)
    assert pd.isna(result.frame["click_count"].iloc[0]) and result.unexpected == 1


def test_five_ids_of_which_some_are_unknown_give_rows_for_the_positions_answered(observed):
    """Unknown ids: the gateway may answer zeros at their positions or leave their columns out; both work."""
    grid = _grid([{"param": "2026-11-01 10:00", "clicks0": "2", "redirects0": "2", "clicks1": 0, "redirects1": 0,
                   "clicks3": "1", "redirects3": 0},
                  {"param": "2026-11-01 11:00", "clicks0": 0, "redirects0": 0, "clicks1": 0, "redirects1": 0,
                   "clicks3": 0, "redirects3": 0}], totals=[])
    result = transforms.link_click_stats(grid, [1, 2, 3, 4, 5], "hourly", "UTC", observed)
    assert sorted(set(result.frame["link_id"])) == [1, 2, 4]
    assert result.frame.groupby("link_id")["click_count"].sum().to_dict() == {1: 2, 2: 0, 4: 1}
    assert result.unexpected == 0


def test_a_column_beyond_the_ids_sent_is_unexpected_in_each_row_it_appears(observed):
    grid = _grid([{"param": "2026-11-01", "clicks0": "1", "clicks5": "9"}])
    result = transforms.link_click_stats(grid, [1], "daily", "UTC", observed)
    assert result.frame["link_id"].tolist() == [1] and result.unexpected == 1
    grid = _grid([{"param": "2026-11-01", "clicks0": "1", "clicks5": "9"}, {"param": "2026-11-02", "clicks5": 0},
                  {"param": "2026-11-03", "clicks0": 2}])
    result = transforms.link_click_stats(grid, [1], "daily", "UTC", observed)
    assert result.frame["click_count"].tolist() == [1, 0, 2] and result.unexpected == 2


@pytest.mark.parametrize("label", ["2026-11-01 10", "2026-11-01 10:00", "2026-11-01 10:00:00"])
def test_each_intraday_label_form_the_reference_lists_is_the_period_start(observed, label):
    for period_type in ("hourly", "minute"):
        frame = transforms.link_click_stats(_grid([{"param": label, "clicks0": "1"}]), [1], period_type,
                                            "Asia/Almaty", observed).frame
        assert frame["period_start"].tolist() == [pd.Timestamp("2026-11-01 05:00", tz="UTC")]


@pytest.mark.parametrize("period_type,label", [("daily", "2026-11-01 10:00"), ("monthly", "2026-11-01"),
                                               ("hourly", "01.11.2026 10:00"), ("minute", "yesterday"),
                                               ("daily", None), ("daily", "")])
def test_a_label_not_of_the_types_form_is_counted_and_left_out_never_a_crash(observed, period_type, label):
    grid = _grid([{"param": label, "clicks0": "3"}, {"param": "2026-11-01 00:00" if period_type != "daily"
                                                     else "2026-11-02", "clicks0": "1"}])
    if period_type == "monthly":
        grid["items"][1]["param"] = "2026-11"
    result = transforms.link_click_stats(grid, [1], period_type, "UTC", observed)
    assert len(result.frame) == 1 and result.unexpected == 1


def test_an_empty_grid_with_an_empty_totals_gives_no_rows(observed):
    for data in ({"items": [], "totals": []}, {"items": [], "totals": {}}, {}, None, []):
        result = transforms.link_click_stats(data, [1, 2], "daily", "UTC", observed)
        assert len(result.frame) == 0 and result.unexpected == 0


def test_a_repeated_hour_of_a_dst_fall_back_reads_in_the_order_the_gateway_listed_it(observed):
    """Europe/Kyiv, 2026-10-25: 04:00 summer time becomes 03:00 winter time, so the label 03:00 comes twice."""
    grid = _grid([{"param": f"2026-10-25 {h}", "clicks0": str(n)}
                  for h, n in (("02:00", 1), ("03:00", 2), ("03:00", 3), ("04:00", 4))])
    frame = transforms.link_click_stats(grid, [1], "hourly", "Europe/Kyiv", observed).frame
    starts = frame["period_start"].tolist()
    assert starts == [pd.Timestamp(f"2026-10-24 {h}:00", tz="UTC") for h in ("23",)] + [
        pd.Timestamp(f"2026-10-25 {h}:00", tz="UTC") for h in ("00", "01", "02")]
    assert frame["click_count"].tolist() == [1, 2, 3, 4]


def test_a_25_hour_local_day_ends_at_the_next_local_midnight(observed):
    frame = transforms.link_click_stats(_grid([{"param": "2026-10-25", "clicks0": "1"}]), [1], "daily",
                                        "Europe/Kyiv", observed).frame
    assert (frame["period_end"] - frame["period_start"]).tolist() == [pd.Timedelta(hours=25)]


def test_unknown_period_type_is_refused(observed):
    with pytest.raises(ValueError):
        transforms.link_click_stats(CAPTURED_MONTHLY, [1, 2], "weekly", "UTC", observed)


def test_empty_link_inputs_give_empty_typed_frames(observed):
    assert list(transforms.links([], None, observed).frame.dtypes.astype(str)) == list(
        transforms.links(GETLINKS, 1, observed).frame.dtypes.astype(str))
    empty = transforms.link_click_stats({"items": [], "totals": []}, [1], "daily", "UTC", observed).frame
    assert len(empty) == 0 and str(empty["period_start"].dtype) == "datetime64[us, UTC]"
