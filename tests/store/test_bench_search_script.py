"""The search benchmark script still runs (tiny input: it shows nothing about speed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_search.py"


def test_bench_search_runs_on_tiny_input(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "5000", "--repeat", "3",
                        "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for line in ("ingest and seal: 5,000 rows", "% of answering",
                 "search 'host:a0[000-063] level:>=warn _time:1h'", "facets '_time:1h'",
                 "group '_time:1h'", "query one host for one hour", "retention:"):
        assert line in r.stdout, (line, r.stdout)
