"""`smsetl metrics`: print the `campaign_metrics` view from the warehouse.

`render_campaign_metrics(con, campaign_id=None, fmt="table")` is the one formatter, shared by the CLI, the
sync's summary and its Prefect markdown artifact. Formats: table (fixed-width text), csv, json, markdown.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
import sys
from decimal import Decimal
from pathlib import Path

FORMATS = ("table", "csv", "json", "markdown")


class MetricsError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `smsetl metrics` options to a (sub)parser."""
    parser.add_argument("--campaign", type=int, default=None, metavar="ID", help="only this campaign")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, default="table", help="output format (default: table)"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="data directory holding warehouse.duckdb (default: $SMS_DATA_DIR or ./data)",
    )


def warehouse_path(data_dir: str | os.PathLike | None = None) -> Path:
    """`<data dir>/warehouse.duckdb`; the data dir defaults to $SMS_DATA_DIR, then ./data."""
    base = data_dir if data_dir is not None else os.environ.get("SMS_DATA_DIR") or "data"
    return Path(base) / "warehouse.duckdb"


def run(args: argparse.Namespace, out=None) -> int:
    """Run `smsetl metrics`; return the exit status."""
    import duckdb

    out = out if out is not None else sys.stdout
    path = warehouse_path(getattr(args, "data_dir", None))
    fmt = getattr(args, "fmt", None) or getattr(args, "format", None) or "table"
    try:
        if not path.exists():
            raise MetricsError(f"no warehouse at {path}: run `smsetl sync` first (or pass --data-dir)")
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise MetricsError(f"cannot open the warehouse at {path}: {exc}") from exc
        try:
            if not _has_view(con, "campaign_metrics"):
                raise MetricsError(
                    f"the warehouse at {path} has no campaign_metrics view: run `smsetl sync` to build it"
                )
            text = render_campaign_metrics(con, campaign_id=getattr(args, "campaign", None), fmt=fmt)
        finally:
            con.close()
    except MetricsError as exc:
        print(f"smsetl metrics: {exc}", file=sys.stderr)
        return 2
    out.write(text if text.endswith("\n") else text + "\n")
    return 0


def _has_view(con, name: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_views() where view_name = ?", [name]).fetchone()[0])


def render_campaign_metrics(con, campaign_id: int | None = None, fmt: str = "table") -> str:
    """The `campaign_metrics` rows (one campaign, or all ordered by campaign_id) rendered as `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    sql = "select * from campaign_metrics"
    params: list = []
    if campaign_id is not None:
        sql += " where campaign_id = ?"
        params.append(campaign_id)
    cursor = con.execute(sql + " order by campaign_id", params)
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
