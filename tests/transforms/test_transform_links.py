"""Link/GetLinks, Link/List and Link/GetStats items -> `links` and `link_click_stats` rows."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


import pandas as pd
import pytest

import transforms
from transforms import COLUMNS

# Shapes from docs/design.md (the reference has no real sample): synthetic.
GETLINKS = [{"id": "4165", "code": "ceB", "fullLink": "https://example.com/a", "shortLink": "http://mbzn.co/ceB",
             "clickCnt": "12", "redirectCnt": "10", "comment": ""}]
LINKLIST = [{"id": "4166", "status": "1", "moderatorStatus": "1", "clickCnt": "3", "createTs": "2021-09-04 13:00:00",
             "expirationDate": None, "code": "ceC", "fullLink": "https://example.com/b",
             "shortLink": "http://mbzn.co/ceC", "comment": "promo", "moderatorComment": None}]
STATS = [{"linkId": "4165", "date": "2021-09-04 13:00:00", "clickCnt": "4"},
         {"linkId": "4165", "date": "2021-09-04 14:00:00", "clickCnt": "x"}]


def test_getlinks_items_take_the_given_campaign(observed):
    result = transforms.links(GETLINKS, 399768, observed)
    row = result.frame.iloc[0]
    assert list(result.frame.columns) == COLUMNS["links"]
    assert (row["link_id"], row["campaign_id"], row["click_count"], row["redirect_count"]) == (4165, 399768, 12, 10)
    assert row["short_link"] == "http://mbzn.co/ceB" and pd.isna(row["comment"]) and pd.isna(row["status"])


def test_link_list_items_have_a_null_campaign(observed):
    row = transforms.links(LINKLIST, None, observed).frame.iloc[0]
    assert pd.isna(row["campaign_id"]) and row["status"] == 1 and row["comment"] == "promo"


def test_click_stats_are_typed_and_bad_counts_counted(observed):
    result = transforms.link_click_stats(STATS, "hourly", "Asia/Almaty", observed)
    frame = result.frame
    assert list(frame.columns) == COLUMNS["link_click_stats"]
    assert frame["period_start"].tolist() == [pd.Timestamp("2021-09-04 07:00", tz="UTC"),
                                              pd.Timestamp("2021-09-04 08:00", tz="UTC")]
    assert frame["click_count"].tolist()[0] == 4 and pd.isna(frame["click_count"].iloc[1])
    assert (frame["period_type"] == "hourly").all()
    assert result.unexpected == 1


def test_unknown_period_type_is_refused(observed):
    with pytest.raises(ValueError):
        transforms.link_click_stats(STATS, "weekly", "UTC", observed)


def test_empty_link_inputs_give_empty_typed_frames(observed):
    assert list(transforms.links([], None, observed).frame.dtypes.astype(str)) == list(
        transforms.links(GETLINKS, 1, observed).frame.dtypes.astype(str))
    empty = transforms.link_click_stats([], "daily", "UTC", observed).frame
    assert len(empty) == 0 and str(empty["period_start"].dtype) == "datetime64[us, UTC]"
