"""Fixtures for the line-protocol codec tests.

Every decoder/encoder test takes the ``lp`` fixture and so runs against both
implementations.  The compiled one failing to import is a test failure, not a
skip, unless ``CCSTORE_IMPL=python`` says a pure-Python build is intended.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

from ccstore import lineproto

PYTHON_ONLY = os.environ.get("CCSTORE_IMPL", "").strip().lower() == "python"


@pytest.fixture(params=["python", "cython"])
def lp(request: pytest.FixtureRequest) -> Any:
    """One implementation: a namespace with decode, decode_rows, encode, Point."""
    try:
        return lineproto.get_implementation(request.param)
    except ImportError as exc:
        if PYTHON_ONLY:
            pytest.skip(f"CCSTORE_IMPL=python: compiled core not tested ({exc})")
        pytest.fail(f"compiled core missing: {exc}")


def canon_points(points: List[Any]) -> List[Tuple]:
    """Points as plain tuples in which field types and float signs count."""
    return [(p.name, list(p.tags.items()),
             [(k, type(v).__name__, repr(v)) for k, v in p.fields.items()], p.time)
            for p in points]


def canon_errors(errors: List[Any]) -> List[Tuple]:
    return [(e.lineno, e.column, e.message, e.text) for e in errors]


@pytest.fixture
def canon() -> Callable[[Tuple[List[Any], List[Any]]], Tuple[List[Tuple], List[Tuple]]]:
    """``canon(decode(...))``: comparable form of a decode result."""
    return lambda result: (canon_points(result[0]), canon_errors(result[1]))


@pytest.fixture
def errs() -> Callable[..., List[Tuple[int, int, str]]]:
    """``errs(lp, data, **kw)``: ``[(lineno, column, message), ...]`` of a decode."""
    def run(impl: Any, data: Any, **kw: Any) -> List[Tuple[int, int, str]]:
        kw.setdefault("default_time", 0)
        return [(e.lineno, e.column, e.message) for e in impl.decode(data, **kw)[1]]
    return run


@pytest.fixture
def one() -> Callable[..., Any]:
    """``one(lp, data, **kw)``: the single point of an error-free decode."""
    def run(impl: Any, data: Any, **kw: Any) -> Any:
        kw.setdefault("default_time", 0)
        points, errors = impl.decode(data, **kw)
        assert errors == [], errors
        assert len(points) == 1, points
        return points[0]
    return run


@pytest.fixture(scope="session")
def workload() -> Any:
    """benchmarks/workload.py (the standard workload generator) as a module."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "workload.py"
    spec = importlib.util.spec_from_file_location("ccstore_bench_workload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
