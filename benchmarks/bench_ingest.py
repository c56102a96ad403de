"""SQLite ingest: bytes in -> rows committed and queryable, against raw APSW appends.

References measured in the same run (docs/benchmarks.md lists every benchmark):
- raw append: APSW ``executemany`` of ready-made row tuples into an unindexed
  table, WAL, synchronous=NORMAL, one transaction per 10,000 rows;
- live index: the same with indexes on (timestamp) and (hostname, timestamp).
ccstore is timed from line-protocol bytes (decoding included) to committed rows,
10,000 lines per ``Store.write``, with full-text off and on.  The four runs are
interleaved over several rounds, and each ratio is taken within its round, so a
burst of load on a shared machine skews one round, not the result.  Before each
run, the files of the last one are removed and the system writes back what it
still holds dirty (untimed): otherwise a run after the live-index one (which
writes its indexes too) shares the disk with that run's write-back.

    python benchmarks/bench_ingest.py -n 1000000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import apsw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from ccstore.lineproto import decode_rows  # noqa: E402
from workload import generate  # noqa: E402

BATCH = 10_000
COLS = ("time", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
        "othertags", "field", "level")


def chunks(data: bytes, lines: int) -> list:
    out, pos, n = [], 0, len(data)
    while pos < n:
        end = pos
        for _ in range(lines):
            end = data.find(b"\n", end) + 1
            if end == 0:
                end = n
                break
        out.append(data[pos:end])
        pos = end
    return out


def raw_append(path: str, rows: list, indexed: bool) -> float:
    conn = apsw.Connection(path)
    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE t(id INTEGER PRIMARY KEY, {', '.join(COLS)})")
    if indexed:
        conn.execute("CREATE INDEX t_ts ON t(timestamp); "
                     "CREATE INDEX t_h ON t(hostname, timestamp)")
    sql = f"INSERT INTO t({', '.join(COLS)}) VALUES({', '.join('?' * len(COLS))})"
    t0 = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with conn:
            conn.executemany(sql, rows[i:i + BATCH])
    dt = time.perf_counter() - t0
    conn.close()
    return dt


def ccstore_ingest(path: str, parts: list, fulltext: bool, compact: bool = False,
                   sealed: bool = False) -> tuple:
    store = ccstore.open(path, fulltext=fulltext, **({"compact": True} if compact else {}))
    t0 = time.perf_counter()
    written = 0
    for part in parts:
        written += store.write(part).written
    if sealed:
        store.flush()  # every full segment sealed (and compacted) inside the clock
    dt = time.perf_counter() - t0
    store.close()
    return dt, written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="lines (default 1,000,000)")
    ap.add_argument("--dir", default=None, help="where to put the databases (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds; ratios are taken per round (default 3)")
    ap.add_argument("--sealed", action="store_true",
                    help="stop the clock when every full segment is sealed, not at the last "
                         "commit")
    ap.add_argument("--compact", action="store_true",
                    help="also ccstore with sealed segments compacted (compressed blocks)")
    args = ap.parse_args(argv)
    data = generate(args.n)
    parts = chunks(data, BATCH)
    # the references' ready-made rows, one list of them (a second copy would only
    # lengthen the garbage collector's full passes during the ccstore runs)
    rows = [r for group in decode_rows(data).groups.values() for r in group]
    n = len(rows)
    print(f"{args.n} lines, {len(data) / 1e6:.0f} MB, {n} storable rows, decoder "
          f"{ccstore.IMPLEMENTATION}, {args.rounds} interleaved rounds")
    rates: dict = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as d:

        def settle() -> None:
            """Remove the last run's files and write back what the system still holds
            dirty (not timed), so that no run pays for the one before it."""
            for f in os.listdir(d):
                os.remove(os.path.join(d, f))
            if hasattr(os, "sync"):
                os.sync()

        for r in range(args.rounds):
            settle()
            rates.setdefault("raw append", []).append(
                n / raw_append(os.path.join(d, f"raw{r}.db"), rows, False))
            settle()
            rates.setdefault("live index", []).append(
                n / raw_append(os.path.join(d, f"live{r}.db"), rows, True))
            for compact in ((False, True) if args.compact else (False,)):
                for fulltext in (False, True):
                    settle()
                    dt, written = ccstore_ingest(
                        os.path.join(d, f"cc{int(fulltext)}{r}.db"), parts, fulltext, compact,
                        args.sealed)
                    assert written == n, (written, n)
                    rates.setdefault(f"ccstore{', compact' if compact else ''}, full-text "
                                     f"{'on' if fulltext else 'off'}", []).append(n / dt)
        settle()
    ref = rates["raw append"]
    print(f"{'':37s} {'rows/s (median)':>16s} {'x raw append: median':>21s}  per round"
          + ("  (ccstore: to sealed)" if args.sealed else ""))
    for name, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, ref)]
        print(f"{name:37s} {statistics.median(rs):16,.0f} {statistics.median(ratios):21.2f}  "
              + " ".join(f"{x:.2f}" for x in ratios))

if __name__ == "__main__":
    main()
