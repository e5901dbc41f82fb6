"""A backfill killed at about 90 % resumes from what it already fetched and landed (`flows.resume`), not from
zero, and ends with the warehouse of a clean backfill, row by row."""

import os
import signal
from datetime import UTC, datetime

import pytest
from e2e_support import SANDBOX_NOW, SANDBOX_TZ, SyncedSandbox
from reliability_support import dump_warehouse, small_sandbox
from test_crash_points import data_tables, sync_killed_at

from flows import resume, steps
from flows.rebuild import rebuild
from sandbox import SANDBOX_API_KEY, Faults, Sandbox
from smsapi import SmsApi
from smsapi.glossary import FINAL_STATUSES
from storage import raw

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
CAMPAIGNS = 1000  # ten Message/List tasks of 100 campaigns: the kill lands after the ninth has landed
KILL_AT = "raw.after_rename:messages@9"


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


@pytest.fixture(scope="module")
def served(prefect_harness):
    sb = Sandbox.generate(seed=37, campaigns=CAMPAIGNS, messages=20_000, now=SANDBOX_NOW, timezone=SANDBOX_TZ)
    saved = dict(os.environ)
    with sb.serve(port=0, faults=Faults()) as server:
        os.environ.update(SMS_API_URL=server.url, SMS_API_KEY=SANDBOX_API_KEY, SMS_TIMEZONE=SANDBOX_TZ,
                          SMS_RATE_LIMIT="none")
        try:
            yield sb, server
        finally:
            os.environ.clear()
            os.environ.update(saved)


def test_a_backfill_killed_at_90_percent_resumes_from_what_it_landed_and_ends_equal_to_a_clean_one(
        served, tmp_path, figures):
    sb, server = served
    before = server.calls()
    SyncedSandbox(sb, server, tmp_path / "clean").sync(since=SINCE)
    full = delta(server.calls(), before)
    clean = data_tables(dump_warehouse(tmp_path / "clean"))

    data_dir = tmp_path / "data"
    assert sync_killed_at(KILL_AT, data_dir, tmp_path / "child.log") == -signal.SIGKILL
    figures["kill points tried"] += 1
    before = server.calls()
    summary = SyncedSandbox(sb, server, data_dir).sync(since=SINCE)
    resumed = delta(server.calls(), before)

    assert summary["adopted_raw_parts"] >= 9
    assert data_tables(dump_warehouse(data_dir)) == clean
    rebuild(data_dir)  # the adopted parts are replayed with the run that adopted them
    assert data_tables(dump_warehouse(data_dir)) == clean
    share = resumed.get("Message/List", 0) / full["Message/List"]
    figures["resumed backfill: Message/List calls, % of a full backfill's"] = round(100 * share)
    figures["resumed backfill: Link/GetLinks calls, % of a full backfill's"] = round(
        100 * resumed.get("Link/GetLinks", 0) / max(full.get("Link/GetLinks", 0), 1))
    assert share < 0.30, f"the resumed run made {resumed} calls; a full backfill {full}"


def test_only_whole_full_reads_of_killed_runs_are_adopted_and_only_settled_campaigns_are_skipped(tmp_path):
    """Plain functions, no flow: a killed run's full Message/List part and its GetLinks part are adopted (moved
    into the adopting run), a status-window part and a recorded run's parts are not; a campaign counts as settled
    only if all its adopted messages are final and this run lists it DONE."""
    sb = small_sandbox(43)
    with sb.serve(port=0, faults=Faults()) as server, SmsApi(server.url, SANDBOX_API_KEY, timezone=SANDBOX_TZ,
                                                            rate_limit_per_method=None) as api:
        campaigns = [int(c["id"]) for page in api.list_campaigns(SINCE) for c in page]
        pages = {cid: [p for p in api.list_messages([cid])] for cid in campaigns}
        links = api.get_campaign_links(campaigns[0])
    final = {cid for cid, ps in pages.items() if ps and all(m["status"] in FINAL_STATUSES for p in ps for m in p)}
    pending = {cid for cid, ps in pages.items() if ps} - final
    assert final and pending, "the sandbox needs a settled and an unsettled campaign"
    one_final, one_pending = min(final), min(pending)
    root = tmp_path / "raw"
    killed, recorded, current = "20261101T000000000000Z-1", "20261101T010000000000Z-2", "20261101T020000000000Z-3"

    def part(run_id, entity, method, params, payloads):
        with raw.RawWriter(root, entity, run_id) as writer:
            for data in payloads:
                writer.write(method, params, "2026-11-01T06:00:00+00:00", data)
        return writer.path

    full = part(killed, "messages", "Message/List", {"campaignIds": [one_final, one_pending],
                                                      "statusUpdateTsFrom": None},
                pages[one_final] + pages[one_pending])
    window = part(killed, "messages", "Message/List", {"campaignIds": [one_final],
                                                        "statusUpdateTsFrom": "2026-10-31 00:00:00"}, pages[one_final])
    got_links = part(killed, "links", "Link/GetLinks", {"campaignId": campaigns[0]}, [links])
    done = part(recorded, "messages", "Message/List", {"campaignIds": [one_final], "statusUpdateTsFrom": None},
                pages[one_final])
    part(recorded, "runs", "sync", {}, [{"outcome": "success"}])

    run = steps.RunContext(tmp_path, current, datetime(2026, 11, 1, 6, tzinfo=UTC), SANDBOX_TZ)
    stager = steps.Stager(run.staging_dir)
    adopted = resume.adopt(run, stager)
    stager.close()
    assert adopted.parts == 2
    assert not full.exists() and (root / "messages" / f"run={current}" / full.name).exists()
    assert not got_links.exists() and window.exists() and done.exists()
    assert adopted.links == {campaigns[0]}
    assert adopted.settled({one_final: "DONE", one_pending: "DONE"}) == {one_final}
    assert adopted.settled({one_final: "SENDING"}) == set()
    assert adopted.result.rows["messages"] == sum(len(p) for p in pages[one_final] + pages[one_pending])
