"""`smsetl report`: one self-contained HTML page, its numbers those of the views, data text escaped."""

import argparse
import logging
import re
from decimal import Decimal

import duckdb
import pytest
from report_fixtures import HOSTILE_NAME, HOSTILE_OPERATOR, HOSTILE_SENDER
from report_page import parse

from flows import sync  # imported here, not in a test: prefect configures logging on import (caplog)
from reports.html import CHARTS, HEADLINE, REPORT_FILE, render_report, write_report
from smsetl.report import add_arguments, run
from storage.warehouse import WAREHOUSE_FILE

SECTIONS = ["summary", "headline", "funnel", "latency", "clicks", "senders", "operators", "reconciliation"]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="smsetl report")
    add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def con(data_dir):
    con = duckdb.connect(str(data_dir / WAREHOUSE_FILE), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def page(data_dir) -> str:
    return write_report(data_dir).read_text()


def campaign_metrics(con, campaign_id=None) -> dict[int, dict]:
    sql, params = "select * from campaign_metrics", []
    if campaign_id is not None:
        sql, params = sql + " where campaign_id = ?", [campaign_id]
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def value(raw: str, like):
    """A data-value attribute read back as the type of the view's value."""
    if raw == "":
        return None
    if isinstance(like, bool):
        return raw == "true"
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, Decimal):
        return Decimal(raw)
    return float(raw)


def headline(tree) -> dict[int, dict[str, str]]:
    return {int(tr.attrs["data-campaign-id"]): {td.attrs["data-metric"]: td.attrs["data-value"]
                                                for td in tr.iter("td") if "data-metric" in td.attrs}
            for tr in tree.find("section", id="headline").find_all("tr") if "data-campaign-id" in tr.attrs}


def test_the_page_parses_and_holds_every_section_in_order(page):
    tree = parse(page)
    assert page.startswith("<!doctype html>")
    ids = [e.attrs["id"] for e in tree.iter() if e.tag in ("header", "section")]
    assert ids == SECTIONS
    for section in tree.find_all("section"):
        assert section.find("h2").text.strip()


def test_every_chart_is_one_inline_svg_in_its_own_figure(page):
    tree = parse(page)
    figures = tree.find_all("figure")
    assert [f.attrs["id"] for f in figures] == [f"chart-{c}" for c in CHARTS]
    for figure in figures:
        (svg,) = figure.find_all("svg")
        assert svg.attrs["id"] == f"svg-{figure.attrs['id'][len('chart-'):]}"
        assert svg.attrs.get("viewbox")
        assert len(svg.find_all("path")) > 5, figure.attrs["id"]  # drawn, not the empty placeholder
        assert figure.find("figcaption").text.strip()
    # matplotlib's generated ids must not clash between the inlined charts
    ids = [e.attrs["id"] for e in tree.iter() if e.attrs.get("id")]
    assert len(ids) == len(set(ids))


def test_the_headline_numbers_equal_campaign_metrics(page, con):
    shown = headline(parse(page))
    expected = campaign_metrics(con)
    assert sorted(shown) == sorted(expected)
    for campaign_id, cells in shown.items():
        row = expected[campaign_id]
        failed = row["undelivered"] + row["rejected"] + row["expired"] + row["deleted"]
        assert int(cells["failed"]) == failed
        for column, _, _ in HEADLINE:
            if column != "failed":
                assert value(cells[column], row[column]) == row[column], (campaign_id, column)
        assert value(cells["is_settled"], True) == row["is_settled"]


def test_the_headline_cells_show_the_formatted_numbers(page):
    tree = parse(page)
    row = tree.find("tr", data_campaign_id="1")
    assert row.find("td", data_metric="delivered").text == "4"
    assert row.find("td", data_metric="failed").text == "4"
    assert row.find("td", data_metric="pending").text == "3"
    assert row.find("td", data_metric="click_through_rate").text == "500.0%"  # 20 clicks, 4 delivered
    assert row.find("td", data_metric="cost_per_delivered").text == "0.0438"
    assert tree.find("tr", data_campaign_id="2").find("td", data_metric="click_through_rate").text == "–"


