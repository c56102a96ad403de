"""Bytes on disk per stored line, against the same input compressed with zlib (level 6).

Two workloads, each fed to a SQLite store with full text off and on:

- ``standard``: the standard workload (``benchmarks/workload.py``);
- ``syslog``: templated syslog lines as ClusterCockpit logs: a few hundred message
  templates (generated deterministically from fragments) whose numbers, job and
  request ids, paths, IP addresses and host names vary, 800 hosts, a dozen
  programs, levels mostly ``info``;
- ``traces`` (only when named): Java stack traces of 1.5 to 6 kB per line.

The store's size is every file it keeps (the database, its ``-wal`` and ``-shm``,
the index file and its own), measured after ``flush()`` (every full segment
sealed) and ``close()``; the reference is ``zlib.compress(input, 6)`` of the very
bytes written, in the same run.  Rows still in open (unsealed) segments are
printed beside it: with ``seal_rows`` rows per segment and kind, a store keeps at
most one open segment per cluster and kind.  "sealed" is the sealed segments alone:
the pages of their tables (``dbstat``) per row they hold, against the zlib bytes per
line of the whole input.

With ``--backend postgres`` (or ``both``) the same lines go to PostgreSQL too, a
throwaway server started as ``tests/pg_server.py`` starts one for the tests (or
``--dsn``): a fresh database per store, every segment sealed, and its size is what
``max_disk_size`` counts there, the store's tables with their indexes and TOAST
data (``pg_total_relation_size``); "toast" is the compression of the text columns
(lz4 where the server has it; ``--toast pglz`` measures PostgreSQL's default).

    python benchmarks/bench_size.py -n 1000000
    python benchmarks/bench_size.py -n 200000 --backend postgres --toast both
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
import zlib
from typing import Dict, Iterator, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # pg_server

import ccstore  # noqa: E402
from workload import HOSTS, START_NS, iter_lines  # noqa: E402

BATCH = 10_000
PROGRAMS = ("sshd", "systemd", "kernel", "CRON", "slurmd", "slurmctld", "nhc", "ccb",
            "ccms", "lustre", "nvidia-smi", "munged")
#: levels of syslog messages, mostly info
LEVELS = ("info",) * 14 + ("notice",) * 2 + ("debug",) * 2 + ("warn", "error")
_SUBJECTS = ("job {id}", "node {host}", "task {num}", "socket {small}", "GPU {small}",
             "device /dev/nvme{small}n1", "mount {path}", "session {num}", "user u{small3}",
             "rank {num} of job {id}", "step {id}.{small}", "client {ip}", "process {num}",
             "slot {small}", "OST{hex4}")
_VERBS = ("started", "finished after {num} ms", "failed with status {small}",
          "not responding, setting DOWN", "is back up", "timed out after {num} s",
          "reached {small}% memory use", "retrying in {small} s",
          "allocated {num} MB at {hex}", "released", "opened from {ip} port {port}",
          "closed by peer {ip}", "checkpointed to {path}", "read {num} bytes from {path}",
          "connection reset by {host}", "exceeded the limit of {num}",
          "was killed by signal {small}", "completed: exit code {small}")
_TAILS = ("", "", " (attempt {small})", " [{id}]", " on {host}", " uid={num}",
          " in {path}", " duration={num}ms")


def _templates(n: int, seed: int) -> List[str]:
    """``n`` distinct message templates with ``{placeholders}``."""
    rng = random.Random(seed)
    out: List[str] = []
    seen = set()
    while len(out) < n:
        t = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)}{rng.choice(_TAILS)}"
        if rng.random() < 0.3:
            t = f"{rng.choice(PROGRAMS)}: " + t
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def _fill(template: str, rng: random.Random) -> str:
    values = {
        "id": str(rng.randint(1, 9_999_999)),
        "num": str(rng.randint(0, 99_999)),
        "small": str(rng.randint(0, 99)),
        "small3": f"{rng.randint(1, 500):03d}",
        "host": rng.choice(HOSTS),
        "ip": f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "port": str(rng.randint(1024, 65535)),
        "hex": f"0x{rng.getrandbits(40):010x}",
        "hex4": f"{rng.getrandbits(16):04x}",
        "path": "/" + "/".join(rng.choice(("scratch", "home", "apps", "var", "log", "tmp",
                                           "slurm", "job", "data", "lib"))
                               for _ in range(rng.randint(2, 4))) + f"/f{rng.randint(0, 999)}",
    }
    return template.format(**values)


def syslog_lines(n: int, seed: int = 0, templates: int = 300) -> Iterator[bytes]:
    """``n`` templated syslog lines as ClusterCockpit log line protocol."""
    rng = random.Random(seed)
    tpl = _templates(templates, seed)
    # a few templates make most of the lines, as in real logs
    weights = [1.0 / (i + 1) for i in range(len(tpl))]
    t = START_NS
    for _ in range(n):
        msg = _fill(rng.choices(tpl, weights)[0], rng)
        msg = msg.replace("\\", "\\\\").replace('"', '\\"')
        yield (f"{rng.choice(PROGRAMS)},cluster=alex,hostname={rng.choice(HOSTS)},type=node,"
               f'type-id=0,loglevel={rng.choice(LEVELS)} log="{msg}" {t}\n').encode()
        t += 1_000_000 + rng.randint(0, 9)


_PACKAGES = ("org.apache.hadoop.hdfs", "com.example.scheduler", "io.netty.channel",
             "java.util.concurrent", "org.slf4j.impl", "de.nhr.cc.metrics")
_CLASSES = ("DataNode", "BlockReceiver", "JobRunner", "EventLoop", "ThreadPoolExecutor",
            "MetricCollector", "SocketChannelImpl", "Dispatcher")
_EXCEPTIONS = ("java.io.IOException: Connection reset by peer",
               "java.lang.NullPointerException", "java.util.concurrent.TimeoutException",
               "org.apache.hadoop.ipc.RemoteException: lease expired on {path}")


def trace_lines(n: int, seed: int = 0) -> Iterator[bytes]:
    """``n`` log lines each holding a Java stack trace of 20-80 frames (about 1.5 to
    6 kB): messages long enough that PostgreSQL compresses them (TOAST)."""
    rng = random.Random(seed)
    frames = [f"at {rng.choice(_PACKAGES)}.{rng.choice(_CLASSES)}.m{i}"
              f"({rng.choice(_CLASSES)}.java:{rng.randint(20, 900)})" for i in range(400)]
    t = START_NS
    for _ in range(n):
        start = rng.randrange(0, 320)
        head = _fill(rng.choice(_EXCEPTIONS), rng)
        body = "\\n\\t".join(frames[start:start + rng.randint(20, 80)])
        msg = f"job {rng.randint(1, 9_999_999)} failed: {head}\\n\\t{body}"
        msg = msg.replace('"', '\\"')
        yield (f"java,cluster=alex,hostname={rng.choice(HOSTS)},type=node,type-id=0,"
               f'loglevel=error log="{msg}" {t}\n').encode()
        t += 1_000_000 + rng.randint(0, 9)


WORKLOADS = {"standard": iter_lines, "syslog": syslog_lines, "traces": trace_lines}
#: the workloads measured unless --workload names others
DEFAULT_WORKLOADS = ("standard", "syslog")


def store_files(path: str) -> Dict[str, int]:
    """Every file of the store at ``path``: name -> bytes."""
    d, base = os.path.split(path)
    return {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))
            if f.startswith(base)}


def fill(store: ccstore.Store, data: List[bytes]) -> Tuple[int, float]:
    """Write ``data`` (line-protocol chunks) and seal what is full: ``(rows written,
    seconds)``."""
    t0 = time.perf_counter()
    written = 0
    for chunk in data:
        written += store.write(chunk).written
    store.flush()
    return written, time.perf_counter() - t0


def measure(path: str, data: List[bytes], fulltext: bool, compact: bool = False,
            seal_rows: int = 65536) -> dict:
    """Store ``data`` (line-protocol chunks), seal what is full, close; sizes."""
    store = ccstore.open(path, fulltext=fulltext, retention=None, compact=compact,
                         seal_rows=seal_rows)
    written, seconds = fill(store, data)
    stats = store.backend.stats()
    open_rows = sum(k["rows"] for k in stats["kinds"].values()) - _sealed_rows(store)
    free = stats.get("free_bytes", 0)
    sealed_bytes, sealed_rows = _sealed_share(store)
    store.close()
    files = store_files(path)
    return {"written": written, "files": files, "bytes": sum(files.values()),
            "open_rows": open_rows, "seconds": seconds, "free": free,
            "sealed_bytes": sealed_bytes, "sealed_rows": sealed_rows}


def _sealed_share(store: "ccstore.Store") -> tuple:
    """(bytes, rows) of the sealed segments: the pages of their tables (row or block
    tables, full-text tables, indexes in the index file) by ``dbstat``."""
    conn = store.backend._reader()
    sealed = {sid: rows for sid, rows in conn.execute(
        "SELECT id, rows FROM ccstore_segments WHERE state=2")}
    total = 0
    for schema in ("main", "ix"):
        for name, size in conn.execute(
                f"SELECT name, sum(pgsize) FROM dbstat('{schema}') GROUP BY name"):
            m = re.match(r"cc[sx]_(\d+)(_|$)", name)
            if m and int(m.group(1)) in sealed:
                total += size
    return total, sum(sealed.values())


def _sealed_rows(store: "ccstore.Store") -> int:
    conn = store.backend._reader()
    return conn.execute("SELECT coalesce(sum(rows), 0) FROM ccstore_segments "
                        "WHERE state=2").fetchone()[0]


def measure_postgres(server, data: List[bytes], fulltext: bool, toast: str,
                     seal_rows: int) -> dict:
    """Store ``data`` in a fresh database of ``server``, seal every segment, close;
    the bytes of the store's tables (what ``max_disk_size`` counts)."""
    url = server.fresh_database("ccs_size")
    store = ccstore.open(url, fulltext=fulltext, retention=None, seal_rows=seal_rows,
                         toast_compression=toast)
    try:
        written, seconds = fill(store, data)
        stats = store.backend.stats()
        size = store.backend.used_bytes()
        used_toast = stats["toast_compression"]
    finally:
        store.close()
    server.drop_database(url)
    return {"written": written, "bytes": size, "seconds": seconds, "toast": used_toast}


