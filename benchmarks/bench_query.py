"""Query, count and retention latency on a large store, and peak memory of streaming ingest.

Fills a SQLite store with the standard workload (default 10,000,000 lines, about
2.8 hours of simulated time at 1,000 lines/s), seals the segments that ingest left
to the background, then measures:
- query one host for one hour (p50/p95 over random hosts and hours);
- the first 100 lines containing ``NullPointerException``;
- count by loglevel over the last 24 hours;
- regular-expression searches over one hour of all hosts (``Store.search``, the
  first 1,000 matches): the evaluation before the literals a regular expression
  requires narrowed the read (each record of the hour made and checked in Python,
  every segment read for every page) as the reference, in the same run, with the
  same answers;
- expiring the oldest hour of events (a day does not fit the default size) while
  a writer keeps ingesting: the longest time the writer waited;
- peak RSS of the process while streaming the workload file through ``Store.ingest``.

    python benchmarks/bench_query.py -n 10000000
"""
from __future__ import annotations

import argparse
import contextlib
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
from ccstore.query import compile_query, from_result, parse, plan  # noqa: E402
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


#: (what, pattern) of the regular-expression searches: rare matches (the whole hour is
#: read) with a literal, with case ignored, with only a literal every message holds
#: (" -": a full scan), and common matches (the first 1,000 come early)
REGEXES = (("rare, literal", r"jobId: 4242[0-9]{2} "),
           ("rare, case ignored", r"(?i)jobid: 4242[0-9]{2} "),
           ("rare, no selective literal", r"(?:4242|2424)[0-9]{2} -"),
           ("common, literal", r"NullPointerException at org\.example\.\w+\.run"))


@contextlib.contextmanager
def before_literals(store: "ccstore.Store", every_page: bool = True):
    """The regular-expression search as it was before literals narrowed it: no
    ``contains``, ``icontains`` or ``regex`` for the backend, the residual checked on
    each record's dict, and (SQLite, ``every_page``) every segment of the range read
    for every page."""
    searcher = store._searcher
    select = searcher.select
    backend = store.backend
    segments = getattr(backend, "_segments", None) if every_page else None

    def old_select(q, start, end, now_ns):
        sel = select(q, start, end, now_ns)
        for spec in sel.specs:
            spec.contains = spec.icontains = spec.regex = ()
        residual = plan(parse(q, now_ns=now_ns)).residual
        if residual is not None:
            pred = compile_query(residual)
            sel.check = lambda r: pred(from_result(r))
        return sel

    searcher.select = old_select
    if segments is not None:
        backend._segments = lambda conn, spec, with_after=False: segments(conn, spec)
    try:
        yield
    finally:
        del searcher.select
        if segments is not None:
            del backend._segments


def measure_regex(store: "ccstore.Store", first: int, last: int, rounds: int,
                  every_page: bool = True) -> None:
    """Each regular expression over one hour of all hosts, before and after, rounds
    interleaved; the answers must agree."""
    mid = (first + last) // 2
    start, end = mid - 1800, mid + 1800
    for what, pattern in REGEXES:
        q = '~"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'
        old, new = [], []
        for _ in range(rounds):
            with before_literals(store, every_page):
                t0 = time.perf_counter()
                want = store.search(q, start=start, end=end, limit=1000)
                old.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            got = store.search(q, start=start, end=end, limit=1000)
            new.append((time.perf_counter() - t0) * 1000)
            assert [r.cursor for r in got] == [r.cursor for r in want], pattern
        o, n = statistics.median(old), statistics.median(new)
        print(f"regex over one hour, {what} ~{pattern!r}: {len(got)} hits; "
              f"p50 {n:.1f} ms, before {o:.1f} ms: {o / n:.1f}x", flush=True)


def measure_queries(store: "ccstore.Store", warmup: int = 0, retention: bool = True,
                    regex_rounds: int = 0, every_page: bool = True) -> None:
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
    if regex_rounds:
        measure_regex(store, first, last, regex_rounds, every_page)
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
    ap.add_argument("--regex-rounds", type=int, default=3,
                    help="rounds of the regular-expression searches (0: none)")
    ap.add_argument("--reference-skips-segments", action="store_true",
                    help="the reference of the regular-expression searches skips the "
                         "segments beyond a page's cursor, as now (on compacted segments "
                         "reading them again for every page takes many minutes an hour)")
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
        measure_queries(store, retention=False, regex_rounds=args.regex_rounds,
                        every_page=not args.reference_skips_segments)
        store.close()
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        store = build(d, args.n, fulltext, args.compact)
        measure_queries(store, regex_rounds=args.regex_rounds,
                        every_page=not args.reference_skips_segments)
        store.close()

if __name__ == "__main__":
    main()
