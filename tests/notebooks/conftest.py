"""The warehouses the notebooks run against: one synced from the sandbox, and an empty one."""

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql" / "fixtures"))

import sql_fixtures


def make_empty_warehouse(path) -> Path:
    """Write a DuckDB warehouse file with empty base tables and every view; return its path."""
    path = Path(path)
    con = duckdb.connect(str(path))
    try:
        sql_fixtures.make_warehouse(con, tables={})
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def notebook_warehouse(synced_warehouse) -> Path:
    """A warehouse synced from the sandbox (tests/conftest.py), so the notebooks meet real data."""
    return synced_warehouse


@pytest.fixture(scope="session")
def empty_notebook_warehouse(tmp_path_factory) -> Path:
    return make_empty_warehouse(tmp_path_factory.mktemp("notebooks-empty") / "warehouse.duckdb")
