import argparse
import csv
import io
import json

import duckdb
import pytest
import sql_fixtures

from reports.metrics import render_campaign_metrics
from smsetl.metrics import add_arguments, run, warehouse_path


@pytest.fixture
def data_dir(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    sql_fixtures.make_warehouse(con)
    con.close()
    return tmp_path


def parse(argv):
    parser = argparse.ArgumentParser(prog="smsetl metrics")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_json_output_has_one_object_per_campaign_with_the_contract_columns(warehouse):
    data = json.loads(render_campaign_metrics(warehouse, fmt="json"))
    assert [d["campaign_id"] for d in data] == [1, 2, 3, 4]
    assert data[0]["cost_total"] == "0.1750"
    assert data[0]["created_at"] == "2026-10-01T18:00:00Z"
    assert data[1]["delivery_rate"] is None


def test_csv_output_has_a_header_and_empty_cells_for_null(warehouse):
    reader = list(csv.DictReader(io.StringIO(render_campaign_metrics(warehouse, fmt="csv"))))
    assert len(reader) == 4
    assert reader[1]["delivery_rate"] == ""
    assert reader[0]["is_settled"] == "false"


def test_table_and_markdown_output_filter_one_campaign(warehouse):
    table = render_campaign_metrics(warehouse, campaign_id=3, fmt="table")
    lines = table.splitlines()
    assert lines[0].split()[0] == "campaign_id" and len(lines) == 3
    assert "NULL" in lines[2]
    markdown = render_campaign_metrics(warehouse, campaign_id=3, fmt="markdown")
    assert markdown.splitlines()[0].startswith("| campaign_id | campaign_type |")
    assert markdown.splitlines()[1].startswith("|---|")
    assert len(markdown.splitlines()) == 3


def test_an_empty_warehouse_renders_headers_only(empty_warehouse):
    assert json.loads(render_campaign_metrics(empty_warehouse, fmt="json")) == []
    assert "(no campaigns)" in render_campaign_metrics(empty_warehouse)
    assert render_campaign_metrics(empty_warehouse, fmt="csv").startswith("campaign_id,")


def test_an_unknown_format_is_a_value_error(warehouse):
    with pytest.raises(ValueError):
        render_campaign_metrics(warehouse, fmt="xml")


def test_cli_prints_metrics_from_the_warehouse_opened_read_only(data_dir, capsys):
    assert run(parse(["--data-dir", str(data_dir), "--format", "json", "--campaign", "1"])) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["delivered"] == 4


def test_cli_data_dir_defaults_to_the_environment(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("SMS_DATA_DIR", str(data_dir))
    assert warehouse_path() == data_dir / "warehouse.duckdb"
    assert run(parse(["--format", "csv"])) == 0
    assert capsys.readouterr().out.count("\n") == 5


def test_cli_without_a_warehouse_names_smsetl_sync_as_the_fix(tmp_path, capsys):
    assert run(parse(["--data-dir", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert "smsetl sync" in err and str(tmp_path) in err


def test_cli_on_a_warehouse_without_views_names_smsetl_sync(tmp_path, capsys):
    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    assert run(parse(["--data-dir", str(tmp_path)])) == 2
    assert "smsetl sync" in capsys.readouterr().err
