"""`smsetl sync --accounts` on a Dask LocalCluster (`SMSETL_DASK=local`) against a real local Prefect server (a
Dask worker process would otherwise start a temporary server of its own): three sandbox accounts, one with a
wrong key. Its combined warehouse equals the threaded run's row for row, and the bad account fails in both the
same way.

Slow (a Prefect server, then two CLI runs as processes): one test, skipped with the reason when the server does
not start."""

import subprocess
import time
from datetime import datetime
from types import SimpleNamespace

import duckdb
from e2e_support import SANDBOX_TZ, dump
from server_support import BIN

KEYS = {"north": "north" + "1" * 35, "south": "south" + "2" * 35, "west": "west" + "3" * 36}
SEEDS = {"north": 41, "south": 42, "west": 43}
ACCOUNTS = "".join(f"""
[[account]]
name = "{name}"
api_url = "{{{name}}}"
key_env = "{name.upper()}_SMS_API_KEY"
timezone = "{SANDBOX_TZ}"
""" for name in KEYS)
RUN_TIMEOUT = 60


def _accounts_table(path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select account, outcome, has_data, error from accounts order by 1").fetchall()
    finally:
        con.close()


def test_a_dask_run_sync_of_three_accounts_equals_the_threaded_one(prefect_server, tmp_path):
    from sandbox import Faults, Sandbox

    url, server_env = prefect_server
    sandboxes = {name: Sandbox.generate(seed=seed, campaigns=4, messages=300, now=datetime(2026, 11, 1, 12, 0),
                                        timezone=SANDBOX_TZ) for name, seed in SEEDS.items()}
    for name, sb in sandboxes.items():
        sb.api_key = KEYS[name]
    servers = {name: sb.serve(port=0, faults=Faults()) for name, sb in sandboxes.items()}
    try:
        accounts = tmp_path / "agency.toml"
        accounts.write_text(ACCOUNTS.format(**{name: s.url for name, s in servers.items()}))
        env = {**server_env, "PREFECT_API_URL": url, "SMS_RATE_LIMIT": "none", "SMSETL_ACCOUNT_WORKERS": "2",
               "SMS_PII_KEY_FILE": str(tmp_path / "pii-key"),  # both runs hash recipients with one key
               "NORTH_SMS_API_KEY": KEYS["north"], "SOUTH_SMS_API_KEY": "wrong" + "0" * 35,
               "WEST_SMS_API_KEY": KEYS["west"]}
        env.pop("SMS_API_KEY", None)
        env.pop("SMSETL_DASK", None)
        runs = {}
        for runner, extra in (("threads", {}), ("dask", {"SMSETL_DASK": "local"})):
            started = time.monotonic()
            process = subprocess.Popen(
                [str(BIN / "smsetl"), "sync", "--accounts", str(accounts), "--data-dir", str(tmp_path / runner),
                 "--since", "2026-05-01"], env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, cwd=tmp_path)
            out, err = process.communicate(timeout=RUN_TIMEOUT)
            runs[runner] = SimpleNamespace(pid=process.pid, returncode=process.returncode, stdout=out, stderr=err)
            print(f"{runner}: {time.monotonic() - started:.1f} s")
    finally:
        for server in servers.values():
            server.close()

    threads, dask = runs["threads"], runs["dask"]
    assert (threads.returncode, dask.returncode) == (1, 1), dask.stderr[-3000:]
    for run in (threads, dask):
        assert "smsetl sync: 1 of 3 accounts failed: south" in run.stderr
        assert "account 'south': API code 8: login failed" in run.stderr and "$SOUTH_SMS_API_KEY" in run.stderr
        assert "north: synced in" in run.stdout and "west: synced in" in run.stdout
        for key in [*KEYS.values(), "wrong" + "0" * 35]:
            assert key not in run.stdout + run.stderr
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
    assert writers["threads"] == {str(threads.pid)}  # threads of the command's own process
    assert writers["dask"] and str(dask.pid) not in writers["dask"]  # the LocalCluster's worker processes
    assert "on a Dask LocalCluster of 2 worker processes" in dask.stdout
