"""The notebooks execute top to bottom against a warehouse, so they cannot rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def execute(notebook: Path, warehouse: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("SMS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    return nb


def test_both_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01-delivery-overview.ipynb", "02-click-through.ipynb"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_the_warehouse_and_draws_its_charts(notebook, notebook_warehouse, monkeypatch):
    nb = execute(notebook, notebook_warehouse, monkeypatch)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{notebook.name} drew no chart"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_an_empty_warehouse(notebook, empty_notebook_warehouse, monkeypatch):
    execute(notebook, empty_notebook_warehouse, monkeypatch)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
