"""One sandbox synced in each privacy mode: in hash and drop mode no file under the data directory holds a
recipient's number in clear, and no metric changes with the mode."""

import os
import shutil
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ

from flows import privacy
from flows.rebuild import fold, rebuild
from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from sandbox.data import MESSAGE_ID_BASE
from storage import snapshot
from transforms.pii import hash_recipient

MODES = ("hash", "keep", "drop")
METRIC_VIEWS = ("campaign_metrics", "campaign_daily_metrics", "delivery_latency", "link_metrics", "sender_metrics",
                "operator_metrics", "reconciliation")


class Synced:
    def __init__(self, sandbox, server, root: Path):
        self.sandbox, self.server, self.root = sandbox, server, root
        ids = np.arange(len(sandbox.m_camp))
        self.numbers = {MESSAGE_ID_BASE + int(i): to for i, (to, _, _) in zip(ids, sandbox.message_numbers(ids))}

    def data_dir(self, mode: str) -> Path:
        return self.root / mode


@pytest.fixture(scope="module")
def synced(prefect_harness, tmp_path_factory):
    from flows.sync import sync

    sb = Sandbox.generate(seed=5, campaigns=8, messages=800, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    since = SANDBOX_NOW.replace(tzinfo=ZoneInfo(SANDBOX_TZ)) - timedelta(days=3650)
    with sb.serve(port=0, faults=Faults()) as server, pytest.MonkeyPatch.context() as env:
        for name, value in {"SMS_API_URL": server.url, "SMS_API_KEY": SANDBOX_API_KEY, "SMS_TIMEZONE": SANDBOX_TZ,
                            "SMS_RATE_LIMIT": "none"}.items():
            env.setenv(name, value)
        state = Synced(sb, server, tmp_path_factory.mktemp("pii"))
        for mode in MODES:
            env.setenv("SMS_PII", mode)
            sync(str(state.data_dir(mode)), since=since)
        yield state


def file_contents(data_dir: Path):
    """(path, bytes) of every file under `data_dir`; raw's zstd parts decompressed."""
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if path.name.endswith(".zst"):
            with pa.CompressedInputStream(str(path), "zstd") as stream:
                yield path, stream.read()
        else:
            yield path, path.read_bytes()


def clear_numbers_found(data_dir: Path, numbers) -> dict:
    found = {}
    for path, content in file_contents(data_dir):
        hits = [n for n in numbers if n.encode() in content]
        if hits:
            found[str(path.relative_to(data_dir))] = hits[:3]
    return found


def recipients(data_dir: Path) -> dict:
    """message_id -> recipient, from the lake's Parquet and from the warehouse (which must agree)."""
    con = duckdb.connect()
    files = [str(p) for p in (data_dir / "lake" / "messages").rglob("*.parquet")]
    lake = dict(con.execute(f"select message_id, recipient from read_parquet({files})").fetchall())
    warehouse = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert dict(warehouse.execute("select message_id, recipient from messages").fetchall()) == lake
    return lake


def snapshot_recipients(data_dir: Path) -> dict:
    """message_id -> recipient in raw's snapshot (`storage.snapshot`)."""
    from flows.rebuild import code_id

    folded = snapshot.load(data_dir / "raw", code_id())
    files = [str(p) for p in (folded.lake / "messages").rglob("*.parquet")]
    return dict(duckdb.connect().execute(f"select message_id, recipient from read_parquet({files})").fetchall())


def view_rows(data_dir: Path, view: str) -> list:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"select * from {view} order by all").fetchall()
    finally:
        con.close()


def test_hash_mode_stores_each_recipient_as_its_keyed_hash_in_lake_and_warehouse(synced):
    key = privacy.load_key(create=False)
    stored = recipients(synced.data_dir("hash"))
    assert len(stored) > 100
    assert stored == {mid: hash_recipient(synced.numbers[mid], key) for mid in stored}
    assert len(set(stored.values())) == len({synced.numbers[mid] for mid in stored})  # recipients still countable


def test_hash_mode_leaves_no_clear_number_and_not_the_key_in_any_file_under_the_data_directory(synced):
    data_dir = synced.data_dir("hash")
    assert any(p.name.endswith(".jsonl.zst") for p in (data_dir / "raw" / "messages").rglob("*"))
    assert clear_numbers_found(data_dir, synced.numbers.values()) == {}
    key = privacy.load_key(create=False)
    assert not [path for path, content in file_contents(data_dir) if key in content]


def test_drop_mode_stores_no_recipient_at_all(synced):
    data_dir = synced.data_dir("drop")
    assert set(recipients(data_dir).values()) == {None}
    assert clear_numbers_found(data_dir, synced.numbers.values()) == {}


def test_keep_mode_stores_the_numbers_as_the_gateway_sent_them(synced):
    data_dir = synced.data_dir("keep")
    stored = recipients(data_dir)
    assert stored == {mid: synced.numbers[mid] for mid in stored}
    assert "raw/messages" in " ".join(clear_numbers_found(data_dir, synced.numbers.values()))  # the scan sees them


@pytest.mark.parametrize("view", METRIC_VIEWS)
def test_no_metric_changes_with_the_mode(synced, view):
    hashed = view_rows(synced.data_dir("hash"), view)
    assert view != "campaign_metrics" or len(hashed) >= 8
    for mode in ("keep", "drop"):
        assert view_rows(synced.data_dir(mode), view) == hashed, mode


def test_a_sync_in_another_mode_than_the_data_directory_holds_is_refused_before_writing(synced, monkeypatch):
    from flows.sync import sync

    data_dir = synced.data_dir("hash")
    before = sorted(str(p) for p in data_dir.rglob("*"))
    for name, value in {"SMS_API_URL": synced.server.url, "SMS_API_KEY": SANDBOX_API_KEY,
                        "SMS_TIMEZONE": SANDBOX_TZ, "SMS_RATE_LIMIT": "none", "SMS_PII": "keep"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(privacy.PiiError, match="holds recipients' phone numbers in mode hash"):
        sync(str(data_dir))
    assert sorted(str(p) for p in data_dir.rglob("*")) == before


def test_rebuild_converts_a_keep_directory_into_exactly_the_hash_one_raw_included(synced, tmp_path, monkeypatch):
    copy = tmp_path / "keep"
    shutil.copytree(synced.data_dir("keep"), copy)
    assert fold(copy) == 1  # raw's snapshot: a lake of the clear numbers, which the conversion must cover too
    assert set(snapshot_recipients(copy).values()) <= set(synced.numbers.values())
    monkeypatch.setenv("SMS_PII", "hash")
    rebuild(copy)
    assert privacy.held(copy) == privacy.Held("hash", privacy.key_id(privacy.load_key(create=False)))
    assert recipients(copy) == recipients(synced.data_dir("hash"))
    assert snapshot_recipients(copy) == recipients(synced.data_dir("hash"))  # folded again, in the new mode
    assert clear_numbers_found(copy, synced.numbers.values()) == {}
    assert view_rows(copy, "campaign_metrics") == view_rows(synced.data_dir("hash"), "campaign_metrics")
    assert not os.path.exists(copy / "lake.old")
