"""Bad input from the gateway: each kind is kept (the row stays, the bad value nulled, flagged or kept exactly)
or quarantined (no row: raw keeps the item as sent), and counted, and none crashes a run or corrupts a metric.

Most cases run at the transform level on a real sandbox page (the sandbox's own Message/List answer, damaged by
the `mangle` fault's functions); paging damage runs through the client against a served sandbox; one sync runs
with every damage at once and is compared with the clean run of the same sandbox.

| kind                    | outcome     | counted (unexpected values)                              |
|-------------------------|-------------|----------------------------------------------------------|
| missing_fields          | kept        | yes: the missing status (other absent fields read null)  |
| nulls                   | kept        | yes: null status and null campaign id                    |
| extra_fields            | kept        | no: unknown fields are ignored (raw keeps them)          |
| numbers                 | kept        | no: JSON numbers read as the strings would               |
| unknown_status          | kept        | yes: UNKNOWN, original in status_raw, is_unexpected      |
| blank_timestamps        | kept (NaT)  | apart: `blank_timestamps` in the summary, a warning      |
| bad_timestamps          | kept        | yes: NaT                                                 |
| long_text, every_script | kept        | no: text kept exactly, byte for byte                     |
| id_beyond_32_bits       | kept        | no: int64, exact                                         |
| missing_id, not objects | quarantined | yes                                                      |
| id beyond int64         | quarantined | yes                                                      |
| duplicated across pages | one row     | client stats `repeated_items`                            |
| pages that shrink       | re-read     | client stats `lists_shrunk`, a warning                   |
| pages that shift        | re-read     | client stats `lists_shifted`, a warning                  |
"""

import copy
import json
import logging
from collections import Counter
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e_support import SANDBOX_TZ, SyncedSandbox, metrics_by_campaign
from reliability_support import fast_client, small_sandbox

import transforms
from flows import steps
from sandbox import SANDBOX_API_KEY, Faults
from sandbox import api as wire
from sandbox.data import CAMPAIGN_ID_BASE
from sandbox.faults import BIG_ID_OFFSET, EVERY_SCRIPT, ITEM_DAMAGES, LONG_TEXT
from smsapi import SmsApi

SEED = 61
TZ = SANDBOX_TZ
OBSERVED = "2026-11-01T06:00:00+00:00"
DAMAGED = 10  # items of the page each transform-level case damages

TRIED: Counter = Counter()  # kinds and items tried, printed when the module ends


@pytest.fixture(scope="module", autouse=True)
def figure_line(request, pytestconfig):
    yield
    line = f"bad payloads tried: {len(TRIED)} kinds, {sum(TRIED.values())} items"
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


def tried(kind: str, items: int, figures) -> None:
    TRIED[kind] += items
    figures["bad payload kinds tried"] = len(TRIED)
    figures["bad payload items tried"] += items


@pytest.fixture(scope="module")
def sandbox():
    return small_sandbox(SEED)


def message_page(sb, page: int = 0) -> list[dict]:
    """A Message/List page exactly as the sandbox puts it on the wire (JSON round trip: strings, nulls)."""
    ids = [CAMPAIGN_ID_BASE + i for i in range(sb.n_campaigns())]
    data = wire.message_list(sb, {"criteria": {"campaignIds": ids}, "withNumberInfo": "1",
                                  "pagination": {"pageSize": 100, "currentPage": page}}, None)
    return json.loads(wire.dumps({"data": data}))["data"]["items"]


@pytest.fixture
def page(sandbox):
    return message_page(sandbox)


def normalized(items):
    """The transform's rows, through the Arrow schema and a Parquet file and back, as the lake stores them."""
    result = transforms.messages(copy.deepcopy(items), TZ, OBSERVED)
    table = transforms.to_arrow(result.frame, "messages")  # noqa: F841 -- read by DuckDB by name
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    stored = pq.read_table(pa.BufferReader(sink.getvalue())).to_pylist()
    return result, {row["message_id"]: row for row in stored}


def damaged(page, name: str) -> tuple[list[dict], list[int]]:
    items = copy.deepcopy(page)
    for item in items[:DAMAGED]:
        ITEM_DAMAGES[name](item)
    return items, [int(item["id"]) for item in page[:DAMAGED]]


