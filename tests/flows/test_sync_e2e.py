"""End to end against the sandbox: the warehouse equals the sandbox's ground truth, run after run."""

import os
import shutil

import duckdb
import pytest
from e2e_support import assert_link_windows_match, assert_matches_truth

from flows.rebuild import rebuild


def test_a_full_sync_then_an_incremental_one_match_the_ground_truth_exactly(synced):
    assert_matches_truth(synced.data_dir, synced.sandbox.ground_truth(), synced.sandbox)


def test_the_incremental_sync_caught_late_reports(synced):
    changed = synced.summaries[1]["rows"]["messages"]["changed"]
    assert changed > 0
    truth_before = synced.truth_after_backfill
    truth_now = synced.sandbox.ground_truth()
    assert any(truth_before[c].status_counts != truth_now[c].status_counts for c in truth_now if c in truth_before)


def test_the_incremental_sync_costs_a_small_fraction_of_the_backfills_calls(synced):
    backfill, incremental = synced.summaries[0]["api_calls"], synced.summaries[1]["api_calls"]
    assert incremental < 0.5 * backfill, (incremental, backfill)


def test_a_sync_with_nothing_changed_adds_and_changes_no_rows(synced):
    rows = synced.summaries[2]["rows"]
    data_tables = {t: r for t, r in rows.items() if not t.startswith("sync_")}
    assert all(r == {"added": 0, "changed": 0} for r in data_tables.values()), data_tables


def test_no_run_found_a_campaign_disagreeing_with_the_gateways_counters(synced):
    assert synced.summaries[-1]["reconciliation_mismatches"] == {}


def test_keys_hold_in_the_warehouse_after_overlapping_syncs(synced):
    con = duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) - count(distinct message_id) from messages").fetchone()[0] == 0
    assert con.execute("select count(*) from sync_runs").fetchone()[0] == 3


def test_rebuilding_from_raw_gives_the_same_warehouse(synced, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(synced.data_dir, copy, ignore=shutil.ignore_patterns("lake", "warehouse.duckdb"))
    rebuild(copy)
    original = duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True)
    rebuilt = duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True)
    tables = [t for (t,) in original.execute(
        "select table_name from information_schema.tables where table_type = 'BASE TABLE' and table_schema = 'main'"
    ).fetchall()]  # (not `smsetl_build`: the lake files each was built from differ by design)
    assert "messages" in tables
    for table in tables:
        query = f"select * from {table} order by all"
        assert original.execute(query).fetchall() == rebuilt.execute(query).fetchall(), table


def test_a_second_sync_on_the_same_data_dir_fails_fast_while_one_runs(tmp_path):
    from flows.sync import SyncBusyError, sync_lock

    with sync_lock(tmp_path):
        with pytest.raises(SyncBusyError, match="another sync is running"):
            with sync_lock(tmp_path):
                pass


def test_each_sync_publishes_a_markdown_artifact_with_the_summary_and_metrics(synced):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sync-summary"])))
    run_id = synced.summaries[-1]["run_id"]  # other tests' syncs publish artifacts under the same key too
    [artifact] = [a for a in artifacts if a.description == f"sync run {run_id}"]
    assert artifact.type == "markdown"
    assert run_id in artifact.data
    assert "| campaign_id |" in artifact.data


def test_a_campaign_that_disagrees_with_the_gateway_is_re_read_and_repaired(prefect_harness, tmp_path, monkeypatch):
    """Damage the lake behind the sync's back (a lost message, a stale status): the next run's reconciliation
    finds both campaigns, re-reads them, and the warehouse equals the ground truth again."""
    from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox

    from sandbox import SANDBOX_API_KEY, Faults, Sandbox
    from storage.lake import Lake

    sb = Sandbox.generate(seed=31, campaigns=10, messages=1000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    with sb.serve(port=0, faults=Faults()) as server:
        for name, value in dict(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                                SMS_RATE_LIMIT="none").items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, tmp_path / "data")
        state.sync(since=state.as_of().replace(year=2026, month=6))
        lake = Lake(state.data_dir / "lake")
        con = lake.connect()
        lost, stale = con.execute("""
            select (select min(message_id) from messages),
                   (select max(message_id) from messages where status = 'DELIVRD')""").fetchone()
        for path in lake.files("messages"):
            con.execute(f"""copy (select * replace (case when message_id = {stale} then 'ACCEPTD' else status end
                                                     as status, case when message_id = {stale} then 'ACCEPTD'
                                                     else status_raw end as status_raw,
                                                     case when message_id = {stale} then false else is_final end
                                                     as is_final)
                                  from read_parquet('{path}', hive_partitioning = false)
                                  where message_id <> {lost})
                            to '{path}.new' (format parquet)""")
            os.replace(f"{path}.new", path)
        con.close()
        repair = state.sync()
    assert repair["api"]["calls"].get("Message/GetSMSStatus", 0) >= 1  # the stale status: re-checked by id
    assert repair["rows"]["messages"]["added"] == 1  # the lost message: its campaign re-read in full
    assert repair["reconciliation_mismatches"] == {}
    assert_matches_truth(state.data_dir, sb.ground_truth(), sb)


def test_daily_click_series_from_the_grid_add_up_to_each_links_counters(synced):
    con = duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True)
    rows = con.execute("""
        select l.link_id, l.click_count, l.redirect_count, sum(s.click_count), sum(s.redirect_count), count(*)
        from links l join link_click_stats s using (link_id)
        where s.period_type = 'daily' group by all""").fetchall()
    assert rows and any(r[1] for r in rows)
    for link_id, clicks, redirects, series_clicks, series_redirects, periods in rows:
        assert (series_clicks, series_redirects) == (clicks, redirects), link_id
        assert periods >= 89  # every day of the gateway's 90-day window, empty ones included


def test_link_metrics_windows_equal_the_sandboxs_clicks_in_those_windows(synced):
    assert_link_windows_match(synced.data_dir, synced.sandbox)
