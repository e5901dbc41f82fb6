"""A Message/List page read by column stages the rows and writes the raw records its dicts would, in every PII
mode; a page whose repeats were dropped, or whose numbers the body cannot be changed in place for, goes the
dict way, so raw never holds an item the run did not stage, nor a number in clear."""
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import transforms
from flows import steps
from flows.progress import Progress
from smsapi import columnar
from storage import raw


def _item(i: int, **extra) -> dict:
    return {"id": str(50_000 + i), "campaignId": "400000", "from": "KASPI.KZ", "to": f"7701{i:07d}",
            "text": "Sale!", "segNum": "1", "segUserBuy": "24.5145", "status": "DELIVRD", "uuid": f"u-{i}",
            "startSendTs": "2026-09-02 16:39:27", "statusUpdateTs": f"2026-09-02 16:{40 + i}:00",
            "countryA2": "KZ", "operatorName": "Kcell", "campaign": {"id": "400000", "counters": {"totalMsgNum": "9"}},
            **extra}


def _body(items) -> bytes:
    return json.dumps({"code": 0, "data": {"items": items, "totalItemCount": "9"}, "message": ""}).encode()


def _column_page(items):
    return steps.MESSAGE_PAGES(_body(items))["data"]["items"]


WHOLE = [_item(0), _item(1)]
REPEATED = [_item(1), _item(2), _item(3)]  # the first repeats the page before: dropped by the client
NESTED = [_item(4, card={"to": "77019999999"}), _item(5)]  # another object's `to`: not changed in place


def _run(tmp_path, mode, pages):
    pii = transforms.PiiPolicy(mode, b"k" * 32 if mode == "hash" else None)
    run = steps.RunContext(tmp_path, "20261101T000000000000Z-1", datetime(2026, 11, 1, tzinfo=UTC), "Asia/Almaty",
                           pii=pii, progress=Progress(observers=[]))
    stager = steps.Stager(run.staging_dir)
    with steps.Extractor(run, stager, "messages", "Message/List") as ex:
        for page in pages:
            ex.take({"campaignIds": [400000]}, page)
    stager.close()
    staged = pq.read_table(run.staging_dir / "messages").sort_by("message_id")
    return ex, staged, list(raw.read(run.raw_root, "messages", run.run_id)), run


@pytest.mark.parametrize("mode", ["hash", "keep", "drop"])
def test_pages_by_column_give_what_their_dicts_give(tmp_path, mode):
    column_pages = [_column_page(WHOLE), _column_page(REPEATED).take([1, 2]), _column_page(NESTED)]
    assert [type(p) for p in column_pages] == [columnar.ColumnPage] * 3
    dict_pages = [WHOLE, REPEATED[1:], NESTED]
    ex, staged, records, run = _run(tmp_path / "columns", mode, column_pages)
    ex_d, staged_d, records_d, _ = _run(tmp_path / "dicts", mode, json.loads(json.dumps(dict_pages)))
    assert staged.drop_columns(["first_observed_at", "observed_at"]).equals(
        staged_d.drop_columns(["first_observed_at", "observed_at"]))
    assert staged.num_rows == 6 and ex.result.rows == ex_d.result.rows
    assert ex.result.newest == ex_d.result.newest == {"statusUpdateTs": "2026-09-02 16:45:00"}
    assert [r["data"] for r in records] == [r["data"] for r in records_d]  # the repeat is in neither
    text = b"".join(p.read_bytes() for p in (run.raw_root / "messages").rglob("*.zst"))
    with pa.CompressedInputStream(pa.BufferReader(text), "zstd") as stream:
        stored = stream.read()
    # as received: the whole page, and under keep the one with a nested `to` too; the rest as dicts
    assert stored.count(b'"response":') == (2 if mode == "keep" else 1)
    if mode != "keep":
        assert not [i for i in range(6) if f"7701{i:07d}".encode() in stored]  # no recipient's number
