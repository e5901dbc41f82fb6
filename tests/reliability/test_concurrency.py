"""Concurrency: two syncs started at once on one data directory, and an analyst reading the warehouse while a
sync publishes. One sync proceeds, the other exits at once saying another sync is running, and the warehouse
is the clean run's; a reader never errors, never blocks the publish and always sees one whole run."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import ROOT, dump_warehouse, fast_client, small_sandbox

from flows.sync import SyncBusyError, sync_lock
from sandbox import SANDBOX_API_KEY, Faults
from storage import warehouse
from storage.lake import Lake, StagingWriter
from transforms import ARROW_SCHEMAS

SEED = 71
SINCE = "2026-07-01"
BUSY = "another sync is running"
QUICK_SECONDS = 30  # a process start with imports and one balance call; no Prefect, no sync


def gateway_env(url: str) -> dict:
    return {"SMS_API_URL": url, "SMS_API_KEY": SANDBOX_API_KEY, "SMS_TIMEZONE": SANDBOX_TZ, "SMS_RATE_LIMIT": "none"}


def test_a_second_sync_on_a_locked_data_directory_fails_at_once_naming_the_directory_and_the_wait(tmp_path):
    with sync_lock(tmp_path):
        started = time.monotonic()
        errors = []
        thread = threading.Thread(target=lambda: errors.append(_try_lock(tmp_path)))
        thread.start()
        thread.join(5)
    assert time.monotonic() - started < 1
    assert len(errors) == 1 and BUSY in errors[0] and str(tmp_path) in errors[0] and "wait" in errors[0]
    with sync_lock(tmp_path):  # released: the next sync proceeds
        pass


def _try_lock(path) -> str:
    try:
        with sync_lock(path):
            return ""
    except SyncBusyError as exc:
        return str(exc)


def test_two_syncs_started_at_once_one_succeeds_the_other_exits_at_once_and_the_warehouse_is_the_clean_runs(
        prefect_harness, tmp_path, monkeypatch, figures):
    sb = small_sandbox(SEED)
    data_dir = tmp_path / "data"
    with sb.serve(port=0, faults=Faults()) as server:
        env = {**os.environ, **gateway_env(server.url)}
        command = [sys.executable, "-m", "smsetl.cli", "sync", "--data-dir", str(data_dir), "--since", SINCE]
        logs = [(tmp_path / f"out{i}", tmp_path / f"err{i}") for i in range(2)]
        started = time.monotonic()
        children = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=out.open("w"), stderr=err.open("w"))
                    for out, err in logs]
        seconds = {}
        while len(seconds) < 2 and time.monotonic() - started < 300:
            for i, child in enumerate(children):
                if i not in seconds and child.poll() is not None:
                    seconds[i] = time.monotonic() - started
            time.sleep(0.02)
        results = [(child.wait(1), logs[i][0].read_text(), logs[i][1].read_text(), seconds[i])
                   for i, child in enumerate(children)]
        for name, value in gateway_env(server.url).items():
            monkeypatch.setenv(name, value)
        clean = SyncedSandbox(sb, server, tmp_path / "clean")
        clean.sync(since=datetime.fromisoformat(SINCE).replace(tzinfo=UTC))
    figures["concurrent syncs started"] += 2
    codes = sorted(code for code, *_ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    winner = next(r for r in results if r[0] == 0)
    loser = next(r for r in results if r[0] != 0)
    assert BUSY in loser[2] and str(data_dir) in loser[2], loser[2]
    assert "Traceback" not in loser[2], loser[2]
    assert loser[3] < QUICK_SECONDS and loser[3] < winner[3]
    figures["ms for the second of two syncs to give up"] = round(loser[3] * 1000)
    figures["ms for the first of two syncs to finish"] = round(winner[3] * 1000)
    assert dump_warehouse(data_dir) == dump_warehouse(tmp_path / "clean")


# The analyst: a separate process, as a notebook would be, opening the warehouse read-only in a loop and asking
# in one connection for figures that must agree with each other if the snapshot is whole.
READER = r"""
import json, os, sys, time
import duckdb
path, out, stop = sys.argv[1:4]
QUERY = '''
select (select count(*) from sync_runs),
       (select sum(messages_total) from campaign_metrics), (select count(*) from messages),
       (select sum(delivered) from campaign_metrics), (select count(*) from messages where status = 'DELIVRD'),
       (select sum(cost_total)::varchar from campaign_metrics)
'''
with open(out, "w") as f:
    while not os.path.exists(stop):
        t = time.time()
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                row = con.execute(QUERY).fetchone()
            finally:
                con.close()
            f.write(json.dumps({"t": t, "row": list(row)}) + "\n")
        except Exception as e:
            f.write(json.dumps({"t": t, "error": f"{type(e).__name__}: {e}"}) + "\n")
        f.flush()
