"""`smsetl sync --dask local` for one account: its message batches on a Dask LocalCluster of two worker
processes, against a real local Prefect server (a Dask worker process would otherwise start a temporary server
of its own). A backfill and an incremental sync give the warehouse of the threaded syncs of the same sandbox,
row for row in every table and view, with the same API calls per method (no batch read twice, none lost), and
the messages' raw parts were written by more than one of the cluster's processes. A batch failing on a worker
fails the run, recorded, its data left out.

Slow (a Prefect server, four syncs, two of them starting a cluster whose processes import the pipeline): one
test, skipped with the reason when the server does not start."""

import contextlib
import io
import json
import os
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from e2e_support import SANDBOX_TZ, dump

from storage.parts import writer_of

REVOKED = "revoked" + "9" * 33


def _run_summaries(data_dir) -> list[dict]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return [json.loads(s) for (s,) in con.execute("select summary from sync_runs order by run_id").fetchall()]
    finally:
        con.close()


def test_one_accounts_batches_on_a_dask_cluster_give_the_threaded_warehouse(prefect_server, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import steps
    from flows.settings import activated, load
    from flows.sync import sync
    from sandbox import SANDBOX_API_KEY, Faults, Sandbox
    from smsetl import cli

    url, _ = prefect_server
    # Batches of 3 campaigns (decided in this process, which plans the run): 12 campaigns make 4 batches.
    monkeypatch.setattr(steps, "CAMPAIGN_BATCH", 3)
    for name, value in {"PREFECT_API_URL": url, "SMS_RATE_LIMIT": "none", "SMSETL_WORKERS": "2",
                        "SMS_API_KEY": SANDBOX_API_KEY, "SMS_TIMEZONE": SANDBOX_TZ}.items():
        monkeypatch.setenv(name, value)  # before the cluster starts: its worker processes inherit them
    monkeypatch.delenv("SMSETL_DASK", raising=False)
    sandboxes = {runner: Sandbox.generate(seed=23, campaigns=12, messages=1500, now=datetime(2026, 11, 1, 12, 0),
                                          timezone=SANDBOX_TZ) for runner in ("threads", "dask")}
    outputs, calls = {}, {}
    with contextlib.ExitStack() as stack:
        servers = {r: stack.enter_context(sb.serve(port=0, faults=Faults())) for r, sb in sandboxes.items()}
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: url}))
        for step in ("backfill", "incremental"):
            for runner, flags in (("threads", []), ("dask", ["--dask", "local"])):
                if step == "incremental":
                    sandboxes[runner].clock.advance(timedelta(hours=6))
                out, err, started = io.StringIO(), io.StringIO(), time.monotonic()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = cli.main(["sync", "--data-dir", str(tmp_path / runner), "--since", "2026-05-01",
                                     "--api-url", servers[runner].url, *flags])
                assert code == 0, err.getvalue()[-3000:]
                outputs[runner, step] = out.getvalue()
                calls[runner, step] = servers[runner].calls()
                print(f"{step} on {runner}: {time.monotonic() - started:.1f} s")
        before = dump(tmp_path / "dask" / "warehouse.duckdb")
        # A batch that fails on a worker fails the run: here the workers' environment holds a revoked key (the
        # flow's own client has the good one, from its settings), so every batch meets code 8 on the cluster.
        sandboxes["dask"].clock.advance(timedelta(hours=6))
        monkeypatch.setenv("SMS_API_KEY", REVOKED)
        good = load(SMS_API_KEY=SANDBOX_API_KEY, SMS_API_URL=servers["dask"].url, SMSETL_DASK="local",
                    SMS_DATA_DIR=str(tmp_path / "dask"))
        with activated(good), pytest.raises(Exception, match="failed on the worker") as failed:
            sync(str(tmp_path / "dask"), since=datetime(2026, 5, 1, tzinfo=UTC))
    assert "code 8" in str(failed.value) and REVOKED not in str(failed.value)
    failure = _run_summaries(tmp_path / "dask")[-1]
    assert failure["outcome"] == "failed" and "failed on the worker" in failure["error"], failure
    assert REVOKED not in json.dumps(failure)
    assert failure["api"]["calls"]["Message/List"] >= 1  # the failed batch's calls count in the failed run
    assert dump(tmp_path / "dask" / "warehouse.duckdb") == before  # the run left the data as it was
    assert not any((tmp_path / "dask" / "staging").glob("*/*"))  # its staging dropped

    assert "message batches on a Dask LocalCluster of 2 worker processes" in outputs["dask", "backfill"]
    threads, dask = tmp_path / "threads", tmp_path / "dask"
    rows = dump(threads / "warehouse.duckdb")
    assert dump(dask / "warehouse.duckdb") == rows
    assert len(rows["messages"]) > 1000 and rows["link_click_stats"] and rows["campaign_metrics"]
    # The gateway saw the same calls per method (cumulative: the backfill, then both runs), and each run's
    # summary counts its batches' calls, made by the workers' own clients, as the run's.
    for step in ("backfill", "incremental"):
        assert calls["dask", step] == calls["threads", step], step
    summaries = {runner: _run_summaries(tmp_path / runner)[:2] for runner in ("threads", "dask")}  # both succeeded
    for runner in summaries:
        sent = sum(s["api"]["calls"].get("Message/List", 0) for s in summaries[runner])
        assert sent == calls[runner, "incremental"]["Message/List"], runner
    assert [s["api"]["calls"] for s in summaries["dask"]] == [s["api"]["calls"] for s in summaries["threads"]]
    incremental = summaries["dask"][1]
    assert incremental["watermarks"]["status_updated_from"] and incremental["api"]["calls"]["Message/List"]
    print("incremental run:", incremental["api"]["calls"], incremental["rows"]["messages"])
    # Who wrote the messages' raw parts: this process's threads, or more than one of the cluster's processes.
    writers = {runner: {writer_of(p.name) for p in (tmp_path / runner / "raw" / "messages").rglob("part-*")}
               for runner in ("threads", "dask")}
    assert {w.split("-")[0] for w in writers["threads"]} == {str(os.getpid())}
    assert len(writers["dask"]) >= 2 and str(os.getpid()) not in {w.split("-")[0] for w in writers["dask"]}
    latest = tmp_path / "dask" / "raw" / "messages" / f"run={incremental['run_id']}"
    latest_writers = {writer_of(p.name) for p in latest.glob("part-*")}
    assert latest_writers and latest_writers <= writers["dask"] - writers["threads"]  # incremental batches too
