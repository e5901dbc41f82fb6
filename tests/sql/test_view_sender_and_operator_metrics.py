import pytest
from sql_fixtures import rows


def test_sender_metrics_group_by_the_campaigns_sender(warehouse):
    got = rows(warehouse, "select * from sender_metrics order by sender")
    assert got == [
        {"sender": "Bank", "campaigns_total": 1, "messages_total": 2, "pending": 1, "partially_delivered": 0,
         "delivered": 0, "failed": 1, "unknown": 0, "delivery_rate": 0.0, "settled_delivery_rate": 0.0,
         "delivery_seconds_p50": None},
        {"sender": "Info", "campaigns_total": 1, "messages_total": 2, "pending": 0, "partially_delivered": 2,
         "delivered": 0, "failed": 0, "unknown": 0, "delivery_rate": 0.0, "settled_delivery_rate": None,
         "delivery_seconds_p50": None},
        {"sender": "ShopKZ", "campaigns_total": 1, "messages_total": 13, "pending": 3, "partially_delivered": 1,
         "delivered": 4, "failed": 4, "unknown": 1, "delivery_rate": pytest.approx(4 / 13),
         "settled_delivery_rate": 0.5, "delivery_seconds_p50": 30.0},
    ]


def test_a_message_sender_overrides_the_campaign_sender(empty_warehouse):
    from sql_fixtures import CAMPAIGNS, _msg, load_tables
    load_tables(empty_warehouse, {"campaigns": CAMPAIGNS, "messages": [_msg(1, 1, "DELIVRD", sender="Other")]})
    assert rows(empty_warehouse, "select sender, delivered from sender_metrics") == [
        {"sender": "Other", "delivered": 1}
    ]


def test_operator_metrics_cover_only_messages_with_a_country_or_operator(warehouse):
    got = rows(warehouse, "select * from operator_metrics order by operator_name")
    assert got == [
        {"country_a2": "KZ", "operator_name": "Beeline", "messages_total": 5, "pending": 1,
         "partially_delivered": 0, "delivered": 2, "failed": 2, "unknown": 0, "delivery_rate": 0.4,
         "settled_delivery_rate": 0.5, "delivery_seconds_p50": 15.0},
        {"country_a2": "KZ", "operator_name": "Kcell", "messages_total": 3, "pending": 0,
         "partially_delivered": 0, "delivered": 2, "failed": 1, "unknown": 0,
         "delivery_rate": pytest.approx(2 / 3), "settled_delivery_rate": pytest.approx(2 / 3),
         "delivery_seconds_p50": 70.0},
    ]


def test_sender_and_operator_metrics_are_empty_on_an_empty_warehouse(empty_warehouse):
    assert rows(empty_warehouse, "select * from sender_metrics") == []
    assert rows(empty_warehouse, "select * from operator_metrics") == []
