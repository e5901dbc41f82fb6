"""Link/GetLinks answers a campaign's few links a call: the Extractor normalizes several calls' links at once,
each row with its own call's campaign, and raw keeps one record a call."""
from datetime import UTC, datetime

import pyarrow.parquet as pq

import transforms
from flows import steps
from flows.progress import Progress
from storage import raw


def _links(*ids: int) -> list[dict]:
    return [{"id": str(i), "code": f"c{i}", "fullLink": f"https://example.com/{i}", "shortLink": f"http://mbzn.co/{i}",
             "clickCnt": "3", "redirectCnt": "1", "comment": ""} for i in ids]


def test_several_calls_links_are_normalized_together_each_with_its_campaign(tmp_path, monkeypatch):
    calls = []
    real = transforms.links
    monkeypatch.setattr(transforms, "links", lambda *a: calls.append(a) or real(*a))
    run = steps.RunContext(tmp_path, "20261101T000000000000Z-1", datetime(2026, 11, 1, tzinfo=UTC), "Asia/Almaty",
                           pii=transforms.PiiPolicy("keep"), progress=Progress(observers=[]))
    stager = steps.Stager(run.staging_dir)
    answers = {400001: _links(1, 2), 400002: [], 400003: [*_links(3), "junk"], 400004: None}
    with steps.Extractor(run, stager, "links", "Link/GetLinks") as ex:
        for cid, items in answers.items():
            ex.take({"campaignId": cid}, items)
    stager.close()
    staged = pq.read_table(run.staging_dir / "links").sort_by("link_id").to_pydict()
    assert list(zip(staged["link_id"], staged["campaign_id"], strict=True)) == [(1, 400001), (2, 400001), (3, 400003)]
    assert len(calls) == 2  # the lists in one batch; the null answer on its own, as before
    assert ex.result.unexpected["links"] == 1  # the junk item, counted
    records = list(raw.read(run.raw_root, "links", run.run_id))
    assert [(r["params"], r["data"]) for r in records] == [({"campaignId": c}, a) for c, a in answers.items()]
