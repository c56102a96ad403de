"""Imports point down: ingest uses the store, never the server or the command line."""
from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator
from typing import Tuple

import pytest

import ccstore

PACKAGE = pathlib.Path(ccstore.__file__).parent


def imports(path: pathlib.Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in a module of ccstore."""
    package = list(path.relative_to(PACKAGE.parent).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                yield node.lineno, module if node.module else f"{module}.{alias.name}"


@pytest.mark.parametrize("layer, forbidden", [
    ("ingest", ("ccstore.server", "ccstore.cli")),
    ("store.py", ("ccstore.ingest", "ccstore.server", "ccstore.cli")),
])
def test_no_upward_import(layer, forbidden):
    root = PACKAGE / layer
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    assert files
    bad = [f"{f.relative_to(PACKAGE)}:{line}: {name}" for f in files
           for line, name in imports(f) if name.startswith(forbidden)]
    assert bad == []


def test_the_walk_sees_relative_imports():
    found = {name for _, name in imports(PACKAGE / "server" / "__init__.py")}
    assert "ccstore.ingest.commit" in found and "ccstore.ingest.http" in found
    found = {name for _, name in imports(PACKAGE / "ingest" / "http.py")}
    assert {"ccstore.ingest.body", "ccstore.config"} <= found
