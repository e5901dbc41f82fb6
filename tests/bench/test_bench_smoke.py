"""The benchmarks run at a tiny scale in the default test run, so that they cannot rot."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rate_limit_bench_runs_and_writes_its_figures(tmp_path, monkeypatch, capsys):
    bench = _load("ratelimit")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--limits", "20", "--seconds", "1", "--no-sync"]) == 0
    (out,) = tmp_path.glob("ratelimit-*.json")
    (row,) = json.loads(out.read_text())["rows"]
    assert row["limit"] == 20 and row["told_rate"] > 0 and row["adaptive_rate"] > 0 and row["learned_rate"] > 0
    assert "from what it learned" in capsys.readouterr().out
