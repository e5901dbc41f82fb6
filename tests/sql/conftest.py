import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))

import sql_fixtures


@pytest.fixture
def empty_warehouse():
    """In-memory warehouse: empty base tables and every view, in a non-UTC session time zone."""
    con = duckdb.connect()
    # Views must not depend on the session's zone: days are UTC days.
    con.execute("set TimeZone = 'Asia/Almaty'")
    sql_fixtures.make_warehouse(con, tables={})
    yield con
    con.close()


@pytest.fixture(scope="module")
def warehouse():
    """In-memory warehouse loaded with the scenario in fixtures/sql_fixtures.py (read-only: shared per module)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Almaty'")
    sql_fixtures.make_warehouse(con)
    yield con
    con.close()