# What each damage leaves: (rows kept of the damaged ones, unexpected values counted per damaged item)
OUTCOMES = {
    "missing_fields": (DAMAGED, 1), "nulls": (DAMAGED, 2), "extra_fields": (DAMAGED, 0), "numbers": (DAMAGED, 0),
    "unknown_status": (DAMAGED, 1), "blank_timestamps": (DAMAGED, 0), "bad_timestamps": (DAMAGED, 2),
    "long_text": (DAMAGED, 0), "every_script": (DAMAGED, 0), "id_beyond_32_bits": (DAMAGED, 0),
    "missing_id": (0, 1),
}


# Timestamps sent as blank strings, per damaged item (the reference's unset is null: bad input, counted apart)
BLANKS = {"blank_timestamps": 2}


def test_every_damage_the_sandbox_can_serve_has_a_stated_outcome():
    assert set(OUTCOMES) == set(ITEM_DAMAGES)


@pytest.mark.parametrize("name", list(ITEM_DAMAGES))
def test_a_damaged_item_is_kept_or_quarantined_and_counted_and_its_neighbours_are_untouched(page, name, figures):
    clean, clean_rows = normalized(page)
    assert clean.unexpected == 0 and len(clean_rows) == len(page)
    items, ids = damaged(page, name)
    result, rows = normalized(items)
    tried(name, DAMAGED, figures)
    kept, per_item = OUTCOMES[name]
    assert len(rows) == len(page) - DAMAGED + kept
    assert result.unexpected == per_item * DAMAGED
    assert result.blank_timestamps == BLANKS.get(name, 0) * DAMAGED
    for item in page[DAMAGED:]:  # the undamaged rows are exactly the clean ones
        assert rows[int(item["id"])] == clean_rows[int(item["id"])]
    if name == "id_beyond_32_bits":
        ids = [i + BIG_ID_OFFSET for i in ids]
    if kept:
        assert set(ids) <= set(rows)


def test_numbers_sent_as_json_numbers_give_the_same_rows_as_strings(page, figures):
    items, ids = damaged(page, "numbers")
    assert isinstance(items[0]["id"], int) and isinstance(items[0]["segUserBuy"], float)
    assert normalized(items)[1] == normalized(page)[1]
    tried("numbers", DAMAGED, figures)


def test_a_status_outside_the_glossary_is_unknown_flagged_and_keeps_the_original(page):
    items, ids = damaged(page, "unknown_status")
    row = normalized(items)[1][ids[0]]
    assert (row["status"], row["status_raw"], row["is_unexpected"], row["is_final"]) == (
        "UNKNOWN", "WEIRDST", True, False)


def test_ten_kilobyte_texts_and_every_script_and_emoji_are_kept_byte_for_byte(page, figures):
    for name, text in (("long_text", LONG_TEXT), ("every_script", EVERY_SCRIPT)):
        items, ids = damaged(page, name)
        rows = normalized(items)[1]
        assert all(rows[i]["text"] == text for i in ids), name
    assert len(LONG_TEXT) >= 10_000 and "\x00" in EVERY_SCRIPT and "👨‍👩‍👧‍👦" in EVERY_SCRIPT


def test_ids_beyond_32_and_53_bits_survive_exactly_as_int64_and_beyond_int64_are_quarantined(page, figures):
    exact = ["4294967296", "9007199254740993", 9223372036854775807, str(2**40 + 1)]
    beyond = ["9223372036854775808", "123456789012345678901234567890", "1e12", "12.0"]
    items = [dict(page[i], id=v, campaignId=v if i < 2 else page[i]["campaignId"])
             for i, v in enumerate(exact + beyond)]
    result, rows = normalized(items)
    tried("ids beyond 32 bits", len(items), figures)
    assert sorted(rows) == sorted(int(v) for v in exact)
    assert rows[4294967296]["campaign_id"] == 4294967296 and rows[9007199254740993]["campaign_id"] == 9007199254740993
    assert result.unexpected == len(beyond)
    con = duckdb.connect()  # and DuckDB reads them as the same integers (no float on the way)
    con.register("staged", transforms.to_arrow(result.frame, "messages"))
    assert sorted(r[0] for r in con.execute("select message_id from staged").fetchall()) == sorted(rows)


