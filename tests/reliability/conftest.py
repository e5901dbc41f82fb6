"""The reliability suite counts what it tried (faults injected, kill points, bad payloads, bytes scanned) and
prints the totals at the end of the run, so the figures can be quoted."""

from collections import Counter

import pytest

FIGURES: Counter = Counter()


@pytest.fixture
def figures() -> Counter:
    """Add to a figure: `figures["kill points tried"] += 1`. Totals are printed after the run."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value:,}")
