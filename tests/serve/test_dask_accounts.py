"""`smsetl sync --accounts --dask tcp://...` against a running Dask scheduler and a real local Prefect server (a
Dask worker process would otherwise start a temporary server of its own): three sandbox accounts, one with a
wrong key. Its combined warehouse equals the threaded run's row for row, and the bad account fails in both the
same way. The cluster is started by the test, apart from the command, as in production (a scheduler address);
`--dask local` builds the same runner with a cluster of its own (tests/accounts/test_dask_runner.py).

Slow (a Prefect server, then two runs of the command, the second starting a cluster whose worker processes
import the pipeline): one test, skipped with the reason when the server does not start."""

import contextlib
import io
import logging
import os
import time
from datetime import datetime
from types import SimpleNamespace

import duckdb
from e2e_support import SANDBOX_TZ, dump

KEYS = {"north": "north" + "1" * 35, "south": "south" + "2" * 35, "west": "west" + "3" * 36}
SEEDS = {"north": 41, "south": 42, "west": 43}
ACCOUNTS = "".join(f"""
[[account]]
name = "{name}"
api_url = "{{{name}}}"
key_env = "{name.upper()}_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
""" for name in KEYS)


def _accounts_table(path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select account, outcome, has_data, error from accounts order by 1").fetchall()
    finally:
        con.close()


def test_a_sync_of_three_accounts_on_a_dask_scheduler_equals_the_threaded_one(prefect_server, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from sandbox import Faults, Sandbox
    from smsetl import cli

    url, _ = prefect_server
    sandboxes = {name: Sandbox.generate(seed=seed, campaigns=3, messages=240, now=datetime(2026, 11, 1, 12, 0),
                                        timezone=SANDBOX_TZ) for name, seed in SEEDS.items()}
    for name, sb in sandboxes.items():
        sb.api_key = KEYS[name]
    # In this process (its imports are paid for; a worker process pays its own), the environment set before the
    # cluster starts: its worker processes inherit it. The Prefect API URL reaches them with the flow's context.
    for name, value in {"PREFECT_API_URL": url, "SMS_RATE_LIMIT": "none", "SMSETL_ACCOUNT_WORKERS": "2",
                        "NORTH_SMS_API_KEY": KEYS["north"], "SOUTH_SMS_API_KEY": "wrong" + "0" * 35,
                        "WEST_SMS_API_KEY": KEYS["west"]}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMS_API_KEY", raising=False)
    monkeypatch.delenv("SMSETL_DASK", raising=False)
    runs = {}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(sb.serve(port=0, faults=Faults())) for name, sb in sandboxes.items()}
        accounts = tmp_path / "agency.toml"
        accounts.write_text(ACCOUNTS.format(**{name: s.url for name, s in servers.items()}))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: url}))
        from distributed import LocalCluster

        # Worker processes of their own, started before the command runs: they share nothing with it but the
        # environment they inherited, as a remote cluster's workers have theirs.
        cluster = stack.enter_context(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.CRITICAL))
        for runner, flags in (("threads", []), ("dask", ["--dask", cluster.scheduler_address])):
            out, err, started = io.StringIO(), io.StringIO(), time.monotonic()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(["sync", "--accounts", str(accounts), "--data-dir", str(tmp_path / runner),
                                 "--since", "2026-05-01", *flags])
            runs[runner] = SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
            print(f"{runner}: {time.monotonic() - started:.1f} s")

    threads, dask = runs["threads"], runs["dask"]
    assert (threads.returncode, dask.returncode) == (1, 1), dask.stderr[-3000:]
    for run in (threads, dask):
        assert "smsetl sync: 1 of 3 accounts failed: south" in run.stderr
        assert "account 'south': API code 8: login failed" in run.stderr and "$SOUTH_SMS_API_KEY" in run.stderr
        assert "north: synced in" in run.stdout and "west: synced in" in run.stdout
        for key in [*KEYS.values(), "wrong" + "0" * 35]:
            assert key not in run.stdout + run.stderr
    assert dask.stderr.splitlines()[-2:] == threads.stderr.splitlines()[-2:]  # the failure, said the same way
    combined = {runner: tmp_path / runner / "warehouse.duckdb" for runner in runs}
    assert _accounts_table(combined["dask"]) == _accounts_table(combined["threads"])
    assert [row[:3] for row in _accounts_table(combined["dask"])] == [
        ("north", "success", True), ("south", "failed", False), ("west", "success", True)]
    for name in ("north", "west"):
        rows = dump(combined["threads"], account=name)
        assert dump(combined["dask"], account=name) == rows
        assert len(rows["messages"]) > 100  # something was synced
    assert not (tmp_path / "dask" / "accounts" / "south").exists()
    # Where the accounts ran: raw part files are named by the writing process's id (storage.raw.RawWriter).
    writers = {runner: {part.name.split("-")[1] for part in (tmp_path / runner / "accounts").rglob("part-*")}
               for runner in runs}
    assert writers["threads"] == {str(os.getpid())}  # threads of this process
    assert writers["dask"] and str(os.getpid()) not in writers["dask"]  # the LocalCluster's worker processes
    assert f"on the Dask cluster at {cluster.scheduler_address}" in dask.stdout
