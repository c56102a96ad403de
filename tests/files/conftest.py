"""Fixtures of the log-file tests (helpers in ``logutil``)."""
from __future__ import annotations

import time

import pytest


@pytest.fixture
def tz_utc(monkeypatch):
    """Local time is UTC during the test (timestamps without a zone)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
