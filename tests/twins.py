"""Fixtures that run a test against both implementations of an accelerated module.

The compiled implementation failing to import is a test failure, not a skip,
unless ``CCSTORE_IMPL=python`` says a pure-Python build is intended.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Tuple

import pytest

PYTHON_ONLY = os.environ.get("CCSTORE_IMPL", "").strip().lower() == "python"


def fixtures(get: Callable[[str], Any], what: str, one: str, both: str) -> Tuple[Any, Any]:
    """Two fixtures for ``get(name)`` (``"python"`` or ``"cython"``, ImportError
    when missing): ``one`` gives each implementation in turn, ``both`` the pair
    ``(python, cython)`` for comparing them.  Assign them to names in a conftest."""

    def load(name: str) -> Any:
        try:
            return get(name)
        except ImportError as exc:
            if PYTHON_ONLY:
                pytest.skip(f"CCSTORE_IMPL=python: the compiled {what} is not tested ({exc})")
            pytest.fail(f"the compiled {what} is missing: {exc}")

    @pytest.fixture(name=one, params=["python", "cython"])
    def each(request: pytest.FixtureRequest) -> Any:
        return load(request.param)

    @pytest.fixture(name=both, scope="module")
    def pair() -> Tuple[Any, Any]:
        return load("python"), load("cython")

    return each, pair
