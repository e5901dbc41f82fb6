"""Under each of the gateway's faults, alone and all at once, a full sync and then an incremental one leave a
warehouse identical, row by row, to the fault-free run of the same sandbox; a fault that outlasts the retry
budget fails the run clearly and leaves the previous warehouse as it was."""

from datetime import timedelta

import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox
from reliability_support import dump_warehouse, fast_client, small_sandbox

from sandbox import SANDBOX_API_KEY, Faults

SEED = 31
LATER = timedelta(hours=4)
SINCE_DAYS = 120

FAULTS = {
    "rate_limit": dict(rate_limit=3),
    "wrong_port": dict(wrong_port=True),
    "background_tasks": dict(background_tasks=0.1),  # code 100 answers writes only: a sync must not mind it
    "http_5xx": dict(http_5xx=0.1),
    "drop": dict(drop=0.1),
    "slow": dict(slow=0.1, slow_seconds=0.6),  # longer than the 0.3 s read timeout: a timeout, retried
    "truncated": dict(truncated=0.1),
    "code3": dict(code3=0.1),
    "code999": dict(code999=0.1),
    "lost_answers": dict(lost_answers={m: 0.1 for m in (
        "Campaign/List", "Campaign/GetInfo", "Message/List", "Message/GetSMSStatus", "Link/List",
        "Link/GetStats")}),
}
ALL_AT_ONCE = {k: v for spec in FAULTS.values() for k, v in spec.items()}
ALL_AT_ONCE["rate_limit"] = 10

_baseline: dict = {}


@pytest.fixture
def gateway_env(monkeypatch):
    fast_client(monkeypatch)

    def configure(url):
        monkeypatch.setenv("SMS_API_URL", url)
        monkeypatch.setenv("SMS_API_KEY", SANDBOX_API_KEY)
        monkeypatch.setenv("SMS_TIMEZONE", SANDBOX_TZ)
        monkeypatch.setenv("SMS_RATE_LIMIT", "none")
    return configure


def full_then_incremental(data_dir, faults: Faults, configure) -> tuple[dict, list[dict]]:
    sb = small_sandbox(SEED)
    with sb.serve(port=0, faults=faults) as server:
        configure(server.wrong_url if faults.wrong_port else server.url)
        state = SyncedSandbox(sb, server, data_dir)
        state.sync(since=state.as_of() - timedelta(days=SINCE_DAYS))
        sb.clock.advance(LATER)
        state.sync()
    return dump_warehouse(data_dir), state.summaries


def baseline(tmp_path_factory, configure) -> dict:
    if "rows" not in _baseline:
        _baseline["rows"], _ = full_then_incremental(tmp_path_factory.mktemp("clean"), Faults(), configure)
    return _baseline["rows"]


def met(summaries) -> int:
    """What the client met of the faults: retries, domain switches and task polls over both runs."""
    return sum(sum(s["api"]["retries"].values()) + s["api"].get("domain_switches", 0) for s in summaries)


@pytest.mark.parametrize("kind", [*FAULTS, "all at 10 %"])
def test_a_full_and_an_incremental_sync_under_a_fault_equal_the_fault_free_warehouse_row_by_row(
        prefect_harness, gateway_env, tmp_path, tmp_path_factory, figures, kind):
    expected = baseline(tmp_path_factory, gateway_env)
    assert sum(len(rows) for rows in expected.values()) > 0
    spec = ALL_AT_ONCE if kind == "all at 10 %" else FAULTS[kind]
    actual, summaries = full_then_incremental(tmp_path / "data", Faults(**spec, seed=7), gateway_env)
    injected = met(summaries)
    figures["faults injected"] += injected
    if kind != "background_tasks":  # the sync sends nothing that could be answered with code 100
        assert injected > 0, f"{kind}: no fault was met, so nothing was tested"
    assert actual.keys() == expected.keys()
    for table in expected:
        assert actual[table] == expected[table], f"{kind}: table {table} differs from the fault-free run"


def test_a_fault_that_outlasts_the_retries_fails_the_run_clearly_and_leaves_the_warehouse_unchanged(
        prefect_harness, gateway_env, tmp_path, monkeypatch, figures):
    from smsapi import TransportError

    fast_client(monkeypatch, max_retries=3)
    sb = small_sandbox(SEED)
    data_dir = tmp_path / "data"
    with sb.serve(port=0, faults=Faults()) as server:
        gateway_env(server.url)
        state = SyncedSandbox(sb, server, data_dir)
        state.sync(since=state.as_of() - timedelta(days=SINCE_DAYS))
        before = dump_warehouse(data_dir)
        sb.clock.advance(LATER)
        server.set_faults(Faults(http_5xx=1.0))
        with pytest.raises(TransportError) as failure:
            state.sync()
    figures["faults injected"] += 4
    message = str(failure.value)
    assert "HTTP 5" in message or "5xx" in message or "500" in message or "503" in message, message
    assert dump_warehouse(data_dir) == before
