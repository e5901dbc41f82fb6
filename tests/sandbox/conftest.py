"""Fixtures for the sandbox tests: a generated gateway served on loopback, and a tiny form-posting caller."""

import os
from datetime import datetime

import pytest
import requests

from sandbox import SANDBOX_API_KEY, Faults, Sandbox

NOW = datetime(2026, 11, 1, 12, 0, 0)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; runs only with SMSETL_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SMSETL_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set SMSETL_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class Caller:
    """POSTs form pairs to /service/{path} with the sandbox key in the query, returns the decoded envelope."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def raw(self, path: str, data=None, params=None, **kw):
        q = {"output": "json", "api": "v1", "apiKey": SANDBOX_API_KEY}
        q.update(params or {})
        return self.session.post(f"{self.url}/service/{path}", params=q, data=data, timeout=10, **kw)

    def __call__(self, path: str, data=None, **params):
        return self.raw(path, data, params).json()

    def all_pages(self, path: str, data: dict) -> list:
        items, page = [], 0
        while True:
            d = dict(data, **{"pagination[pageSize]": "100", "pagination[currentPage]": str(page)})
            r = self(path, d)
            assert r["code"] == 0, r
            items += r["data"]["items"]
            if not r["data"]["items"] or len(items) >= int(r["data"]["totalItemCount"]):
                return items
            page += 1


@pytest.fixture(scope="module")
def sb():
    return Sandbox.generate(seed=7, campaigns=40, messages=4000, now=NOW)


@pytest.fixture(scope="module")
def served(sb):
    with sb.serve(port=0, faults=Faults()) as server:
        yield server


@pytest.fixture
def call(served):
    return Caller(served.url)


@pytest.fixture
def make_caller():
    return Caller


@pytest.fixture
def fresh():
    """A sandbox of its own, for tests that move the clock or change faults."""
    sb = Sandbox.generate(seed=3, campaigns=30, messages=3000, now=NOW)
    with sb.serve(port=0) as server:
        yield sb, server, Caller(server.url)
