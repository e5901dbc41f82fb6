"""`smsetl metrics`: print the `campaign_metrics` view from the warehouse.

The formatter itself, shared with the flows, is `reports.metrics.render_campaign_metrics`; this module holds
only the command: its options, the warehouse's path, and user-facing errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reports.metrics import FORMATS, has_view, render_campaign_metrics


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
    """`<data dir>/warehouse.duckdb`; the data dir defaults to the settings' ($SMS_DATA_DIR, then ./data)."""
    from flows.settings import current

    base = data_dir if data_dir is not None else current().data_dir
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
            if not has_view(con, "campaign_metrics"):
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
