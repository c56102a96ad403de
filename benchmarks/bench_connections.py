"""Hostile connections against the REST API: health and a query must keep answering.

For each server measured (ccstore's own, and the WSGI servers it was chosen among
when they are installed), a server process is started on a loopback port with a
small SQLite store, and its ``/api/health`` and a ``/api/query/`` are probed
(a new connection per probe, one after the other, paced) in these rounds:

- ``unloaded``: nobody else connected (the reference of the same run);
- ``idle``: N connections that send nothing;
- ``drip``: N connections that send a request one byte every 2 s;
- ``unauth`` (JWT on): N connections that send a complete request without a valid
  token, then hold the connection open and drip the next request.

A connection the server closes is opened again, so the attack lasts the whole
round.  The attacker runs in a process of its own.  The verdict for each loaded
round: p99 of health and of the query under 2x their unloaded p99.

The candidates are measured when installed (``pip install cheroot waitress``;
Tornado comes with ccstore).

    python benchmarks/bench_connections.py                     # ccstore + candidates
    python benchmarks/bench_connections.py --servers ccstore -n 1000 --probes 300
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

#: the longest any round may take, and a probe may wait, in seconds
ROUND_LIMIT = 120.0
PROBE_TIMEOUT = 5.0
#: probes not counted after an attacker has connected: the server may still be taking
#: in the burst of connections (and, JWT on, refusing their requests)
WARMUP = 20
QUERY = {"cluster": "bench", "queries": [{"event": "job", "host": "h7"}], "limit": 50}
DRIP_REQUEST = (b"POST /api/query/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Padding: " + b"a" * 200 + b"\r\n\r\n")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


# ---------------------------------------------------------------------------- the server


def _cheroot(app: Any, threads: int) -> Tuple[Callable[[], None], int, Callable[[], None]]:
    """The server ccstore used before: cheroot, a worker thread per connection."""
    from cheroot import wsgi

    srv = wsgi.Server(("127.0.0.1", 0), app, numthreads=threads, timeout=120,
                      request_queue_size=128, server_name="ccstore")
    srv.prepare()
    return srv.serve, srv.bind_addr[1], srv.stop


def _waitress(app: Any, threads: int) -> Tuple[Callable[[], None], int, Callable[[], None]]:
    """waitress as it comes, its connection limit raised past the attack."""
    import waitress

    srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads,
                                 connection_limit=100_000, channel_timeout=120,
                                 asyncore_use_poll=True)
    return srv.run, int(srv.effective_port), srv.close


def _tornado(app: Any, threads: int) -> Tuple[Callable[[], None], int, Callable[[], None]]:
    """Tornado's HTTP server with its WSGI container (the app in a thread pool)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop
    from tornado.netutil import bind_sockets
    from tornado.wsgi import WSGIContainer

    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = HTTPServer(WSGIContainer(app, executor=ThreadPoolExecutor(threads)),
                            idle_connection_timeout=120, body_timeout=120)
        server.add_sockets(sockets)
        IOLoop.current().start()

    return run, port, lambda: None


def _ccstore(app: Any, threads: int) -> Tuple[Callable[[], None], int, Callable[[], None]]:
    """ccstore's own server module, as the API is configured by default."""
    from ccstore.config import ApiConfig
    from ccstore.ingest.httpserver import ServerThread

    a = ApiConfig()
    srv = ServerThread(app, "127.0.0.1", 0, **a.server_options())
    return srv.serve_forever, srv.bound[1], srv.stop


SERVERS = {"cheroot": _cheroot, "waitress": _waitress, "tornado": _tornado,
           "ccstore": _ccstore}


def serve(kind: str, db: str, jwt_key: Optional[str]) -> None:
    """The server process: store, group commit, the API on ``kind``; port on stdout."""
    raise_nofile()
    import logging

    logging.basicConfig(level=logging.ERROR)  # no access lines, no timeout chatter
    import ccstore
    from ccstore.config import ApiConfig
    from ccstore.ingest.commit import StorageManager
    from ccstore.server.app import make_app

    store = ccstore.open(db)
    manager = StorageManager(store).start()
    manager.register_source("api")
    api = ApiConfig(jwt_public_key=base64.b64decode(jwt_key) if jwt_key else None)
    app = make_app(store, manager, api)
    run, port, stop = SERVERS[kind](app, api.threads)
    threading.Thread(target=run, daemon=True).start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    stop()
    manager.close()
    store.close()


