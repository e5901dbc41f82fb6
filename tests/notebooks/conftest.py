"""The data directories the notebooks run against: one synced from the sandbox, and one with an empty warehouse."""

import sys
from pathlib import Path

import duckdb
import pytest

from storage.warehouse import WAREHOUSE_FILE

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
def notebook_data_dir(synced_warehouse) -> Path:
    """A data directory with a warehouse synced from the sandbox (tests/conftest.py): the notebooks meet real data."""
    assert synced_warehouse.name == WAREHOUSE_FILE
    return synced_warehouse.parent


@pytest.fixture(scope="session")
def empty_notebook_data_dir(tmp_path_factory) -> Path:
    """A data directory whose warehouse has every view and no rows."""
    data_dir = tmp_path_factory.mktemp("notebooks-empty")
    make_empty_warehouse(data_dir / WAREHOUSE_FILE)
    return data_dir
