"""PostgreSQL: ingest against raw COPY in the same run, then query timings on a large store.

Starts a throwaway PostgreSQL (``tests/pg_server.py``: initdb + pg_ctl, fsync on)
unless ``--dsn`` names a server (each run creates fresh databases there).

1. Ingest, on the first ``--ingest-lines`` lines of the standard workload
   (default 1,000,000), 10,000 lines per transaction, rounds interleaved; each
   measurement is paired with a raw COPY binary run just before it, and its rate
   is printed against that one (so the drift of a shared machine over a round
   does not favour the configurations measured first):
   - raw COPY: psycopg ``COPY ... FROM STDIN`` of ready-made row tuples (decoded
     beforehand, not timed) into an unindexed table, binary and text format;
   - ccstore with one writer and raw COPY binary taking turns write by write, each
     into a database of its own, so that both see the same moments of a shared
     machine (the steadiest ratio here);
   - decoding alone (``decode_rows``), and what decoding then copying one after the
     other would give: the bound of a writer that decodes a whole batch before its
     COPY (ccstore's decodes a write piece by piece while its COPY runs);
   - ccstore: ``Store.write`` of line-protocol bytes (decoding included) until the
     rows are committed and queryable by host and time (the cluster's tables and
     first segments made before timing, as raw COPY's table is; a new segment for
     every 200,000 rows is timed), full-text off and on, from
     one thread and from two (as with concurrent HTTP clients: each then has a
     writer connection of its own); the time the background sealer then still
     needs to index everything is printed apart.
2. Queries on ``-n`` lines (default 10,000,000, full-text on, sealed):
   one host for one hour (p50/p95 of 200), the first 100 lines containing
   ``NullPointerException`` (p50 of 20), count by loglevel over the last 24 h
   (p50 of 10), expiring the oldest hour of events while a writer keeps writing.

    python benchmarks/bench_postgres.py -n 10000000
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import psycopg  # noqa: E402

import ccstore  # noqa: E402
from ccstore.lineproto import decode_rows  # noqa: E402
from bench_query import measure_queries  # noqa: E402
from workload import iter_lines  # noqa: E402

BATCH = 10_000
COLS = ("time", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
        "othertags", "field", "level")


def parts_of(n: int, start: int = 0, seed: int = 0):
    """The workload as BATCH-line byte strings (lines start..start+n)."""
    buf = []
    for i, line in enumerate(iter_lines(start + n, seed)):
        if i < start:
            continue
        buf.append(line)
        if len(buf) == BATCH:
            yield b"".join(buf)
            buf = []
    if buf:
        yield b"".join(buf)


def raw_table(conn: psycopg.Connection, binary: bool) -> str:
    """A fresh unindexed table for raw COPY; returns its COPY statement."""
    conn.execute("DROP TABLE IF EXISTS raw_copy")
    conn.execute("CREATE TABLE raw_copy(id bigserial, time bigint, timestamp bigint, "
                 "name text, hostname text, type text, typeid text, stype text, "
                 "stypeid text, othertags json, field text, level text)")
    fmt = " (FORMAT BINARY)" if binary else ""
    return f"COPY raw_copy({', '.join(COLS)}) FROM STDIN{fmt}"


def copy_rows(conn: psycopg.Connection, stmt: str, rows: list, binary: bool) -> None:
    """One transaction: ``rows`` by psycopg's ``Copy.write_row``."""
    with conn.transaction(), conn.cursor() as cur, cur.copy(stmt) as cp:
        if binary:
            cp.set_types(["int8", "int8"] + ["text"] * 9)
        for r in rows:
            cp.write_row(r)


def raw_copy(url: str, rows: list, binary: bool) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        stmt = raw_table(conn, binary)
        t0 = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            copy_rows(conn, stmt, rows[i:i + BATCH], binary)
        dt = time.perf_counter() - t0
        conn.execute("DROP TABLE raw_copy")
    return dt


