"""The page's scripts still run (tiny inputs: they show nothing about speed):
``benchmarks/bench_ui.py`` and ``scripts/screenshots.py``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(chromium: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CCSTORE_CHROMIUM=chromium)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=REPO)


@pytest.mark.timeout(600)
def test_bench_ui_runs_on_tiny_input(chromium, tmp_path) -> None:
    r = run(chromium, str(REPO / "benchmarks" / "bench_ui.py"), "-n", "3000", "--repeat",
            "3", "--rate", "200", "--tail-seconds", "1", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for what in ("ingest and seal: 3,000 rows", "page weight:", "kB compressed",
                 "Enter to first results: median", "live tail lag at 200 lines/s"):
        assert what in r.stdout, (what, r.stdout)


@pytest.mark.timeout(600)
def test_screenshots_script_saves_every_view(chromium, tmp_path) -> None:
    r = run(chromium, str(REPO / "scripts" / "screenshots.py"), "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == sorted(["search.png", "context.png", "groups.png", "job.png", "live.png",
                            "search-dark.png", "narrow.png"])
    assert all((tmp_path / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
