"""The PostgreSQL benchmark script still runs (tiny input: it shows nothing about speed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("psycopg")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_postgres.py"


def test_bench_postgres_runs_on_tiny_input(postgres_dsn):
    r = subprocess.run([sys.executable, str(SCRIPT), "--dsn", postgres_dsn.url,
                        "--ingest-lines", "3000", "--rounds", "1", "-n", "3000"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    for config in ("full-text off, 1 writer", "full-text on, 2 writers"):
        assert f"round 1: ccstore, {config}" in out
    assert "raw COPY binary just before" in out
    assert "query store: 3,000 rows committed" in out
    assert "query one host for one hour" in out and "retention:" in out
