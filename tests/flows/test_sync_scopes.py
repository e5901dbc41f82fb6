"""The scopes of the scheduled runs (`sync(scope=...)`, flows/serve.py), counted at the sandbox, per method: a
frequent run reads statuses and clicks but not the campaign counters or the link click series, until those are
an hour old; the links whose clicks changed meanwhile get their series in the next run that reads series."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox

from flows import steps
from sandbox import SANDBOX_API_KEY, Faults, Sandbox


def test_refresh_by_scope_and_age():
    as_of = SANDBOX_NOW.replace(tzinfo=None)
    fresh = {steps.COUNTERS_WATERMARK: (as_of - timedelta(minutes=59)).isoformat(),
             steps.SETTLED_WATERMARK: (as_of - timedelta(hours=23)).isoformat()}
    stale = {steps.COUNTERS_WATERMARK: (as_of - timedelta(minutes=60)).isoformat(),
             steps.SETTLED_WATERMARK: (as_of - timedelta(hours=24)).isoformat()}
    assert steps.refresh_for("frequent", fresh, as_of) == steps.Refresh(counters=False, settled=False)
    assert steps.refresh_for("frequent", stale, as_of) == steps.Refresh(counters=True, settled=True)
    assert steps.refresh_for("frequent", {}, as_of) == steps.Refresh(counters=True, settled=True)
    assert steps.refresh_for("hourly", fresh, as_of) == steps.Refresh(counters=True, settled=False)
    assert steps.refresh_for("full", fresh, as_of) == steps.Refresh(counters=True, settled=True)
    with pytest.raises(ValueError, match="scope 'often' is not one of full, hourly, frequent"):
        steps.refresh_for("often", {}, as_of)


@pytest.fixture
def served(prefect_harness, monkeypatch, tmp_path):
    """A sandbox served on loopback, the settings pointed at it, and its data directory (not synced yet)."""
    for name, value in {"SMS_API_KEY": SANDBOX_API_KEY, "SMS_TIMEZONE": SANDBOX_TZ, "SMS_RATE_LIMIT": "none"}.items():
        monkeypatch.setenv(name, value)
    # Seed 65: a campaign sent after the sandbox's now, whose links take 15 clicks within 30 minutes of 6,670 s on.
    sb = Sandbox.generate(seed=65, campaigns=12, messages=1200, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    with sb.serve(port=0, faults=Faults()) as server:
        monkeypatch.setenv("SMS_API_URL", server.url)
        yield sb, server, SyncedSandbox(sb, server, tmp_path / "data")


def test_the_frequent_scope_skips_counters_and_click_series_until_they_are_an_hour_old(served):
    sb, server, state = served

    def run(scope: str, advance: timedelta, **kwargs) -> tuple[Counter, dict]:
        sb.clock.advance(advance)
        before = Counter(server.calls())
        summary = state.sync(scope=scope, **kwargs)
        return Counter(server.calls()) - before, summary

    full, _ = run("full", timedelta(seconds=6670), since=state.as_of() - timedelta(days=120))
    frequent, first = run("frequent", timedelta(minutes=30))
    hourly, second = run("hourly", timedelta(minutes=10))
    late, third = run("frequent", timedelta(minutes=61))

    listing = frequent["Campaign/List"]  # the listing of recent campaigns alone: one page here
    assert full["Link/GetStats"] > 0 and full["Campaign/List"] > listing == 1
    # 30 minutes on: statuses and clicks are read, the counters and series are not, the changed links kept.
    assert frequent["Message/List"] > 0 and frequent["Link/List"] == 1
    assert frequent["Link/GetStats"] == 0 and frequent["Campaign/GetInfo"] == 0
    pending = json.loads(first["watermarks"][steps.PENDING_STATS_WATERMARK])
    assert first["new_clicks"] > 0 and pending and first["links_with_new_clicks"] == len(pending)
    assert first["watermarks"][steps.COUNTERS_WATERMARK] is None and first["scope"] == "frequent"
    # The hourly run reads the counters (Campaign/List by ids) and the series of the links kept.
    assert hourly["Campaign/List"] > listing and hourly["Link/GetStats"] > 0
    assert second["staged_rows"]["link_click_stats"] > 0 and second["watermarks"][steps.PENDING_STATS_WATERMARK] == "[]"
    assert second["watermarks"][steps.COUNTERS_WATERMARK] is not None
    # 61 minutes after that, a frequent run finds the counters an hour old and reads them itself.
    assert late["Campaign/List"] > listing and third["watermarks"][steps.COUNTERS_WATERMARK] is not None
    assert third["watermarks"][steps.SETTLED_WATERMARK] is None  # the settled re-check waits for a day


def test_smsetl_sync_runs_the_scope_it_is_given(served):
    from smsetl import cli

    sb, server, state = served
    sb.clock.advance(timedelta(seconds=6670))
    state.sync(since=state.as_of() - timedelta(days=120))
    sb.clock.advance(timedelta(minutes=30))
    before = Counter(server.calls())
    assert cli.main(["sync", "--scope", "frequent", "--data-dir", str(state.data_dir)]) == 0
    calls = Counter(server.calls()) - before
    assert calls["Message/List"] > 0 and calls["Link/GetStats"] == 0 and calls["Campaign/GetInfo"] == 0
