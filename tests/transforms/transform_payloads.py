"""Shared fixtures: the reference's real payloads (API.md section 10) and a fixed observation time.

Not a conftest.py: tests/sql imports its helpers with `from conftest import ...`, which a second
rootless conftest module would shadow. Test modules here import these fixtures first, by name.
"""

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
OBSERVED = pd.Timestamp("2021-09-05 00:00:00", tz="UTC")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def observed():
    return OBSERVED


@pytest.fixture
def f1_item() -> dict:
    """F1 Message/List item, verbatim (anonymized ids: campaignId differs from campaign.id)."""
    return copy.deepcopy(load("f1_message_list.json")["data"]["items"][0])


@pytest.fixture
def f1_campaign(f1_item) -> dict:
    """F1's nested campaign object: the reference's template for Campaign/Get and GetInfo items."""
    return f1_item["campaign"]


@pytest.fixture
def f2_items() -> list[dict]:
    return load("f2_get_sms_status.json")["data"]


@pytest.fixture
def f2_2016_items() -> list[dict]:
    return load("f2_get_sms_status_2016.json")["data"]
