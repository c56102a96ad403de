"""Layers point down: the store loads a backend only when it opens one, and the
backends import nothing from above them (store, ingest, receivers, server, config)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ccstore

PACKAGE = Path(ccstore.__file__).resolve().parent
#: modules above the backends
ABOVE = ("ccstore.store", "ccstore.ingest", "ccstore.receivers", "ccstore.server",
         "ccstore.cli", "ccstore.config", "ccstore.__main__")


def loaded_after(code: str) -> set:
    """Names of the modules loaded after running ``code`` in a fresh interpreter."""
    code += "\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_importing_ccstore_loads_no_backend() -> None:
    loaded = loaded_after("import ccstore")
    assert "ccstore.store" in loaded
    assert not {"apsw", "psycopg", "ccstore.backends.sqlite",
                "ccstore.backends.postgres"} & loaded


def test_opening_sqlite_loads_no_postgresql(tmp_path: Path) -> None:
    loaded = loaded_after(f"import ccstore\nccstore.open({str(tmp_path / 's.db')!r}).close()")
    assert "ccstore.backends.sqlite" in loaded
    assert not {"psycopg", "ccstore.backends.postgres"} & loaded


def imports_of(path: Path) -> set:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = ".".join(parts[:-1])  # what a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def test_backends_import_nothing_from_above() -> None:
    files = sorted((PACKAGE / "backends").rglob("*.py"))
    assert len(files) > 10  # both packages were found
    for path in files:
        above = {m for m in imports_of(path) if m.startswith(ABOVE)}
        assert not above, f"{path.relative_to(PACKAGE)} imports {sorted(above)}"


def test_the_store_names_no_backend_module() -> None:
    imported = imports_of(PACKAGE / "store.py")
    assert "apsw" not in imported and "psycopg" not in imported
    assert not {m for m in imported
                if m.startswith(("ccstore.backends.sqlite", "ccstore.backends.postgres"))}
