"""The hostile-connections benchmark script still runs (tiny: it shows nothing about
latency)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_connections.py"


def test_bench_connections_runs_on_tiny_input(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, str(SCRIPT), "-n", "30", "--probes", "4", "--cycles",
                        "1", "--servers", "ccstore", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    figures = json.loads(out.read_text())["ccstore"]
    assert set(figures) == {"idle", "drip", "unauth"}
    for attack in figures.values():
        assert attack["held"] == 30 and attack["attacked"]["failed"] == 0
        assert attack["attacked"]["health"]["n"] == 4 and attack["unloaded"]["query"]["n"] == 4
