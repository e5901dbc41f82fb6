from datetime import UTC, datetime

from sql_fixtures import LINK_CLICK_STATS, LINKS, _stat, load_tables, rows, utc

AS_OF = datetime(2026, 10, 2, 2, 0, tzinfo=UTC)


def test_link_windows_use_the_finest_covering_period_type_as_of_the_last_successful_sync(warehouse):
    got = rows(
        warehouse,
        "select link_id, as_of, clicks_last_2_hours, clicks_last_day, clicks_last_week, clicks_last_30_days,"
        " clicks_all_time from link_metrics order by link_id",
    )
    assert got == [
        # 2 h: minute buckets 01:10 and 01:50 (23:59 ends exactly at as_of - 2 h); day: hourly 19, 20, 23, 01;
        # week: + hourly 2026-09-28; 30 days: daily buckets from 2026-09-27 19:00Z on; all time: click counter
        {"link_id": 1001, "as_of": AS_OF, "clicks_last_2_hours": 2, "clicks_last_day": 8,
         "clicks_last_week": 12, "clicks_last_30_days": 12, "clicks_all_time": 17},
        {"link_id": 1002, "as_of": AS_OF, "clicks_last_2_hours": 0, "clicks_last_day": 1,
         "clicks_last_week": 1, "clicks_last_30_days": 3, "clicks_all_time": 3},
    ]


def test_a_failed_sync_run_does_not_move_the_as_of(warehouse):
    (as_of, source) = warehouse.execute("select as_of, as_of_source from int_sync_as_of").fetchone()
    assert (as_of, source) == (AS_OF, "sync_runs")


def test_without_a_successful_sync_the_as_of_is_the_latest_stats_observation(empty_warehouse):
    load_tables(empty_warehouse, {"links": LINKS, "link_click_stats": LINK_CLICK_STATS})
    (as_of, source) = empty_warehouse.execute("select as_of, as_of_source from int_sync_as_of").fetchone()
    assert (as_of, source) == (utc(2026, 10, 2, 2, 1), "link_click_stats")


def test_without_minute_stats_the_two_hour_window_falls_back_to_hourly_buckets(empty_warehouse):
    stats = [s for s in LINK_CLICK_STATS if s["period_type"] != "minute"]
    runs = [{"run_id": "r1", "as_of": AS_OF, "ended_at": AS_OF, "outcome": "Completed"}]
    load_tables(empty_warehouse, {"links": LINKS, "link_click_stats": stats, "sync_runs": runs})
    got = rows(empty_warehouse, "select link_id, clicks_last_2_hours from link_metrics order by link_id")
    # hourly buckets overlapping [00:00, 02:00): 2026-10-02 00:00 and 01:00
    assert got == [{"link_id": 1001, "clicks_last_2_hours": 2}, {"link_id": 1002, "clicks_last_2_hours": 1}]


def test_windows_are_null_when_no_stats_can_serve_them_but_all_time_is_known(empty_warehouse):
    load_tables(empty_warehouse, {"links": LINKS})
    (row,) = rows(empty_warehouse, "select * from link_metrics where link_id = 1001")
    assert row["clicks_last_2_hours"] is None and row["clicks_last_30_days"] is None
    assert row["clicks_all_time"] == 17


def test_a_link_without_buckets_in_a_window_has_zero_clicks_there(empty_warehouse):
    stats = [_stat(1001, "daily", utc(2026, 1, 1), 4)]
    load_tables(empty_warehouse, {"links": LINKS, "link_click_stats": stats})
    got = rows(empty_warehouse, "select link_id, clicks_last_30_days from link_metrics order by link_id")
    # as-of falls back to the stats' observation (2026-10-02): January is far outside 30 days
    assert got == [{"link_id": 1001, "clicks_last_30_days": 0}, {"link_id": 1002, "clicks_last_30_days": 0}]


def test_link_metrics_is_empty_on_an_empty_warehouse(empty_warehouse):
    assert rows(empty_warehouse, "select * from link_metrics") == []
