"""One self-contained HTML page from the warehouse's views (the page `smsetl report` writes).

`render_report(con, campaign_id=None)` returns the page; `write_report(data_dir, out=None, campaign_id=None)`
opens the warehouse read-only, renders it and writes `<data dir>/report.html` (or `out`) atomically. The
sync flow calls `write_report` after publishing the warehouse, and `smsetl report` (the CLI) calls it too:
this module reads only the warehouse and imports nothing from the CLI or the flows.

The page, per campaign or for one (`campaign_id`): a headline table (delivered, failed, pending, CTR, cost per
delivered, ...), the status funnel and status mix, delivery latency, clicks after the send started, the worst
senders and operators, and the reconciliation with the gateway's counters. Every number comes from a view of
`sql/` (totals are sums over `campaign_metrics`); a headline cell carries its exact value in `data-value`
beside the formatted text. Charts are matplotlib SVG inlined in the page: no script, no network, and a
Content-Security-Policy that forbids loading anything. Text from the data (names, senders, links) is hostile
input: it is escaped in the HTML and in chart labels, and links are shown as text, never followed.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
import os
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

REPORT_FILE = "report.html"
# Chart ids in page order: each is a <figure id="chart-..."> holding one inline <svg>.
CHARTS = ("funnel", "status-mix", "latency", "clicks-after-send", "senders", "operators")
# Headline columns: (campaign_metrics column, or `failed`, heading, kind). `failed` = undelivered + rejected +
# expired + deleted, the README's failed statuses.
HEADLINE = (
    ("messages_total", "messages", "count"),
    ("delivered", "delivered", "count"),
    ("failed", "failed", "count"),
    ("pending", "pending", "count"),
    ("partially_delivered", "partial", "count"),
    ("settled_delivery_rate", "settled delivery rate", "rate"),
    ("clicks", "clicks", "count"),
    ("click_through_rate", "CTR", "rate"),
    ("cost_total", "cost", "money"),
    ("cost_per_delivered", "cost per delivered", "money"),
    ("delivery_seconds_p50", "latency p50", "seconds"),
)
STATUS_MIX = (  # campaign_metrics column, label, colour
    ("delivered", "delivered", "#2e7d32"),
    ("partially_delivered", "partially delivered", "#9ccc65"),
    ("pending", "pending", "#90a4ae"),
    ("undelivered", "undelivered", "#e53935"),
    ("rejected", "rejected", "#8e24aa"),
    ("expired", "expired", "#fb8c00"),
    ("deleted", "deleted", "#6d4c41"),
    ("unknown", "unknown", "#fdd835"),
)
RECONCILED_STATUSES = ("new", "enqueud", "acceptd", "pdlivrd", "delivrd", "undeliv", "rejectd", "expired",
                       "deleted", "unknown")
STATUS_MIX_CAMPAIGNS = 25  # the largest campaigns in the status-mix chart
TOP = 10  # rows of the worst senders, operators, slowest campaigns, links
CLICK_DAYS = 14  # days after the send start in the clicks chart; later days are summed into the last bar
RECONCILIATION_ROWS = 50


def import_charting() -> None:
    """Import what the charts need (matplotlib: about 0.9 s of CPU). The sync calls it on a side thread while
    its extraction waits on the wire, so that writing the report at the end does not pay for it."""
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401


class ReportError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


def write_report(data_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                 campaign_id: int | None = None) -> Path:
    """Render the warehouse in `data_dir` and write the page to `out` (default `<data_dir>/report.html`),
    atomically (a browser reloading it never sees half a page). Returns the path written.

    Raises FileNotFoundError without a warehouse, ReportError without its views or for an unknown campaign."""
    import duckdb

    from reports.metrics import has_view
    from storage import warehouse

    data_dir = Path(data_dir)
    target = Path(out) if out is not None else data_dir / REPORT_FILE
    path = data_dir / warehouse.WAREHOUSE_FILE
    try:
        con = warehouse.connect(data_dir)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open the warehouse at {path}: {exc}") from exc
    try:
        if not has_view(con, "campaign_metrics"):
            raise ReportError(f"the warehouse at {path} has no campaign_metrics view: run `smsetl sync` "
                              f"(or `smsetl build`) to build it")
        page = render_report(con, campaign_id, source=str(path))
    finally:
        con.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.",
                                          suffix=".writing", delete=False)
    try:
        with partial:
            partial.write(page)
        os.chmod(partial.name, 0o644)  # readable like any file written here, not the temp file's 0600
        os.replace(partial.name, target)
    except BaseException:
        Path(partial.name).unlink(missing_ok=True)
        raise
    return target


# --- the page ---------------------------------------------------------------------------------------------

def render_report(con, campaign_id: int | None = None, source: str | None = None,
                  generated_at: dt.datetime | None = None) -> str:
    """The report page for every campaign, or for `campaign_id` (ReportError if the warehouse lacks it)."""
    where, params = ("where m.campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    campaigns = _rows(con, f"""
        select m.*, m.undelivered + m.rejected + m.expired + m.deleted as failed, c.campaign_name, c.currency
        from campaign_metrics as m
        left join stg_campaigns as c on m.campaign_id = c.campaign_id
        {where}
        order by m.campaign_id""", params)
    if campaign_id is not None and not campaigns:
        raise ReportError(f"no campaign {campaign_id} in the warehouse{f' at {source}' if source else ''}: "
                          f"`smsetl metrics` lists the campaigns it holds")
    totals = _rows(con, f"""
        select
            count(*) as campaigns,
            coalesce(count_if(m.is_settled), 0) as campaigns_settled,
            coalesce(sum(m.messages_total), 0) as messages_total,
            coalesce(sum(m.delivered), 0) as delivered,
            coalesce(sum(m.undelivered + m.rejected + m.expired + m.deleted), 0) as failed,
            coalesce(sum(m.pending), 0) as pending,
            coalesce(sum(m.partially_delivered), 0) as partially_delivered,
            coalesce(sum(m.clicks), 0) as clicks,
            sum(m.delivered) / nullif(sum(m.delivered + m.undelivered + m.rejected + m.expired + m.deleted), 0)
                as settled_delivery_rate,
            sum(m.clicks) / nullif(sum(m.delivered), 0) as click_through_rate,
            coalesce(sum(m.cost_total), 0) as cost_total,
            cast(sum(m.cost_total) as double) / nullif(sum(m.delivered), 0) as cost_per_delivered
        from campaign_metrics as m
        {where}""", params)[0]
    currencies = sorted({c["currency"] for c in campaigns if c["currency"]})
    currency = currencies[0] if len(currencies) == 1 else ""
    scope = None if campaign_id is None else campaigns[0]

    title = "SMS campaigns" if scope is None else f"Campaign {scope['campaign_id']}"
    if scope is not None and scope["campaign_name"]:
        title += f": {scope['campaign_name']}"
    sections = [
        lambda con: _header(con, title, totals, currency, source, generated_at),
        lambda con: _headline_section(campaigns, currency),
        lambda con: _funnel_section(totals, campaigns),
        lambda con: _latency_section(con, campaign_id),
        lambda con: _clicks_section(con, campaign_id),
        lambda con: _senders_section(con, scope),
        lambda con: _operators_section(con, scope),
        lambda con: _reconciliation_section(con, campaign_id),
    ]
    # Two sections at a time: one section's queries run in DuckDB (which lets go of the GIL) while another's
    # chart is drawn in Python (bench/README.md, "A sixth look"); the charts themselves take turns
    # (`_CHARTING`). The page is the same, in the same order.
    from storage.lake import sql_literal

    database, timezone = con.execute("select current_database(), current_setting('TimeZone')").fetchone()
    local, cursors = threading.local(), []

    def render(section) -> str:
        if not hasattr(local, "con"):  # a DuckDB connection is not for two threads at once: a cursor each,
            local.con = con.cursor()   # which starts in DuckDB's defaults, not in `con`'s database and zone
            cursors.append(local.con)
            local.con.execute(f"use {_identifier(database)}")
            local.con.execute(f"set timezone = {sql_literal(timezone)}")
        return section(local.con)

    try:
        with ThreadPoolExecutor(2, thread_name_prefix="report") as pool:
            body = list(pool.map(render, sections))
    finally:
        for cursor in cursors:
            cursor.close()
    return _PAGE.format(title=_e(f"smsetl report: {title}"), style=_STYLE, body="\n".join(body))


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _header(con, title: str, totals: dict, currency: str, source: str | None,
            generated_at: dt.datetime | None) -> str:
    as_of = _rows(con, "select as_of, as_of_source from int_sync_as_of")
    last = _rows(con, "select * from stg_sync_runs order by started_at desc nulls last limit 1")
    facts = []
    if as_of and as_of[0]["as_of"] is not None:
        why = ("the gateway's clock at the last successful sync" if as_of[0]["as_of_source"] == "sync_runs"
               else "the newest click statistics: no successful sync recorded")
        facts.append(f"data as of <b>{_e(_time(as_of[0]['as_of']))}</b> ({why})")
    if last:
        run = last[0]
        state = "" if run["is_successful"] else ' class="bad"'
        facts.append(f"last sync <code>{_e(run['run_id'])}</code>: <span{state}>{_e(run['outcome'])}</span>, "
                     f"ended {_e(_time(run['ended_at']))}")
    else:
        facts.append("no sync run recorded")
    facts.append(f"generated {_e(_time(generated_at or dt.datetime.now(dt.UTC)))}")
    if source:
        facts.append(f"from <code>{_e(source)}</code>")
    cards = [
        ("campaigns", totals["campaigns"], "count", f"{totals['campaigns_settled']:,} settled"),
        ("messages_total", totals["messages_total"], "count", "messages"),
        ("delivered", totals["delivered"], "count", "delivered"),
        ("failed", totals["failed"], "count", "failed"),
        ("pending", totals["pending"], "count", f"pending, {totals['partially_delivered']:,} partial"),
        ("settled_delivery_rate", totals["settled_delivery_rate"], "rate", "settled delivery rate"),
        ("click_through_rate", totals["click_through_rate"], "rate", f"CTR ({totals['clicks']:,} clicks)"),
        ("cost_per_delivered", totals["cost_per_delivered"], "money",
         f"cost per delivered{f' ({currency})' if currency else ''}"),
    ]
    card_html = "".join(
        f'<div class="card"><div class="value" data-total="{key}" data-value="{_e(_raw(value))}">'
        f'{_e(_fmt(value, kind))}</div><div class="label">{_e(label)}</div></div>'
        for key, value, kind, label in cards)
    return (f'<header id="summary"><h1>{_e(title)}</h1><p class="facts">{" · ".join(facts)}</p>'
            f'<div class="cards">{card_html}</div></header>')


def _headline_section(campaigns: list[dict], currency: str) -> str:
    heads = "".join(f'<th class="num">{_e(h)}</th>' for _, h, _ in HEADLINE)
    rows = []
    for c in campaigns:
        cells = "".join(
            f'<td class="num" data-metric="{key}" data-value="{_e(_raw(c[key]))}">{_e(_fmt(c[key], kind))}</td>'
            for key, _, kind in HEADLINE)
        settled = "settled" if c["is_settled"] else "sending"
        rows.append(
            f'<tr id="campaign-{c["campaign_id"]}" data-campaign-id="{c["campaign_id"]}">'
            f'<td data-metric="campaign_id" data-value="{c["campaign_id"]}">{c["campaign_id"]}</td>'
            f'<td class="name">{_e(c["campaign_name"] or "")}</td>'
            f'<td class="name">{_e(c["sender"] or "")}</td><td class="nowrap">{_e(c["campaign_type"] or "")}</td>'
            f'<td class="nowrap" data-metric="is_settled" data-value="{_raw(c["is_settled"])}">{settled}</td>'
            f'{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(HEADLINE) + 5}" class="empty">no campaigns in the warehouse</td></tr>')
    note = (f"Costs in {_e(currency)}. " if currency else "") + (
        "Failed: undelivered, rejected, expired or deleted. Pending: NEW, ENQUEUD or ACCEPTD. CTR: clicks on the "
        "campaign's short links per delivered message (clicks, not people: the API has no per-recipient clicks). "
        "Latency: from send start to delivery report.")
    return _section("headline", "Campaigns", note, [
        '<div class="scroll"><table class="headline"><thead><tr><th>id</th><th>name</th><th>sender</th>'
        f'<th>type</th><th>state</th>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'])


def _funnel_section(totals: dict, campaigns: list[dict]) -> str:
    settled = totals["delivered"] + totals["failed"]
    stages = [("messages", totals["messages_total"]), ("reached a final status", settled),
              ("delivered", totals["delivered"]), ("clicks", totals["clicks"])]
    funnel = _chart("funnel", "Status funnel: messages, final status, delivered, clicks", _draw_funnel, stages)
    largest = sorted(campaigns, key=lambda c: (-c["messages_total"], c["campaign_id"]))[:STATUS_MIX_CAMPAIGNS]
    largest = [c for c in largest if c["messages_total"]]
    what = "the campaign" if len(campaigns) == 1 else (
        f"the {len(largest)} largest campaigns" if len(campaigns) > len(largest) else "each campaign")
    mix = _chart("status-mix", f"Status mix of {what}, share of its messages", _draw_status_mix, largest)
    note = ("Messages in a final status are delivered or failed; the rest are pending or partially delivered. "
            "Clicks count clicks, not recipients.")
    return _section("funnel", "Status funnel", note, [funnel, mix])


def _latency_section(con, campaign_id: int | None) -> str:
    where, params = ("and campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    bins = _rows(con, f"""
        select floor(log10(greatest(delivery_seconds, 1)) * 4) as bin, count(*) as messages
        from int_messages
        where delivery_seconds is not null {where}
        group by bin
        order by bin""", params)
    lat_where = "where l.campaign_id = ?" if campaign_id is not None else ""
    slowest = _rows(con, f"""
        select l.*, c.campaign_name
        from delivery_latency as l
        left join stg_campaigns as c on l.campaign_id = c.campaign_id
        {lat_where}
        order by l.delivery_seconds_p90 desc nulls last, l.campaign_id
        limit {TOP}""", params)
    marks = []
    if campaign_id is not None and slowest:
        marks = [(q, slowest[0][f"delivery_seconds_{q}"]) for q in ("p50", "p90", "p99")]
    chart = _chart("latency", "Delivery latency: delivered messages by seconds from send start to delivery "
                   "(log scale)", _draw_latency, bins, marks)
    rows = [[_link_to(r["campaign_id"]), _e(r["campaign_name"] or ""), _n(r["messages_delivered_timed"]),
             _n(r["delivery_seconds_p50"], "seconds"), _n(r["delivery_seconds_p90"], "seconds"),
             _n(r["delivery_seconds_p99"], "seconds"), _n(r["delivery_seconds_max"], "seconds"),
             _n(r["final_seconds_p90"], "seconds")] for r in slowest]
    table = _table("latency", ["campaign", "name", "delivered (timed)", "p50", "p90", "p99", "max",
                               "final p90"], rows, "no delivered messages with timestamps", numeric_from=2)
    heading = "Slowest campaigns by p90" if campaign_id is None else "Latency quantiles"
    return _section("latency", "Delivery latency", "Seconds from a message's send start to its delivery report "
                    "(DELIVRD); final p90: to any final status.", [chart, f"<h3>{heading}</h3>", table])


def _clicks_section(con, campaign_id: int | None) -> str:
    where, params = ("where d.campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    days = _rows(con, f"""
        with daily as (
            select
                d.day_utc,
                d.deliveries,
                d.clicks,
                coalesce(timezone('UTC', m.send_started_at)::date,
                         min(d.day_utc) over (partition by d.campaign_id)) as start_day
            from campaign_daily_metrics as d
            inner join campaign_metrics as m on d.campaign_id = m.campaign_id
            {where}
        )
        select
            least(greatest(day_utc - start_day, 0), {CLICK_DAYS}) as days_after,
            sum(deliveries) as deliveries,
            sum(clicks) as clicks
        from daily
        group by days_after
        order by days_after""", params)
    chart = _chart("clicks-after-send", "Deliveries and clicks by day after the send started (UTC days)",
                   _draw_clicks, days)
    link_where = "where campaign_id = ?" if campaign_id is not None else ""
    links = _rows(con, f"""
        select * from link_metrics {link_where}
        order by clicks_all_time desc nulls last, link_id
        limit {TOP}""", params)
    rows = [[_e(r["short_link"] or ""), _e(r["full_link"] or ""), _link_to(r["campaign_id"]),
             _n(r["clicks_last_day"]), _n(r["clicks_last_week"]), _n(r["clicks_last_30_days"]),
             _n(r["clicks_all_time"])] for r in links]
    table = _table("links", ["short link", "target", "campaign", "last day", "last week", "last 30 days",
                             "all time"], rows, "no short links", numeric_from=3)
    note = ("Deliveries by the UTC day of their report, clicks by the UTC day of their click bucket, counted from "
            f"the day the campaign started sending; day {CLICK_DAYS} holds every later day. Link windows end at "
            "the last sync's clock.")
    return _section("clicks", "Clicks after delivery", note, [chart, "<h3>Most clicked links</h3>", table])


def _senders_section(con, scope: dict | None) -> str:
    worst = _rows(con, f"""
        select * from sender_metrics
        where settled_delivery_rate is not null
        order by settled_delivery_rate, failed desc, sender
        limit {TOP}""")
    count = _rows(con, "select count(*) as n from sender_metrics")[0]["n"]
    mine = scope["sender"] if scope else None
    chart = _chart("senders", "Worst senders by settled delivery rate", _draw_worst,
                   [(r["sender"] or "(none)", r) for r in worst])
    rows = [([_e(r["sender"] or "(none)"), _n(r["campaigns_total"]), _n(r["messages_total"]), _n(r["delivered"]),
              _n(r["failed"]), _n(r["pending"]), _n(r["settled_delivery_rate"], "rate"),
              _n(r["delivery_seconds_p50"], "seconds")], r["sender"] == mine and mine is not None) for r in worst]
    table = _table("senders", ["sender", "campaigns", "messages", "delivered", "failed", "pending",
                               "settled delivery rate", "latency p50"], rows, "no sender with settled messages",
                   numeric_from=1)
    note = f"The {min(TOP, len(worst))} of {count:,} senders with the lowest share of settled messages delivered."
    if scope is not None:
        note += " Across all campaigns (the view's grain is the sender); this campaign's sender is highlighted."
    return _section("senders", "Worst senders", note, [chart, table])


def _operators_section(con, scope: dict | None) -> str:
    worst = _rows(con, f"""
        select * from operator_metrics
        where settled_delivery_rate is not null
        order by settled_delivery_rate, failed desc, country_a2 nulls last, operator_name nulls last
        limit {TOP}""")
    count = _rows(con, "select count(*) as n from operator_metrics")[0]["n"]

    def name(r):
        return " · ".join(p for p in (r["country_a2"], r["operator_name"]) if p) or "(none)"

    chart = _chart("operators", "Worst operators by settled delivery rate", _draw_worst,
                   [(name(r), r) for r in worst])
    rows = [[_e(r["country_a2"] or ""), _e(r["operator_name"] or ""), _n(r["messages_total"]),
             _n(r["delivered"]), _n(r["failed"]), _n(r["pending"]), _n(r["settled_delivery_rate"], "rate"),
             _n(r["delivery_seconds_p50"], "seconds")] for r in worst]
    table = _table("operators", ["country", "operator", "messages", "delivered", "failed", "pending",
                                 "settled delivery rate", "latency p50"], rows,
                   "no operator with settled messages", numeric_from=2)
    note = (f"The {min(TOP, len(worst))} of {count:,} operators (as the gateway named them) with the lowest share "
            "of settled messages delivered.")
    if scope is not None:
        note += " Across all campaigns (the view's grain is the operator)."
    return _section("operators", "Worst operators", note, [chart, table])


def _reconciliation_section(con, campaign_id: int | None) -> str:
    where, params = ("where campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    recs = _rows(con, f"select * from reconciliation {where} order by campaign_id", params)
    without = [r for r in recs if not r["has_gateway_counters"]]
    consistent = [r for r in recs if r["is_consistent"]]
    differing = [r for r in recs if r["has_gateway_counters"] and not r["is_consistent"]]
    lagging = [r for r in differing if r["is_counters_lagging"]]
    state = "ok" if not differing else "bad"
    summary = (f'<p class="recon {state}">Of {len(recs):,} campaigns, '
               f'<span data-reconciliation="consistent">{len(consistent):,}</span> agree with the gateway\'s '
               f'counters, <span data-reconciliation="differing">{len(differing):,}</span> disagree '
               f'(<span data-reconciliation="lagging">{len(lagging):,}</span> of these with counters older than '
               f'the newest status change: the gateway may not have counted it yet) and '
               f'<span data-reconciliation="without_counters">{len(without):,}</span> have no counters.</p>')
    rows = []
    for r in differing[:RECONCILIATION_ROWS]:
        diffs = ", ".join(f"{s.upper()} {r[f'{s}_difference']:+d}" for s in RECONCILED_STATUSES
                          if r[f"{s}_difference"])
        rows.append([_link_to(r["campaign_id"]), _e(diffs or "-"), _n(r["total_warehouse"]), _n(r["total_gateway"]),
                     _e("yes" if r["is_counters_lagging"] else "no"), _e(_time(r["counters_updated_at"])),
                     _e(_time(r["messages_updated_at"]))])
    table = _table("reconciliation", ["campaign", "differences (warehouse − gateway)", "messages", "gateway total",
                                      "counters lag", "counters updated", "newest status"], rows,
                   "every campaign with counters agrees", numeric_from=2)
    more = (f'<p class="note">… and {len(differing) - RECONCILIATION_ROWS:,} more '
            f'(<code>select * from reconciliation</code>).</p>' if len(differing) > RECONCILIATION_ROWS else "")
    note = "The warehouse's count of messages per status beside the gateway's own counters (Campaign/GetInfo)."
    return _section("reconciliation", "Reconciliation", note, [summary, table, more])


# --- charts -----------------------------------------------------------------------------------------------

# matplotlib's settings (`rc_context`) and font caches are global: one chart is drawn at a time.
_CHARTING = threading.Lock()


def _chart(chart_id: str, caption: str, draw, *data) -> str:
    """A <figure id="chart-…"> with the matplotlib figure `draw(fig, *data)` made, as inline SVG."""
    with _CHARTING:
        return _chart_svg(chart_id, caption, draw, *data)


def _chart_svg(chart_id: str, caption: str, draw, *data) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    # A salt per chart keeps matplotlib's generated ids (clip paths, glyphs) unique across the inlined SVGs
    # and the output deterministic. No pyplot: the caller's backend and global figure state stay untouched.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id, "font.size": 9,
                                "font.family": "sans-serif", "axes.spines.top": False,
                                "axes.spines.right": False}):
        fig = Figure(figsize=(9, 3.4), layout="constrained")
        if not draw(fig, *data):
            ax = fig.subplots()
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no data yet", ha="center", va="center", fontsize=12, color="#777")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', svg, count=1)
    # Ids are per document: matplotlib's (figure_1, axes_1, clip paths) are prefixed with the chart's.
    svg = re.sub(r'(\bid="|href="#|"url\(#)([^")]+)', rf"\1{chart_id}-\2", svg)
    svg = svg.replace("<svg ", f'<svg id="svg-{chart_id}" role="img" aria-label="{_e(caption)}" ', 1)
    return (f'<figure class="chart" id="chart-{chart_id}">{svg}'
            f'<figcaption>{_e(caption)}</figcaption></figure>')


def _label(text, width: int = 32) -> str:
    """Data text made safe for a matplotlib label: `$` would start mathtext (and can fail to parse)."""
    text = " ".join(str(text).split())
    if len(text) > width:
        text = text[:width - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _draw_funnel(fig, stages) -> bool:
    if not stages[0][1]:
        return False
    fig.set_size_inches(9, 2.6)
    ax = fig.subplots()
    labels = [s for s, _ in stages][::-1]
    values = [v for _, v in stages][::-1]
    colours = ["#1e88e5", "#2e7d32", "#43a047", "#90caf9"][::-1]
    bars = ax.barh(labels, values, color=colours)
    total = stages[0][1]
    for bar, value in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {value:,} ({value / total:.1%})",
                va="center")
    ax.set_xlim(0, max(values) * 1.25)
    ax.xaxis.set_major_locator(_whole_numbers())
    ax.set_xlabel("messages (the last bar: clicks)")
    return True


def _draw_status_mix(fig, campaigns) -> bool:
    if not campaigns:
        return False
    fig.set_size_inches(9, max(2.2, 0.9 + 0.24 * len(campaigns)))
    ax = fig.subplots()
    from matplotlib.collections import PolyCollection

    labels = [_label(f"{c['campaign_id']} {c['campaign_name'] or ''}".strip(), 28) for c in campaigns][::-1]
    left = [0.0] * len(campaigns)
    half = 0.75 / 2  # a bar's half height
    for column, name, colour in STATUS_MIX:
        shares = [c[column] / c["messages_total"] for c in campaigns][::-1]
        if any(shares):
            # One collection a status, not `barh`'s patch a bar: up to 8 artists to lay out and draw, not up to
            # 200 (25 campaigns x 8 statuses), each twice under the constrained layout: 0.92 -> 0.45-0.55 s.
            bars = [((x, y - half), (x + w, y - half), (x + w, y + half), (x, y + half))
                    for y, (x, w) in enumerate(zip(left, shares)) if w]
            ax.add_collection(PolyCollection(bars, facecolors=colour, linewidths=0, label=name), autolim=False)
        left = [a + b for a, b in zip(left, shares)]
    ax.set_yticks(range(len(campaigns)), labels)
    ax.set_ylim(-0.5, len(campaigns) - 0.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_percent())
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, frameon=False, fontsize=8)
    return True


def _draw_latency(fig, bins, marks) -> bool:
    if not bins:
        return False
    ax = fig.subplots()
    lefts = [10 ** (b["bin"] / 4) for b in bins]
    widths = [10 ** ((b["bin"] + 1) / 4) - left for b, left in zip(bins, lefts)]
    ax.bar(lefts, [b["messages"] for b in bins], width=widths, align="edge", color="#1e88e5", edgecolor="white")
    ax.set_xscale("log")
    lo, hi = lefts[0], lefts[-1] + widths[-1]
    ticks = [t for t in (1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400) if lo <= t <= hi] or [lo]
    ax.set_xticks(ticks, [_duration(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(lo, hi)
    for (name, seconds), colour in zip(marks, ("#2e7d32", "#fb8c00", "#e53935")):
        if seconds is not None and seconds > 0:
            ax.axvline(max(seconds, lo), color=colour, linestyle="--", linewidth=1.2)
            ax.text(max(seconds, lo), ax.get_ylim()[1], f" {name} {_duration(seconds)}", color=colour,
                    va="top", ha="left")
    ax.yaxis.set_major_locator(_whole_numbers())
    ax.set_xlabel("seconds from send start to delivery report")
    ax.set_ylabel("delivered messages")
    return True


def _draw_clicks(fig, days) -> bool:
    if not days or not any(d["deliveries"] or d["clicks"] for d in days):
        return False
    ax = fig.subplots()
    xs = [d["days_after"] for d in days]
    # Two scales: a campaign's deliveries outnumber its clicks by far, and the shapes are what matter.
    ax.bar([x - 0.2 for x in xs], [d["deliveries"] for d in days], width=0.4, color="#2e7d32", label="deliveries")
    clicks = ax.twinx()
    clicks.spines["right"].set_visible(True)
    clicks.bar([x + 0.2 for x in xs], [d["clicks"] for d in days], width=0.4, color="#1e88e5", label="clicks")
    ax.set_xticks(xs, [f"{x}+" if x == CLICK_DAYS else str(x) for x in xs])
    ax.set_xlabel("days after the campaign started sending")
    ax.set_ylabel("deliveries", color="#2e7d32")
    clicks.set_ylabel("clicks", color="#1e88e5")
    clicks.set_ylim(bottom=0)
    for axis in (ax, clicks):
        axis.yaxis.set_major_locator(_whole_numbers())
    handles = ax.get_legend_handles_labels()[0] + clicks.get_legend_handles_labels()[0]
    ax.legend(handles, ["deliveries (left axis)", "clicks (right axis)"], frameon=False, loc="upper right")
    return True


def _draw_worst(fig, named_rows) -> bool:
    if not named_rows:
        return False
    fig.set_size_inches(9, max(2.2, 0.9 + 0.3 * len(named_rows)))
    ax = fig.subplots()
    labels = [_label(name) for name, _ in named_rows][::-1]
    rates = [r["settled_delivery_rate"] for _, r in named_rows][::-1]
    bars = ax.barh(labels, rates, color="#e57373")
    for bar, (_, r) in zip(bars, named_rows[::-1]):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f"  {r['settled_delivery_rate']:.1%}: {r['failed']:,} failed of {r['delivered'] + r['failed']:,}",
                va="center", fontsize=8)
    ax.set_xlim(0, 1.35)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.xaxis.set_major_formatter(_percent())
    ax.set_xlabel("settled delivery rate: delivered / (delivered + failed)")
    return True


def _whole_numbers():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1, decimals=0)


# --- HTML helpers -----------------------------------------------------------------------------------------

def _rows(con, sql: str, params=None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _section(section_id: str, heading: str, note: str, parts: list[str]) -> str:
    return (f'<section id="{section_id}"><h2>{_e(heading)}</h2><p class="note">{note}</p>'
            + "".join(parts) + "</section>")


def _table(table_id: str, heads: list[str], rows: list, empty: str, numeric_from: int) -> str:
    """A table of already-escaped cells; a row may be `(cells, highlighted)`. Columns from `numeric_from` on
    are right-aligned."""
    head = "".join(f'<th{" class=num" if i >= numeric_from else ""}>{_e(h)}</th>' for i, h in enumerate(heads))
    body = []
    for row in rows:
        cells, mark = row if isinstance(row, tuple) else (row, False)
        tds = "".join(f'<td{" class=num" if i >= numeric_from else ""}>{c}</td>' for i, c in enumerate(cells))
        body.append(f'<tr{" class=scope" if mark else ""}>{tds}</tr>')
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}" class="empty">{_e(empty)}</td></tr>')
    return f'<table id="table-{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _link_to(campaign_id) -> str:
    """A link to the campaign's headline row (a fragment: the page links nowhere else)."""
    if campaign_id is None:
        return ""
    return f'<a href="#campaign-{int(campaign_id)}">{int(campaign_id)}</a>'


