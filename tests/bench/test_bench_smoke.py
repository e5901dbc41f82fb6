"""The benchmarks run at a tiny scale in the default test run, so that they cannot rot."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

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


def test_the_dlt_comparison_runs_every_tool_and_they_land_the_same_rows(tmp_path, monkeypatch, capsys):
    bench = _load("dlt_compare")
    if bench.find_dlt_python() is None:
        pytest.skip(f"dlt is not installed in {bench.DLT_VENV} (`.venv/bin/python bench/dlt_compare.py` creates it; "
                    "this test installs nothing)")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--messages", "2000", "--campaigns", "20"]) == 0
    (out,) = tmp_path.glob("dlt-*.json")
    figures = json.loads(out.read_text())
    assert list(figures["summary"]) == ["floor", "smsetl", "dlt-default", "dlt-tuned"]
    assert figures["rows_equal"] and figures["rows_in_messages"][0] > 1000
    assert figures["dlt_version"]
    printed = capsys.readouterr().out
    assert "smsetl speed-up over dlt-default" in printed and "smsetl speed-up over dlt-tuned" in printed


def test_the_dlt_comparison_flags_tools_that_land_different_rows_and_missed_targets():
    bench = _load("dlt_compare")
    assert bench.schedule(bench.TOOLS) == ["floor", "smsetl", "dlt-default", "floor", "smsetl", "dlt-tuned",
                                           "floor", "smsetl"]
    assert bench.schedule(("floor", "smsetl")) == ["floor", "smsetl"]
    calls = {"Message/List": 3}
    pair = [{"kind": "floor", "repeat": 0, "wall_s": 1.0, "messages": 300},
            {"kind": "smsetl", "repeat": 0, "wall_s": 1.5, "rows": {"messages": {"added": 300}}}]
    runs = [*pair, {"kind": "dlt-default", "repeat": 0, "wall_s": 15.0, "messages": 299},
            *[{**r, "wall_s": r["wall_s"] * 2} for r in pair],  # a slow spell: its ratio is still 1.5
            {"kind": "dlt-tuned", "repeat": 0, "wall_s": 6.0, "messages": 300}, *pair]
    for r in runs:
        r.update(cpu_s=1.0, peak_rss_mb=100.0, sandbox_calls=calls)
        r.setdefault("workers_cpu_s", 2.5 if r["kind"] == "smsetl" else None)  # smsetl's worker processes' CPU
    figures = bench.summarize(runs, bench.TOOLS)
    assert figures["summary"]["smsetl"]["cpu_s_median"] == 3.5 and figures["summary"]["floor"]["cpu_s_median"] == 1.0
    assert not figures["rows_equal"] and figures["rows_in_messages"] == [299, 300]
    assert figures["ratios"]["smsetl / floor"] == [1.5, 1.5, 1.5]
    assert figures["ratios"]["dlt-default / smsetl"] == [10.0]  # 15 s over the median of 1.5, 3.0, 1.5
    assert figures["ratio_medians"]["dlt-default / smsetl"] == 10.0
    printed = bench.report({**figures, "config": {k: 0 for k in ("messages", "campaigns", "seed", "as_of", "workers",
                                                                   "dlt_workers", "repeat")},
                            "machine": {k: "?" for k in ("cores", "machine", "python", "prefect", "duckdb")},
                            "dlt_version": "1", "dlt_python": "python"})
    assert "DIFFER across tools: [299, 300]" in printed
    each = "per repeat (against its smsetl median)"
    assert f"smsetl speed-up over dlt-default: median 10.00 x; {each} 10.00  (target >= 20: NOT met)" in printed
    assert f"smsetl speed-up over dlt-tuned: median 4.00 x; {each} 4.00  (target >= 3: met)" in printed
    assert "smsetl / floor (wall): median 1.50 x; per pair 1.50, 1.50, 1.50" in printed


def test_the_backfill_bench_runs_both_children_and_counts_the_apis_minimum(tmp_path, monkeypatch, capsys):
    bench = _load("backfill")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--messages", "2000", "--campaigns", "20", "--repeat", "1"]) == 0
    (out,) = tmp_path.glob("backfill-*.json")
    figures = json.loads(out.read_text())
    floor, pipeline = figures["summary"]["floor"], figures["summary"]["pipeline"]
    assert floor["messages"] == pipeline["messages"] > 1000
    assert 0 < figures["api_minimum"] <= floor["api_calls"] <= pipeline["api_calls"]
    assert "pipeline / minimum" in capsys.readouterr().out


def test_the_apis_minimum_is_full_pages_and_batches_of_what_was_fetched():
    bench = _load("backfill")
    floor = {"campaigns": 193, "links_listed": 120, "links_with_clicks": 72, "messages": 184_612}
    # 2 pages of campaigns + 193 GetLinks + 2 pages of links + 3 types x 15 GetStats + 1,847 pages of messages
    assert bench.api_minimum(floor, stats_types=3) == 2 + 193 + 2 + 45 + 1847


def test_the_metrics_scale_bench_builds_a_warehouse_without_the_api_and_times_every_view(tmp_path, monkeypatch, capsys):
    bench = _load("metrics_scale")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    keep = tmp_path / "data"
    assert bench.main(["--messages", "3000", "--campaigns", "30", "--repeat", "2", "--keep", str(keep)]) == 0
    (out,) = (tmp_path / "results").glob("metrics-*.json")
    figures = json.loads(out.read_text())
    assert figures["rows"]["messages"] == 3000 and figures["rows"]["campaigns"] == 30
    assert set(figures["timings"]) == set(bench.VIEWS)
    assert all(len(t["runs_s"]) == 2 and t["min_s"] <= t["median_s"] for t in figures["timings"].values())
    assert "campaign_metrics median" in capsys.readouterr().out

    # The generated tables are what a sync would have stored: every campaign's counters agree with its
    # messages, every message falls in one of the eight status counts, and the links carry clicks.
    import duckdb
    con = duckdb.connect(str(keep / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*), count_if(is_consistent) from reconciliation").fetchone() == (30, 30)
        total, counted, clicks = con.execute("""
            select sum(messages_total), sum(pending + partially_delivered + delivered + undelivered + rejected
                                            + expired + deleted + unknown), sum(clicks) from campaign_metrics
        """).fetchone()
        assert total == counted == 3000 and clicks > 0
        statuses = {s for (s,) in con.execute("select distinct status::varchar from messages").fetchall()}
        assert {"DELIVRD", "UNDELIV", "EXPIRED", "ACCEPTD", "UNKNOWN"} <= statuses
        # The aggregates the build materializes hold exactly what their views compute.
        from storage.views import SQL_DIR
        from storage.warehouse import MATERIALIZED
        for name in MATERIALIZED:
            (kind,) = con.execute("select table_type from information_schema.tables where table_name = ?",
                                  [name]).fetchone()
            view = (SQL_DIR / f"{name}.sql").read_text().strip().rstrip(";")
            assert kind == "BASE TABLE"
            assert con.execute(f"select * from {name} order by all").fetchall() == \
                con.execute(f"select * from ({view}) order by all").fetchall()
    finally:
        con.close()


@pytest.fixture
def environ_restored(prefect_harness):
    """The benches set their settings in os.environ, as a command does: put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _load_in_suite(name: str, monkeypatch):
    """A bench whose flows run on the suite's Prefect (the harness), not on a temporary home of its own."""
    bench = _load(name)
    own = bench.prefect_env
    monkeypatch.setattr(bench, "prefect_env", lambda **kw: {k: v for k, v in own(**kw).items() if k != "PREFECT_HOME"})
    return bench


