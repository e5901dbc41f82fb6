"""The notebooks execute top to bottom against a warehouse, so they cannot rot; they find it as every command does.

The first code cell of every notebook locates the warehouse (`SMS_WAREHOUSE`, else `$SMS_DATA_DIR/warehouse.duckdb`,
else `./data/warehouse.duckdb`; relative paths against the current directory, then the repository root). The tests
of that order execute this cell alone, in this process, with a controlled environment and working directory.
"""

import os
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from storage.warehouse import WAREHOUSE_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
LOCATION_VARIABLES = ("SMS_WAREHOUSE", "SMS_DATA_DIR")


def first_code_cell(notebook: Path) -> str:
    return next(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")


def execute(notebook: Path, data_dir: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run the notebook as nbclient does (its own folder as working directory) with only SMS_DATA_DIR set."""
    monkeypatch.delenv("SMS_WAREHOUSE", raising=False)
    monkeypatch.setenv("SMS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    return nb


def assert_read(nb: nbformat.NotebookNode, data_dir: Path) -> None:
    """The notebook says it read the warehouse of `data_dir`."""
    locate = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in locate.outputs if o.output_type == "stream")
    assert f"warehouse: {data_dir / WAREHOUSE_FILE}\n" in printed


def test_both_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01-delivery-overview.ipynb", "02-click-through.ipynb"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_the_warehouse_and_draws_its_charts(notebook, notebook_data_dir, monkeypatch):
    nb = execute(notebook, notebook_data_dir, monkeypatch)
    assert_read(nb, notebook_data_dir)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{notebook.name} drew no chart"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_an_empty_warehouse(notebook, empty_notebook_data_dir, monkeypatch):
    nb = execute(notebook, empty_notebook_data_dir, monkeypatch)
    assert_read(nb, empty_notebook_data_dir)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


# The locating cell.

LOCATE = first_code_cell(NOTEBOOKS[0])


def test_every_notebook_locates_the_warehouse_with_the_same_first_cell():
    assert "SMS_DATA_DIR" in LOCATE and "SMS_WAREHOUSE" in LOCATE
    for notebook in NOTEBOOKS[1:]:
        assert first_code_cell(notebook) == LOCATE, f"{notebook.name}: first code cell differs from {NOTEBOOKS[0].name}"


@pytest.fixture
def tmp_path(tmp_path) -> Path:
    """The cell sees its working directory with symbolic links resolved: so must the paths it is compared with."""
    return tmp_path.resolve()


def make_warehouse(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(path)).close()
    return path


def make_repo(root: Path) -> Path:
    """A stand-in repository (what the cell recognises as the root) with no data; returns its notebooks folder."""
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    return root / "notebooks"


def locate(monkeypatch, cwd: Path, **env) -> Path:
    """Run the locating cell in `cwd` with only `env` among the location variables; the warehouse it opened."""
    for name in LOCATION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        assert name in LOCATION_VARIABLES
        monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(cwd)
    namespace = {}
    exec(compile(LOCATE, "<locating cell>", "exec"), namespace)
    con = namespace["con"]
    try:
        assert con.execute("select current_setting('access_mode')").fetchone() == ("read_only",)
    finally:
        con.close()
    return namespace["WAREHOUSE"]


def test_an_absolute_data_dir_names_the_warehouse(tmp_path, monkeypatch):
    warehouse = make_warehouse(tmp_path / "elsewhere" / WAREHOUSE_FILE)
    assert locate(monkeypatch, NOTEBOOK_DIR, SMS_DATA_DIR=warehouse.parent) == warehouse


def test_a_relative_data_dir_is_resolved_against_the_repository_root(tmp_path, monkeypatch):
    warehouse = make_warehouse(tmp_path / "data" / WAREHOUSE_FILE)
    relative = os.path.relpath(warehouse.parent, REPO_ROOT)
    assert not (NOTEBOOK_DIR / relative / WAREHOUSE_FILE).exists()  # so only the repository root can resolve it
    found = locate(monkeypatch, NOTEBOOK_DIR, SMS_DATA_DIR=relative)
    assert found.resolve() == warehouse.resolve()


def test_a_relative_data_dir_is_resolved_against_the_current_directory_first(tmp_path, monkeypatch):
    notebooks = make_repo(tmp_path / "repo")
    make_warehouse(tmp_path / "repo" / "mine" / WAREHOUSE_FILE)
    here = make_warehouse(notebooks / "mine" / WAREHOUSE_FILE)
    assert locate(monkeypatch, notebooks, SMS_DATA_DIR="mine") == here


@pytest.mark.parametrize("start", ["notebooks", "root"])
def test_without_variables_the_repository_data_folder_is_read(start, tmp_path, monkeypatch):
    notebooks = make_repo(tmp_path / "repo")
    warehouse = make_warehouse(tmp_path / "repo" / "data" / WAREHOUSE_FILE)
    assert locate(monkeypatch, notebooks if start == "notebooks" else notebooks.parent) == warehouse


def test_sms_warehouse_overrides_sms_data_dir(tmp_path, monkeypatch):
    data_dir = make_warehouse(tmp_path / "data" / WAREHOUSE_FILE).parent
    chosen = make_warehouse(tmp_path / "chosen" / "other.duckdb")
    assert locate(monkeypatch, NOTEBOOK_DIR, SMS_DATA_DIR=data_dir, SMS_WAREHOUSE=chosen) == chosen


def test_a_missing_sms_warehouse_is_an_error_naming_it_even_with_a_data_dir(tmp_path, monkeypatch):
    data_dir = make_warehouse(tmp_path / "data" / WAREHOUSE_FILE).parent
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(FileNotFoundError) as error:
        locate(monkeypatch, NOTEBOOK_DIR, SMS_DATA_DIR=data_dir, SMS_WAREHOUSE=missing)
    assert "SMS_WAREHOUSE" in str(error.value) and str(missing) in str(error.value)
    assert str(data_dir) not in str(error.value)


@pytest.mark.parametrize("env, tried", [
    ({}, ["repo/notebooks/data/warehouse.duckdb", "repo/data/warehouse.duckdb"]),
    ({"SMS_DATA_DIR": "nowhere"}, ["repo/notebooks/nowhere/warehouse.duckdb", "repo/nowhere/warehouse.duckdb"]),
    ({"SMS_DATA_DIR": "{tmp}/absent"}, ["absent/warehouse.duckdb"]),
    ({"SMS_WAREHOUSE": "nowhere.duckdb"}, ["repo/notebooks/nowhere.duckdb", "repo/nowhere.duckdb"]),
], ids=["default", "relative-data-dir", "absolute-data-dir", "relative-warehouse"])
def test_with_no_warehouse_the_error_lists_every_path_tried_and_the_fix(env, tried, tmp_path, monkeypatch):
    notebooks = make_repo(tmp_path / "repo")
    with pytest.raises(FileNotFoundError) as error:
        locate(monkeypatch, notebooks, **{name: value.format(tmp=tmp_path) for name, value in env.items()})
    message = str(error.value)
    for path in tried:
        assert str(tmp_path / path) in message, message
    assert message.count(str(tmp_path)) == len(tried), message
    for fix in ("smsetl demo", "smsetl sync", "SMS_DATA_DIR", "SMS_WAREHOUSE"):
        assert fix in message
