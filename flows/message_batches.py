"""How a backfill's campaigns split into `Message/List` batches: by their size, so that the batches are many and
even. Shared by the sync (`flows.sync`) and the benchmark's raw-fetch floor (`bench/backfill.py`), which must
read the same pages; standard library only, so that the floor imports nothing of the pipeline's but this.

A batch's pages are one serial stream (offset paging over its campaigns, page after page), so a backfill of a
few large batches waits on its largest: at 300,000 messages in 150 campaigns, batches of 100 campaigns made one
stream of ~217,000 messages (bench/backfill.py). Batches of at most `BATCH_MESSAGES` messages by the campaigns'
own counters keep every worker busy to the end; each costs at most one part-filled page more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BATCH_MESSAGES = 20_000  # messages per full-read batch, by the campaigns' counters: 200 pages of 100


def count(value) -> int:
    """A counter as the wire sends it (a number or a numeric string); 0 where it is anything else."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def by_size(ids: Iterable[int], expected: Mapping[int, int], campaigns: int,
            messages: int = BATCH_MESSAGES) -> list[list[int]]:
    """`ids` cut in their order into batches of at most `campaigns` campaigns and `messages` messages by `expected` (a
    campaign's `totalMsgNum`; unknown: 0). A campaign larger than `messages` is a batch of its own (its pages
    cannot be split). Small campaigns batch as by count alone (`steps.batches`). The batches come largest
    first."""
    result: list[list[int]] = []
    batch: list[int] = []
    size = 0
    for cid in ids:
        n = expected.get(cid, 0)
        if batch and (len(batch) >= campaigns or size + n > messages):
            result.append(batch)
            batch, size = [], 0
        batch.append(cid)
        size += n
    if batch:
        result.append(batch)
    # the largest first: the batches that start last, as workers free up, are the short ones
    return sorted(result, key=lambda b: -sum(expected.get(c, 0) for c in b))
