"""Fixtures of the log-file tests (helpers in ``logutil``)."""
from __future__ import annotations

import pytest

import ccstore


@pytest.fixture
def store(tmp_path):
    s = ccstore.open(str(tmp_path / "files.db"))
    yield s
    s.close()
