"""The README's first command works: `smsetl demo` on a fresh data directory."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "smsetl.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=dict(os.environ))


def test_demo_syncs_twice_and_prints_the_campaign_table(tmp_path):
    result = run_cli("demo", "--campaigns", "8", "--messages", "800", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "late reports arrive" in result.stdout
    assert result.stdout.count("sync ") >= 2 and "success" in result.stdout
    assert "delivery_rate" in result.stdout
    assert (tmp_path / "data" / "warehouse.duckdb").exists()


def test_demo_refuses_a_data_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.parquet").write_text("not the demo's")
    result = run_cli("demo", "--data-dir", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "--data-dir" in result.stderr
    assert (tmp_path / "precious.parquet").exists()


def test_metrics_prints_csv_from_the_synced_warehouse(synced):
    result = run_cli("metrics", "--format", "csv", "--data-dir", str(synced.data_dir), timeout=120)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.strip().splitlines()
    assert header.startswith("campaign_id,campaign_type,sender")
    assert len(rows) >= 10
