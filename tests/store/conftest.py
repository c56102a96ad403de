"""Fixtures for the store tests: a fresh store per test, on every backend."""
from __future__ import annotations

from typing import Callable

import pytest

import ccstore

#: "sqlite-compact": SQLite with sealed segments compacted into compressed blocks
BACKENDS = ["sqlite", "sqlite-compact", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(backend_name: str, tmp_path,
               request: pytest.FixtureRequest) -> Callable[..., ccstore.Store]:
    """Factory: ``make_store(**options)`` opens a store on an empty database.

    Calling it again with ``reopen=True`` opens the same database again.
    """
    opened = []
    if backend_name == "postgres":
        pg = request.getfixturevalue("postgres_dsn")
        dsn = pg.fresh_database()
    else:
        dsn = str(tmp_path / "store.db")

    def make(reopen: bool = False, **options) -> ccstore.Store:
        if backend_name == "sqlite-compact":
            options.setdefault("compact", True)
        st = ccstore.open(dsn, **options)
        opened.append(st)
        return st

    make.target = dsn  # type: ignore[attr-defined]
    yield make
    for st in opened:
        try:
            st.close()
        except Exception:
            pass


@pytest.fixture
def store(make_store) -> ccstore.Store:
    return make_store()
