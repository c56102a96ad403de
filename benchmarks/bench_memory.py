"""Peak memory of the server under large requests: gzip bodies that inflate to tens of MiB,
and a query of many entries of many records, all in flight at once.

The server (``python -m ccstore.server``, SQLite, or PostgreSQL with ``--postgres``) is
given ``--rows`` stored log lines first; then ``--bodies`` clients post a gzip body each
that inflates to ``--body-mib`` MiB (a few lines repeated, so it compresses some 250
times), while one client asks ``/api/query/`` for ``--entries`` entries of ``--rows``
records and reads the answer.  The server's peak resident memory (``VmHWM``) is printed
with its resident memory before the load.  ``--source DIR`` runs the server from another
source tree (another version, for a comparison in the same run).

    python benchmarks/bench_memory.py                      # 6 x 60 MiB, 10 x 100,000
    python benchmarks/bench_memory.py --bodies 1 --entries 0
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from bench_http import Server  # noqa: E402
from workload import generate  # noqa: E402


def proc_status(pid: int) -> Dict[str, int]:
    """VmRSS and VmHWM (peak) of process ``pid``, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def body(mib: int) -> bytes:
    """A gzip body inflating to ``mib`` MiB: one log and one event line, repeated."""
    lines = generate(50, seed=5).splitlines(keepends=True)
    pair = next(ln for ln in lines if ln.startswith(b"ccb")) + next(
        ln for ln in lines if ln.startswith(b"job"))
    pair = pair.replace(b"cluster=alex", b"cluster=mem")
    return gzip.compress(pair * ((mib << 20) // len(pair)), 9)


def preload(target: str, rows: int) -> None:
    """``rows`` log lines (and the workload's events) of cluster ``q``."""
    data = generate(int(rows / 0.8) + 1000, seed=9).replace(b"cluster=alex", b"cluster=q")
    with ccstore.open(target, retention="87600h") as store:
        for i in range(0, len(data), 8 << 20):
            end = data.find(b"\n", i + (8 << 20))
            end = len(data) if end < 0 else end + 1
            if end > i:
                store.write(data[i:end])
        n = sum(r[-1] for r in store.count("q", "log", by="cluster"))
    if n < rows:
        raise SystemExit(f"preloaded {n} log lines, fewer than {rows}")


def post(srv: Server, data: bytes, out: List[Any]) -> None:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=1200)
    try:
        conn.request("POST", "/api/write/", body=data, headers={"Content-Encoding": "gzip"})
        r = conn.getresponse()
        text = r.read()
        out.append((r.status, time.perf_counter() - t0, text[:200]))
    finally:
        conn.close()


def query(srv: Server, entries: int, rows: int, out: List[Any]) -> None:
    t0 = time.perf_counter()
    req = {"cluster": "q", "kind": "log", "limit": rows, "queries": [{}] * entries}
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=1200)
    try:
        conn.request("POST", "/api/query/", body=json.dumps(req).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        size = 0
        records = 0
        tail = b""
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            records += (tail + chunk).count(b'"Event":')
            tail = chunk[-7:]  # a key split between two reads is counted once
        out.append((r.status, time.perf_counter() - t0, size, records))
    finally:
        conn.close()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bodies", type=int, default=6, help="gzip bodies at once (default 6)")
    ap.add_argument("--body-mib", type=int, default=60, help="MiB each inflates to (60)")
    ap.add_argument("--entries", type=int, default=10, help="query entries (default 10; 0: "
                                                            "no query)")
    ap.add_argument("--rows", type=int, default=100_000, help="records per entry (100,000)")
    ap.add_argument("--source", help="run the server from this source tree")
    ap.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to use")
    args = ap.parse_args(argv)

    data = body(args.body_mib)
    print(f"{args.bodies} gzip bodies of {len(data) / 1e3:,.0f} kB inflating to "
          f"{args.body_mib} MiB; a query of {args.entries} entries x {args.rows:,} records; "
          f"server from {args.source or os.path.dirname(ccstore.__file__)}")
    with tempfile.TemporaryDirectory(prefix="ccstore-mem-") as tmp:
        backend = None
        target = os.path.join(tmp, "srv.db")
        if args.postgres:
            from psycopg.conninfo import conninfo_to_dict
            info = conninfo_to_dict(args.postgres)
            backend = {"type": "postgres", "server": info.get("host") or "localhost",
                       "port": int(info.get("port") or 5432), "database_path": info["dbname"],
                       "username": info.get("user") or "",
                       "password": info.get("password") or ""}
            target = args.postgres
        if args.entries:
            preload(target, args.rows)
        srv = Server(tmp, backend=backend, source=args.source)
        try:
            before = proc_status(srv.proc.pid)
            posts: List[Any] = []
            queries: List[Any] = []
            threads = [threading.Thread(target=post, args=(srv, data, posts))
                       for _ in range(args.bodies)]
            if args.entries:
                threads.append(threading.Thread(target=query,
                                                args=(srv, args.entries, args.rows, queries)))
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            after = proc_status(srv.proc.pid)
            stats = srv.get("/api/stats/")["manager"]["status"]
        finally:
            srv.stop()
    for status, seconds, text in posts:
        print(f"  POST: {status} in {seconds:.1f} s {text.decode(errors='replace')}")
    for status, seconds, size, records in queries:
        print(f"  query: {status} in {seconds:.1f} s, {size / 1e6:,.0f} MB, "
              f"{records:,} records")
    print(f"  {stats.get('transactions')} transactions, {stats.get('rows_written'):,} rows "
          f"written, in {elapsed:.1f} s")
    print(f"peak RSS {after['VmHWM'] / 1e6:,.0f} MB (before the load "
          f"{before['VmRSS'] / 1e6:,.0f} MB)")
    bad = [p for p in posts if p[0] != 204] + [q for q in queries if q[0] != 200]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
