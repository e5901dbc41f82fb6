"""The status cursor in the gateway's own wall time, and what reconciliation decides to re-read."""

from datetime import timedelta

import duckdb
import pytest

from flows import steps


def test_the_newest_wire_timestamp_ignores_what_is_not_one():
    values = ["2026-11-01 10:00:00", None, "garbage", "", 17, "2026-11-01 09:59:59", "2026-13-01"]
    assert steps.newest_wire_ts(values) == "2026-11-01 10:00:00"
    assert steps.newest_wire_ts([None, "not a time"]) is None
    assert steps.newest_wire_ts([]) is None


def test_the_overlap_is_taken_in_wall_clock_arithmetic_whatever_the_zone():
    assert steps.wire_minus("2026-10-25 03:10:00", timedelta(hours=2)) == "2026-10-25 01:10:00"
    assert steps.wire_minus("2026-01-01 00:30:00", timedelta(hours=2)) == "2025-12-31 22:30:00"


def test_step_results_keep_the_newest_timestamp_of_each_kind():
    a, b = steps.StepResult(), steps.StepResult()
    a.see("statusUpdateTs", ["2026-11-01 10:00:00"])
    b.see("statusUpdateTs", ["2026-11-02 08:00:00", "bad"])
    b.see("listed", ["2026-10-01 00:00:00"])
    a.add(b)
    assert a.newest == {"statusUpdateTs": "2026-11-02 08:00:00", "listed": "2026-10-01 00:00:00"}


def _mismatch(**kw):
    base = {"messages_missing": False, "finals_in_excess": False, "counters_lagging": False,
            "counters_updated_at": "2026-11-01T10:00:00+00:00", "differences": {"ACCEPTD": 1, "DELIVRD": -1}}
    return {**base, **kw}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create table messages as select * from (values (1, 100, false), (2, 100, true), (3, 200, false))"
                " t(message_id, campaign_id, is_final)")
    return con


def test_reconciliation_re_checks_non_final_statuses_waits_for_lagging_counters_and_re_reads_the_rest(con):
    mismatches = {100: _mismatch(), 200: _mismatch(counters_lagging=True), 300: _mismatch(messages_missing=True),
                  400: _mismatch(finals_in_excess=True, differences={"DELIVRD": 1, "ACCEPTD": -1})}
    repair = steps.repair_plan(con, mismatches, tried={})
    assert {c: m["action"] for c, m in mismatches.items()} == {100: "recheck", 200: "wait", 300: "full",
                                                               400: "full"}
    assert repair.full == [300, 400] and repair.recheck_ids == [1] and repair.campaigns == [100, 300, 400]


def test_a_campaign_already_re_read_against_the_same_counters_is_reported_not_re_read_again(con):
    tried = {100: {"action": "full", "repaired": True, "counters_updated_at": "2026-11-01T10:00:00+00:00"},
             300: {"action": "full", "repaired": True, "counters_updated_at": "2026-10-01T10:00:00+00:00"}}
    mismatches = {100: _mismatch(), 300: _mismatch(messages_missing=True)}
    repair = steps.repair_plan(con, mismatches, tried)
    assert mismatches[100]["action"] == "reported"  # frozen counters: nothing a re-read can change
    assert mismatches[300]["action"] == "full" and repair.full == [300]  # its counters moved: try again
    assert not repair.recheck_ids
