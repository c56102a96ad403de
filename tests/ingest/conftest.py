"""Fixtures of the ingest tests (receivers, group commit, request bodies)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

import ccstore


@pytest.fixture
def store(tmp_path) -> Iterator[ccstore.Store]:
    """A fresh SQLite store."""
    s = ccstore.open(str(tmp_path / "files.db"))
    yield s
    s.close()
