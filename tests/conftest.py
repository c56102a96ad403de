"""Fixtures shared by every test directory.

``lp`` and ``impls`` give the implementations of :mod:`ccstore.lineproto` (the
line-protocol codec): every test of them runs against both (see ``twins``).
"""
from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

from ccstore import lineproto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pg_server import postgres_dsn  # noqa: E402,F401  (session-scoped PostgreSQL server)
from twins import fixtures  # noqa: E402

# The machines that run the suite are shared: no test may fail because a draw or an
# example was slow (speed is measured in benchmarks/, not asserted here).
settings.register_profile("ccstore", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ccstore")

lp, impls = fixtures(lineproto.get_implementation, "line-protocol core", "lp", "impls")
