"""Plain syslog files: parse and store, lines/s, against references from the same run.

A deterministic RFC 3164 file (800 hosts, a dozen programs, level words, Java
exception names, 1,000 lines per simulated second) is

- read and split into lines (reference: the floor of any line-based reader);
- decoded as the same number of ClusterCockpit line-protocol lines
  (reference: ``ccstore.lineproto.decode_rows``, the compiled codec), and
  ingested with ``Store.write`` (reference: line protocol in, rows committed);
- parsed only (``LogParser.feed``), with each implementation of its RFC 3164
  fast path (``ccstore.logs.syslogscan.syslog_chunk``: the compiled one, when
  built, and the pure-Python twin);
- appended as ready-made rows with APSW (reference: raw append, unindexed,
  WAL, synchronous=NORMAL, 10,000 rows per transaction), and stored as
  ready-made rows by ``Store.write_batches``, full-text index off and on (the
  storage share of the cost);
- parsed and stored by the files receiver (``FileReceiver.poll_once``: rows
  and file position committed together), full-text index off and on (the
  default).  The target (>= 200,000 lines/s) is about full-text off: with it
  on, indexing the messages (FTS5) takes most of the time (docs/design/logs.md).

    python benchmarks/bench_syslog.py -n 1000000
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

import apsw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workload import generate  # noqa: E402

import ccstore  # noqa: E402
from ccstore.lineproto import decode_rows  # noqa: E402
from ccstore.logs import LogParser, syslogscan  # noqa: E402
from ccstore.ingest.files import FileReceiver  # noqa: E402
from ccstore.rows import RowBatch  # noqa: E402

PROGRAMS = ("sshd", "systemd", "kernel", "CRON", "slurmd", "slurmctld", "ccb", "ccms",
            "ccmc", "ccem", "ccnc", "nhc")
MESSAGES = (
    "Accepted publickey for user{a} from 10.0.{b}.{c} port 22 ssh2",
    "error: Node a{a:04d} not responding, setting DOWN",
    "Started Session {a} of user root.",
    "pam_unix(cron:session): session opened for user root(uid=0) by (uid={a})",
    "WARNING: memory usage high on socket {b}: {c}%",
    "job {a} failed: java.lang.NullPointerException at handler {b}",
    "_slurm_rpc_submit_batch_job: JobId={a} InitPrio={b} usec={c}",
    "debug: collecting metrics for node a{a:04d} took {c} ms",
    "ERROR [main] archiver - archiving of job {a} failed after {b} retries",
    "Out of memory: Killed process {a} (python3) total-vm:{b}kB",
)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
BATCH = 10_000


def syslog_file(n: int, seed: int = 0) -> bytes:
    """``n`` RFC 3164 lines, deterministic, about 100 bytes each."""
    rng = random.Random(seed)
    start = 1732264801
    out = []
    for i in range(n):
        t = time.gmtime(start + i // 1000)
        ts = f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        msg = rng.choice(MESSAGES).format(a=rng.randrange(10000), b=rng.randrange(256),
                                          c=rng.randrange(1000))
        out.append(f"{ts} a{rng.randrange(800):04d} {rng.choice(PROGRAMS)}"
                   f"[{rng.randrange(1, 99999)}]: {msg}\n")
    return "".join(out).encode()


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def read_split(path: str) -> int:
    n = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                return n
            n += len(chunk.decode().split("\n")) - 1


def parse_only(path: str, impl: str) -> list:
    p = LogParser("syslog", hostname="bench", location=path, tz="UTC",
                  reference_time=os.path.getmtime(path))
    p._chunk_parser = syslogscan.get_implementation(impl).syslog_chunk
    rows = []
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            rows.extend(p.feed(chunk))
    rows.extend(p.finish())
    return rows


def raw_append(db: str, rows: list) -> None:
    cols = ("time", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
            "othertags", "field", "level")
    conn = apsw.Connection(db)
    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE t(id INTEGER PRIMARY KEY, {', '.join(cols)})")
    sql = f"INSERT INTO t({', '.join(cols)}) VALUES({', '.join('?' * len(cols))})"
    for i in range(0, len(rows), BATCH):
        with conn:
            conn.executemany(sql, rows[i:i + BATCH])
    conn.close()


def store_only(db: str, rows: list, fulltext: bool) -> None:
    store = ccstore.open(db, fulltext=fulltext)
    for i in range(0, len(rows), 80_000):  # what the receiver commits per 8 MB
        store.write_batches([RowBatch({("alex", "log"): rows[i:i + 80_000]}, [], {}, 0, 0)])
    store.close()


def lp_ingest(db: str, lp: bytes) -> int:
    store = ccstore.open(db)
    written = 0
    pos = 0
    while pos < len(lp):  # about 8 MB per write, as the receiver commits
        end = lp.find(b"\n", pos + (8 << 20))
        end = len(lp) if end < 0 else end + 1
        written += store.write(lp[pos:end], cluster="alex").written
        pos = end
    store.close()
    return written


def receiver_ingest(db: str, path: str, fulltext: bool) -> int:
    store = ccstore.open(db, fulltext=fulltext)
    rec = FileReceiver(store, [path], cluster="alex", hostname="bench", format="syslog",
                       timezone="UTC")
    rec.poll_once()
    rec.close()
    written = rec.counters["written"]
    store.close()
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="lines (default 1,000,000)")
    ap.add_argument("--dir", default=None, help="where to put files (default: a temp dir)")
    args = ap.parse_args(argv)
    n = args.n
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = os.path.join(d, "syslog")
        with open(path, "wb") as fh:
            fh.write(syslog_file(n))
        size = os.path.getsize(path)
        lp = generate(n)
        results = []

        dt, lines = timed(lambda: read_split(path))
        assert lines == n
        results.append(("read + split lines (reference)", dt))
        dt, batch = timed(lambda: decode_rows(lp, cluster="alex"))
        assert batch.rows == n
        results.append((f"line protocol decode_rows, {ccstore.IMPLEMENTATION} (reference)", dt))
        impls = ["python"] if syslogscan.IMPLEMENTATION == "python" else ["python", "cython"]
        for impl in impls:  # the active one last: its rows are stored below
            dt, rows = timed(lambda: parse_only(path, impl))
            assert len(rows) == n
            results.append((f"syslog parse only (LogParser, {impl})", dt))
        dt, _ = timed(lambda: raw_append(os.path.join(d, "raw.db"), rows))
        results.append(("raw append of the parsed rows (reference)", dt))
        for fulltext in (False, True):
            dt, _ = timed(lambda: store_only(os.path.join(d, f"store-{fulltext}.db"), rows,
                                             fulltext))
            results.append((f"Store.write_batches of the parsed rows, full-text "
                            f"{'on' if fulltext else 'off'}", dt))
        dt, written = timed(lambda: lp_ingest(os.path.join(d, "lp.db"), lp))
        assert written == n
        results.append(("line-protocol ingest, Store.write, full-text on (reference)", dt))
        rows.clear()
        for fulltext in (False, True):
            db = os.path.join(d, f"ccstore-{fulltext}.db")
            dt, written = timed(lambda: receiver_ingest(db, path, fulltext))
            assert written == n, written
            results.append((f"parse + store, files receiver, full-text "
                            f"{'on' if fulltext else 'off'}", dt))

    print(f"{n:,} syslog lines, {size / 1e6:.0f} MB")
    print(f"{'':60s} {'lines/s':>12s}")
    for name, dt in results:
        print(f"{name:60s} {n / dt:12,.0f}")
    rate = {name: n / dt for name, dt in results}
    off = rate["parse + store, files receiver, full-text off"]
    on = rate["parse + store, files receiver, full-text on"]
    print(f"\nparse + store (full-text off): {off:,.0f} lines/s (target 200,000: "
          f"{'met' if off >= 200_000 else 'not met'}); "
          f"{off / rate['raw append of the parsed rows (reference)']:.2f}x "
          "raw append of the same rows")
    print(f"parse + store (full-text on): {on:,.0f} lines/s; "
          f"{on / rate['line-protocol ingest, Store.write, full-text on (reference)']:.2f}x "
          "line-protocol ingest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
