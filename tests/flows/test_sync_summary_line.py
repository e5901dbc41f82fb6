"""The line that ends `smsetl sync` and the demo: what changed, and how long each phase took."""

from flows.sync import format_changes, format_summary

SUMMARY = {
    "run_id": "20261101T000000000000Z-1", "outcome": "success", "duration_s": 6.4, "api_calls": 120,
    "as_of": "2026-11-01T06:00:00+00:00", "unexpected": {}, "reconciliation_mismatches": {},
    "rows": {"campaigns": {"added": 3, "changed": 2}, "messages": {"added": 800, "changed": 1204},
             "links": {"added": 0, "changed": 5}},
    "new_clicks": 87,
    "phase_seconds": {"plan": 0.12, "campaigns": 0.3, "extract": 4.21, "merge": 1.3, "publish": 0.44, "report": 75.0},
}


def test_the_line_names_new_campaigns_messages_status_changes_clicks_and_each_phases_time():
    assert format_changes(SUMMARY) == (
        "changed: 3 new campaigns, 800 new messages, 1,204 status changes, 87 new clicks"
        " · plan 0.1 s, campaigns 0.3 s, extract 4.2 s, merge 1.3 s, publish 0.4 s, report 1 min 15 s")


def test_a_run_that_changed_one_thing_of_each_says_so_in_the_singular():
    summary = {"rows": {"campaigns": {"added": 1, "changed": 0}, "messages": {"added": 1, "changed": 1}},
               "new_clicks": 1}
    assert format_changes(summary) == "changed: 1 new campaign, 1 new message, 1 status change, 1 new click"


def test_a_summary_without_rows_or_timings_still_reads_as_nothing_changed():
    assert format_changes({"rows": {}}) == "changed: 0 new campaigns, 0 new messages, 0 status changes"


def test_the_summary_printed_after_a_sync_carries_the_line_under_its_heading():
    plain, markdown = format_summary(SUMMARY).splitlines(), format_summary(SUMMARY, markdown=True).splitlines()
    assert plain[0].startswith("sync 20261101T000000000000Z-1: success in 6.4 s")
    assert plain[1] == markdown[1] == format_changes(SUMMARY)
