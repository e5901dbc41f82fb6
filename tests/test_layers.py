"""Layers are import boundaries: rendering (`reports/`) sits below the flows and the CLI, and nothing below the
CLI imports it (`smsetl/`), lazily or not. Imports are read with ast, so one inside a function counts too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(package: str) -> dict[str, set[str]]:
    """file -> the top-level packages its absolute imports name, anywhere in the file."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package, forbidden", [
    ("flows", {"smsetl", "rich"}),  # the CLI and its terminal display sit above the flows
    ("reports", {"smsetl", "flows", "smsapi", "sandbox", "prefect"}),  # rendering reads only the warehouse
])
def test_a_layer_imports_nothing_from_the_layers_above_it(package, forbidden):
    files = imported_packages(package)
    assert files, f"no Python files under {package}/"
    wrong = {f: sorted(names & forbidden) for f, names in files.items() if names & forbidden}
    assert wrong == {}


def test_the_checker_sees_an_import_inside_a_function(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("def f():\n    from smsetl.metrics import run\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert imported_packages("pkg") == {"pkg/m.py": {"smsetl"}}
