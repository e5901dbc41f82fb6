"""transforms is pure: it imports only the standard library (no I/O modules), numpy, pandas and pyarrow."""

# ruff: noqa: I001  (the payload fixtures are imported first: see transform_payloads)
from transform_payloads import f1_campaign, f1_item, f2_2016_items, f2_items, observed  # noqa: F401

import ast
from pathlib import Path

import transforms

ALLOWED = {"numpy", "pandas", "pyarrow", "__future__", "datetime", "typing", "decimal", "re", "dataclasses", "hashlib",
           "functools", "collections"}
GLOSSARY = "smsapi.glossary"  # the gateway's vocabulary: constants only, the one place statuses are spelled out


def test_transforms_import_only_pandas_pyarrow_and_stdlib():
    package = Path(transforms.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name == GLOSSARY or name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
