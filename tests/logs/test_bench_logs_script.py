"""The log benchmark script still runs (tiny input: it shows nothing about speed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_logs.py"


def test_bench_logs_runs_on_tiny_input(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "300", "--messages", "500",
                        "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "300 lines per format through Store.ingest" in r.stdout
    for fmt in ("syslog", "rfc5424", "json", "plain", "syslog_export", "bgl", "lanl",
                "journal_json", "journal_export", "slurm"):
        assert f"\n{fmt} " in r.stdout and f"\n{fmt} (auto) " in r.stdout, fmt
    assert "newline framing" in r.stdout and "octet counting" in r.stdout
    assert "500 accepted, 500 stored, 0 lost" in r.stdout


def test_bench_logs_split_runs_on_tiny_input(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "200", "--messages", "50", "--split",
                        "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "200 lines per format: parsing alone, the store alone" in r.stdout
    for fmt in ("syslog", "bgl", "journal_export", "slurm"):
        assert f"\n{fmt} " in r.stdout, fmt
