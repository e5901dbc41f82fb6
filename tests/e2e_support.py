"""Helpers shared by the end-to-end tests: a sandbox synced through the real flow, and truth checks."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

SANDBOX_NOW = datetime(2026, 11, 1, 12, 0, 0)
SANDBOX_TZ = "Asia/Almaty"

STATUS_COLUMNS = {
    "NEW": "pending", "ENQUEUD": "pending", "ACCEPTD": "pending", "PDLIVRD": "partially_delivered",
    "DELIVRD": "delivered", "UNDELIV": "undelivered", "REJECTD": "rejected", "EXPIRED": "expired",
    "DELETED": "deleted",
}


@dataclass
class SyncedSandbox:
    """A sandbox gateway and a data directory synced from it through the `sync` flow."""

    sandbox: object
    server: object
    data_dir: Path
    summaries: list = field(default_factory=list)

    def as_of(self) -> datetime:
        """The sandbox's clock: for a test to choose dates relative to it (the sync never sees it)."""
        return self.sandbox.clock.utc.astimezone(ZoneInfo(self.sandbox.timezone))

    def sync(self, **kwargs) -> dict:
        from flows.sync import sync

        summary = sync(str(self.data_dir), **kwargs)
        self.summaries.append(summary)
        return summary


def metrics_by_campaign(data_dir) -> dict:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        cur = con.execute("select * from campaign_metrics")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}
    finally:
        con.close()


def truth_latency(sandbox, campaign_id: int) -> tuple[float | None, float | None]:
    """Delivery latency p50 and p90 of a campaign as of the sandbox's clock, from its arrays: seconds from each
    DELIVRD message's send start to its current status, interpolated like DuckDB's quantile_cont."""
    import numpy as np

    from sandbox.data import CAMPAIGN_ID_BASE, ST

    idx = sandbox.msg_index(campaign_id - CAMPAIGN_ID_BASE)
    status, updated, started = sandbox.status_at(idx)
    delivered = status == ST["DELIVRD"]
    if not delivered.any():
        return None, None
    seconds = (updated[delivered] - started[delivered]).astype(float)
    return float(np.percentile(seconds, 50)), float(np.percentile(seconds, 90))


def expected_row(truth, sandbox=None) -> dict:
    counts = {column: 0 for column in set(STATUS_COLUMNS.values())}
    for status, n in truth.status_counts.items():
        counts[STATUS_COLUMNS[status]] += n
    row = {"messages_total": truth.messages_total, "segments_total": truth.segments_total,
           "cost_total": Decimal(truth.cost_total), "clicks": truth.clicks, **counts}
    if sandbox is not None:
        row["delivery_seconds_p50"], row["delivery_seconds_p90"] = truth_latency(sandbox, truth.campaign_id)
    return row


def assert_matches_truth(data_dir, truth, sandbox=None) -> None:
    """`campaign_metrics` equals the sandbox's ground truth for every campaign that has messages: counts,
    segments, cost, clicks, and (given the sandbox) the delivery latency percentiles."""
    metrics = metrics_by_campaign(data_dir)
    with_messages = {cid: t for cid, t in truth.items() if t.messages_total}
    assert with_messages, "the sandbox generated no messages"
    assert set(with_messages) <= set(metrics)
    for cid, t in with_messages.items():
        expected = expected_row(t, sandbox)
        actual = {k: metrics[cid][k] for k in expected}
        actual["clicks"] = actual["clicks"] or 0
        for k in ("delivery_seconds_p50", "delivery_seconds_p90"):
            if expected.get(k) is not None and actual[k] is not None and abs(expected[k] - actual[k]) < 1e-6:
                actual[k] = expected[k]
        assert actual == expected, f"campaign {cid}: warehouse {actual} != truth {expected}"


def assert_link_windows_match(data_dir, sandbox) -> None:
    """`link_metrics.clicks_last_30_days` sums the daily buckets overlapping [as_of - 30 days, as_of): every
    click from the account-local midnight starting the first such bucket up to the sandbox's clock."""
    from datetime import timedelta

    from sandbox.data import LINK_ID_BASE, to_ts

    con = duckdb.connect(str(Path(data_dir) / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select link_id, as_of, clicks_last_30_days from link_metrics").fetchall()
    finally:
        con.close()
    assert any(clicks for _, _, clicks in rows), "no link was clicked in the window: no test"
    for link_id, as_of, clicks in rows:
        start = to_ts(as_of - timedelta(days=30), sandbox.timezone)
        start = sandbox.parse(sandbox.fmt(start)[:10])
        j = link_id - LINK_ID_BASE
        times = sandbox.k_t[sandbox.l_off[j]:sandbox.l_off[j + 1]]
        assert clicks == int(((times >= start) & (times <= sandbox.clock.ts)).sum()), link_id


PER_RUN = ("run_id", "started_at", "ended_at", "api_calls", "summary")  # name or time the run, not the data


def dump(path: Path, account: str | None = None) -> dict[str, list[tuple]]:
    """Every table and view of a warehouse (per-run columns and `sync_runs` left out) as sorted tuples; of a
    combined warehouse, one account's rows without the `account` column."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
            " and table_name not in ('accounts', 'sync_runs', 'stg_sync_runs')").fetchall()]
        out = {}
        for name in names:
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?"
                " order by ordinal_position", [name]).fetchall()]
            keep = ", ".join(f'"{c}"' for c in cols if c != "account" and not any(p in c for p in PER_RUN))
            where = f" where account = '{account}'" if account else ""
            out[name] = sorted(con.execute(f'select {keep} from "{name}"{where}').fetchall(), key=repr)
        return out
    finally:
        con.close()