def test_the_totals_are_sums_over_campaign_metrics(page, con):
    tree = parse(page)
    totals = {e.attrs["data-total"]: e.attrs["data-value"] for e in tree.iter() if "data-total" in e.attrs}
    rows = list(campaign_metrics(con).values())
    delivered = sum(r["delivered"] for r in rows)
    assert int(totals["campaigns"]) == len(rows)
    assert int(totals["messages_total"]) == sum(r["messages_total"] for r in rows)
    assert int(totals["delivered"]) == delivered
    assert int(totals["failed"]) == sum(r["undelivered"] + r["rejected"] + r["expired"] + r["deleted"] for r in rows)
    assert int(totals["pending"]) == sum(r["pending"] for r in rows)
    assert float(totals["click_through_rate"]) == pytest.approx(sum(r["clicks"] for r in rows) / delivered)
    assert float(totals["cost_per_delivered"]) == pytest.approx(float(sum(r["cost_total"] for r in rows)) / delivered)


def test_the_reconciliation_counts_equal_the_view(page, con):
    tree = parse(page)
    shown = {e.attrs["data-reconciliation"]: int(e.text.replace(",", "")) for e in tree.iter()
             if "data-reconciliation" in e.attrs}
    (consistent, without, differing, lagging), = con.execute("""
        select count_if(is_consistent), count_if(not has_gateway_counters),
               count_if(has_gateway_counters and not is_consistent),
               count_if(has_gateway_counters and not is_consistent and is_counters_lagging)
        from reconciliation""").fetchall()
    assert shown == {"consistent": consistent, "without_counters": without, "differing": differing,
                     "lagging": lagging}
    table = tree.find("table", id="table-reconciliation")
    assert "DELIVRD -1, UNKNOWN +1" in table.text  # campaign 1: the gateway counted 5 delivered, 0 unknown


def test_hostile_names_senders_operators_and_links_are_escaped_text(page):
    tree = parse(page)
    assert not tree.find_all("script") and not tree.find_all("img") and not tree.find_all("iframe")
    assert '<script>alert("name")' not in page and "<img src" not in page
    row = tree.find("tr", data_campaign_id="5")
    assert HOSTILE_NAME in row.text and HOSTILE_SENDER in row.text
    assert HOSTILE_OPERATOR in tree.find("table", id="table-operators").text
    assert 'https://mbz.im/"><script>x</script>' in tree.find("table", id="table-links").text
    # in chart labels too, where `$...$` would otherwise be parsed as mathtext
    assert "$x$" in tree.find("figure", id="chart-senders").text


def test_the_page_loads_nothing_from_outside(page):
    tree = parse(page)
    for element in tree.iter():
        for name, target in element.attrs.items():
            if name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
                assert target.startswith("#"), f"<{element.tag} {name}={target!r}>"
    assert not tree.find_all("link") and not tree.find_all("script")
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page), "a CSS url() to outside"
    assert "@import" not in page
    csp = tree.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp


def test_the_campaign_filter_limits_the_page_to_that_campaign(data_dir, con, tmp_path):
    out = tmp_path / "one.html"
    assert run(parse_args(["--data-dir", str(data_dir), "--campaign", "3", "--out", str(out)]), out=_Sink()) == 0
    tree = parse(out.read_text())
    assert list(headline(tree)) == [3]
    assert "Campaign 3: campaign 3" in tree.find("h1").text
    totals = {e.attrs["data-total"]: e.attrs["data-value"] for e in tree.iter() if "data-total" in e.attrs}
    assert totals["messages_total"] == "2" and totals["failed"] == "1"
    assert [f.attrs["id"] for f in tree.find_all("figure")] == [f"chart-{c}" for c in CHARTS]
    recon = {e.attrs["data-reconciliation"]: e.text for e in tree.iter() if "data-reconciliation" in e.attrs}
    assert recon["consistent"] == "1"


def test_an_unknown_campaign_exits_non_zero_and_says_so(data_dir, tmp_path, capsys):
    out = tmp_path / "never.html"
    assert run(parse_args(["--data-dir", str(data_dir), "--campaign", "999", "--out", str(out)])) == 2
    err = capsys.readouterr().err
    assert "no campaign 999" in err and str(data_dir) in err
    assert not out.exists()


