"""The web page in headless Chromium against the real server on the standard workload.

- page weight: the bytes the browser fetched for the page (compressed, as sent), and
  uncompressed; target <= 300 kB compressed;
- Enter to first results: from the Enter key in the search box to the first row of
  the answer in the page plus one animation frame (painted), for a few queries over
  the workload's range; target <= 500 ms;
- live-tail lag: lines posted to ``/api/write/`` at ``--rate`` lines/s (in batches
  every 100 ms, each stamped when sent) while the live view is open; a line's lag
  is from its stamp to the moment the page's list takes it in (drawn at the next
  frame); target p95 <= 1 s.

The store is filled in this process (``Store.ingest`` of ``benchmarks/workload.py``)
before the server (``python -m ccstore.server``) opens it.  Needs Playwright and
Chromium (``/usr/bin/chromium`` or ``$CCSTORE_CHROMIUM``).

    python benchmarks/bench_ui.py -n 10000000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from bench_http import Server  # noqa: E402
from bench_query import write_file  # noqa: E402
from workload import START_NS  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
QUERIES = ["level:error", "host:a0[000-063] level:>=warn", "NullPointerException",
           "name:ccms timeout", "kind:event function:start_job"]

INSTALL = """() => {
  window.__bench = {t0: null, t1: null};
  document.getElementById('q').addEventListener('keydown', e => {
    if (e.key === 'Enter') { __bench.t0 = performance.now(); __bench.t1 = null; }
  }, true);
  new MutationObserver(muts => {
    const b = window.__bench;
    if (b.t0 === null || b.t1 !== null) return;
    for (const m of muts) for (const n of m.addedNodes) {
      if (n.classList && n.classList.contains('row')) {
        b.t1 = -1;
        requestAnimationFrame(() => { b.t1 = performance.now(); });
        return;
      }
    }
  }).observe(document.getElementById('list'), {childList: true});
}"""

TAIL_HOOK = """() => {
  window.__lags = [];
  document.addEventListener('ccstore:tail-shown', e => {
    const now = Date.now();
    for (const r of e.detail) window.__lags.push(now - r.ts_ns / 1e6);
  });
}"""


def percentile(values: List[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))]


def page_weight(page: Any) -> None:
    sizes = page.evaluate("""() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const all = [nav, ...res];
      return [all.length, all.reduce((a, e) => a + e.encodedBodySize, 0),
              all.reduce((a, e) => a + e.decodedBodySize, 0),
              res.filter(e => !e.name.includes('/static/') && !e.name.includes('/api/'))
                 .map(e => e.name)];
    }""")
    files, packed, plain, foreign = sizes
    static = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/static/'))
        .reduce((a, e) => [a[0] + e.encodedBodySize, a[1] + 1], [0, 0])""")
    nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].encodedBodySize")
    print(f"page weight: {(static[0] + nav) / 1024:.1f} kB compressed in {static[1] + 1} "
          f"files (target <= 300 kB); with the first API answers {packed / 1024:.1f} kB "
          f"compressed, {plain / 1024:.1f} kB uncompressed, {files} requests", flush=True)
    if foreign:
        raise SystemExit(f"requests left the server: {foreign}")


def enter_to_results(page: Any, repeat: int) -> None:
    page.evaluate(INSTALL)
    times: List[float] = []
    per: Dict[str, List[float]] = {}
    for i in range(repeat):
        q = QUERIES[i % len(QUERIES)]
        page.fill("#q", q)
        page.press("#q", "Enter")
        page.wait_for_function("() => window.__bench.t1 > 0 || "
                               "/No records|error/i.test(document.getElementById('status')"
                               ".textContent + document.getElementById('notice').textContent)",
                               timeout=120_000)
        t = page.evaluate("() => window.__bench.t1 > 0 ? window.__bench.t1 - window.__bench.t0"
                          " : null")
        if t is None:
            print(f"  {q!r}: no rows ({page.text_content('#status')}"
                  f"{page.text_content('#notice')})")
            continue
        times.append(t)
        per.setdefault(q, []).append(t)
        # the next query starts from a settled page: every request of this one answered
        page.wait_for_function("() => !document.body.dataset.loading", timeout=300_000)
    for q, ts in per.items():
        print(f"  {q!r}: median {statistics.median(ts):.0f} ms over {len(ts)}")
    if times:
        print(f"Enter to first results: median {statistics.median(times):.0f} ms, p95 "
              f"{percentile(times, 95):.0f} ms, max {max(times):.0f} ms over {len(times)} "
              f"searches (target <= 500 ms)", flush=True)


