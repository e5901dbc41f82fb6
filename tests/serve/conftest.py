"""Fixtures of tests/serve: a real local Prefect server (`server_support`)."""

import pytest
from server_support import start_prefect_server


@pytest.fixture
def prefect_server(tmp_path):
    """`prefect server start` on a free loopback port with its own PREFECT_HOME; yields (API URL, its env)."""
    yield from start_prefect_server(tmp_path)
