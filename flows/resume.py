"""Resuming what a killed run fetched: its whole raw parts are adopted by the next run, not read again.

A killed run (SIGKILL, power loss) records nothing, so no rebuild replays its raw and its staging is dropped;
but every raw part it closed (renamed from `.tmp`) holds whole API answers. The next sync adopts two kinds:
- `Message/List` parts read in full (no `statusUpdateTsFrom`): one extract task's campaigns, every message;
- `Link/GetLinks` parts: the links of one task's campaigns.
An adopted part is moved (renamed) into the adopting run's raw folder, so a rebuild replays it with that run,
and its records are staged through `steps.ingest` like any page. A run killed while adopting leaves each part
in one of the two folders, whole, for the run after it.

What the adopting run still reads: the messages of any adopted campaign that can still change (not DONE in
this run's listing, or with a message not in a final status), in full; counters, Link/List and click stats
as always. So skipping a campaign is safe for the same reason an incremental run skips it: nothing of it can
change any more. A part closed by a task that failed (renamed all the same) belongs to a run that failed and
recorded it, so it is not adopted; in the unlikely case of a kill between the two, reconciliation against the
gateway's counters re-reads what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from flows import steps
from smsapi.glossary import FINAL_STATUSES
from storage import raw
from storage.crashpoints import crashpoint


@dataclass
class Adopted:
    """What a run took over from killed runs."""

    result: steps.StepResult = field(default_factory=steps.StepResult)
    final_messages: set[int] = field(default_factory=set)  # campaigns read in full whose messages were all final
    links: set[int] = field(default_factory=set)  # campaigns whose links were read
    parts: int = 0

    def settled(self, listed: dict[int, str]) -> set[int]:
        """Adopted campaigns that cannot change any more: all messages final and DONE in this run's listing."""
        return {cid for cid in self.final_messages if listed.get(cid) == "DONE"}


def killed_runs(raw_root, current: str) -> list[str]:
    """Runs that left raw payloads but no run record (`runs` entity): killed before recording themselves."""
    return [r for r in raw.runs(raw_root) if r != current and next(raw.read(raw_root, "runs", r), None) is None]


def adopt(run: steps.RunContext, stager: steps.Stager) -> Adopted:
    """Adopt the whole raw parts of every killed run into `run` (see the module docstring)."""
    adopted = Adopted()
    for killed in killed_runs(run.raw_root, run.run_id):
        for entity, method in (("messages", "Message/List"), ("links", "Link/GetLinks")):
            for part in sorted((run.raw_root / entity / f"run={killed}").glob("*.jsonl.zst")):
                if not _whole(raw.read_part(part), method):
                    continue
                target = run.raw_root / entity / f"run={run.run_id}" / part.name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, target)  # this run's raw from now on: a rebuild replays it with this run
                crashpoint(f"resume.after_adopt:{entity}")
                for record in raw.read_part(target):
                    steps.ingest(entity, record, run.timezone, stager, adopted.result)
                    _note(entity, record, adopted)
                adopted.parts += 1
    adopted.final_messages -= adopted.result.ids.pop("not_final", {}).keys()
    return adopted


def _whole(records: Iterable[dict], method: str) -> bool:
    """A part of complete answers to `method`: for messages, read in full (no status window)."""
    found = False
    for record in records:
        params = record.get("params") or {}
        if record.get("method") != method or params.get("statusUpdateTsFrom") is not None:
            return False
        found = True
    return found


def _note(entity: str, record: dict, adopted: Adopted) -> None:
    params, data = record["params"], record["data"] or []
    if entity == "messages":
        adopted.final_messages.update(int(c) for c in params.get("campaignIds") or [])
        not_final = adopted.result.ids.setdefault("not_final", {})
        for item in data:
            if isinstance(item, dict) and item.get("status") not in FINAL_STATUSES:
                cid = _int(item.get("campaignId"))
                # a message with no campaign id: none of the part's campaigns counts as settled
                not_final.update(dict.fromkeys([cid] if cid is not None else params.get("campaignIds") or [], True))
    elif params.get("campaignId") is not None:
        adopted.links.add(int(params["campaignId"]))
        adopted.result.ids.setdefault("links", {}).update(steps._click_counts(data))


def _int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