def tail_lag(page: Any, srv: Server, base: str, rate: int, seconds: float) -> None:
    page.goto(base + "?view=tail&q=name%3Atailbench")
    page.wait_for_function("() => /^Live/.test(document.getElementById('tailinfo').textContent)",
                           timeout=60_000)
    page.evaluate(TAIL_HOOK)
    stop = threading.Event()
    sent = [0]
    errors: List[str] = []

    def writer() -> None:
        import http.client
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=60)
        per = max(1, rate // 10)
        nxt = time.monotonic()
        while not stop.is_set():
            now = time.time_ns()
            body = "".join(f'tailbench,cluster=alex,hostname=a{(sent[0] + i) % 800:04d},'
                           f'type=node,type-id=0,loglevel=info log="tail line {sent[0] + i}" '
                           f"{now}\n" for i in range(per))
            conn.request("POST", "/api/write/", body=body.encode())
            r = conn.getresponse()
            r.read()
            if r.status != 204:
                errors.append(str(r.status))
            sent[0] += per
            nxt += 0.1
            stop.wait(max(0.0, nxt - time.monotonic()))
        conn.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(seconds)  # the measurement's duration, not a synchronisation
    stop.set()
    t.join(60)
    page.wait_for_function("n => window.__lags.length >= n || /skipped/.test("
                           "document.getElementById('tailinfo').textContent)",
                           arg=sent[0], timeout=60_000)
    lags = page.evaluate("() => window.__lags")
    info = page.text_content("#tailinfo")
    if errors:
        print(f"  write errors: {errors[:5]}")
    if lags:
        print(f"live tail lag at {rate:,} lines/s for {seconds:g} s: p50 "
              f"{percentile(lags, 50):.0f} ms, p95 {percentile(lags, 95):.0f} ms, max "
              f"{max(lags):.0f} ms; {len(lags):,} of {sent[0]:,} lines shown ({info}) "
              f"(target p95 <= 1000 ms)", flush=True)


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000_000, help="workload lines (default 10M)")
    ap.add_argument("--dir", default=None, help="directory for the temporary store")
    ap.add_argument("--repeat", type=int, default=20, help="searches timed")
    ap.add_argument("--rate", type=int, default=10_000, help="tail ingest, lines/s")
    ap.add_argument("--tail-seconds", type=float, default=10.0, help="tail measurement")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("CCSTORE_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        lp = os.path.join(d, "workload.lp")
        size = write_file(lp, args.n)
        t0 = time.perf_counter()
        with ccstore.open(os.path.join(d, "srv.db"), fulltext=True, retention=None) as store:
            res = store.ingest(lp, cluster="alex")
            store.flush()
        os.unlink(lp)
        print(f"ingest and seal: {res.written:,} rows from {size / 1e6:.0f} MB in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        srv = Server(d)
        try:
            base = f"http://{srv.host}:{srv.port}/"
            end_ns = START_NS + args.n * 1_000_010 + 10**9
            rng = urllib.parse.urlencode({
                "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_NS // 10**9)),
                "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ns // 10**9))})
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(
                    os.path.join(d, "profile"), executable_path=exe, headless=True, args=ARGS,
                    viewport={"width": 1280, "height": 800})
                page = ctx.new_page()
                page.goto(f"{base}?{rng}")
                page.wait_for_function("() => !document.body.dataset.loading",
                                       timeout=300_000)
                page_weight(page)
                enter_to_results(page, args.repeat)
                tail_lag(page, srv, base, args.rate, args.tail_seconds)
                ctx.close()
        finally:
            srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
