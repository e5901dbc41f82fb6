"""The extract steps report what they read to the run's progress: items, listing totals, the method's calls."""

from datetime import UTC, datetime

from flows import steps
from flows.progress import Progress
from smsapi.paginate import Page


def run_context(tmp_path, calls=None):
    progress = Progress(calls=calls, observers=[])
    run = steps.RunContext(tmp_path, "20261101T000000000000Z-1", datetime(2026, 11, 1, tzinfo=UTC), "Asia/Almaty",
                           progress=progress)
    return run, steps.Stager(run.staging_dir)


def test_an_extractor_counts_the_items_it_takes_and_the_total_a_listings_first_page_carries(tmp_path):
    run, stager = run_context(tmp_path, calls=lambda: {"Campaign/List": 2})
    with steps.Extractor(run, stager, "campaigns", "Campaign/List") as ex:
        ex.take({}, Page([{"id": "1", "sendStatus": "NEW"}, {"id": "2", "sendStatus": "NEW"}], total=3))
        ex.take({}, Page([{"id": "3", "sendStatus": "NEW"}]))
    [e] = run.progress.snapshot().entities
    assert (e.entity, e.items, e.total, e.calls) == ("campaigns", 3, 3, 2)


def test_counters_by_ids_share_the_campaigns_row_because_they_share_its_method(tmp_path):
    run, stager = run_context(tmp_path)
    with steps.Extractor(run, stager, "campaigns", "Campaign/List") as ex:
        ex.take({}, Page([{"id": "1", "sendStatus": "NEW"}], total=1))
    with steps.Extractor(run, stager, "campaigns_by_id", "Campaign/List") as ex:
        ex.take({}, Page([{"id": "1", "sendStatus": "NEW"}], total=1))
    assert [(e.entity, e.items, e.total) for e in run.progress.snapshot().entities] == [("campaigns", 2, 2)]


class StatusApi:
    def get_sms_status(self, ids):
        yield [{"id": str(i), "status": "DELIVRD"} for i in ids]


def test_a_status_recheck_declares_its_ids_as_the_total(tmp_path):
    run, stager = run_context(tmp_path)
    steps.extract_statuses(StatusApi(), run, stager, list(range(1, 251)))
    [e] = run.progress.snapshot().entities
    assert (e.entity, e.items, e.total) == ("message_statuses", 250, 250)