def test_items_that_are_not_objects_are_quarantined_and_counted_in_every_list_transform(page, figures):
    junk = [None, "garbage", 42, ["a", "list"]]
    result = transforms.messages(copy.deepcopy(page[:3]) + junk, TZ, OBSERVED)
    assert len(result.frame) == 3 and result.unexpected == len(junk)
    assert transforms.message_statuses(junk, TZ, OBSERVED).unexpected == len(junk)
    assert transforms.links(junk, None, OBSERVED).unexpected == len(junk)
    assert transforms.campaigns(junk, TZ, OBSERVED).unexpected == len(junk)
    tried("not an object", 4 * len(junk), figures)


def test_a_campaign_listing_with_junk_items_is_ingested_without_crashing_and_the_junk_counted(
        sandbox, tmp_path, figures):
    listing = wire.campaign_list(sandbox, {"criteria": {"ids": [CAMPAIGN_ID_BASE]}}, None)
    campaigns = json.loads(wire.dumps({"data": listing}))["data"]["items"]
    junk = [None, "garbage", {"sendStatus": "DONE", "counters": {}}]  # the last: no id
    stager = steps.Stager(tmp_path / "staging")
    result = steps.StepResult()
    record = {"method": "Campaign/List", "params": {}, "observed_at": OBSERVED, "data": campaigns + junk}
    steps.ingest("campaigns", record, TZ, stager, result)
    stager.close()
    tried("campaign junk", len(junk), figures)
    assert result.rows["campaigns"] == sum(c["sendStatus"] == "DONE" for c in campaigns)
    assert result.unexpected["campaigns"] == len(junk)


# -- paging damage, through the client ------------------------------------------------------------------------

def listing_ids(url: str) -> tuple[list[int], SmsApi]:
    api = SmsApi(url, SANDBOX_API_KEY, timezone=TZ, backoff=0.001, adaptive_rate_limit=False)
    sb_ids = [CAMPAIGN_ID_BASE + i for i in range(8)]
    with api:
        ids = [int(item["id"]) for page in api.list_messages(sb_ids) for item in page]
    return ids, api