def prepare_db(path: str) -> None:
    import ccstore

    lines = []
    for i in range(20_000):
        lines.append(f'job,cluster=bench,hostname=h{i % 50},type=node,type-id=0,'
                     f'function=start_job event="{{\\"jobId\\": {i}}}" {1_700_000_000 + i}')
    with ccstore.open(path) as store:
        store.write("\n".join(lines).encode())


# ---------------------------------------------------------------------------- the attacker


def attack(mode: str, port: int, n: int, token: Optional[str]) -> None:
    """Hold ``n`` connections in ``mode`` until stdin closes (or ROUND_LIMIT)."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    conns: Dict[socket.socket, Dict[str, Any]] = {}
    reopened = 0
    bad = ("Authorization: Bearer " + (token or "x") + "\r\n").encode()
    full = (b"GET /api/query/ HTTP/1.1\r\nHost: x\r\n" + bad +
            b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    def open_one() -> None:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return
        state = {"sent": 0, "next": time.monotonic() + 2.0, "stage": "connect"}
        conns[s] = state
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)

    def close_one(s: socket.socket) -> None:
        sel.unregister(s)
        conns.pop(s, None)
        s.close()

    for _ in range(n):
        open_one()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    announced = False
    deadline = time.monotonic() + ROUND_LIMIT + 60
    ready_by = time.monotonic() + 10  # a server that accepts no more is measured as it is
    while not stop.is_set() and time.monotonic() < deadline:
        for key, events in sel.select(0.05):
            s = key.fileobj
            st = conns.get(s)  # type: ignore[call-overload]
            if st is None:
                continue
            if events & selectors.EVENT_WRITE and st["stage"] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # type: ignore[union-attr]
                if err:
                    close_one(s)  # type: ignore[arg-type]
                    continue
                st["stage"] = "open"
                sel.modify(s, selectors.EVENT_READ)
                if mode == "unauth":
                    s.send(full)  # type: ignore[union-attr]
                    st["stage"] = "asked"
            elif events & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if not data:  # closed by the server (timeout, refusal): come again
                    close_one(s)  # type: ignore[arg-type]
                    reopened += 1
                    open_one()
                elif st["stage"] == "asked":
                    st["stage"] = "open"  # answered (401): now drip the next request
        now = time.monotonic()
        if mode in ("drip", "unauth"):
            for s, st in list(conns.items()):
                if st["stage"] == "open" and now >= st["next"]:
                    st["next"] = now + 2.0
                    try:
                        s.send(DRIP_REQUEST[st["sent"] % len(DRIP_REQUEST):][:1])
                        st["sent"] += 1
                    except OSError:
                        pass
        if not announced:
            ready = sum(1 for st in conns.values() if st["stage"] == "open")
            if ready >= n or now > ready_by:
                print(f"READY {ready}", flush=True)
                announced = True
    print(f"REOPENED {reopened}", flush=True)


# ---------------------------------------------------------------------------- probes


def probe(port: int, method: str, path: str, body: Optional[bytes],
          headers: Dict[str, str]) -> Optional[float]:
    t0 = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
    except OSError:
        return None
    if r.status != 200:
        raise SystemExit(f"{method} {path}: {r.status}")
    return time.perf_counter() - t0


def p(values: List[float], q: float) -> float:  # noqa: E743
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_block(port: int, probes: int, token: Optional[str],
              into: Dict[str, List[float]]) -> int:
    """``probes`` health and query probes, paced; returns how many went unanswered."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    qheaders = dict(headers, **{"Content-Type": "application/json"})
    qbody = json.dumps(QUERY).encode()
    failed = 0
    start = time.monotonic()
    for _ in range(probes):
        if failed >= 3 or time.monotonic() - start > ROUND_LIMIT:
            break
        for name, args in (("health", ("GET", "/api/health", None, {})),
                           ("query", ("POST", "/api/query/", qbody, qheaders))):
            t = probe(port, *args)  # type: ignore[arg-type]
            if t is None:
                failed += 1
            else:
                into[name].append(t)
        time.sleep(0.01)  # paced: a round spans several drip periods
    return failed


def stats_of(samples: Dict[str, List[float]], failed: int) -> Dict[str, Any]:
    out: Dict[str, Any] = {"failed": failed}
    for name, vals in samples.items():
        out[name] = ({"n": len(vals), "p50": p(vals, 0.5), "p99": p(vals, 0.99)}
                     if vals else {"n": 0})
    return out


