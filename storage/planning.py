"""The lake's answers a run's plan is made of: every query the planning needs, in one place.

What to do with the answers (which campaigns to list, re-read or leave alone) is `flows.steps`'; this module
only reads the lake's tables and the warehouse's `reconciliation` view, on a connection from `Lake.connect`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from storage.views import apply_views


@dataclass
class LakeState:
    """What the lake holds of the account, as the plan needs it."""

    known_campaigns: set[int]
    unsettled_campaigns: list[int]  # sendStatus not DONE
    active_campaigns: list[int]  # not DONE, or with a message not final: may still have status changes
    done_recheck: list[int]  # DONE campaigns whose counters were observed before `recheck_before`
    watermarks: dict[str, str]
    newest_campaign: datetime | None  # the newest campaign's created_at
    link_clicks: dict[int, int]  # link_id -> click_count


def lake_state(con, recheck_before: datetime) -> LakeState:
    known = {r[0] for r in con.execute("select campaign_id from campaigns").fetchall()}
    unsettled = [r[0] for r in con.execute(
        "select campaign_id from campaigns where send_status is distinct from 'DONE' order by 1").fetchall()]
    active = [r[0] for r in con.execute("""
        select campaign_id from campaigns where send_status is distinct from 'DONE'
        union select distinct campaign_id from messages where not is_final
        order by 1""").fetchall()]
    done_recheck = [r[0] for r in con.execute(
        "select campaign_id from campaigns where send_status = 'DONE' and observed_at < $due order by 1",
        {"due": recheck_before}).fetchall()]
    watermarks = dict(con.execute("select name, value from sync_watermarks").fetchall())
    newest_campaign = con.execute("select max(created_at) from campaigns").fetchone()[0]
    link_clicks = dict(con.execute("select link_id, click_count from links").fetchall())
    return LakeState(known, unsettled, active, done_recheck, watermarks, newest_campaign, link_clicks)


def inconsistent_campaigns(con) -> list[dict]:
    """The `reconciliation` view's rows (with the campaign's `send_status`) of campaigns that have gateway
    counters and disagree with them, by campaign id."""
    apply_views(con)
    cursor = con.execute("select r.*, c.send_status from reconciliation r left join campaigns c using (campaign_id)"
                         " where r.has_gateway_counters and not r.is_consistent order by campaign_id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def last_summary(con, outcome: str) -> dict | None:
    """The run summary of the newest run with `outcome`, or None."""
    row = con.execute("select summary from sync_runs where outcome = ? order by run_id desc limit 1",
                      [outcome]).fetchone()
    return json.loads(row[0]) if row is not None and row[0] else None


def non_final_messages(con, campaign_ids: list[int]) -> list[int]:
    """Ids of the messages of `campaign_ids` whose stored status is not final."""
    return [r[0] for r in con.execute(
        "select message_id from messages where not is_final and list_contains($ids, campaign_id) order by 1",
        {"ids": campaign_ids}).fetchall()]
