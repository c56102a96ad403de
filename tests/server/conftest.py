"""Fixtures of the server tests (helpers in ``srvutil``)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from srvutil import Keys, NatsServer, ServerProcess


@pytest.fixture
def start_server(tmp_path: Path) -> Iterable[Callable[..., ServerProcess]]:
    """``start_server(config_path or None, token=..., args=[...])``; stopped at teardown."""
    started: List[ServerProcess] = []

    def start(config: Optional[Path] = None, *, token: Optional[str] = None,
              args: Optional[List[str]] = None, workdir: Optional[Path] = None,
              expect_ready: bool = True, healthy: bool = True) -> ServerProcess:
        a = list(args or [])
        if config is not None:
            a = ["-config", str(config)] + a
        s = ServerProcess(workdir or tmp_path, a, token)
        started.append(s)
        return s.start(expect_ready=expect_ready, healthy=healthy)

    yield start
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.kill()


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterable[NatsServer]:
    with NatsServer.running(tmp_path_factory.mktemp("nats")) as server:
        yield server
