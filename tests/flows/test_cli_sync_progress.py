"""`smsetl sync` in a subprocess: plain lines through a pipe, the live table on a terminal (a pseudo-terminal)."""

import os
import pty
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def cli_env(prefect_harness):
    """A small sandbox on loopback, and the environment a `smsetl sync` subprocess needs to reach it (and the
    session's Prefect server, so that it starts no temporary one of its own)."""
    from prefect.settings import PREFECT_API_URL

    from sandbox import SANDBOX_API_KEY, Faults, Sandbox

    sb = Sandbox.generate(seed=5, campaigns=6, messages=600, now=datetime(2026, 11, 1, 12, 0), timezone="Asia/Almaty")
    with sb.serve(port=0, faults=Faults()) as server:
        yield dict(os.environ, SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE="Asia/Almaty",
                   SMS_RATE_LIMIT="none", PREFECT_API_URL=PREFECT_API_URL.value(), TERM="xterm")


def warehouse_counts(data_dir: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return (con.execute("select count(*) from campaigns").fetchone()[0],
                con.execute("select count(*) from messages").fetchone()[0])
    finally:
        con.close()


def sync_args(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "smsetl.cli", "sync", "--since", "2026-06-01", "--data-dir", str(data_dir)]


def test_sync_through_a_pipe_prints_plain_lines_and_the_summary_line(cli_env, tmp_path):
    result = subprocess.run(sync_args(tmp_path / "data"), capture_output=True, text=True, cwd=ROOT, env=cli_env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not ANSI.search(result.stdout) and not ANSI.search(result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sync ") and "success" in lines[0]
    campaigns, messages = warehouse_counts(tmp_path / "data")
    assert re.fullmatch(rf"changed: {campaigns} new campaigns, {messages} new messages, 0 status changes, \d+ new"
                        r" clicks · plan [\d.]+ s, campaigns .* publish [\d.]+ s, report [\d.]+ s", lines[1]), lines[1]
    assert "smsetl.sync plan:" in result.stderr  # the flow's own log lines, unchanged


def test_sync_on_a_terminal_draws_the_live_table_with_each_entity(cli_env, tmp_path):
    leader, follower = pty.openpty()
    process = subprocess.Popen(sync_args(tmp_path / "data"), stdout=follower, stderr=follower, cwd=ROOT,
                               env=cli_env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=300) == 0, output[-2000:]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode())
    assert ANSI.search(output.decode())  # drawn, not logged
    final = text[text.rindex("sync · finished"):text.rindex("\nsync ")]  # the last frame, above the summary
    rows = {line.split()[0]: line.split() for line in final.splitlines() if line.strip()}
    assert rows["entity"] == ["entity", "items", "calls", "rate/s", "total", "ETA"]
    campaigns, messages = warehouse_counts(tmp_path / "data")
    assert rows["messages"][1] == rows["messages"][4] == f"{messages:,}" and rows["messages"][5] == "done"
    assert rows["campaigns"][-1] == "done"
    assert "read so far:" not in text  # the live table replaces the plain progress lines
    assert f"changed: {campaigns} new campaigns, {messages:,} new messages" in text