"""


def snapshot(data_dir) -> list:
    con = warehouse.connect(data_dir)
    try:
        return list(con.execute("""
            select (select count(*) from sync_runs),
                   (select sum(messages_total) from campaign_metrics), (select count(*) from messages),
                   (select sum(delivered) from campaign_metrics),
                   (select count(*) from messages where status = 'DELIVRD'),
                   (select sum(cost_total)::varchar from campaign_metrics)""").fetchone())
    finally:
        con.close()


def test_an_analyst_reading_during_a_sync_never_errors_never_blocks_it_and_sees_only_the_old_or_the_new_run(
        prefect_harness, tmp_path, monkeypatch, figures):
    fast_client(monkeypatch)
    sb = small_sandbox(SEED)
    data_dir = tmp_path / "data"
    out, stop = tmp_path / "reads.jsonl", tmp_path / "stop"
    with sb.serve(port=0, faults=Faults(slow=0.2, slow_seconds=0.05)) as server:
        for name, value in gateway_env(server.url).items():
            monkeypatch.setenv(name, value)
        state = SyncedSandbox(sb, server, data_dir)
        state.sync(since=state.as_of() - timedelta(days=120))
        old = snapshot(data_dir)
        sb.clock.advance(timedelta(hours=6))  # statuses move on: the next run's figures differ
        reader = subprocess.Popen([sys.executable, "-c", READER, str(data_dir / warehouse.WAREHOUSE_FILE),
                                   str(out), str(stop)], cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while (not out.exists() or not out.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.05)
            sync_started = time.time()
            state.sync()  # would raise if the reader's open file blocked the publish
            sync_ended = time.time()
            time.sleep(0.5)  # a few reads of the new file
        finally:
            stop.touch()
            reader.wait(30)
    new = snapshot(data_dir)
    reads = [json.loads(line) for line in out.read_text().splitlines()]
    figures["analyst reads during a sync"] += len(reads)
    errors = [r["error"] for r in reads if "error" in r]
    assert not errors, errors[:3]
    assert old != new and old[0] + 1 == new[0]
    for read in reads:
        runs, messages_total, messages, delivered, delivered_rows, _ = read["row"]
        assert messages_total == messages and delivered == delivered_rows  # one whole snapshot
        assert read["row"] in (old, new), read
    during = [r for r in reads if sync_started <= r["t"] <= sync_ended]
    assert len(during) >= 5, "the reader hardly read while the sync ran: no test"
    assert any(r["row"] == old for r in reads) and any(r["row"] == new for r in reads)


def _publish(data_dir, runs: int) -> None:
    """A warehouse holding `runs` sync_runs rows, published as a sync does (`warehouse.build`)."""
    lake = Lake(data_dir / "lake")
    staging = data_dir / "staging"
    now = datetime(2026, 11, 1, tzinfo=UTC)
    row = {"run_id": f"run-{runs}", "as_of": now, "started_at": now, "ended_at": now, "outcome": "success",
           "api_calls": 1, "summary": "{}"}
    writer = StagingWriter(staging, "sync_runs")
    writer.append(pa.Table.from_pylist([row], schema=ARROW_SCHEMAS["sync_runs"]))
    writer.close()
    lake.merge_run(staging, f"run-{runs}")
    warehouse.build(lake, data_dir)


def test_a_connection_opened_after_a_publish_sees_the_new_run_even_while_this_process_holds_the_old_file(
        tmp_path):
    """DuckDB keeps one open database per path in a process: `warehouse.connect` must not hand back the file a
    publish replaced just because a notebook in this process still has it open."""
    _publish(tmp_path, 1)
    held = warehouse.connect(tmp_path)
    try:
        _publish(tmp_path, 2)
        fresh = warehouse.connect(tmp_path)
        try:
            assert fresh.execute("select count(*) from sync_runs").fetchone() == (2,)
        finally:
            fresh.close()
        assert held.execute("select count(*) from sync_runs").fetchone() == (1,)  # the old snapshot, whole
    finally:
        held.close()


@pytest.mark.parametrize("opener", ["warehouse.connect", "duckdb read_only"])
def test_a_reader_holding_the_warehouse_open_does_not_block_a_rebuild(tmp_path, opener):
    import duckdb

    _publish(tmp_path, 1)
    held = (warehouse.connect(tmp_path) if opener == "warehouse.connect"
            else duckdb.connect(str(tmp_path / warehouse.WAREHOUSE_FILE), read_only=True))
    try:
        _publish(tmp_path, 2)  # would raise if the open file were locked against the swap
    finally:
        held.close()
    con = warehouse.connect(tmp_path)
    try:
        assert con.execute("select count(*) from sync_runs").fetchone() == (2,)
    finally:
        con.close()
