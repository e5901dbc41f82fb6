from datetime import UTC, datetime

import duckdb
import pytest
from sql_fixtures import rows

from storage.schema import create_tables
from storage.views import SQL_DIR, apply_views, view_names

METRIC_VIEWS = {"campaign_metrics", "campaign_daily_metrics", "delivery_latency", "link_metrics",
                "sender_metrics", "operator_metrics", "reconciliation"}


def test_every_sql_file_is_a_view_named_after_its_file():
    assert sorted(view_names()) == sorted(p.stem for p in SQL_DIR.glob("*.sql"))
    assert METRIC_VIEWS <= set(view_names())


def test_views_are_ordered_staging_then_intermediate_then_metrics():
    names = view_names()
    layers = [0 if n.startswith("stg_") else 1 if n.startswith("int_") else 2 for n in names]
    assert layers == sorted(layers)


def test_every_view_file_states_its_grain_on_line_one():
    for path in SQL_DIR.glob("*.sql"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("-- one row"), path.name


def test_every_view_file_is_lower_case_sql_ending_in_select_from_final():
    for path in SQL_DIR.glob("*.sql"):
        text = path.read_text()
        assert text.strip().endswith("select * from final"), path.name
        assert "SELECT" not in text and " FROM " not in text, path.name


def test_staging_views_read_only_base_tables():
    stg = [n for n in view_names() if n.startswith("stg_")]
    for name in stg:
        body = (SQL_DIR / f"{name}.sql").read_text()
        assert not any(other in body for other in view_names() if other != name), name


def test_apply_views_creates_every_view_on_empty_tables_and_is_idempotent():
    con = duckdb.connect()
    create_tables(con)
    assert apply_views(con) == view_names()
    apply_views(con)  # create or replace
    created = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    assert created == set(view_names())
    for name in view_names():
        con.execute(f"select * from {name}").fetchall()


def test_a_view_referencing_a_later_layer_is_rejected(tmp_path):
    (tmp_path / "stg_a.sql").write_text("-- one row per a\nselect * from campaign_metrics\n")
    (tmp_path / "campaign_metrics.sql").write_text("-- one row per campaign\nselect 1 as x\n")
    with pytest.raises(ValueError, match="later layer"):
        view_names(tmp_path)


def test_dependencies_within_a_layer_are_created_first(tmp_path):
    (tmp_path / "int_a.sql").write_text("-- one row\nselect * from int_b\n")
    (tmp_path / "int_b.sql").write_text("-- one row\nselect 1 as x\n")
    (tmp_path / "report.sql").write_text("-- one row\nselect * from int_a -- int_c is only a comment\n")
    assert view_names(tmp_path) == ["int_b", "int_a", "report"]
    con = duckdb.connect()
    apply_views(con, tmp_path)
    assert con.execute("select x from report").fetchall() == [(1,)]


def test_a_cycle_between_views_is_rejected(tmp_path):
    (tmp_path / "int_a.sql").write_text("-- one row\nselect * from int_b\n")
    (tmp_path / "int_b.sql").write_text("-- one row\nselect * from int_a\n")
    with pytest.raises(ValueError, match="cycle"):
        view_names(tmp_path)


def test_staging_messages_map_a_null_status_to_unknown_and_give_the_utc_day(empty_warehouse):
    from sql_fixtures import _msg, load_tables, utc
    load_tables(empty_warehouse, {"messages": [
        _msg(1, 1, None, updated=utc(2026, 10, 1, 23, 30)),  # 2026-10-02 04:30 in the Almaty session
    ]})
    (row,) = rows(empty_warehouse, "select status, status_updated_day_utc from stg_messages")
    assert row["status"] == "UNKNOWN"
    assert str(row["status_updated_day_utc"]) == "2026-10-01"
    (m,) = rows(empty_warehouse, "select status_group from int_messages")
    assert m["status_group"] == "unknown"


def test_staging_views_keep_one_row_per_base_row(warehouse):
    for view, table in [("stg_campaigns", "campaigns"), ("stg_messages", "messages"), ("stg_links", "links"),
                        ("stg_link_click_stats", "link_click_stats"), ("stg_sync_runs", "sync_runs"),
                        ("stg_campaign_counters", "campaign_counters"), ("int_messages", "messages")]:
        (a,) = warehouse.execute(f"select count(*) from {view}").fetchone()
        (b,) = warehouse.execute(f"select count(*) from {table}").fetchone()
        assert a == b, view


def test_stg_link_click_stats_gives_each_bucket_its_end(warehouse):
    got = rows(warehouse, "select distinct period_type, period_end - period_start as length"
                          " from stg_link_click_stats where period_type <> 'monthly' order by 1")
    assert [(r["period_type"], str(r["length"])) for r in got] == [
        ("daily", "1 day, 0:00:00"), ("hourly", "1:00:00"), ("minute", "0:01:00"),
    ]
    (end,) = warehouse.execute("select period_end from stg_link_click_stats where period_type = 'monthly'"
                               " and period_start = '2026-07-31 19:00:00+00'").fetchone()
    assert end.astimezone(UTC) == datetime(2026, 8, 31, 19, tzinfo=UTC)


def test_intermediate_campaign_views_have_one_row_per_campaign(warehouse):
    assert rows(warehouse, "select campaign_id, links_total, clicks from int_campaign_clicks") == [
        {"campaign_id": 1, "links_total": 2, "clicks": 20}
    ]
    counts = rows(warehouse, "select campaign_id, messages_total from int_campaign_status_counts order by 1")
    assert counts == [{"campaign_id": 1, "messages_total": 13}, {"campaign_id": 3, "messages_total": 2},
                      {"campaign_id": 4, "messages_total": 2}]
    latency = rows(warehouse, "select campaign_id from int_campaign_latency order by 1")
    assert [r["campaign_id"] for r in latency] == [1, 3, 4]