def test_items_repeated_across_pages_are_read_once_and_counted(sandbox, figures):
    with sandbox.serve(port=0, faults=Faults()) as server:
        clean, _ = listing_ids(server.url)
    with sandbox.serve(port=0, faults=Faults(mangle={"duplicate": 1.0})) as server:
        ids, api = listing_ids(server.url)
    pages = -(-len(clean) // 100)
    tried("duplicated across pages", pages - 1, figures)
    assert ids == clean and len(set(ids)) == len(ids)
    assert api.stats.repeated_items == pages - 1


def test_a_listing_that_shrinks_on_one_page_only_is_read_again_and_loses_no_item(sandbox, caplog, figures):
    """Page 1 is served as if 5 items had left the set (its totalItemCount lower, its items shifted), the later
    pages as before: the last page's total equals the first's, so only a dip on any page shows the loss."""
    with sandbox.serve(port=0, faults=Faults()) as server:
        clean, _ = listing_ids(server.url)
    caplog.set_level(logging.WARNING, logger="smsapi")
    with sandbox.serve(port=0, faults=Faults(mangle={"shrink": 1.0})) as server:
        ids, api = listing_ids(server.url)
    tried("pages that shrink", 1, figures)
    assert set(ids) == set(clean)
    assert api.stats.lists_shrunk == 1
    assert any("shrank" in r.getMessage() for r in caplog.records)


def test_a_listing_that_keeps_shrinking_is_re_read_a_bounded_number_of_times_and_reported(monkeypatch, caplog):
    totals = iter(range(1000, 0, -1))

    def call(self, module, method, params=None, **kwargs):  # every page reports a total lower than the last
        page = params["pagination"]["currentPage"]
        return {"items": [{"id": str(page * 100 + i)} for i in range(100)] if page < 2 else [],
                "totalItemCount": str(next(totals))}

    monkeypatch.setattr(SmsApi, "call", call)
    caplog.set_level(logging.WARNING, logger="smsapi")
    with SmsApi("http://127.0.0.1:9", SANDBOX_API_KEY, timezone=TZ) as api:
        pages = list(api.list_messages([1]))
    assert len(pages) == 2 * 3  # the first read and two re-reads, then it stops
    assert api.stats.lists_shrunk == 1
    assert any("still shrank" in r.getMessage() for r in caplog.records)


def test_a_listing_that_shifts_while_paged_is_read_again_and_loses_no_item(sandbox, caplog, figures):
    """Pages after the first are served as if page 0's first item had left and another had joined at the end:
    the same totalItemCount on every page, and page 1's first item never served in the first read."""
    with sandbox.serve(port=0, faults=Faults()) as server:
        clean, _ = listing_ids(server.url)
    assert len(clean) > 200
    caplog.set_level(logging.WARNING, logger="smsapi")
    with sandbox.serve(port=0, faults=Faults(mangle={"shift": 1.0})) as server:
        ids, api = listing_ids(server.url)
        shifted = server.shifted_pages
    tried("pages that shift", shifted, figures)
    assert shifted == -(-len(clean) // 100) - 1  # every page after the first, in the first read only
    assert clean[100] not in ids[:len(clean)]  # the first read skipped it ...
    assert set(ids) == set(clean)  # ... and the re-read found it
    assert (api.stats.lists_shifted, api.stats.lists_shrunk) == (1, 0)
    assert any("shifted" in r.getMessage() for r in caplog.records)


def scripted(monkeypatch, pages):
    """SmsApi.call answering each listing call with the next of `pages` ((ids, total) pairs); returns the calls."""
    answers, calls = iter(pages), []

    def call(self, module, method, params=None, **kwargs):
        calls.append(params["pagination"]["currentPage"])
        ids, total = next(answers)
        return {"items": [{"id": str(i)} for i in ids], "totalItemCount": str(total)}

    monkeypatch.setattr(SmsApi, "call", call)
    return calls


def test_a_total_that_rises_then_falls_back_is_a_loss_and_the_list_is_read_again(monkeypatch):
    """An item joins (total 201) and then one leaves (back to 200) while paged: never below the first page's
    total, but a fall between two pages, so an item may have been skipped."""
    pages = [(range(0, 100), 200), (range(101, 201), 201), (range(201, 202), 200)]
    whole = [(range(0, 100), 200), (range(100, 200), 200)]
    calls = scripted(monkeypatch, pages + whole)
    with SmsApi("http://127.0.0.1:9", SANDBOX_API_KEY, timezone=TZ) as api:
        ids = {int(item["id"]) for page in api.list_messages([1]) for item in page}
    assert 100 in ids and calls == [0, 1, 2, 0, 1]
    assert api.stats.lists_shrunk == 1


def test_a_total_that_is_only_an_upper_bound_costs_one_re_read_and_counts_no_shift(monkeypatch):
    short = [(range(0, 100), 200), (range(100, 199), 200)]  # 199 items under a total of 200, every time
    calls = scripted(monkeypatch, short + short)
    with SmsApi("http://127.0.0.1:9", SANDBOX_API_KEY, timezone=TZ) as api:
        ids = [int(item["id"]) for page in api.list_messages([1]) for item in page]
    assert len(set(ids)) == 199 and calls == [0, 1, 0, 1]
    assert (api.stats.lists_shifted, api.stats.lists_shrunk) == (0, 0)


# -- one sync with every damage ---------------------------------------------------------------------------------

SHARE = 0.1  # of the victims' messages, per item damage


@pytest.fixture
def gateway_env(monkeypatch):
    fast_client(monkeypatch)

    def configure(url):
        for name, value in (("SMS_API_URL", url), ("SMS_API_KEY", SANDBOX_API_KEY), ("SMS_TIMEZONE", TZ),
                            ("SMS_RATE_LIMIT", "none")):
            monkeypatch.setenv(name, value)
    return configure


def synced(data_dir, faults: Faults, configure) -> tuple[dict, object, dict]:
    sb = small_sandbox(SEED)
    with sb.serve(port=0, faults=faults) as server:
        configure(server.url)
        state = SyncedSandbox(sb, server, data_dir)
        summary = state.sync(since=state.as_of() - timedelta(days=120))
        return summary, server, sb.ground_truth()


def warehouse_messages(data_dir) -> dict[int, tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select message_id, campaign_id, text from messages").fetchall()
        (distinct,) = con.execute("select count(distinct message_id) from messages").fetchone()
        entities = dict(con.execute("select entity, unexpected_values from sync_run_entities").fetchall())
    finally:
        con.close()
    assert distinct == len(rows), "a message has two rows"
    return {r[0]: r[1:] for r in rows}, entities


def test_a_sync_served_every_damage_completes_keeps_or_quarantines_and_counts_each_and_leaves_other_campaigns_exact(
        prefect_harness, gateway_env, tmp_path, caplog, figures):
    for name in ("smsetl", "smsapi"):  # Prefect's logging setup may stop them propagating to the root logger
        logging.getLogger(name).addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    try:
        clean_summary, _, truth = synced(tmp_path / "clean", Faults(), gateway_env)
        by_size = sorted((t.messages_total, cid) for cid, t in truth.items() if t.messages_total)
        victims = [cid for _, cid in by_size[-2:]]
        faults = Faults(mangle={**dict.fromkeys(ITEM_DAMAGES, SHARE), "duplicate": 0.5, "shrink": 1.0},
                        mangle_campaigns=victims, seed=5)
        summary, server, _ = synced(tmp_path / "damaged", faults, gateway_env)
    finally:
        for name in ("smsetl", "smsapi"):
            logging.getLogger(name).removeHandler(caplog.handler)
    mangled = {name: set(ids) for name, ids in server.mangled.items()}
    assert set(mangled) == set(ITEM_DAMAGES), "a damage hit no item: nothing was tested"
    for name, ids in mangled.items():
        tried(name, len(ids), figures)
    assert summary["outcome"] == "success"
    figures["bad payload values counted by the damaged sync"] += summary["unexpected"]["messages"]

    # Campaigns the damage did not touch: every metric exactly as in the clean run.
    clean_metrics, metrics = metrics_by_campaign(tmp_path / "clean"), metrics_by_campaign(tmp_path / "damaged")
    others = set(clean_metrics) - set(victims)
    assert others and all(metrics[cid] == clean_metrics[cid] for cid in others)

    # No row lost: only the quarantined items (no id) are missing; an id beyond 32 bits is kept exactly.
    clean_rows, _ = warehouse_messages(tmp_path / "clean")
    rows, entities = warehouse_messages(tmp_path / "damaged")
    quarantined = mangled["missing_id"]
    renamed = mangled["id_beyond_32_bits"] - quarantined
    assert set(clean_rows) - set(rows) == quarantined | renamed
    assert set(rows) - set(clean_rows) == {i + BIG_ID_OFFSET for i in renamed}
    for i in mangled["every_script"] - quarantined - renamed:
        assert rows[i][1] == EVERY_SCRIPT
    for i in mangled["long_text"] - mangled["every_script"] - quarantined - renamed:
        assert rows[i][1] == LONG_TEXT

    # Counted in the summary and in sync_run_entities, and a warning logged.
    counted = set().union(*(mangled[n] for n in ("missing_fields", "nulls", "unknown_status", "bad_timestamps",
                                                  "missing_id")))
    assert summary["unexpected"]["messages"] >= len(counted)
    assert entities["messages"] == summary["unexpected"]["messages"]
    assert clean_summary["unexpected"] == {} and clean_summary["blank_timestamps"] == {}
    assert summary["blank_timestamps"]["messages"] >= 2 * len(mangled["blank_timestamps"] - quarantined)
    figures["blank timestamps counted by the damaged sync"] += summary["blank_timestamps"]["messages"]
    assert any(r.levelno == logging.WARNING and "blank timestamps" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.WARNING and "unexpected values" in r.getMessage() for r in caplog.records)
    assert summary["api"]["lists_shrunk"] >= 1 and summary["api"]["repeated_items"] >= 1


def test_a_sync_whose_listings_shift_while_paged_loses_no_message(prefect_harness, gateway_env, tmp_path, figures):
    from e2e_support import assert_matches_truth

    summary, server, truth = synced(tmp_path / "shifted", Faults(mangle={"shift": 1.0}), gateway_env)
    assert server.shifted_pages >= 1, "no listing had a second page: nothing shifted"
    tried("pages that shift (sync)", server.shifted_pages, figures)
    assert summary["api"]["lists_shifted"] >= 1
    assert summary["repaired_campaigns"] == []  # found while paging, not left to the reconciliation
    assert_matches_truth(tmp_path / "shifted", truth)