class Proc:
    def __init__(self, args: List[str], expect: str) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith(expect):
            self.proc.kill()
            raise SystemExit(f"{args[:2]}: expected {expect}, got {line!r}")
        self.value = int(line.split()[1])

    def stop(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        rest = self.proc.stdout.read()  # type: ignore[union-attr]
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return rest


def measure(kind: str, db: str, n: int, probes: int, cycles: int) -> Dict[str, Any]:
    """Each attack in ``cycles`` cycles of (unloaded block, attacked block), so that the
    reference and the attacked figures share the machine's ups and downs."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    token = jwt.encode({"sub": "bench"}, key, algorithm="EdDSA")
    results: Dict[str, Any] = {}
    per_block = max(1, probes // cycles)
    for auth in (False, True):
        server = Proc(["--serve", kind, "--db", db] + (["--jwt", pub] if auth else []), "PORT")
        port = server.value
        tok = token if auth else None
        try:
            for mode in (["unauth"] if auth else ["idle", "drip"]):
                ref: Dict[str, List[float]] = {"health": [], "query": []}
                hit: Dict[str, List[float]] = {"health": [], "query": []}
                ref_failed = hit_failed = 0
                held, reopened = [], 0
                for _ in range(cycles):
                    ref_failed += run_block(port, per_block, tok, ref)
                    attacker = Proc(["--attack", mode, "--port", str(port), "-n", str(n)],
                                    "READY")
                    run_block(port, WARMUP, tok, {"health": [], "query": []})
                    hit_failed += run_block(port, per_block, tok, hit)
                    held.append(attacker.value)
                    rest = attacker.stop()
                    if "REOPENED" in rest:
                        reopened += int(rest.split()[-1])
                    if hit_failed >= 3:
                        break
                res = {"unloaded": stats_of(ref, ref_failed), "attacked": stats_of(hit, hit_failed),
                       "held": min(held), "reopened": reopened}
                results[mode] = res
                print(f"  {kind:9s} {mode:7s} unloaded {summary(res['unloaded'])}", flush=True)
                print(f"  {kind:9s} {mode:7s} attacked {summary(res['attacked'])}  "
                      f"({res['held']} connections held, {reopened} reopened)", flush=True)
        finally:
            server.stop()
    return results


def summary(res: Dict[str, Any]) -> str:
    def one(x: Dict[str, Any]) -> str:
        if not x.get("n"):
            return "no answer"
        return f"p50 {x['p50'] * 1e3:6.2f} ms p99 {x['p99'] * 1e3:6.2f} ms"
    fail = f", {res['failed']} probes unanswered" if res["failed"] else ""
    return f"health {one(res['health'])} | query {one(res['query'])}{fail}"


def verdict(results: Dict[str, Any]) -> List[str]:
    lines = []
    for mode, res in results.items():
        for ep in ("health", "query"):
            r, b = res["attacked"][ep], res["unloaded"][ep]
            if not r.get("n") or res["attacked"]["failed"]:
                lines.append(f"{mode:7s} {ep:6s}: FAIL (unanswered probes)")
                continue
            ratio = r["p99"] / b["p99"]
            lines.append(f"{mode:7s} {ep:6s}: p99 {ratio:.2f}x unloaded "
                         f"{'ok' if ratio < 2 else 'FAIL'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--jwt", help=argparse.SUPPRESS)
    ap.add_argument("--attack", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("-n", "--connections", type=int, default=1000,
                    help="hostile connections per round (default 1000)")
    ap.add_argument("--probes", type=int, default=300,
                    help="health and query probes per round (default 300)")
    ap.add_argument("--cycles", type=int, default=3,
                    help="unloaded/attacked block pairs per attack (default 3)")
    ap.add_argument("--servers", default="cheroot,waitress,tornado,ccstore",
                    help="comma-separated: cheroot, waitress, tornado, ccstore")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.db, a.jwt)
        return
    if a.attack:
        attack(a.attack, a.port, a.connections, None)
        return
    raise_nofile()
    all_results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        prepare_db(db)
        for kind in a.servers.split(","):
            try:
                if kind == "cheroot":
                    import cheroot  # noqa: F401
                elif kind in ("waitress", "tornado"):
                    __import__(kind)
            except ImportError:
                print(f"  {kind}: not installed, skipped")
                continue
            all_results[kind] = measure(kind, db, a.connections, a.probes, a.cycles)
    print()
    for kind, results in all_results.items():
        for line in verdict(results):
            print(f"{kind:9s} {line}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(all_results, f, indent=1)


if __name__ == "__main__":
    main()
