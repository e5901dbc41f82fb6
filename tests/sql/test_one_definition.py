"""Each thing has one definition: the views agree with the Python constants they stand for."""

from sql_fixtures import load_tables

from smsapi import glossary
from transforms.schema import RUN_FAILED, RUN_SUCCEEDED


def test_a_run_is_successful_in_the_views_exactly_when_the_sync_recorded_it_so(empty_warehouse):
    load_tables(empty_warehouse, {"sync_runs": [
        {"run_id": "r1", "outcome": RUN_SUCCEEDED}, {"run_id": "r2", "outcome": RUN_FAILED},
        {"run_id": "r3", "outcome": None},
    ]})
    rows = empty_warehouse.execute("select run_id, is_successful from stg_sync_runs order by run_id").fetchall()
    assert rows == [("r1", True), ("r2", False), ("r3", False)]


def test_the_warehouse_status_enum_is_the_glossary_and_unknown(empty_warehouse):
    enum = empty_warehouse.execute("select enum_range(null::message_status)").fetchone()[0]
    assert enum == [*glossary.MESSAGE_STATUSES, glossary.UNKNOWN_STATUS]


def test_a_message_counts_as_failed_when_final_and_not_delivered(empty_warehouse):
    load_tables(empty_warehouse, {"messages": [
        {"message_id": i, "campaign_id": 1, "status": s, "status_raw": s, "is_final": s in glossary.FINAL_STATUSES}
        for i, s in enumerate(glossary.MESSAGE_STATUSES)
    ]})
    failed = {s for (s,) in empty_warehouse.execute("select status from int_messages where is_failed").fetchall()}
    assert failed == glossary.FINAL_STATUSES - {"DELIVRD"}