def test_the_incremental_bench_runs_three_syncs_and_counts_their_calls(tmp_path, monkeypatch, capsys,
                                                                        environ_restored):
    bench = _load_in_suite("incremental", monkeypatch)
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--campaigns", "3", "--messages", "200"]) == 0
    (out,) = tmp_path.glob("incremental-*.json")
    runs = json.loads(out.read_text())["runs"]
    assert list(runs) == ["backfill", "after 1 h", "nothing changed"]
    assert 0 < runs["nothing changed"]["total_calls"] < runs["backfill"]["total_calls"]
    assert all(r["phase_seconds"]["publish"] > 0 and "merge" in r["phase_seconds"] for r in runs.values())
    printed = capsys.readouterr().out
    assert "of the backfill's" in printed and printed.count("  phases s: ") == 3
    assert runs["backfill"]["warehouse"] == "whole" and runs["backfill"]["warehouse_reason"] == "no warehouse yet"
    assert printed.count("  warehouse ") == 3
    assert json.loads(out.read_text())["same_as_whole_build"] is True


def test_the_s3_publish_bench_finds_the_s3_and_local_warehouses_equal(tmp_path, monkeypatch, capsys,
                                                                       environ_restored):
    bench = _load_in_suite("s3_publish", monkeypatch)
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--campaigns", "3", "--messages", "200"]) == 0
    (out,) = tmp_path.glob("s3-publish-*.json")
    figures = json.loads(out.read_text())
    assert figures["warehouses_equal"] and figures["runs"]["backfill"]["s3"]["uploaded"] > 0
    assert "warehouses equal row by row: True" in capsys.readouterr().out


def test_the_warehouse_patch_bench_patches_every_run_and_finds_the_rows_of_a_whole_build(tmp_path, monkeypatch,
                                                                                        capsys):
    bench = _load("warehouse_patch")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["--messages", "4000", "--run-messages", "200", "--repeat", "2"]) == 0
    (out,) = tmp_path.glob("warehouse_patch-*.json")
    (result,) = json.loads(out.read_text())["results"]
    assert result["messages"] == 4000 and result["all_patched"] and result["same_as_whole_build"]
    assert len(result["whole_s"]) == len(result["patch_s"]) == 2
    assert "whole/patch" in capsys.readouterr().out
