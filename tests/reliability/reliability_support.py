"""Helpers for the reliability suite: a small sandbox, a fast client, and a row-by-row dump of the warehouse."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from sandbox import Sandbox
from smsapi import SmsApi

ROOT = Path(__file__).resolve().parents[2]
NOW_TZ = "Asia/Almaty"

# Columns that name or time the run itself, not the data: they differ between any two runs.
PER_RUN_COLUMNS = ("run_id", "synced_at", "started_at", "finished_at", "loaded_at", "duration", "api_calls",
                   "summary", "ingested_at", "extracted_at")
PER_RUN_TABLES = ("sync_runs", "stg_sync_runs")


def small_sandbox(seed: int) -> Sandbox:
    from e2e_support import SANDBOX_NOW, SANDBOX_TZ

    return Sandbox.generate(seed=seed, campaigns=8, messages=800, now=SANDBOX_NOW, timezone=SANDBOX_TZ)


def fast_client(monkeypatch, read_timeout: float = 0.3, max_retries: int = 12) -> None:
    """The flow's client with short timeouts and backoff, so a slow answer times out and retries cost little.
    (SMS_* variables have no timeout setting: the flow gets these through from_env's keyword overrides.)"""
    original = SmsApi.from_env.__func__

    def from_env(cls, env=None, **overrides):
        overrides.setdefault("timeout", (2.0, read_timeout))
        overrides.setdefault("backoff", 0.005)
        overrides.setdefault("max_backoff", 0.5)  # code 30 clears within a second
        overrides.setdefault("max_retries", max_retries)
        return original(cls, env, **overrides)

    monkeypatch.setattr(SmsApi, "from_env", classmethod(from_env))


def dump_warehouse(data_dir) -> dict[str, list[tuple]]:
    """Every table and view of the warehouse (per-run tables and columns left out) as sorted tuples."""
    con = duckdb.connect(str(Path(data_dir) / "warehouse.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' order by 1").fetchall()]
        out = {}
        for name in names:
            if name in PER_RUN_TABLES:
                continue
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'main'"
                " and table_name = ? order by ordinal_position", [name]).fetchall()]
            keep = [c for c in cols if not any(p in c for p in PER_RUN_COLUMNS)]
            quoted = ", ".join(f'"{c}"' for c in keep)
            rows = con.execute(f'select {quoted} from "{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def run_cli(*args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smsetl.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT, timeout=timeout)
