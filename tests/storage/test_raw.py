"""The raw store: a page written as its response body reads back as any other record, and a rewrite (a PII
conversion) leaves no copy of the body behind."""
import json

import pyarrow as pa

from storage import raw


def _lines(part) -> list[bytes]:
    with pa.CompressedInputStream(str(part), "zstd") as stream:
        return stream.read().splitlines()


def test_a_page_written_as_its_body_reads_back_with_its_items_as_data(tmp_path):
    items = [{"id": "1", "to": "h:abc", "text": "two\nlines"}, {"id": "2", "campaign": {"id": "9"}}]
    body = json.dumps({"code": 0, "data": {"items": items, "totalItemCount": "2"}, "message": ""}, indent=1)
    with raw.RawWriter(tmp_path, "messages", "r1") as writer:  # pretty-printed: newlines between tokens
        writer.write_response("Message/List", {"campaignIds": [9]}, "2026-11-01T07:00:00+00:00", body.encode())
        writer.write("Message/List", {"campaignIds": [8]}, "2026-11-01T07:00:00+00:00", [{"id": "3"}])
    assert [len(_lines(part)) for part in (tmp_path / "messages" / "run=r1").glob("*.zst")] == [2]
    records = list(raw.read(tmp_path, "messages", "r1"))
    assert records == [
        {"method": "Message/List", "params": {"campaignIds": [9]}, "observed_at": "2026-11-01T07:00:00+00:00",
         "data": items},
        {"method": "Message/List", "params": {"campaignIds": [8]}, "observed_at": "2026-11-01T07:00:00+00:00",
         "data": [{"id": "3"}]},
    ]


def test_a_rewrite_that_changes_a_body_record_keeps_only_the_changed_items(tmp_path):
    body = json.dumps({"code": 0, "data": {"items": [{"id": "1", "to": "77011234567"}]}}).encode()
    with raw.RawWriter(tmp_path, "messages", "r1") as writer:
        writer.write_response("Message/List", {}, "2026-11-01T07:00:00+00:00", body)

    def drop(record):
        return {**record, "data": [{**item, "to": None} for item in record["data"]]}

    assert raw.rewrite(tmp_path, "messages", drop) == 1
    (part,) = (tmp_path / "messages" / "run=r1").glob("*.zst")
    assert b"77011234567" not in b"".join(_lines(part))
    assert [r["data"] for r in raw.read(tmp_path, "messages", "r1")] == [[{"id": "1", "to": None}]]
