"""Durability: ``kill -9`` the server while 4 clients write; count acknowledged lines lost.

Each trial: the server runs on the same database, 4 client threads post 200-line bodies
(each body has its own hostname), the server is killed with SIGKILL after a random
number of acknowledged bodies, restarted, and every acknowledged body is looked up.
Target: 0 lines lost over 100 trials.

    python benchmarks/crash_trials.py --trials 100
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from typing import List, Optional, Set

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_http import Server, wait_until  # noqa: E402

LINES = 200


def body(cluster: str, bid: str) -> bytes:
    return "\n".join(f'job,cluster={cluster},hostname={bid},type=node,type-id=0 '
                     f'event="line {i}" {1700000000 + i}' for i in range(LINES)).encode()


def writer(srv: Server, cluster: str, t: int, acked: Set[str], lock: threading.Lock,
           stop: threading.Event) -> None:
    seq = 0
    while not stop.is_set():
        bid = f"b{t}-{seq}"
        seq += 1
        try:
            c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
            c.request("POST", "/api/write/", body=body(cluster, bid))
            r = c.getresponse()
            r.read()
            c.close()
        except OSError:
            return
        if r.status == 204:
            with lock:
                acked.add(bid)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rnd = random.Random(args.seed)
    lost_total = acked_total = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccstore-crash-") as tmp:
        srv = Server(tmp)
        for trial in range(args.trials):
            cluster = f"trial{trial}"
            acked: Set[str] = set()
            lock = threading.Lock()
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(srv, cluster, t, acked, lock, stop))
                       for t in range(4)]
            for t in threads:
                t.start()
            target = rnd.randint(1, 40)
            wait_until(lambda: len(acked) >= target, "acknowledged writes", 120)
            srv.proc.kill()
            srv.proc.wait(30)
            stop.set()
            for t in threads:
                t.join(60)
            srv = Server(tmp)
            counts = srv.get(f"/api/count/?cluster={cluster}&kind=event&by=hostname")
            stored = {c["hostname"]: c["count"] for c in counts["counts"]}
            lost = sum(LINES - stored.get(b, 0) for b in acked)
            torn = sum(1 for n in stored.values() if n != LINES)
            lost_total += lost
            acked_total += len(acked) * LINES
            if lost or torn:
                print(f"trial {trial}: {lost} acknowledged lines lost, {torn} torn bodies")
        srv.stop()
    print(json.dumps({"trials": args.trials, "acknowledged_lines": acked_total,
                      "lost": lost_total, "seconds": round(time.perf_counter() - t0, 1)}))
    return 1 if lost_total else 0


if __name__ == "__main__":
    sys.exit(main())