def _chunks(name: str, n: int) -> List[bytes]:
    chunks: List[bytes] = []
    buf: List[bytes] = []
    for line in WORKLOADS[name](n):
        buf.append(line)
        if len(buf) >= BATCH:
            chunks.append(b"".join(buf))
            buf.clear()
    if buf:
        chunks.append(b"".join(buf))
    return chunks


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="lines per workload (default 1M)")
    ap.add_argument("--dir", default=None, help="where to put the stores (default: temp dir)")
    ap.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                    help="only this workload (repeatable; default: standard and syslog)")
    ap.add_argument("--files", action="store_true", help="print every file's size")
    ap.add_argument("--compact", choices=("off", "on", "both"), default="both",
                    help="SQLite: compact sealed segments (default: both, one after the other)")
    ap.add_argument("--seal-rows", type=int, default=None, dest="seal_rows",
                    help="rows per segment (default: the backend's, SQLite 65,536, "
                         "PostgreSQL 200,000)")
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    ap.add_argument("--dsn", default=None,
                    help="PostgreSQL: an existing server (maintenance database URL)")
    ap.add_argument("--toast", choices=("auto", "pglz", "both"), default="auto",
                    help="PostgreSQL: TOAST compression of the text columns (auto: lz4 "
                         "where the server has it)")
    args = ap.parse_args(argv)
    print(f"{args.n:,} lines per workload, decoder {ccstore.IMPLEMENTATION}")
    workloads = args.workload or DEFAULT_WORKLOADS
    server = None
    if args.backend in ("postgres", "both"):
        import pg_server

        server = (pg_server.PostgresServer(args.dsn) if args.dsn
                  else pg_server.start(fast=True))
    try:
        backends = {"sqlite": ["sqlite"], "postgres": ["postgres"],
                    "both": ["sqlite", "postgres"]}[args.backend]
        with tempfile.TemporaryDirectory(dir=args.dir) as d:
            for backend in backends:
                for name in workloads:
                    chunks = _chunks(name, args.n)
                    raw_len = sum(map(len, chunks))
                    ref = len(zlib.compress(b"".join(chunks), 6))
                    if backend == "sqlite":
                        sqlite_rows(args, d, name, chunks, raw_len, ref)
                    else:
                        postgres_rows(args, server, name, chunks, raw_len, ref)
    finally:
        if server is not None and not args.dsn:
            server.stop()


