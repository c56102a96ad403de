"""Fixtures of the log-format tests.

``syslog``/``syslog_impls``, ``headers``/``headers_impls``, ``jsonscan``/``jsonscan_impls``:
the implementations of the syslog fast path (:mod:`ccstore.logs.syslogscan`), of the
header scanner (:mod:`ccstore.logs.headerscan`) and of the chunks of JSON lines
(:mod:`ccstore.logs.jsonscan`), each in turn and both (see ``twins``).
"""
from __future__ import annotations

import time

import pytest
from twins import fixtures

from ccstore.logs import headerscan, syslogscan
from ccstore.logs import jsonscan as jsonscan_module

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


headers, headers_impls = fixtures(headerscan.get_implementation, "header scanner", "headers",
                                  "headers_impls")

jsonscan, jsonscan_impls = fixtures(jsonscan_module.get_implementation, "JSON lines scanner",
                                    "jsonscan", "jsonscan_impls")