def _n(value, kind: str = "count") -> str:
    return _e(_fmt(value, kind))


def _raw(value) -> str:
    """The exact value for a data-value attribute: '' for NULL, repr for floats (round-trips)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "money":
        return f"{Decimal(str(value)):,.2f}" if abs(value) >= 100 else f"{Decimal(str(value)):,.4f}"
    if kind == "seconds":
        return _duration(value)
    return f"{value:,}"


def _duration(seconds) -> str:
    seconds = float(seconds)
    if abs(seconds) < 60:
        return f"{seconds:.0f} s" if abs(seconds) >= 10 or seconds == int(seconds) else f"{seconds:.1f} s"
    if abs(seconds) < 3600:
        return f"{seconds / 60:.1f} min".replace(".0 min", " min")
    if abs(seconds) < 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d".replace(".0 d", " d")


def _time(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="smsetl report">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2329;
       background: #f5f6f8; margin: 0; padding: 20px 20px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 0 0 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
header, section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 16px 20px;
                  margin: 0 auto 18px; max-width: 1400px; }
.facts, .note { color: #57606a; margin: 0 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 12px; }
.card { background: #f0f4f8; border-radius: 6px; padding: 10px 12px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: #57606a; font-size: 12px; }
.scroll { overflow-x: auto; max-height: 640px; overflow-y: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eaecef; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { min-width: 90px; max-width: 260px; overflow-wrap: anywhere; }
td.nowrap { white-space: nowrap; }
table.headline { font-size: 12px; }
table.headline th, table.headline td { padding: 4px 5px; }
table.headline th { white-space: normal; vertical-align: bottom; }
td.empty { color: #777; font-style: italic; text-align: center; }
tr.scope td { background: #fff8e1; }
figure.chart { margin: 8px 0 4px; }
figure.chart svg { display: block; width: 100%; max-width: 900px; height: auto; }
figcaption { color: #57606a; font-size: 12px; }
.bad { color: #c62828; font-weight: 600; }
.recon.ok { color: #2e7d32; }
.recon.bad { font-weight: 400; }
a { color: #1565c0; }
code { font-size: 12px; background: #f0f2f4; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
"""
