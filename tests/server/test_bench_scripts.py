"""The server benchmark scripts still run (tiny inputs: they show nothing about speed or
memory)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_bench_memory_runs_on_tiny_input():
    r = subprocess.run([sys.executable, str(BENCH / "bench_memory.py"), "--bodies", "2",
                        "--body-mib", "2", "--entries", "2", "--rows", "300"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("POST: 204") == 2
    assert "query: 200" in r.stdout and "600 records" in r.stdout
    assert "peak RSS" in r.stdout


def test_bench_small_runs_on_tiny_input():
    r = subprocess.run([sys.executable, str(BENCH / "bench_small.py"), "--requests", "60",
                        "--messages", "300", "--batch-size", "50"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "trivial WSGI app" in r.stdout and "x the trivial app" in r.stdout
    assert "counting subscriber" in r.stdout or "NATS: skipped" in r.stdout
