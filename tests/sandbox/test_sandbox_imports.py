"""The sandbox's modules import one way (gateway -> server -> api -> data): no circle, not even a lazy one."""

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def _imports(path: Path) -> set[str]:
    """The sibling modules `path` imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sandbox."):
            found.add(node.module.split(".")[1])
    return found


def test_the_sandbox_modules_have_no_import_circle():
    graph = {p.stem: _imports(p) for p in SANDBOX.glob("*.py")}
    assert "server" not in graph["data"] and "api" not in graph["data"]  # the world knows nothing of HTTP

    def visit(module, path):
        assert module not in path, f"import circle: {' -> '.join([*path, module])}"
        for imported in graph.get(module, ()):
            visit(imported, [*path, module])

    for module in graph:
        visit(module, [])
