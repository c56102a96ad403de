"""Fixtures of the browser tests: Debian's Chromium (``/usr/bin/chromium``) driven by
Playwright, against a real server process on a free loopback port.

Without Chromium or Playwright the tests skip, printing why; with ``CI`` set they
fail instead.  The browser runs headless with a fresh profile and nothing that
talks to the network on its own.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from srvutil import Keys, ServerProcess, sqlite_storage, write_config  # noqa: E402
from webdata import JOB, dataset, line  # noqa: E402,F401

CHROMIUM = os.environ.get("CCSTORE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser tests cannot run: {reason}")
    print(f"\nbrowser tests skipped: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser's path, once it and Playwright are known to be there."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is missing (pip install playwright)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser_context(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile (one per module: Playwright's event loop
    runs in this thread while it is open, and other tests' ``asyncio.run`` need it gone)."""
    from playwright.sync_api import sync_playwright

    exe = chromium
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe,
            headless=True, args=ARGS, viewport={"width": 1280, "height": 800},
            service_workers="block")
        ctx.set_default_timeout(30_000)  # a loaded machine is slow, not broken
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A new tab (its own session storage); page errors fail the test."""
    pg = browser_context.new_page()
    errors: List[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_viewport_size({"width": 1280, "height": 800})
    try:
        yield pg
    finally:
        pg.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server (SQLite) holding :func:`dataset`."""
    d = tmp_path_factory.mktemp("web")
    config = write_config(d, storage=sqlite_storage(d / "web.db"))
    server = ServerProcess(d, ["-config", str(config)]).start()
    try:
        data = dataset(time.time_ns())
        r = server.write("\n".join(data["lines"]) + "\n")
        assert r.status == 204, r
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """(server with jwt_public_key, keys): a line written, the API needing a token."""
    d = tmp_path_factory.mktemp("web-auth")
    keys = Keys()
    api = {"address": "127.0.0.1", "port": "0", "jwt_public_key": keys.public_b64}
    config = write_config(d, storage=sqlite_storage(d / "auth.db"), api=api)
    server = ServerProcess(d, ["-config", str(config)], keys.token()).start()
    try:
        r = server.write(line("ccb", "n001", "warn", "guarded line", time.time_ns()) + "\n")
        assert r.status == 204, r
        yield server, keys
    finally:
        server.kill()