def interleaved(server, parts: list, part_rows: list, fulltext: bool) -> Tuple[float, float]:
    """Raw COPY binary and ``Store.write`` (one writer) taking turns write by write,
    each into a database of its own (raw COPY first on even writes, ccstore first
    on odd ones), so that both see the same moments of a shared machine; returns
    (raw COPY seconds, ccstore seconds) summed over the writes."""
    raw_url = server.fresh_database("bench_raw")
    cc_url = server.fresh_database("bench_cc")
    try:
        with psycopg.connect(raw_url, autocommit=True) as conn, \
                ccstore.open(cc_url, fulltext=fulltext) as store:
            stmt = raw_table(conn, True)
            warm_up(store, parts[0])
            t_raw = t_cc = 0.0
            for i, (part, rows) in enumerate(zip(parts, part_rows)):
                for turn in ((0, 1) if i % 2 == 0 else (1, 0)):
                    t0 = time.perf_counter()
                    if turn == 0:
                        copy_rows(conn, stmt, rows, True)
                        t_raw += time.perf_counter() - t0
                    else:
                        store.write(part)
                        t_cc += time.perf_counter() - t0
    finally:
        server.drop_database(raw_url)
        server.drop_database(cc_url)
    return t_raw, t_cc


def warm_up(store: "ccstore.Store", part: bytes) -> None:
    """The cluster's tables and first segments, made before the timing starts (as
    raw COPY's table is): one log line and one event line of the first part."""
    lines = part.split(b"\n", 1000)[:1000]
    event = next(line for line in lines if line.startswith(b"job,"))
    log = next(line for line in lines if not line.startswith(b"job,"))
    assert store.write(log + b"\n" + event + b"\n").written == 2


def ccstore_ingest(url: str, parts: list, fulltext: bool, threads: int = 1) -> tuple:
    store = ccstore.open(url, fulltext=fulltext)
    warm_up(store, parts[0])
    t0 = time.perf_counter()
    written = [0] * threads
    feed = iter(parts)
    lock = threading.Lock()

    def run(k: int) -> None:
        while True:
            with lock:
                part = next(feed, None)
            if part is None:
                return
            written[k] += store.write(part).written

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    dt = time.perf_counter() - t0
    written = sum(written)
    t1 = time.perf_counter()
    store.backend.flush()
    seal = time.perf_counter() - t1
    store.close()
    return dt, written, seal


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000_000, help="lines for the query part")
    ap.add_argument("--ingest-lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved ingest rounds")
    ap.add_argument("--dsn", default=None, help="an existing server (maintenance database URL)")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-queries", action="store_true")
    args = ap.parse_args(argv)

    import pg_server

    if args.dsn:
        server = pg_server.PostgresServer(args.dsn)
    else:
        server = pg_server.start(fast=False, settings={
            "shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min",
            "maintenance_work_mem": "256MB"})
    print(f"PostgreSQL: {server.url}", flush=True)
    try:
        if not args.skip_ingest:
            ingest(server, args.ingest_lines, args.rounds)
        if not args.skip_queries:
            queries(server, args.n)
    finally:
        server.stop()


