"""The size benchmark script still runs (tiny input: its figures mean nothing)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_size.py"


def test_bench_size_runs_on_tiny_input(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "3000", "--seal-rows", "500",
                        "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line.split() for line in r.stdout.splitlines()[2:]]
    assert [row[:3] for row in rows] == [
        [w, c, f] for w in ("standard", "syslog") for c in ("off", "on") for f in ("off", "on")]
    for row in rows:
        zlib_ref, store, sealed = float(row[4]), float(row[5]), float(row[11])
        assert 0 < zlib_ref < store and sealed > 0, row


def test_bench_size_runs_on_postgres(tmp_path, postgres_dsn):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "2000", "--seal-rows", "500",
                        "--backend", "postgres", "--toast", "both", "--workload", "syslog",
                        "--dsn", postgres_dsn.url], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line.split() for line in r.stdout.splitlines()[2:]]
    assert [row[:3] for row in rows] == [
        ["syslog", t, f] for t in ("pglz", postgres_dsn_toast(postgres_dsn))
        for f in ("off", "on")]
    for row in rows:
        zlib_ref, store = float(row[4]), float(row[5])
        assert 0 < zlib_ref < store, row


def postgres_dsn_toast(server) -> str:
    """What the server compresses TOAST data with when it can: lz4 or pglz."""
    with server.connect() as conn:
        row = conn.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                           "WHERE name = 'default_toast_compression'").fetchone()
    return "lz4" if row and row[0] else "pglz"
