"""The `campaign_metrics` view rendered as text: the one formatter of the CLI (`smsetl metrics`), the demo, and
the sync's summary and Prefect markdown artifact. Formats: table (fixed-width text), csv, json, markdown.

Reads only the warehouse (a DuckDB connection the caller opens); imports nothing from the CLI or the flows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal

FORMATS = ("table", "csv", "json", "markdown")


def has_view(con, name: str) -> bool:
    """Whether the warehouse behind `con` holds the view `name` (its views are built by `smsetl sync`/`build`)."""
    return bool(con.execute("select count(*) from duckdb_views() where view_name = ?", [name]).fetchone()[0])


def render_campaign_metrics(con, campaign_id: int | None = None, fmt: str = "table") -> str:
    """The `campaign_metrics` rows (one campaign, or all ordered by campaign_id, by account first in a combined
    warehouse) rendered as `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    sql = "select * from campaign_metrics"
    params: list = []
    if campaign_id is not None:
        sql += " where campaign_id = ?"
        params.append(campaign_id)
    columns = [d[0] for d in con.execute("select * from campaign_metrics limit 0").description]
    order = "account, campaign_id" if "account" in columns else "campaign_id"  # a combined warehouse's (many accounts)
    cursor = con.execute(f"{sql} order by {order}", params)
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return render_rows(columns, rows, fmt)


def render_rows(columns: list[str], rows: list[tuple], fmt: str = "table") -> str:
    """Render any result set as table, csv, json or markdown."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, map(_json_value, row))) for row in rows], indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_text(v, csv=True) for v in row] for row in rows])
        return buf.getvalue()
    cells = [[_text(v) for v in row] for row in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        if not rows:
            lines.append("| " + " | ".join("" for _ in columns) + " |")
        return "\n".join(lines) + "\n"
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(row) for row in cells]
    if not rows:
        out.append("(no campaigns)")
    return "\n".join(out) + "\n"


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) or value is None


def _text(value, csv: bool = False) -> str:
    if value is None:
        return "" if csv else "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "" if csv else "NaN"
        return repr(value) if csv else f"{value:.4f}"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
    return str(value)


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return _text(value)
    return value