def test_without_a_warehouse_the_message_names_the_path_and_the_commands_that_make_one(tmp_path, capsys):
    assert run(parse_args(["--data-dir", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / WAREHOUSE_FILE) in err and "smsetl sync" in err and "smsetl demo" in err


def test_a_warehouse_without_views_names_smsetl_sync(tmp_path, capsys):
    duckdb.connect(str(tmp_path / WAREHOUSE_FILE)).close()
    assert run(parse_args(["--data-dir", str(tmp_path)])) == 2
    assert "smsetl sync" in capsys.readouterr().err


def test_by_default_it_writes_report_html_in_the_data_dir_and_prints_the_path(empty_data_dir, monkeypatch,
                                                                                capsys):
    monkeypatch.setenv("SMS_DATA_DIR", str(empty_data_dir))
    assert run(parse_args([])) == 0
    assert capsys.readouterr().out.strip() == str(empty_data_dir / REPORT_FILE)
    assert (empty_data_dir / REPORT_FILE).exists()
    assert [p.name for p in empty_data_dir.iterdir() if "writing" in p.name] == []


def test_an_empty_warehouse_renders_every_section_and_a_placeholder_per_chart(empty_data_dir):
    con = duckdb.connect(str(empty_data_dir / WAREHOUSE_FILE), read_only=True)
    try:
        tree = parse(render_report(con))
    finally:
        con.close()
    assert [e.attrs["id"] for e in tree.iter() if e.tag in ("header", "section")] == SECTIONS
    for figure in tree.find_all("figure"):
        assert len(figure.find_all("svg")) == 1 and "no data yet" in figure.text
    assert "no campaigns in the warehouse" in tree.find("section", id="headline").text


def test_every_section_queries_the_callers_database_in_its_time_zone(data_dir, monkeypatch):
    # The sections run two at a time, each thread on its own cursor; a DuckDB cursor starts in the in-memory
    # database and the machine's zone, not in the caller's.
    from reports import html
    from storage import warehouse

    seen, rows = [], html._rows

    def recording_rows(con, sql, params=None):
        seen.append(con.execute("select current_database(), current_setting('TimeZone')").fetchone())
        return rows(con, sql, params)

    monkeypatch.setattr(html, "_rows", recording_rows)
    con = warehouse.connect(data_dir)  # the file attached to an in-memory database, as the sync reads it
    try:
        con.execute("set timezone = 'Asia/Tokyo'")
        render_report(con)
    finally:
        con.close()
    assert len(seen) > 8 and set(seen) == {("warehouse", "Asia/Tokyo")}


def test_the_status_mix_stacks_each_campaigns_shares_in_status_order_the_first_campaign_on_top():
    from matplotlib.figure import Figure

    from reports.html import STATUS_MIX, _draw_status_mix

    counts = dict.fromkeys((column for column, _, _ in STATUS_MIX), 0)
    campaigns = [{**counts, "campaign_id": 1, "campaign_name": "a", "messages_total": 4, "delivered": 3, "expired": 1},
                 {**counts, "campaign_id": 2, "campaign_name": "b", "messages_total": 5, "pending": 5}]
    fig = Figure()
    assert _draw_status_mix(fig, campaigns)
    (ax,) = fig.axes
    bars = {c.get_label(): [(p.vertices[:, 0].min(), p.vertices[:, 0].max(), p.vertices[:, 1].min() + 0.375)
                            for p in c.get_paths()] for c in ax.collections}  # (left, right, centre) of each
    assert bars == {"delivered": [(0.0, 0.75, 1.0)], "pending": [(0.0, 1.0, 0.0)], "expired": [(0.75, 1.0, 1.0)]}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2 b", "1 a"]  # bottom to top
    assert ax.get_xlim() == (0, 1) and [t.get_text() for t in ax.get_legend().get_texts()] == [
        "delivered", "pending", "expired"]


def test_the_cli_offers_report_with_its_options():
    from smsetl.cli import build_parser

    args = build_parser().parse_args(["report", "--campaign", "7", "--out", "x.html", "--data-dir", "d"])
    assert (args.campaign, args.out, args.data_dir, args.func) == (7, "x.html", "d", run)


def test_a_report_that_fails_inside_a_sync_is_logged_and_does_not_fail_it(data_dir, monkeypatch, caplog):
    import reports.html

    def broken(*args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(reports.html, "write_report", broken)
    with caplog.at_level(logging.ERROR, logger="smsetl.sync"):
        assert sync._write_report(data_dir) is None
    assert "could not write the HTML report" in caplog.text and "renderer broke" in caplog.text


def test_the_sync_hook_returns_the_report_it_wrote(empty_data_dir):
    assert sync._write_report(empty_data_dir) == empty_data_dir / REPORT_FILE
    assert (empty_data_dir / REPORT_FILE).read_text().startswith("<!doctype html>")


class _Sink:
    def write(self, text):
        pass
