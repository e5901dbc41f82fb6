"""The warehouse's views: one `sql/<view name>.sql` file per view, applied in dependency order.

Each file holds one `select` (a CTE chain ending in `select * from final`); line 1 states the grain.
`apply_views` wraps each in `create or replace view <name> as ...`.

Order: layers first (`stg_*` over base tables, then `int_*`, then the metric views), and within a layer
the views a file names come before it. A view that names a view of a later layer, or a cycle, is an error,
so a wrong reference fails loudly instead of depending on alphabetical luck.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"

LAYERS = ("stg_", "int_", "")  # "" = metric views (anything without a layer prefix)


def _layer(name: str) -> int:
    for rank, prefix in enumerate(LAYERS):
        if prefix and name.startswith(prefix):
            return rank
    return len(LAYERS) - 1


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _read(sql_dir: Path) -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted(sql_dir.glob("*.sql"))}


def _dependencies(sources: dict[str, str]) -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for name, sql in sources.items():
        words = set(re.findall(r"[a-z_][a-z0-9_]*", _strip_comments(sql).lower()))
        deps[name] = {other for other in sources if other != name and other in words}
    return deps


def view_names(sql_dir: Path = SQL_DIR) -> list[str]:
    """Every view defined in `sql_dir`, in the order `apply_views` creates them."""
    sources = _read(sql_dir)
    deps = _dependencies(sources)
    for name, needed in deps.items():
        later = sorted(d for d in needed if _layer(d) > _layer(name))
        if later:
            raise ValueError(f"view {name} depends on a view of a later layer: {', '.join(later)}")

    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError("views depend on each other in a cycle: " + " -> ".join(path + (name,)))
        state[name] = "visiting"
        for dep in sorted(deps[name], key=lambda d: (_layer(d), d)):
            visit(dep, path + (name,))
        state[name] = "done"
        ordered.append(name)

    for name in sorted(sources, key=lambda n: (_layer(n), n)):
        visit(name, ())
    return ordered


def view_sql(name: str, sql_dir: Path = SQL_DIR) -> str:
    """The `select` of view `name`, as its file holds it (less a trailing semicolon)."""
    return (sql_dir / f"{name}.sql").read_text().strip().rstrip(";")


def fingerprint_text(sql_dir: Path = SQL_DIR) -> str:
    """Every view's name and definition, for telling a warehouse built with other views apart."""
    return "\n".join(f"-- {name}\n{sql}" for name, sql in _read(sql_dir).items())


def apply_views(con, sql_dir: Path = SQL_DIR, materialize: Collection[str] = (), fill=None) -> list[str]:
    """Create (or replace) every view from `sql_dir` on a DuckDB connection; return their names in order.
    The names in `materialize` are created as tables holding the view's rows instead (same name, same rows):
    created empty, then filled by `fill(con, name, select)` (`storage.warehouse.aggregate_by_campaigns`)."""
    names = view_names(sql_dir)
    for name in names:
        select = view_sql(name, sql_dir)
        if name not in materialize:
            con.execute(f"create or replace view {name} as\n{select}")
            continue
        con.execute(f"create or replace table {name} as select * from (\n{select}\n) limit 0")
        fill(con, name, select)
    return names
