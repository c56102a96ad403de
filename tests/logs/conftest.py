"""Fixtures of the log-format tests.

``syslog``/``syslog_impls``, ``archive``/``archive_impls``: the implementations of the syslog
fast path and of the archive scanner
(:mod:`ccstore.logs.syslogscan`), each in turn and both (see ``twins``).
"""
from __future__ import annotations

import time

import pytest
from twins import fixtures

from ccstore.logs import archivescan, syslogscan

syslog, syslog_impls = fixtures(syslogscan.get_implementation, "syslog fast path", "syslog",
                                "syslog_impls")


@pytest.fixture
def tz_utc(monkeypatch):
    """Local time is UTC during the test (timestamps without a zone)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


archive, archive_impls = fixtures(archivescan.get_implementation, "archive scanner", "archive",
                                  "archive_impls")
