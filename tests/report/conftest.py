"""Data directories for the report tests, built from fixture rows without a sync (fast, no Prefect)."""

from pathlib import Path

import pytest
from report_fixtures import hostile_tables, make_data_dir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A data directory whose warehouse holds the SQL scenario and the hostile campaign 5."""
    return make_data_dir(tmp_path_factory.mktemp("report"), hostile_tables())


@pytest.fixture
def empty_data_dir(tmp_path) -> Path:
    """A data directory whose warehouse has every view and no rows."""
    return make_data_dir(tmp_path, {})
