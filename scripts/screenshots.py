#!/usr/bin/env python3
"""Screenshots of the web page's views for the docs (docs/screenshots/*.png).

Starts a server on a free loopback port with the browser tests' data
(tests/web/webdata.py), opens each view in headless Chromium (Playwright, the
browser at /usr/bin/chromium or $CCSTORE_CHROMIUM) and saves one PNG per view.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "server"), str(REPO / "tests" / "web"), str(REPO)]

from srvutil import ServerProcess, sqlite_storage, write_config  # noqa: E402
from webdata import JOB, dataset, line  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage", "--hide-scrollbars"]


def wait_status(page: Any) -> None:
    page.wait_for_function("() => !document.body.dataset.loading && "
                           "/\\brecords?\\b|No records|groups/.test("
                           "document.getElementById('status').textContent)")
    page.wait_for_function("() => !document.querySelector('#chart:not([hidden])') || "
                           "document.querySelector('#chart .u-over')")


def shots(base: str, server: ServerProcess) -> List[Tuple[str, str, Callable[[Any], None]]]:
    """(file name, colour scheme, what to do on the page) per screenshot."""

    def search(page: Any) -> None:
        page.goto(base + "?q=" + "level%3A%3E%3Dwarn")
        wait_status(page)

    def context(page: Any) -> None:
        page.goto(base + "?q=%22ctx%20needle%20line%22")
        wait_status(page)
        page.click("#list .row")
        page.click("#list .row .ctx-btn")
        page.wait_for_selector("#list .ctx .cl.self")

    def groups(page: Any) -> None:
        page.goto(base + "?view=group")
        page.wait_for_selector("table.groups td.tmpl")

    def job(page: Any) -> None:
        page.goto(base + f"?view=job&job={JOB}")
        page.wait_for_selector("#jobinfo .jobcard")
        wait_status(page)

    def live(page: Any) -> None:
        page.goto(base + "?view=tail")
        page.wait_for_function("() => /^Live/.test("
                               "document.getElementById('tailinfo').textContent)")
        done = threading.Event()

        def write() -> None:
            for i in range(12):
                host = f"n{i % 4 + 1:03d}"
                server.write(line("ccb", host, ["info", "warn", "error"][i % 3],
                                  f"live line {i} from {host}", time.time_ns()) + "\n")
            done.set()

        threading.Thread(target=write, daemon=True).start()
        page.wait_for_function("() => document.querySelectorAll('#list .row').length >= 12",
                               timeout=30_000)
        done.wait(30)

    def help_dark(page: Any) -> None:
        search(page)
        page.click("#help-btn")

    return [("search.png", "light", search), ("context.png", "light", context),
            ("groups.png", "light", groups), ("job.png", "light", job),
            ("live.png", "light", live), ("search-dark.png", "dark", help_dark)]


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exe = os.environ.get("CCSTORE_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        server = ServerProcess(d, ["-config", str(write_config(
            d, storage=sqlite_storage(d / "shots.db")))]).start()
        try:
            r = server.write("\n".join(dataset(time.time_ns())["lines"]) + "\n")
            assert r.status == 204, r
            base = f"http://{server.host}:{server.port}/"
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(
                    str(d / "profile"), executable_path=exe, headless=True, args=ARGS,
                    viewport={"width": 1280, "height": 800})
                ctx.set_default_timeout(15_000)
                for name, scheme, act in shots(base, server):
                    page = ctx.new_page()
                    page.emulate_media(color_scheme=scheme)
                    act(page)
                    page.screenshot(path=str(out / name))
                    page.close()
                    print(out / name)
                page = ctx.new_page()
                page.set_viewport_size({"width": 400, "height": 800})
                page.goto(base + "?q=host%3An003")
                wait_status(page)
                page.screenshot(path=str(out / "narrow.png"))
                print(out / "narrow.png")
                ctx.close()
        finally:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
