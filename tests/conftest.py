"""Fixtures shared by every test directory."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pg_server import postgres_dsn  # noqa: E402,F401  (session-scoped PostgreSQL server)
