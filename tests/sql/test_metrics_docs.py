"""The README's metric reference cannot drift from the views."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "README.md"
METRIC_VIEWS = ["campaign_metrics", "campaign_daily_metrics", "delivery_latency", "link_metrics",
                "sender_metrics", "operator_metrics", "reconciliation"]


def _section(text: str, view: str) -> str:
    """The README's subsection on one view: from its heading to the next heading."""
    return re.split(r"\n#{2,3} ", text.split(f"### `{view}`", 1)[1], maxsplit=1)[0]


def documented_columns(view: str) -> set[str]:
    text = DOC.read_text()
    section = _section(text, view)
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_<>]+)`", line.split("|")[1]))
    return names


def test_docs_list_every_column_of_campaign_metrics_in_a_row_of_its_own(warehouse):
    columns = [r[0] for r in warehouse.execute("describe campaign_metrics").fetchall()]
    section = _section(DOC.read_text(), "campaign_metrics")
    rows = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert rows == columns


def test_docs_list_every_column_of_every_metric_view(warehouse):
    for view in METRIC_VIEWS:
        documented = documented_columns(view)
        for column in (r[0] for r in warehouse.execute(f"describe {view}").fetchall()):
            generic = re.sub(r"^(new|enqueud|acceptd|pdlivrd|delivrd|undeliv|rejectd|expired|deleted|unknown)_",
                             "<s>_", column)
            assert column in documented or generic in documented, f"{view}.{column} is not in the README"
