"""PostgreSQL fixtures: a throwaway server per test session (see tests/pg_server.py)."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pg_server import PostgresServer  # noqa: E402  (the postgres_dsn fixture: tests/conftest.py)


@pytest.fixture
def pg_url(postgres_dsn: PostgresServer):
    """An empty database on the session's server; dropped afterwards."""
    url = postgres_dsn.fresh_database()
    yield url
    try:
        postgres_dsn.drop_database(url)
    except Exception:  # noqa: BLE001
        pass
