"""Fresh counters of the campaigns a run refreshes: one Campaign/List call per 100, GetInfo only where needed."""

from datetime import UTC, datetime

from flows import steps
from storage import raw

TZ = "Asia/Almaty"


def campaign(cid, counters=True, send_status="SENDING"):
    c = {"id": str(cid), "type": "2", "from": "Shop", "text": "Sale", "createTs": "2026-10-01 10:00:00",
         "sendStatus": send_status, "commonStatus": send_status}
    if counters:
        c["counters"] = {"totalMsgNum": str(cid), "totalDelivrdMsgNum": "0", "totalCost": "0.0000",
                         "updateTs": "2026-10-02 10:00:00"}
    return c


class FakeApi:
    """Campaign/List by ids answers `listed` (the ids asked for, in pages of 2); GetInfo answers anything."""

    def __init__(self, listed):
        self.listed, self.calls = listed, []

    def list_campaigns_by_ids(self, ids):
        self.calls.append(("Campaign/List", list(ids)))
        items = [self.listed[i] for i in ids if i in self.listed]
        for start in range(0, len(items), 2):
            yield items[start:start + 2]

    def get_campaign_info(self, cid):
        self.calls.append(("Campaign/GetInfo", cid))
        return campaign(cid)


def _counters_of(tmp_path, api, ids):
    run = steps.RunContext(tmp_path, "r1", datetime(2026, 11, 1, 12, tzinfo=UTC), TZ)
    stager = steps.Stager(run.staging_dir)
    result = steps.extract_campaign_info(api, run, stager, ids)
    stager.close()
    run.lake.merge_run(run.staging_dir, run.run_id)
    con = run.lake.connect()
    try:
        query = "select distinct campaign_id from campaign_counters order by 1"
        counted = [r[0] for r in con.execute(query).fetchall()]
    finally:
        con.close()
    return result, counted, run


def test_counters_come_from_one_list_call_and_getinfo_only_for_items_without_them(tmp_path):
    api = FakeApi({1: campaign(1), 2: campaign(2), 3: campaign(3, counters=False)})  # 4: not listed at all
    result, counted, run = _counters_of(tmp_path, api, [1, 2, 3, 4])
    assert api.calls == [("Campaign/List", [1, 2, 3, 4]), ("Campaign/GetInfo", 3), ("Campaign/GetInfo", 4)]
    assert counted == [1, 2, 3, 4]  # every campaign's counters, whichever call brought them
    assert result.newest["counters"] == "2026-10-02 10:00:00"
    # both kinds of record are in raw, so a rebuild replays them through the same `ingest`
    assert len(list(raw.read(run.raw_root, "campaigns_by_id", "r1"))) == 2  # two pages
    assert [r["params"] for r in raw.read(run.raw_root, "campaign_info", "r1")] == [{"id": 3}, {"id": 4}]
