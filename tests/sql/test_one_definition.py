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


def _columns(con, view: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe {view}").fetchall()]


def test_the_per_status_columns_of_the_views_are_the_glossary_and_unknown(empty_warehouse):
    """The SQL spells a column per status; it must be exactly the glossary's, or a status goes uncounted."""
    from flows.steps import STATUS_COLUMN_PREFIXES

    statuses = [s.lower() for s in (*glossary.MESSAGE_STATUSES, glossary.UNKNOWN_STATUS)]
    assert list(STATUS_COLUMN_PREFIXES) == statuses
    reconciliation = _columns(empty_warehouse, "reconciliation")
    assert {c.removesuffix("_difference") for c in reconciliation if c.endswith("_difference")
            and c != "total_difference"} == set(statuses)
    counts = _columns(empty_warehouse, "int_campaign_status_counts")
    assert [c.removeprefix("status_") for c in counts if c.startswith("status_")] == statuses
