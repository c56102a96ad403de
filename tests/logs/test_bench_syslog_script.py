"""The syslog benchmark script still runs (tiny input: it shows nothing about speed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_syslog.py"


def test_bench_syslog_runs_on_tiny_input(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "2000", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2,000 syslog lines" in r.stdout
    assert "parse + store, files receiver, full-text off" in r.stdout
    assert "parse + store (full-text off):" in r.stdout
