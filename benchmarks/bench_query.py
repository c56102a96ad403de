"""Query, count and retention latency on a large store, and peak memory of streaming ingest.

Fills a SQLite store with the standard workload (default 10,000,000 lines, about
2.8 hours of simulated time at 1,000 lines/s), seals the segments that ingest left
to the background, then measures:
- query one host for one hour (p50/p95 over random hosts and hours);
- the first 100 lines containing ``NullPointerException``;
- count by loglevel over the last 24 hours;
- expiring the oldest hour of events (a day does not fit the default size) while
  a writer keeps ingesting: the longest time the writer waited;
- peak RSS of the process while streaming the workload file through ``Store.ingest``.

    python benchmarks/bench_query.py -n 10000000
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from workload import iter_lines  # noqa: E402

NS = 1_000_000_000


def write_file(path: str, n: int) -> int:
    size = 0
    with open(path, "wb") as fh:
        buf = []
        for line in iter_lines(n):
            buf.append(line)
            if len(buf) >= 50_000:
                size += fh.write(b"".join(buf))
                buf.clear()
        size += fh.write(b"".join(buf))
    return size


def timed(fn, repeat: int = 1) -> list:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure_queries(store: "ccstore.Store", warmup: int = 0, retention: bool = True) -> None:
    """The query targets on a filled store (SQLite or PostgreSQL), printed: one host
    for one hour, the first 100 full-text hits, count by loglevel over 24 h, and
    expiring the oldest hour of events while a writer keeps writing (the longest
    single write is the figure)."""
    first = store.query("alex", limit=1, order="asc")[0].timestamp
    last = store.query("alex", limit=1)[0].timestamp
    rng = random.Random(1)
    hosts = [f"a{i:04d}" for i in range(800)]

    def host_hour():
        start = rng.randrange(first, max(first + 1, last - 3600))
        store.query("alex", hosts=rng.choice(hosts), start=start, end=start + 3600)

    timed(host_hour, warmup)
    t = timed(host_hour, 200)
    print(f"query one host for one hour (limit 1000): p50 {statistics.median(t):.2f} ms, "
          f"p95 {sorted(t)[int(len(t) * 0.95)]:.2f} ms", flush=True)
    t = timed(lambda: store.query(text="NullPointerException", limit=100), 20)
    print(f"first 100 full-text hits: p50 {statistics.median(t):.2f} ms", flush=True)
    t = timed(lambda: store.count("alex", start=last - 86400, end=last), 10)
    print(f"count by loglevel over 24 h: p50 {statistics.median(t):.2f} ms "
          f"({store.count('alex', start=last - 86400, end=last)})", flush=True)
    if not retention:
        return
    stop = threading.Event()
    writing = threading.Event()
    waits = []

    def writer():
        line = b'ccb,cluster=alex,hostname=w,loglevel=info log="during retention"\n'
        while not stop.is_set():
            t1 = time.perf_counter()
            store.write(line * 100)
            waits.append(time.perf_counter() - t1)
            writing.set()

    th = threading.Thread(target=writer)
    th.start()
    writing.wait()  # retention starts while the writer is at work
    t1 = time.perf_counter()
    removed = store.apply_retention(now=first + 2 * 3600)
    took = time.perf_counter() - t1
    stop.set()
    th.join()
    print(f"retention: {removed:,} events removed in {took * 1000:.0f} ms; longest "
          f"concurrent write {max(waits) * 1000:.0f} ms over {len(waits)} writes", flush=True)


def build(d: str, n: int, fulltext: bool, compact: bool) -> "ccstore.Store":
    """Fill the store under ``d`` with ``n`` lines and seal it; printed: ingest rate,
    peak RSS, the sealing left after ingest and the bytes per line."""
    lp = os.path.join(d, "workload.lp")
    size = write_file(lp, n)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store = ccstore.open(os.path.join(d, "q.db"), fulltext=fulltext, retention="1h",
                         **({"compact": True} if compact else {}))
    t0 = time.perf_counter()
    res = store.ingest(lp, cluster="alex")
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ingest: {res.written:,} rows from {size / 1e6:.0f} MB in {dt:.1f} s "
          f"({res.written / dt:,.0f} rows/s); peak RSS {rss:.0f} MB "
          f"(before ingest {rss0:.0f} MB)")
    # queries are measured on the stored lines, not beside the sealing of the
    # last full segments (which ingest leaves to the background)
    t0 = time.perf_counter()
    store.flush()
    print(f"sealing left after ingest: {time.perf_counter() - t0:.1f} s; "
          f"{store.backend.stats()['bytes'] / res.written:.1f} bytes per line on disk",
          flush=True)
    os.remove(lp)
    return store


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("--fulltext", choices=("on", "off"), default="on")
    ap.add_argument("--dir", default=None,
                    help="directory for the temporary store (removed at the end)")
    ap.add_argument("--store", default=None,
                    help="keep the filled store in this directory and reuse it when it "
                         "is already there (retention, which changes it, is skipped)")
    ap.add_argument("--compact", action="store_true",
                    help="compact sealed segments (compressed blocks)")
    args = ap.parse_args(argv)
    fulltext = args.fulltext == "on"
    if args.store:
        os.makedirs(args.store, exist_ok=True)
        if os.path.exists(os.path.join(args.store, "q.db")):
            store = ccstore.open(os.path.join(args.store, "q.db"), fulltext=fulltext,
                                 retention="1h",
                                 **({"compact": True} if args.compact else {}))
        else:
            store = build(args.store, args.n, fulltext, args.compact)
        measure_queries(store, retention=False)
        store.close()
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        store = build(d, args.n, fulltext, args.compact)
        measure_queries(store)
        store.close()

if __name__ == "__main__":
    main()
