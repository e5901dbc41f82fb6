"""A sync's warehouse is patched (a copy of the published file, with what the lake changed read again) and holds
row for row what a whole build of the same lake holds; it is built whole when a patch would not pay or could be
wrong (storage/warehouse.py)."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lake_support import campaign, message, sync_once

from storage import views, warehouse


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def any_share(monkeypatch):
    """Patch whatever share of the rows a run touched (a test's lake is a few rows, each run a large part)."""
    monkeypatch.setattr(warehouse, "PATCH_AT_MOST", 1.0)


def tables(path) -> dict[str, list[tuple]]:
    """Every table of the warehouse's `main` schema (base tables and materialized aggregates), rows sorted."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'main'")
                 .fetchall()]
        return {name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr) for name in names}
    finally:
        con.close()


def patched_equals_whole(run, data_dir, tmp_path) -> warehouse.Built:
    """Publish the run's warehouse as a sync does; check it against a whole build of the same lake."""
    built = warehouse.build(run.lake, data_dir)
    (tmp_path / "whole").mkdir(exist_ok=True)
    whole = warehouse.build(run.lake, tmp_path / "whole", whole=True)
    assert tables(built.path) == tables(whole.path)
    return built


def test_each_run_patches_the_warehouse_and_it_holds_what_a_whole_build_holds(data_dir, tmp_path, any_share):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)),
                                        ("campaign_info", campaign(2, created="2026-09-01 10:00:00")),
                                        ("messages", [message(10, 1, "ACCEPTD"), message(11, 1), message(20, 2)])])
    assert not warehouse.build(run.lake, data_dir).patched  # nothing published yet

    runs = [
        # a late status in October's campaign
        [("messages", [message(10, 1, "DELIVRD", "2026-10-02 10:00:00")])],
        # a message whose campaign is not known yet (month=unknown), and one without a campaign at all
        [("messages", [message(30, 3, "ACCEPTD"), {**message(40, 1), "campaignId": None}])],
        # campaign 3 arrives (September) with another message: its messages now lie in two partitions
        [("campaign_info", campaign(3, created="2026-09-05 10:00:00")), ("messages", [message(31, 3, "ACCEPTD")])],
        # only September's partition is rewritten, yet campaign 3's message in month=unknown must stay
        [("messages", [message(31, 3, "EXPIRED", "2026-10-03 10:00:00")])],
        # the message without a campaign changes
        [("messages", [{**message(40, 1, "UNDELIV", "2026-10-04 10:00:00"), "campaignId": None}])],
        # a campaign's own row changes, no message does
        [("campaign_info", {**campaign(2, created="2026-09-01 10:00:00"), "from": "Other"})],
    ]
    for hour, records in enumerate(runs, start=13):
        _, run = sync_once(data_dir, f"r{hour}", records, hour=hour)
        built = patched_equals_whole(run, data_dir, tmp_path)
        assert built.patched, built.reason
    counts = dict(duckdb.connect(str(built.path), read_only=True).execute(
        "select campaign_id, messages_total from int_campaign_status_counts").fetchall())
    assert counts == {1: 2, 2: 1, 3: 2, None: 1}  # messages 30 (month=unknown) and 31 (September) both counted


def test_a_patch_reads_only_the_partitions_holding_the_campaigns_a_run_changed(data_dir, monkeypatch, any_share):
    sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("campaign_info", campaign(2, "2026-09-01 10:00:00")),
                               ("messages", [message(10, 1, "ACCEPTD"), message(20, 2)])])
    _, run = sync_once(data_dir, "r2", [("messages", [message(21, 2)])], hour=13)
    warehouse.build(run.lake, data_dir)
    read = []
    real_insert = warehouse._insert
    monkeypatch.setattr(warehouse, "_insert", lambda con, table, files, where="": (
        read.append((table, sorted(f.split("/lake/")[1] for f in files))), real_insert(con, table, files, where)))
    _, run = sync_once(data_dir, "r3", [("messages", [message(10, 1, "DELIVRD", "2026-10-02 10:00:00")])], hour=14)
    assert warehouse.build(run.lake, data_dir).patched
    read = dict(read)
    assert read["messages"] == ["messages/month=2026-10/data.parquet"]  # not September's
    assert read["message_status_history"] == ["message_status_history/month=2026-10/data.parquet"]
    assert "campaigns" not in read  # this run staged no campaign: its file is as it was


def test_a_run_that_touches_most_of_the_rows_builds_the_warehouse_whole(data_dir):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1, "ACCEPTD")])])
    warehouse.build(run.lake, data_dir)
    _, run = sync_once(data_dir, "r2", [("messages", [message(10, 1, "DELIVRD", "2026-10-02 10:00:00")])], hour=13)
    built = warehouse.build(run.lake, data_dir)
    assert not built.patched
    assert "more than 25%" in built.reason


