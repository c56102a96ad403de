"""The package's imports point down its layers and form no cycle.

Data flows one way: bytes -> codec -> rows -> store -> backend; queries go
store -> backend -> records; receivers feed the store; the server wires
receivers, store and HTTP together; the command line sits on top.  Each module
of ``ccstore`` belongs to one layer (by the first part of its name), and may
import only from its own layer or a lower one; the two codec twins never import
each other.  Python modules are
read with :mod:`ast`; the compiled core's ``.pyx``/``.pxi``/``.pxd`` files are
read the same way, one import statement at a time, since Cython's grammar is
not Python's.

Every import counts, whether at module level or inside a function: a lazy
import that points up is still a layer that knows its caller.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

import ccstore

PACKAGE = "ccstore"
#: the package as imported: the source tree in a checkout, the installed files of a wheel
ROOT = Path(ccstore.__file__).resolve().parent

#: the layers, lowest first; the first part of a module's name (below ``ccstore``)
#: decides its layer.  A module imports from its own component or a lower layer.
LAYERS: List[Tuple[str, Set[str]]] = [
    # shapes and syntax that everything shares
    ("base", {"_version", "rows", "_lpspec", "timesyntax", "hostlist"}),
    # line protocol: bytes -> rows
    ("codec", {"_lineproto", "_pylineproto", "lineproto"}),
    # log-file formats: bytes -> rows
    ("logs", {"logs"}),
    # the query language: text -> filters (no storage)
    ("query", {"query"}),
    # storage engines: rows in, records out
    ("backends", {"backends"}),
    # the library: Store and open()
    ("store", {"store", "search"}),
    # the Go program's config files -> typed settings
    ("config", {"config"}),
    # group commit, request bodies, receivers (http, nats, files, syslog)
    ("ingest", {"ingest"}),
    # wiring, the Bottle app and API, auth, OpenAPI, the web page
    ("server", {"server"}),
    # the command line and the package's public face
    ("top", {"cli", "__main__", "__init__"}),
]
LAYER_OF: Dict[str, int] = {comp: i for i, (_, comps) in enumerate(LAYERS) for comp in comps}
#: pairs that share a layer but must not know each other: the two implementations of the
#: codec share their specification (``_lpspec``), never one another's names
APART = {("_lineproto", "_pylineproto"), ("_pylineproto", "_lineproto")}

#: Cython sources read for imports as well as Python ones
SOURCE_SUFFIXES = (".py", ".pyx", ".pxi", ".pxd")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name.startswith("__init__.")


def sources() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            yield path


def _cython_statements(text: str) -> Iterator[Tuple[int, ast.stmt]]:
    """The import statements of a Cython file, parsed one line at a time."""
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("from ", "import ", "cimport ")):
            stmt = stripped.replace(" cimport ", " import ")
            if stmt.startswith("cimport "):
                stmt = "import " + stmt[len("cimport "):]
            stmt = stmt.split("#", 1)[0].rstrip().rstrip("\\")
            if stmt.endswith("("):
                continue  # a parenthesised name list: the module is what matters
            try:
                tree = ast.parse(stmt.split("(")[0].rstrip().rstrip(",") or "pass")
            except SyntaxError:
                continue  # a docstring or comment that reads like an import
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    node.lineno = lineno
                    yield lineno, node


def _statements(path: Path) -> Iterator[Tuple[int, ast.stmt]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node.lineno, node
    else:
        yield from _cython_statements(text)


def imports_of(path: Path, known: Set[str], me: str = "") -> Iterator[Tuple[int, str]]:
    """(line, module) for every ccstore module that ``path`` (module ``me``) imports."""
    me = me or module_name(path)
    package = me if is_package(path) else me.rpartition(".")[0]
    for lineno, node in _statements(path):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield lineno, alias.name
            continue
        assert isinstance(node, ast.ImportFrom)
        if node.level:
            base_parts = package.split(".")
            if node.level > 1:
                base_parts = base_parts[:-(node.level - 1)]
            base = ".".join(base_parts)
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
        # ``from pkg import sub``: sub is a module of its own when one exists
        subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
        if subs and len(subs) == len(node.names):
            for sub in subs:
                yield lineno, sub
        else:
            yield lineno, target
            yield from ((lineno, s) for s in subs)


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> Dict[str, Dict[str, int]]:
    paths = list(sources())
    known = {module_name(p) for p in paths}
    edges: Dict[str, Dict[str, int]] = {}
    for path in paths:
        me = module_name(path)
        out = edges.setdefault(me, {})
        for lineno, target in imports_of(path, known):
            if target != me:
                out.setdefault(target, lineno)
    return edges


def test_every_component_has_a_layer():
    comps = {component(m) for m in graph()}
    missing = sorted(c for c in comps if c not in LAYER_OF)
    assert not missing, (f"modules outside every layer: {missing}; put each in LAYERS "
                         "(tests/test_layers.py) where it belongs in the data flow")


def test_imports_point_down():
    bad = []
    for src, targets in graph().items():
        s_comp = component(src)
        for dst, lineno in targets.items():
            d_comp = component(dst)
            if d_comp == s_comp:
                continue
            if d_comp not in LAYER_OF or s_comp not in LAYER_OF:
                continue  # test_every_component_has_a_layer names it
            if LAYER_OF[d_comp] > LAYER_OF[s_comp] or (s_comp, d_comp) in APART:
                bad.append(f"{src} (line {lineno}) imports {dst}: "
                           f"{LAYERS[LAYER_OF[s_comp]][0]} -> {LAYERS[LAYER_OF[d_comp]][0]}")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(sorted(bad))


def find_cycle(edges: Dict[str, Dict[str, int]]) -> List[str]:
    """One import cycle among the modules (empty when there is none)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {m: WHITE for m in edges}
    stack: List[str] = []

    def visit(m: str) -> List[str]:
        color[m] = GREY
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if n not in color:
                continue
            if color[n] == GREY:
                return stack[stack.index(n):] + [n]
            if color[n] == WHITE:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        color[m] = BLACK
        return []

    for m in sorted(edges):
        if color[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return []


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("edges, cycle", [
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, ["a", "b", "c", "a"]),
    ({"a": {"b": 1}, "b": {}, "c": {"a": 1}}, []),
])
def test_cycle_finder(edges, cycle):
    assert find_cycle(edges) == cycle


def test_walker_sees_relative_lazy_and_cython_imports(tmp_path):
    """The walker resolves what the package really writes (guards the guard)."""
    known = {"ccstore.store", "ccstore.backends", "ccstore.backends.sqlite", "ccstore.rows"}
    py = tmp_path / "probe.py"
    pyx = tmp_path / "probe.pxi"
    py.write_text("def f():\n    from ..store import Store\n    from . import sqlite\n")
    pyx.write_text("from ccstore.rows cimport Row\ncimport ccstore.store\n")
    me = "ccstore.backends.probe"
    assert sorted(t for _, t in imports_of(py, known, me)) == [
        "ccstore.backends.sqlite", "ccstore.store"]
    assert sorted(t for _, t in imports_of(pyx, known, me)) == ["ccstore.rows", "ccstore.store"]
