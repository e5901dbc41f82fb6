"""campaign_metrics against the hand-computed scenario in fixtures/sql_fixtures.py."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sql_fixtures import rows

from storage.schema import MESSAGE_STATUSES

CONTRACT_COLUMNS = [
    "campaign_id", "campaign_type", "sender", "created_at", "send_started_at", "messages_total",
    "segments_total", "cost_total", "pending", "partially_delivered", "delivered", "undelivered", "rejected",
    "expired", "deleted", "unknown", "delivery_rate", "settled_delivery_rate", "clicks", "click_through_rate",
    "unique_clickers", "unique_click_rate", "delivery_seconds_p50", "delivery_seconds_p90", "cost_per_delivered",
    "is_settled",
]
COUNT_COLUMNS = ["pending", "partially_delivered", "delivered", "undelivered", "rejected", "expired", "deleted",
                 "unknown"]


def metrics(con, campaign_id):
    (row,) = rows(con, "select * from campaign_metrics where campaign_id = ?", [campaign_id])
    return row


def test_campaign_metrics_has_exactly_the_contract_columns_in_order(warehouse):
    described = warehouse.execute("describe campaign_metrics").fetchall()
    assert [r[0] for r in described] == CONTRACT_COLUMNS
    types = {r[0]: r[1] for r in described}
    assert types["campaign_id"] == "BIGINT"
    assert types["cost_total"] == "DECIMAL(18,4)"
    assert types["created_at"] == types["send_started_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["is_settled"] == "BOOLEAN"


def test_campaign_metrics_has_one_row_per_campaign(warehouse):
    assert [r["campaign_id"] for r in rows(warehouse, "select * from campaign_metrics order by 1")] == [1, 2, 3, 4]


def test_a_campaign_with_every_status_counts_each_message_once(warehouse):
    row = metrics(warehouse, 1)
    assert {c: row[c] for c in ["messages_total"] + COUNT_COLUMNS} == {
        "messages_total": 13,
        "pending": 3,  # NEW + ENQUEUD + ACCEPTD
        "partially_delivered": 1,
        "delivered": 4,
        "undelivered": 1,
        "rejected": 1,
        "expired": 1,
        "deleted": 1,
        "unknown": 1,  # the unexpected status stored as UNKNOWN
    }


def test_status_counts_sum_to_messages_total_for_every_campaign(warehouse):
    for row in rows(warehouse, "select * from campaign_metrics"):
        assert sum(row[c] for c in COUNT_COLUMNS) == row["messages_total"]


def test_campaign_attributes_come_from_the_campaign(warehouse):
    row = metrics(warehouse, 1)
    assert (row["campaign_type"], row["sender"]) == ("mass", "ShopKZ")
    assert row["created_at"] == datetime(2026, 10, 1, 18, 0, tzinfo=UTC)
    assert row["send_started_at"] == datetime(2026, 10, 1, 18, 30, tzinfo=UTC)


def test_segments_and_cost_are_summed_over_messages(warehouse):
    row = metrics(warehouse, 1)
    assert row["segments_total"] == 14  # message 105 has two segments
    assert row["cost_total"] == Decimal("0.1750")  # 14 x 0.0125


def test_rates_are_hand_computed(warehouse):
    row = metrics(warehouse, 1)
    assert row["delivery_rate"] == pytest.approx(4 / 13)
    assert row["settled_delivery_rate"] == pytest.approx(4 / 8)
    assert row["clicks"] == 20  # 17 + 3 from the two links
    assert row["click_through_rate"] == pytest.approx(20 / 4)
    assert row["cost_per_delivered"] == pytest.approx(0.175 / 4)
    assert row["is_settled"] is False


def test_delivery_seconds_quantiles_interpolate_linearly(warehouse):
    row = metrics(warehouse, 1)
    # DELIVRD latencies 10, 20, 40, 100 s: p50 at rank 1.5 -> 30; p90 at rank 2.7 -> 40 + 0.7 * 60 = 82
    assert row["delivery_seconds_p50"] == pytest.approx(30.0)
    assert row["delivery_seconds_p90"] == pytest.approx(82.0)


def test_a_campaign_without_messages_has_zero_counts_and_null_ratios(warehouse):
    row = metrics(warehouse, 2)
    assert row["messages_total"] == row["segments_total"] == row["clicks"] == 0
    assert row["cost_total"] == Decimal(0)
    for ratio in ["delivery_rate", "settled_delivery_rate", "click_through_rate", "cost_per_delivered",
                  "delivery_seconds_p50", "delivery_seconds_p90"]:
        assert row[ratio] is None, ratio
    assert row["is_settled"] is True


def test_a_campaign_with_no_links_has_zero_clicks_and_no_delivered_has_null_ctr(warehouse):
    row = metrics(warehouse, 3)
    assert row["clicks"] == 0
    assert row["delivered"] == 0
    assert row["click_through_rate"] is None
    assert row["cost_per_delivered"] is None
    assert row["delivery_rate"] == 0.0
    assert row["settled_delivery_rate"] == 0.0  # one UNDELIV settled, none delivered


def test_partially_delivered_messages_are_neither_delivered_nor_settled(warehouse):
    row = metrics(warehouse, 4)
    assert row["partially_delivered"] == 2
    assert row["delivered"] == 0
    assert row["settled_delivery_rate"] is None  # nothing final yet
    assert row["is_settled"] is False


def test_unique_clickers_are_null_without_per_recipient_data(warehouse):
    for row in rows(warehouse, "select * from campaign_metrics"):
        assert row["unique_clickers"] is None
        assert row["unique_click_rate"] is None


def test_messages_of_a_campaign_not_yet_listed_still_get_a_row(empty_warehouse):
    from sql_fixtures import MESSAGES, load_tables
    load_tables(empty_warehouse, {"messages": [m for m in MESSAGES if m["campaign_id"] == 3]})
    (row,) = rows(empty_warehouse, "select * from campaign_metrics")
    assert (row["campaign_id"], row["campaign_type"], row["messages_total"]) == (3, None, 2)


def test_every_stored_status_maps_to_exactly_one_count_column(empty_warehouse):
    from sql_fixtures import _msg, load_tables
    load_tables(empty_warehouse, {"messages": [_msg(i, 9, s) for i, s in enumerate(MESSAGE_STATUSES)]})
    row = metrics(empty_warehouse, 9)
    assert row["messages_total"] == len(MESSAGE_STATUSES)
    assert [row[c] for c in COUNT_COLUMNS] == [3, 1, 1, 1, 1, 1, 1, 1]


def test_campaign_metrics_is_empty_on_an_empty_warehouse(empty_warehouse):
    assert rows(empty_warehouse, "select * from campaign_metrics") == []