_SQLITE_HEAD = (f"{'workload':9s} {'compact':7s} {'full text':9s} {'input B/line':>12s} "
                f"{'zlib-6 B/line':>13s} {'files B/line':>12s} {'x zlib-6':>8s} "
                f"{'x input':>7s} {'free B/line':>11s} {'open rows':>9s} {'s to sealed':>11s} "
                f"{'sealed B/line':>13s} {'x zlib-6':>8s}")
_PG_HEAD = (f"{'workload':9s} {'toast':7s} {'full text':9s} {'input B/line':>12s} "
            f"{'zlib-6 B/line':>13s} {'tables B/line':>13s} {'x zlib-6':>8s} {'x input':>7s} "
            f"{'s to sealed':>11s}")
_printed = set()


def _head(text: str) -> None:
    if text not in _printed:
        _printed.add(text)
        print(text, flush=True)


def sqlite_rows(args, d: str, name: str, chunks: List[bytes], raw_len: int, ref: int) -> None:
    _head(_SQLITE_HEAD)
    compacts = {"off": [False], "on": [True], "both": [False, True]}[args.compact]
    for compact in compacts:
        for fulltext in (False, True):
            sub = os.path.join(d, f"{name}-{int(compact)}{int(fulltext)}")
            os.mkdir(sub)
            m = measure(os.path.join(sub, "store.db"), chunks, fulltext, compact,
                        args.seal_rows or 65536)
            n = m["written"]
            print(f"{name:9s} {'on' if compact else 'off':7s} "
                  f"{'on' if fulltext else 'off':9s} {raw_len / n:12.1f} "
                  f"{ref / n:13.1f} {m['bytes'] / n:12.1f} {m['bytes'] / ref:8.2f} "
                  f"{m['bytes'] / raw_len:7.2f} {m['free'] / n:11.1f} "
                  f"{m['open_rows']:9,d} {m['seconds']:11.1f} "
                  + (f"{m['sealed_bytes'] / m['sealed_rows']:13.1f} "
                     f"{m['sealed_bytes'] / m['sealed_rows'] / (ref / n):8.2f}"
                     if m["sealed_rows"] else f"{'-':>13s}"), flush=True)
            if args.files:
                for f, size in m["files"].items():
                    print(f"    {f:30s} {size:14,d}")


def postgres_rows(args, server, name: str, chunks: List[bytes], raw_len: int,
                  ref: int) -> None:
    _head(_PG_HEAD)
    toasts = {"auto": ["auto"], "pglz": ["pglz"], "both": ["pglz", "auto"]}[args.toast]
    for toast in toasts:
        for fulltext in (False, True):
            m = measure_postgres(server, chunks, fulltext, toast, args.seal_rows or 200_000)
            n = m["written"]
            print(f"{name:9s} {m['toast']:7s} {'on' if fulltext else 'off':9s} "
                  f"{raw_len / n:12.1f} {ref / n:13.1f} {m['bytes'] / n:13.1f} "
                  f"{m['bytes'] / ref:8.2f} {m['bytes'] / raw_len:7.2f} "
                  f"{m['seconds']:11.1f}", flush=True)


if __name__ == "__main__":
    main()
