from datetime import date

import pytest
from sql_fixtures import rows


def test_campaign_daily_metrics_buckets_by_utc_day_and_sums_clicks_once(warehouse):
    got = rows(warehouse, "select * from campaign_daily_metrics order by campaign_id, day_utc")
    expected = [
        # clicks only: a daily bucket older than the hourly detail, and an hourly bucket
        {"campaign_id": 1, "day_utc": date(2026, 8, 1), "status_updates": 0, "deliveries": 0,
         "partial_deliveries": 0, "failures": 0, "clicks": 5, "settled_delivery_rate": None},
        {"campaign_id": 1, "day_utc": date(2026, 9, 28), "status_updates": 0, "deliveries": 0,
         "partial_deliveries": 0, "failures": 0, "clicks": 4, "settled_delivery_rate": None},
        # 19:30Z is already the next day in Almaty: still 2026-10-01 in UTC
        {"campaign_id": 1, "day_utc": date(2026, 10, 1), "status_updates": 11, "deliveries": 4,
         "partial_deliveries": 1, "failures": 3, "clicks": 8, "settled_delivery_rate": pytest.approx(4 / 7)},
        {"campaign_id": 1, "day_utc": date(2026, 10, 2), "status_updates": 1, "deliveries": 0,
         "partial_deliveries": 0, "failures": 1, "clicks": 3, "settled_delivery_rate": 0.0},
        {"campaign_id": 3, "day_utc": date(2026, 10, 1), "status_updates": 2, "deliveries": 0,
         "partial_deliveries": 0, "failures": 1, "clicks": 0, "settled_delivery_rate": 0.0},
        {"campaign_id": 4, "day_utc": date(2026, 10, 3), "status_updates": 2, "deliveries": 0,
         "partial_deliveries": 2, "failures": 0, "clicks": 0, "settled_delivery_rate": None},
    ]
    assert got == expected


def test_daily_clicks_add_up_to_the_links_all_time_counters(warehouse):
    (daily,) = warehouse.execute("select sum(clicks) from campaign_daily_metrics where campaign_id = 1").fetchone()
    (total,) = warehouse.execute("select clicks from campaign_metrics where campaign_id = 1").fetchone()
    assert daily == total == 20


def test_messages_without_a_status_update_time_have_no_day(warehouse):
    (n,) = warehouse.execute("select sum(status_updates) from campaign_daily_metrics where campaign_id = 1").fetchone()
    assert n == 12  # 13 messages, the NEW one has no status_updated_at


def test_int_link_daily_clicks_takes_hourly_detail_and_only_the_rest_of_each_daily_bucket(warehouse):
    got = rows(warehouse, "select * from int_link_daily_clicks order by link_id, day_utc")
    assert got == [
        {"link_id": 1001, "day_utc": date(2026, 8, 1), "clicks": 5},
        {"link_id": 1001, "day_utc": date(2026, 9, 28), "clicks": 4},
        {"link_id": 1001, "day_utc": date(2026, 10, 1), "clicks": 6},
        {"link_id": 1001, "day_utc": date(2026, 10, 2), "clicks": 2},
        {"link_id": 1002, "day_utc": date(2026, 10, 1), "clicks": 2},  # daily 3 minus the hourly 1
        {"link_id": 1002, "day_utc": date(2026, 10, 2), "clicks": 1},
    ]


def test_campaign_daily_metrics_is_empty_on_an_empty_warehouse(empty_warehouse):
    assert rows(empty_warehouse, "select * from campaign_daily_metrics") == []
