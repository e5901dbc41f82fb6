"""The lake's merges: keys hold, re-runs add nothing, late changes rewrite one partition, killed runs are harmless."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from lake_support import TZ, campaign, message, sync_once

from flows import steps
from storage import raw, warehouse


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_rerunning_the_same_payloads_adds_and_changes_nothing(data_dir):
    records = [("campaign_info", campaign(1)), ("messages", [message(10, 1), message(11, 1)])]
    first, _ = sync_once(data_dir, "r1", records)
    again, run = sync_once(data_dir, "r2", records, hour=13)
    assert first["messages"].added == 2
    assert (again["messages"].added, again["messages"].changed) == (0, 0)
    con = run.lake.connect()
    assert con.execute("select count(*) from messages").fetchone()[0] == 2


def test_a_rewritten_partition_is_sorted_by_key_and_a_merge_that_changes_nothing_writes_the_same_bytes(data_dir):
    # The object store uploads a file whose bytes changed: a re-merge of the same rows must not change them.
    records = [("campaign_info", campaign(1)), ("messages", [message(12, 1), message(10, 1), message(11, 1)])]
    sync_once(data_dir, "r1", records)  # a new partition: written in no particular order
    sync_once(data_dir, "r1", records)
    files = sorted((data_dir / "lake").rglob("*.parquet"))
    rewritten = {path: path.read_bytes() for path in files}
    sync_once(data_dir, "r1", records)
    assert {path: path.read_bytes() for path in files} == rewritten
    month, = (data_dir / "lake" / "messages").rglob("*.parquet")
    assert pq.read_table(month).column("message_id").to_pylist() == [10, 11, 12]


def test_a_late_status_change_replaces_the_row_and_extends_the_history(data_dir):
    sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1, "ACCEPTD")])])
    counts, run = sync_once(data_dir, "r2", [("messages", [message(10, 1, "DELIVRD", "2026-10-03 09:00:00")])],
                            hour=13)
    assert counts["messages"].changed == 1
    con = run.lake.connect()
    assert con.execute("select status, first_observed_at::varchar from messages").fetchall() == [
        ("DELIVRD", "2026-11-01 12:00:00+00")]
    history = con.execute("select status from message_status_history order by status_updated_at").fetchall()
    assert history == [("ACCEPTD",), ("DELIVRD",)]


def test_an_older_observation_never_overwrites_a_newer_status(data_dir):
    sync_once(data_dir, "r1", [("campaign_info", campaign(1)),
                               ("messages", [message(10, 1, "DELIVRD", "2026-10-03 09:00:00")])])
    counts, run = sync_once(data_dir, "r2", [("messages", [message(10, 1, "ACCEPTD", "2026-10-01 10:05:00")])],
                            hour=13)
    assert run.lake.connect().execute("select status from messages").fetchall() == [("DELIVRD",)]


def test_a_late_change_rewrites_only_its_campaigns_month(data_dir):
    sync_once(data_dir, "r1", [
        ("campaign_info", campaign(1, created="2026-09-01 10:00:00")),
        ("campaign_info", campaign(2, created="2026-10-01 10:00:00")),
        ("messages", [message(10, 1), message(20, 2, "ACCEPTD")]),
    ])
    lake = data_dir / "lake" / "messages"
    september = lake / "month=2026-09" / "data.parquet"
    before = september.stat().st_mtime_ns
    sync_once(data_dir, "r2", [("messages", [message(20, 2, "DELIVRD", "2026-10-02 10:00:00")])], hour=13)
    assert sorted(p.name for p in lake.iterdir()) == ["month=2026-09", "month=2026-10"]
    assert september.stat().st_mtime_ns == before


def test_status_updates_fold_into_the_existing_rows(data_dir):
    sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1, "ACCEPTD")])])
    update = [{"id": "10", "status": "EXPIRED", "segNum": "2", "startSendTs": "2026-10-01 10:00:05",
               "statusUpdateTs": "2026-10-02 10:00:00"}]
    counts, run = sync_once(data_dir, "r2", [("message_statuses", update)], hour=13)
    row = run.lake.connect().execute("select status, is_final, recipient, cost::varchar from messages").fetchone()
    assert row == ("EXPIRED", True, "77010000000", "0.1200")
    assert counts["messages"].changed == 1


def test_link_list_rows_keep_the_campaign_their_getlinks_row_gave(data_dir):
    link = {"id": "5", "code": "ab", "shortLink": "http://mbz.im/ab", "fullLink": "https://x.kz", "clickCnt": "3"}
    run = steps.RunContext(data_dir, "r1", datetime(2026, 11, 1, 12, tzinfo=UTC), TZ)
    stager = steps.Stager(run.staging_dir)
    steps.ingest("links", {"data": [link], "observed_at": run.observed_at, "params": {"campaignId": 1}}, TZ,
                 stager, steps.StepResult())
    stager.close()
    run.lake.merge_run(run.staging_dir, "r1")
    later = dict(link, clickCnt="9")
    run2 = steps.RunContext(data_dir, "r2", datetime(2026, 11, 1, 13, tzinfo=UTC), TZ)
    stager = steps.Stager(run2.staging_dir)
    steps.ingest("links", {"data": [later], "observed_at": run2.observed_at, "params": {}}, TZ, stager,
                 steps.StepResult())
    stager.close()
    run2.lake.merge_run(run2.staging_dir, "r2")
    assert run2.lake.connect().execute("select campaign_id, click_count from links").fetchall() == [(1, 9)]


def test_a_merge_that_dies_half_way_leaves_whole_partitions_and_the_next_merge_completes(data_dir, monkeypatch):
    from storage.lake import Lake

    sync_once(data_dir, "r1", [("campaign_info", campaign(1, created="2026-09-01 10:00:00")),
                               ("campaign_info", campaign(2, created="2026-10-01 10:00:00")),
                               ("messages", [message(10, 1, "ACCEPTD"), message(20, 2, "ACCEPTD")])])
    late = [("messages", [message(10, 1, "DELIVRD", "2026-10-05 10:00:00"),
                          message(20, 2, "DELIVRD", "2026-10-05 10:00:00")])]
    real_write, writes = Lake._write_merged, []

    def dies_on_the_second_partition(self, con, table, *args, **kwargs):
        if table == "messages":
            writes.append(table)
            if len(writes) == 2:
                raise KeyboardInterrupt("killed")  # as a SIGKILL would: between two partition files
        return real_write(self, con, table, *args, **kwargs)

    monkeypatch.setattr(Lake, "_write_merged", dies_on_the_second_partition)
    with pytest.raises(KeyboardInterrupt):
        sync_once(data_dir, "r2", late, hour=13)
    monkeypatch.undo()
    lake = Lake(data_dir / "lake")
    assert not list((data_dir / "lake").rglob("*.tmp"))
    half = dict(lake.connect().execute("select message_id, status from messages").fetchall())
    assert half == {10: "DELIVRD", 20: "ACCEPTD"}  # one partition new, the other old, both readable
    sync_once(data_dir, "r3", late, hour=14)  # the next run reads the same changes again
    assert dict(lake.connect().execute("select message_id, status from messages").fetchall()) == {
        10: "DELIVRD", 20: "DELIVRD"}


def test_raw_records_round_trip_and_unfinished_parts_are_ignored(tmp_path):
    with raw.RawWriter(tmp_path, "messages", "r1") as writer:
        writer.write("Message/List", {"campaignIds": [1]}, "2026-11-01T12:00:00+00:00",
                     [{"id": "1", "text": "Привет 👋"}])
    unfinished = raw.RawWriter(tmp_path, "messages", "r1")
    unfinished.write("Message/List", {}, "x", [{"id": "2"}])  # never closed, like a killed run
    records = list(raw.read(tmp_path, "messages", "r1"))
    assert [r["data"][0]["text"] for r in records] == ["Привет 👋"]
    assert raw.runs(tmp_path) == ["r1"]


READER = """
import sys, duckdb
path = sys.argv[1]
con = duckdb.connect(path, read_only=True)
print(con.execute("select count(*) from messages").fetchone()[0], flush=True)
sys.stdin.readline()  # the other process publishes a new warehouse meanwhile
print(con.execute("select count(*) from messages").fetchone()[0], flush=True)
con.close()
print(duckdb.connect(path, read_only=True).execute("select count(*) from messages").fetchone()[0], flush=True)
"""


def test_a_reader_in_another_process_keeps_its_snapshot_while_a_sync_publishes(data_dir):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1)])])
    warehouse.build(run.lake, data_dir)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(data_dir / "warehouse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "1"
    _, run = sync_once(data_dir, "r2", [("messages", [message(11, 1)])], hour=13)
    warehouse.build(run.lake, data_dir)  # must not fail although the reader holds the file open
    out, _ = reader.communicate("go\n", timeout=60)
    assert out.split() == ["1", "2"]  # the open connection: its old snapshot, whole; a new one: the new run
    assert not os.path.exists(data_dir / "warehouse.duckdb.building")


def test_an_unexpected_value_is_kept_flagged_and_counted_for_the_run_summary(data_dir):
    odd = dict(message(12, 1), status="QUEUED_BY_MARS", segNum="two")
    run = steps.RunContext(data_dir, "r1", datetime(2026, 11, 1, 12, tzinfo=UTC), TZ)
    stager = steps.Stager(run.staging_dir)
    result = steps.StepResult()
    steps.ingest("campaign_info", {"data": campaign(1), "observed_at": run.observed_at, "params": {}}, TZ, stager,
                 result)
    steps.ingest("messages", {"data": [message(10, 1), odd], "observed_at": run.observed_at, "params": {}}, TZ,
                 stager, result)
    stager.close()
    run.lake.merge_run(run.staging_dir, "r1")
    assert result.unexpected["messages"] == 2  # the status and the segment count
    row = run.lake.connect().execute(
        "select status, status_raw, is_unexpected, segments from messages where message_id = 12").fetchone()
    assert row == ("UNKNOWN", "QUEUED_BY_MARS", True, None)


def test_a_message_whose_campaign_arrives_later_moves_to_its_month_and_stays_single(data_dir):
    sync_once(data_dir, "r1", [("messages", [message(10, 1, "ACCEPTD")])])  # its campaign not yet known
    _, run = sync_once(data_dir, "r2", [("campaign_info", campaign(1)),
                                        ("messages", [message(10, 1, "DELIVRD", "2026-10-02 10:00:00")])], hour=13)
    con = run.lake.connect()
    assert con.execute("select count(*), min(status) from messages").fetchone() == (1, "DELIVRD")
    warehouse.build(run.lake, data_dir)  # keys hold: the build would fail on a duplicate


@pytest.mark.parametrize("delivered_send_ts", ["2026-10-25 03:49:00", None])
def test_a_final_status_is_never_replaced_by_a_non_final_one_with_a_later_wall_time(data_dir, delivered_send_ts):
    """Kyiv's fall-back: ACCEPTD at 03:50 summer time, then DELIVRD at 03:10 winter time, in one run. With the
    send start known the report time is ordered after it; without it the wire reads 03:10 summer time, yet the
    final status still wins."""
    kyiv = "Europe/Kyiv"
    run = steps.RunContext(data_dir, "r1", datetime(2026, 10, 26, 12, tzinfo=UTC), kyiv)
    stager = steps.Stager(run.staging_dir)
    accepted = {**message(10, 1, "ACCEPTD", "2026-10-25 03:50:00"), "startSendTs": "2026-10-25 03:49:00"}
    delivered = {**message(10, 1, "DELIVRD", "2026-10-25 03:10:00"), "startSendTs": delivered_send_ts}
    for page in ([delivered], [accepted]):
        steps.ingest("messages", {"data": page, "observed_at": run.observed_at, "params": {}}, kyiv, stager,
                     steps.StepResult())
    stager.close()
    run.lake.merge_run(run.staging_dir, "r1")
    con = run.lake.connect()
    status, latency = con.execute(
        "select status, epoch(status_updated_at) - epoch(send_started_at) from messages").fetchone()
    assert status == "DELIVRD"
    assert latency == (21 * 60 if delivered_send_ts else None)


def test_a_later_observation_of_the_same_message_wins_over_an_earlier_wall_time(data_dir):
    sync_once(data_dir, "r1", [("campaign_info", campaign(1)),
                               ("messages", [message(10, 1, "ACCEPTD", "2026-10-01 10:50:00")])])
    _, run = sync_once(data_dir, "r2", [("messages", [message(10, 1, "ACCEPTD", "2026-10-01 10:40:00")])],
                       hour=13)
    assert run.lake.connect().execute("select status_updated_at::varchar from messages").fetchone() == (
        "2026-10-01 05:40:00+00",)


def test_a_run_that_reads_a_message_twice_stages_one_row_and_a_single_read_one(data_dir):
    """Keys read once skip the window (`lake._repeats_a_key`); a key read twice in the run still gets it."""
    counts, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)),
                                             ("messages", [message(10, 1, "ACCEPTD"), message(11, 1)]),
                                             ("messages", [message(10, 1, "DELIVRD", "2026-10-02 10:00:00")])])
    assert counts["messages"].added == 2
    rows = run.lake.connect().execute("select message_id, status from messages order by 1").fetchall()
    assert rows == [(10, "DELIVRD"), (11, "DELIVRD")]


@pytest.mark.parametrize(("rows", "expected"), [("(1, 'a'), (2, 'a')", False), ("(1, 'a'), (1, 'a')", True),
                                                ("(1, null), (1, null)", True), ("(1, null), (1, 'a')", False)])
def test_a_repeated_key_is_found_with_null_parts_grouped_as_the_window_groups_them(rows, expected):
    import duckdb

    from storage import lake

    spec = lake.TableSpec("k", (), key=("k", "p"))
    relation = f"select * from (values {rows}) t(k, p)"
    assert lake._repeats_a_key(duckdb.connect(), relation, spec) is expected