def ingest(server, n: int, rounds: int) -> None:
    parts = list(parts_of(n))
    rows = []
    t0 = time.perf_counter()
    decoded = [decode_rows(p) for p in parts]
    decode_s = time.perf_counter() - t0
    part_rows = []
    for b in decoded:
        part_rows.append([r for rs in b.groups.values() for r in rs])
        rows.extend(part_rows[-1])
    del decoded
    nrows = len(rows)
    print(f"\ningest of {n:,} lines ({sum(map(len, parts)) / 1e6:.0f} MB), "
          f"{BATCH:,} per transaction; best of {rounds} interleaved rounds", flush=True)
    configs = [("raw COPY binary", None), ("raw COPY text", None),
               ("ccstore, full-text off, 1 writer", (False, 1)),
               ("ccstore, full-text off, 2 writers", (False, 2)),
               ("ccstore, full-text on, 1 writer", (True, 1)),
               ("ccstore, full-text on, 2 writers", (True, 2))]
    best = {name: 0.0 for name, _ in configs}
    ratios: dict = {name: [] for name, _ in configs}
    seals = {}

    def measure(name: str, cfg) -> float:
        url = server.fresh_database("bench_ingest")
        try:
            if cfg is None:
                rate = len(rows) / raw_copy(url, rows, binary=name.endswith("binary"))
            else:
                dt, written, seal = ccstore_ingest(url, parts, *cfg)
                rate = written / dt
                seals[name] = (seal, written / (dt + seal))
        finally:
            server.drop_database(url)
        best[name] = max(best[name], rate)
        return rate

    ref_name = configs[0][0]
    turns: dict = {False: [], True: []}
    for r in range(rounds):
        for fulltext in (False, True):
            t_raw, t_cc = interleaved(server, parts, part_rows, fulltext)
            turns[fulltext].append(t_raw / t_cc)
            print(f"  round {r + 1}: ccstore, full-text {'on' if fulltext else 'off'}, 1 writer, "
                  f"taking turns with raw COPY binary write by write: {nrows / t_cc:,.0f} "
                  f"rows/s = {t_raw / t_cc:.2f}x raw COPY binary ({nrows / t_raw:,.0f} rows/s)",
                  flush=True)
        for name, cfg in configs[1:]:
            ref = measure(ref_name, None)
            rate = measure(name, cfg)
            ratios[name].append(rate / ref)
            print(f"  round {r + 1}: {name:34} {rate:>10,.0f} rows/s = {rate / ref:.2f}x "
                  f"raw COPY binary just before ({ref:,.0f} rows/s)", flush=True)
    rows.clear()
    part_rows.clear()
    ref = best["raw COPY binary"]
    # a writer that decodes a whole batch, then copies it, cannot beat decoding and
    # raw COPY done one after the other
    serial = nrows / (decode_s + nrows / ref)
    print(f"decoding alone: {nrows / decode_s:,.0f} rows/s; decoding then raw COPY binary, "
          f"one after the other: {serial:,.0f} rows/s = {serial / ref:.2f}x raw COPY binary")
    print("best:")
    for name, _ in configs:
        line = f"  {name:34} {best[name]:>10,.0f} rows/s = {best[name] / ref:.2f}x raw COPY binary"
        if name in seals:
            seal, overall = seals[name]
            line += f"; then sealing {seal:.1f} s (overall {overall:,.0f} rows/s, last round)"
        print(line, flush=True)
    print("per round, against the raw COPY binary just before (median; every round):")
    for name, _ in configs[1:]:
        rs = sorted(ratios[name])
        print(f"  {name:34} {rs[len(rs) // 2]:.2f}x ("
              + " ".join(f"{x:.2f}" for x in ratios[name]) + ")", flush=True)
    print("per round, taking turns with raw COPY binary write by write (median; every round):")
    for fulltext, rs in turns.items():
        name = f"ccstore, full-text {'on' if fulltext else 'off'}, 1 writer"
        print(f"  {name:34} {sorted(rs)[len(rs) // 2]:.2f}x ("
              + " ".join(f"{x:.2f}" for x in rs) + ")", flush=True)


def queries(server, n: int) -> None:
    url = server.fresh_database("bench_q")
    store = ccstore.open(url, retention="1h")
    t0 = time.perf_counter()
    written = 0
    for part in parts_of(n):
        written += store.write(part).written
    dt = time.perf_counter() - t0
    t1 = time.perf_counter()
    store.backend.flush()
    seal = time.perf_counter() - t1
    st = store.stats()["backend"]
    print(f"\nquery store: {written:,} rows committed in {dt:.1f} s ({written / dt:,.0f} rows/s),"
          f" sealing backlog {seal:.1f} s; {st['kinds']}; {st['bytes'] / 1e9:.2f} GB",
          flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    measure_queries(store, warmup=20)
    store.close()


if __name__ == "__main__":
    main()
