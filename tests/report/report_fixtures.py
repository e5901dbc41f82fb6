"""Warehouse contents for the report tests: the SQL views' scenario (tests/sql/fixtures) and a hostile campaign."""

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql" / "fixtures"))

import sql_fixtures  # noqa: E402

from storage.warehouse import WAREHOUSE_FILE  # noqa: E402

HOSTILE_NAME = '<script>alert("name")</script> & $\\frac{1}{0}$ <a href="https://evil.example/">x</a>'
HOSTILE_SENDER = '$x$<img src="https://evil.example/p.png" onerror=alert(1)>'
HOSTILE_OPERATOR = "</table><iframe src=//evil.example>"


def hostile_tables() -> dict[str, list[dict]]:
    """The SQL view scenario plus campaign 5, whose name, sender, operator and link are markup, mathtext, URLs."""
    campaign = sql_fixtures._campaign(5, "mass", 2, HOSTILE_SENDER, 3, sql_fixtures.utc(2026, 10, 1, 12, 0))
    campaign["name"] = HOSTILE_NAME
    sent = sql_fixtures.utc(2026, 10, 1, 12, 30)
    operator = {"country_a2": "KZ", "operator_name": HOSTILE_OPERATOR}
    messages = [
        sql_fixtures._msg(501, 5, "DELIVRD", sent, 15, **operator),
        sql_fixtures._msg(502, 5, "DELIVRD", sent, 4000, **operator),
        sql_fixtures._msg(503, 5, "UNDELIV", sent, 60, **operator),
    ]
    tables = {name: list(rows) for name, rows in sql_fixtures.TABLES.items()}
    tables["campaigns"] += [campaign]
    tables["messages"] += messages
    tables["links"] += [dict(sql_fixtures._link(5001, 5, 2), short_link='https://mbz.im/"><script>x</script>')]
    return tables


def make_data_dir(path: Path, tables: dict | None) -> Path:
    """Write `path/warehouse.duckdb` with the base tables, `tables`' rows and every view; return `path`."""
    con = duckdb.connect(str(path / WAREHOUSE_FILE))
    try:
        sql_fixtures.make_warehouse(con, tables=tables)
    finally:
        con.close()
    return path