def test_other_views_or_tables_build_the_warehouse_whole(data_dir, monkeypatch, any_share):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1)])])
    warehouse.build(run.lake, data_dir)
    monkeypatch.setattr(warehouse, "fingerprint_text", lambda: "-- a view changed")
    built = warehouse.build(run.lake, data_dir)
    assert (built.patched, built.reason) == (
        False, "the tables or views (or DuckDB's version) changed since the published warehouse was built")
    assert warehouse.build(run.lake, data_dir).patched  # and the next build patches the new one


def test_a_warehouse_of_an_older_smsetl_or_asked_for_whole_is_built_whole(data_dir, any_share):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1)])])
    path = warehouse.build(run.lake, data_dir).path
    assert not warehouse.build(run.lake, data_dir, whole=True).patched
    con = duckdb.connect(str(path))
    con.execute(f"drop schema {warehouse.BUILD_SCHEMA} cascade")
    con.close()
    built = warehouse.build(run.lake, data_dir)
    assert not built.patched and "records nothing of its build" in built.reason


def test_a_file_that_is_mostly_free_blocks_is_built_whole_and_small_again(data_dir, any_share):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("messages", [message(10, 1)])])
    path = warehouse.build(run.lake, data_dir).path
    size = path.stat().st_size
    con = duckdb.connect(str(path))  # what many patches' deletes leave behind
    con.execute("create table junk as select range as n, md5(range::varchar) as s from range(300000)")
    con.execute("checkpoint")
    # after the junk's blocks, so that the file cannot shrink to the blocks in use
    con.execute("create table tail as select range as n, md5(range::varchar) as s from range(30000)")
    con.execute("checkpoint")
    con.execute("drop table junk")
    con.execute("checkpoint")
    con.close()
    assert path.stat().st_size > 2 * size
    built = warehouse.build(run.lake, data_dir)
    assert not built.patched and "free space" in built.reason
    assert path.stat().st_size <= size * 1.5


def test_a_patch_checks_the_keys_it_inserts_against_the_whole_table(data_dir, any_share):
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)),
                                        ("campaign_info", campaign(2, "2026-09-01 10:00:00")),
                                        ("messages", [message(10, 1), message(20, 2)])])
    warehouse.build(run.lake, data_dir)
    # A broken lake: October's message 10 also in September's partition (a merge never writes this).
    lake = data_dir / "lake" / "messages"
    october = pq.read_table(lake / "month=2026-10" / "data.parquet")
    september = lake / "month=2026-09" / "data.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(september), october]), september)
    with pytest.raises(ValueError, match=r"messages holds 2 rows of key \(message_id\) = \(10,\).*smsetl rebuild"):
        warehouse.build(run.lake, data_dir)


def test_a_campaign_whose_own_row_changed_has_its_aggregates_computed_again(data_dir, tmp_path, monkeypatch,
                                                                            any_share):
    """The shipped aggregates read no campaign column; one that did must still follow a changed campaign row."""
    real_view_sql = views.view_sql

    def view_sql(name, sql_dir=views.SQL_DIR):
        sql = real_view_sql(name, sql_dir)
        return sql.replace("count_if(status_group = 'unknown')",
                           "count_if(status_group = 'unknown' or sender = 'Other')")

    monkeypatch.setattr(views, "view_sql", view_sql)
    monkeypatch.setattr(warehouse, "view_sql", view_sql)
    unsigned = {**message(20, 2), "from": None}  # its sender is its campaign's
    september = "2026-09-01 10:00:00"
    _, run = sync_once(data_dir, "r1", [("campaign_info", campaign(1)), ("campaign_info", campaign(2, september)),
                                        ("messages", [message(10, 1), unsigned])])
    warehouse.build(run.lake, data_dir)
    _, run = sync_once(data_dir, "r2", [("campaign_info", {**campaign(2, september), "from": "Other"})], hour=13)
    built = patched_equals_whole(run, data_dir, tmp_path)
    assert built.patched
    assert duckdb.connect(str(built.path), read_only=True).execute(
        "select status_unknown from int_campaign_status_counts where campaign_id = 2").fetchone() == (1,)


@pytest.mark.parametrize("batch", [1, 2, 1_000_000])
def test_the_aggregates_computed_a_batch_of_campaigns_at_a_time_are_those_of_one_pass(data_dir, monkeypatch, batch):
    monkeypatch.setattr(warehouse, "AGGREGATE_BATCH", batch)
    september = "2026-09-01 10:00:00"
    _, run = sync_once(data_dir, "r1", [
        ("campaign_info", campaign(1)), ("campaign_info", campaign(2, september)), ("campaign_info", campaign(3)),
        ("messages", [message(10, 1), message(11, 1, "ACCEPTD"), message(20, 2, "EXPIRED", "2026-10-02 10:00:00"),
                      message(30, 3), {**message(40, 1), "campaignId": None}])])
    con = duckdb.connect(str(warehouse.build(run.lake, data_dir).path), read_only=True)
    for name in warehouse.MATERIALIZED:
        stored = sorted(con.execute(f"select * from {name}").fetchall(), key=repr)
        assert len(stored) == 4  # campaigns 1, 2, 3 and the messages without one
        assert stored == sorted(con.execute(f"select * from ({views.view_sql(name)})").fetchall(), key=repr)
