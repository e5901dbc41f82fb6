"""The sync's summary carries its phase timings and what changed, as the flow really ran them."""

import json

import duckdb

PHASES = ["plan", "campaigns", "extract", "click stats", "merge", "reconcile", "record", "publish", "report"]


def test_every_phase_of_a_sync_is_timed_in_the_order_it_ran(synced):
    for summary in synced.summaries:
        phases = summary["phase_seconds"]
        assert [p for p in phases if p != "repair"] == PHASES
        assert all(seconds >= 0 for seconds in phases.values())
        assert sum(phases.values()) >= summary["duration_s"] * 0.5  # the phases cover the run, not a sliver


def test_the_stored_summary_keeps_the_phases_up_to_recording_the_run(synced):
    con = duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        stored = json.loads(con.execute("select summary from sync_runs order by run_id limit 1").fetchone()[0])
    finally:
        con.close()
    assert set(stored["phase_seconds"]) == set(PHASES[:6])  # stored as sorted JSON: the order is the summary's


def test_the_incremental_run_counts_status_changes_and_new_clicks_and_the_idle_run_none(synced):
    backfill, incremental, idle = synced.summaries
    assert backfill["rows"]["campaigns"]["added"] > 0 and backfill["rows"]["messages"]["changed"] == 0
    assert incremental["rows"]["messages"]["changed"] > 0 and incremental["new_clicks"] > 0
    assert idle["new_clicks"] == 0 and idle["rows"].get("messages", {}).get("changed", 0) == 0
