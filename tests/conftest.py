"""Fixtures shared by every test directory.

``lp`` and ``impls`` give the implementations of :mod:`ccstore.lineproto`
(the line-protocol codec and the syslog fast path): every test of them runs
against both.  The compiled one failing to import is a test failure, not a
skip, unless ``CCSTORE_IMPL=python`` says a pure-Python build is intended.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Tuple

import pytest

from ccstore import lineproto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pg_server import postgres_dsn  # noqa: E402,F401  (session-scoped PostgreSQL server)


PYTHON_ONLY = os.environ.get("CCSTORE_IMPL", "").strip().lower() == "python"


@pytest.fixture(params=["python", "cython"])
def lp(request: pytest.FixtureRequest) -> Any:
    """One implementation: a namespace with the names of ``lineproto.API``."""
    try:
        return lineproto.get_implementation(request.param)
    except ImportError as exc:
        if PYTHON_ONLY:
            pytest.skip(f"CCSTORE_IMPL=python: compiled core not tested ({exc})")
        pytest.fail(f"compiled core missing: {exc}")


@pytest.fixture(scope="module")
def impls() -> Tuple[Any, Any]:
    """(python, cython), for comparing the two; a missing compiled core fails unless
    ``CCSTORE_IMPL=python``."""
    try:
        return lineproto.get_implementation("python"), lineproto.get_implementation("cython")
    except ImportError as exc:
        if PYTHON_ONLY:
            pytest.skip(f"CCSTORE_IMPL=python: compiled core not compared ({exc})")
        pytest.fail(str(exc))
