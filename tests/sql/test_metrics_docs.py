"""docs/metrics.md cannot drift from the views."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
METRIC_VIEWS = ["campaign_metrics", "campaign_daily_metrics", "delivery_latency", "link_metrics",
                "sender_metrics", "operator_metrics", "reconciliation"]


def documented_columns(view: str) -> set[str]:
    text = DOC.read_text()
    section = text.split(f"## `{view}`", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_<>]+)`", line.split("|")[1]))
    return names


def test_docs_list_every_column_of_campaign_metrics_in_a_row_of_its_own(warehouse):
    columns = [r[0] for r in warehouse.execute("describe campaign_metrics").fetchall()]
    section = DOC.read_text().split("## `campaign_metrics`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert rows == columns


def test_docs_list_every_column_of_every_metric_view(warehouse):
    for view in METRIC_VIEWS:
        documented = documented_columns(view)
        for column in (r[0] for r in warehouse.execute(f"describe {view}").fetchall()):
            generic = re.sub(r"^(new|enqueud|acceptd|pdlivrd|delivrd|undeliv|rejectd|expired|deleted|unknown)_",
                             "<s>_", column)
            assert column in documented or generic in documented, f"{view}.{column} is not in docs/metrics.md"
