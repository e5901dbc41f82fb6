"""`smsetl report`: write one self-contained HTML page from the warehouse's views and print its path.

The page itself is `reports.html` (shared with the sync flow, which writes it after each run); this module holds
only the command: its options and user-facing errors.
"""

from __future__ import annotations

import argparse
import sys

from reports.html import REPORT_FILE, ReportError, write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `smsetl report` options to a (sub)parser."""
    parser.add_argument("--campaign", type=int, default=None, metavar="ID", help="only this campaign")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help=f"the HTML file to write (default: <data dir>/{REPORT_FILE})")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="data directory holding warehouse.duckdb (default: $SMS_DATA_DIR or ./data)")


def run(args: argparse.Namespace, out=None) -> int:
    """Run `smsetl report`: write the page, print its path; return the exit status."""
    from smsetl.metrics import warehouse_path

    out = out if out is not None else sys.stdout
    from storage.combined import is_combined

    data_dir = warehouse_path(getattr(args, "data_dir", None)).parent
    if accounts := is_combined(data_dir):  # its campaigns' ids may repeat across accounts: one page per account
        print(f"smsetl report: {data_dir} holds the combined warehouse of {len(accounts)} accounts; the report is "
              f"per account: run `smsetl report --data-dir {data_dir / 'accounts' / accounts[0]}` (each account's "
              f"sync also writes its own report.html there)", file=sys.stderr)
        return 2
    try:
        path = write_report(data_dir, getattr(args, "out", None), getattr(args, "campaign", None))
    except (ReportError, FileNotFoundError) as exc:
        print(f"smsetl report: {exc}", file=sys.stderr)
        return 2
    out.write(f"{path}\n")
    return 0
