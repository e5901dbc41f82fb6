"""The warehouse the notebooks run against.

`notebook_warehouse` is the path fixture the notebook test is parametrized on. For now it is built from the
SQL fixtures (`make_fixture_warehouse`); once the sync's `synced_warehouse` fixture (tests/conftest.py) works,
replace its body with:

    @pytest.fixture(scope="session")
    def notebook_warehouse(synced_warehouse):
        return synced_warehouse
"""

import random
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql" / "fixtures"))

import sql_fixtures


def _extra_tables(seed: int = 7) -> dict[str, list[dict]]:
    """A few more campaigns with enough messages and hourly clicks for the charts to draw something."""
    rng = random.Random(seed)
    statuses = ["DELIVRD"] * 14 + ["UNDELIV", "REJECTD", "EXPIRED", "ACCEPTD", "PDLIVRD", "DELETED"]
    operators = [("KZ", "Beeline"), ("KZ", "Kcell"), ("KZ", "Tele2"), ("UZ", "Ucell")]
    campaigns, messages, links, stats = [], [], [], []
    for i, sender in enumerate(["Shop", "Bank", "Taxi"]):
        campaign_id = 10 + i
        created = sql_fixtures.utc(2026, 10, 1 + i, 8, 0)
        sent = created + timedelta(minutes=30)
        campaigns.append(sql_fixtures._campaign(campaign_id, "mass", 2, sender, 60, created))
        for n in range(60):
            status = rng.choice(statuses)
            country, operator = rng.choice(operators)
            messages.append(sql_fixtures._msg(
                campaign_id * 1000 + n, campaign_id, status, sent, rng.randint(5, 3600),
                country_a2=country, operator_name=operator,
            ))
        link_id = 2000 + campaign_id
        total = 0
        for hour in range(24):
            clicks = max(0, int(rng.gauss(12 / (hour + 1), 1)))
            total += clicks
            if clicks:
                stats.append(sql_fixtures._stat(link_id, "hourly", sent.replace(minute=0) + timedelta(hours=hour),
                                                clicks))
        links.append(sql_fixtures._link(link_id, campaign_id, total))
    return {"campaigns": campaigns, "messages": messages, "links": links, "link_click_stats": stats}


def make_fixture_warehouse(path) -> Path:
    """Write a DuckDB warehouse file with base tables, fixture rows and every view; return its path."""
    path = Path(path)
    con = duckdb.connect(str(path))
    try:
        sql_fixtures.make_warehouse(con)
        sql_fixtures.load_tables(con, _extra_tables())
    finally:
        con.close()
    return path


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
def notebook_warehouse(tmp_path_factory) -> Path:
    """The warehouse the notebooks are executed against (to be replaced by the sync's `synced_warehouse`)."""
    return make_fixture_warehouse(tmp_path_factory.mktemp("notebooks") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def empty_notebook_warehouse(tmp_path_factory) -> Path:
    return make_empty_warehouse(tmp_path_factory.mktemp("notebooks-empty") / "warehouse.duckdb")
