"""The query language on a large store: search, hits, facets and group latency.

Fills a SQLite store with the standard workload (default 10,000,000 lines, full text
on), seals what ingest left to the background, then measures, with "now" moved to
random points of the stored time (so ``_time:1h`` is a random hour of data):
- parsing a query against answering it (the same query, same run): parsing must
  cost under 1 % of the answer;
- ``host:a0[000-063] level:>=warn _time:1h`` (p50/p95), and the same filters through
  the keyword API (``Store.query``) as the reference;
- ``Store.hits``, ``Store.facets`` and ``Store.group`` over one hour;
- the query targets of ``bench_query.py`` on the same store.

    python benchmarks/bench_search.py -n 10000000
    python benchmarks/bench_search.py --db /tmp/w10m.db      # a store filled before
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Callable, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from bench_query import measure_queries, write_file  # noqa: E402
from ccstore.query import parse  # noqa: E402
from ccstore.query.levels import spellings  # noqa: E402

NS = 1_000_000_000
HOUR = 3600 * NS
TARGET_QUERY = "host:a0[000-063] level:>=warn _time:1h"
#: queries whose parsing is compared with answering them
PARSE_QUERIES = [
    TARGET_QUERY,
    "timeout _time:1h",
    '"retrying request" host:a0[000-099] _time:1h',
    "kind:event function:stop_job _time:10m",
    'level:error name:(ccb OR ccms) -host:a0001 ~"jobId: [0-9]+ -" _time:5m',
]


def percentile(values: List[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


class Clock:
    """"now" for the store: a random point of the stored time, moved between runs."""

    def __init__(self, first_ns: int, last_ns: int, seed: int = 1) -> None:
        self.lo = min(first_ns + HOUR, last_ns)
        self.hi = last_ns
        self.rng = random.Random(seed)
        self.now = last_ns

    def move(self) -> None:
        self.now = self.rng.randrange(self.lo, self.hi + 1)

    def __call__(self) -> int:
        return self.now


def timed(fn: Callable[[], object], clock: Clock, repeat: int) -> List[float]:
    """Milliseconds of ``fn()``, "now" moved before each run."""
    out = []
    for _ in range(repeat):
        clock.move()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(label: str, ms: List[float], target: Optional[float] = None) -> float:
    p50 = statistics.median(ms)
    verdict = "" if target is None else f"  (target <= {target:g} ms: " \
        f"{'met' if p50 <= target else 'MISSED'})"
    print(f"{label}: p50 {p50:.1f} ms, p95 {percentile(ms, 0.95):.1f} ms{verdict}", flush=True)
    return p50


def measure_search(store: "ccstore.Store", repeat: int) -> None:
    first = store.query("alex", limit=1, order="asc")[0].time
    last = store.query("alex", limit=1)[0].time
    clock = Clock(first, last)
    store._searcher.clock = clock  # relative times (_time:1h) are relative to it
    print(f"stored time: {(last - first) / HOUR:.2f} h; 'now' moved within its last "
          f"{(clock.hi - clock.lo) / HOUR:.2f} h", flush=True)

    # parsing against answering, the same query in the same run (answered warm)
    for q in PARSE_QUERIES:
        timed(lambda: store.search(q), clock, 5)
        answer = timed(lambda: store.search(q), clock, max(5, repeat // 2))
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < 0.2:
            parse(q, now_ns=clock.now)
            k += 1
        parse_ms = (time.perf_counter() - t0) * 1000 / k
        share = parse_ms / statistics.median(answer) * 100
        print(f"parse {parse_ms * 1000:.0f} us = {share:.2f} % of answering "
              f"({statistics.median(answer):.1f} ms): {q!r}  (target < 1 %: "
              f"{'met' if share < 1 else 'MISSED'})", flush=True)

    hosts = [f"a{i:04d}" for i in range(64)]
    levels = sorted(spellings(">=", 3))

    def keyword() -> None:  # the reference: the same filters, keyword API, logs only
        store.query("alex", hosts=hosts, tags={"loglevel": levels},
                    start=(clock.now - HOUR) / NS, end=clock.now / NS)

    ref = report("reference: Store.query(hosts=64, loglevel>=warn, one hour)",
                 timed(keyword, clock, repeat))
    p50 = report(f"search {TARGET_QUERY!r}", timed(lambda: store.search(TARGET_QUERY), clock,
                                                   repeat), 20)
    print(f"  = {p50 / ref:.2f}x the keyword API", flush=True)
    report("hits '_time:1h' by level", timed(lambda: store.hits("_time:1h"), clock,
                                              max(5, repeat // 4)))
    report("hits 'level:>=warn _time:1h' by host",
           timed(lambda: store.hits("level:>=warn _time:1h", by="host"), clock,
                 max(5, repeat // 4)))
    report("facets '_time:1h'", timed(lambda: store.facets("_time:1h"), clock,
                                      max(5, repeat // 4)), 200)
    report("facets 'host:a0[000-063] _time:1h'",
           timed(lambda: store.facets("host:a0[000-063] _time:1h"), clock,
                 max(5, repeat // 4)))
    report("group '_time:1h'", timed(lambda: store.group("_time:1h"), clock,
                                     max(5, repeat // 4)), 500)
    report("group 'level:error _time:1h'", timed(lambda: store.group("level:error _time:1h"),
                                                 clock, max(5, repeat // 4)))
    store._searcher.clock = time.time_ns


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000_000, help="workload lines (default 10M)")
    ap.add_argument("--db", default=None,
                    help="measure this store (filled with the workload before) instead; "
                    "the targets of bench_query.py, which write, are left out then")
    ap.add_argument("--dir", default=None, help="directory for the temporary store")
    ap.add_argument("--repeat", type=int, default=40, help="runs of each measurement")
    ap.add_argument("--no-query-targets", action="store_true",
                    help="leave out the targets of bench_query.py")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        if args.db:
            store = ccstore.open(args.db, retention=None)
        else:
            lp = os.path.join(d, "workload.lp")
            size = write_file(lp, args.n)
            store = ccstore.open(os.path.join(d, "s.db"), fulltext=True, retention=None)
            t0 = time.perf_counter()
            res = store.ingest(lp, cluster="alex")
            os.unlink(lp)
            store.flush()
            dt = time.perf_counter() - t0
            print(f"ingest and seal: {res.written:,} rows from {size / 1e6:.0f} MB in "
                  f"{dt:.1f} s", flush=True)
        try:
            measure_search(store, args.repeat)
            if not (args.no_query_targets or args.db):
                store.retention = 3600.0  # measure_queries expires an hour of events
                measure_queries(store, warmup=20)
        finally:
            store.close()


if __name__ == "__main__":
    main()
