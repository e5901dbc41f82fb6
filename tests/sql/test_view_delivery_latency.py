import pytest
from sql_fixtures import rows


def test_delivery_latency_quantiles_are_hand_computed(warehouse):
    (row,) = rows(warehouse, "select * from delivery_latency where campaign_id = 1")
    # time to deliver: 10, 20, 40, 100 s (quantile_cont: rank q * (n - 1))
    assert row["messages_delivered_timed"] == 4
    assert row["delivery_seconds_p50"] == pytest.approx(30.0)  # rank 1.5
    assert row["delivery_seconds_p90"] == pytest.approx(82.0)  # rank 2.7: 40 + 0.7 * 60
    assert row["delivery_seconds_p99"] == pytest.approx(98.2)  # rank 2.97: 40 + 0.97 * 60
    assert row["delivery_seconds_mean"] == pytest.approx(42.5)
    assert row["delivery_seconds_max"] == pytest.approx(100.0)
    # time to final: 5, 10, 20, 40, 100, 200, 300, 86400 s
    assert row["messages_final_timed"] == 8
    assert row["final_seconds_p50"] == pytest.approx(70.0)  # rank 3.5: 40 + 0.5 * 60
    assert row["final_seconds_p90"] == pytest.approx(26130.0)  # rank 6.3: 300 + 0.3 * 86100
    assert row["final_seconds_p99"] == pytest.approx(80373.0)  # rank 6.93: 300 + 0.93 * 86100


def test_a_campaign_with_no_delivered_message_has_null_delivery_quantiles(warehouse):
    (row,) = rows(warehouse, "select * from delivery_latency where campaign_id = 3")
    assert row["messages_delivered_timed"] == 0
    assert row["delivery_seconds_p50"] is None and row["delivery_seconds_p99"] is None
    assert row["final_seconds_p50"] == pytest.approx(60.0)  # the UNDELIV message


def test_partially_delivered_messages_have_no_latency(warehouse):
    (row,) = rows(warehouse, "select * from delivery_latency where campaign_id = 4")
    assert row["messages_delivered_timed"] == row["messages_final_timed"] == 0
    assert row["final_seconds_p90"] is None


def test_delivery_latency_has_a_row_per_campaign_with_messages(warehouse):
    assert [r["campaign_id"] for r in rows(warehouse, "select * from delivery_latency order by 1")] == [1, 3, 4]
