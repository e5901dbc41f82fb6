"""`to_arrow` output lands in the warehouse DDL unchanged."""

# ruff: noqa: F811, I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401


from decimal import Decimal

import duckdb
import pandas as pd
import pytest

import transforms
from storage.schema import WAREHOUSE_TABLES, create_tables
from transforms import ARROW_SCHEMAS, COLUMNS, to_arrow

ALMATY = "Asia/Almaty"


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    create_tables(con)
    yield con
    con.close()


def _insert(con, table: str, frame: pd.DataFrame):
    arrow_table = to_arrow(frame, table)  # noqa: F841  (read by duckdb's replacement scan)
    con.execute(f"insert into {table} select * from arrow_table")
    return con.execute(f"select * from {table}").fetchall()


def test_arrow_schemas_cover_every_base_table_in_ddl_order(con):
    for table in WAREHOUSE_TABLES:
        ddl_columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        assert ARROW_SCHEMAS[table].names == ddl_columns, table


def test_frame_columns_match_the_ddl(con):
    for table, columns in COLUMNS.items():
        if table in WAREHOUSE_TABLES:
            assert columns == [r[0] for r in con.execute(f"describe {table}").fetchall()], table


def test_the_warehouse_enum_holds_the_glossary_statuses_and_unknown(con):
    enum = con.execute("select enum_range(null::message_status)").fetchone()[0]
    assert enum == ["NEW", "ENQUEUD", "ACCEPTD", "PDLIVRD", "DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED",
                    "UNKNOWN"]


def test_messages_round_trip_through_duckdb(con, f1_item, observed):
    f1_item.update(segNum="3")
    rows = _insert(con, "messages", transforms.messages([f1_item], ALMATY, observed).frame)
    row = dict(zip(COLUMNS["messages"], rows[0]))
    assert row["message_id"] == 11111 and row["segments"] == 3
    assert row["segment_price"] == Decimal("0.0600") and row["cost"] == Decimal("0.1800")
    assert row["status"] == "DELIVRD" and row["is_final"] is True
    assert pd.Timestamp(row["send_started_at"]) == pd.Timestamp("2021-09-04 07:31:12", tz="UTC")


def test_unknown_status_lands_in_the_enum_as_unknown(con, f1_item, observed):
    f1_item["status"] = "WEIRD"
    _insert(con, "messages", transforms.messages([f1_item], ALMATY, observed).frame)
    assert con.execute("select status::varchar, status_raw from messages").fetchall() == [("UNKNOWN", "WEIRD")]


def test_campaigns_and_counters_round_trip_through_duckdb(con, f1_campaign, observed):
    rows = _insert(con, "campaigns", transforms.campaigns([f1_campaign], ALMATY, observed).frame)
    assert dict(zip(COLUMNS["campaigns"], rows[0]))["total_cost"] == Decimal("0.0600")
    rows = _insert(con, "campaign_counters", transforms.campaign_counters([f1_campaign], observed).frame)
    assert len(rows) == 10


def test_links_and_stats_round_trip_through_duckdb(con, observed):
    links = transforms.links([{"id": "1", "code": "a", "clickCnt": "2", "redirectCnt": "1"}], 399768, observed)
    assert len(_insert(con, "links", links.frame)) == 1
    stats = transforms.link_click_stats({"items": [{"param": "2021-09-04", "clicks0": "2", "redirects0": 1}],
                                         "totals": {"totalClicks0": "2"}}, ["1"], "daily", ALMATY, observed)
    assert len(_insert(con, "link_click_stats", stats.frame)) == 1


def test_empty_frames_convert_to_empty_tables(observed):
    table = to_arrow(transforms.messages([], ALMATY, observed).frame, "messages")
    assert table.num_rows == 0 and table.schema == ARROW_SCHEMAS["messages"]


def test_message_statuses_frame_converts_to_its_staging_schema(f2_items, observed):
    table = to_arrow(transforms.message_statuses(f2_items, ALMATY, observed).frame, "message_statuses")
    assert table.schema == ARROW_SCHEMAS["message_statuses"] and table.num_rows == 1
