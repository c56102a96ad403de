"""Shutdown and crashes: SIGTERM exits 0 after finishing what was accepted; after kill -9
every line the server acknowledged is in the database."""
from __future__ import annotations

import gzip
import signal
import time
import threading
from pathlib import Path
from typing import Any, List, Set

import pytest
from srvutil import (ServerProcess, http_call, sqlite_storage, storage_for, wait_until,
                     write_config)

import ccstore

LINES_PER_BODY = 200


def body(cluster: str, body_id: str) -> str:
    return "\n".join(
        f'job,cluster={cluster},hostname={body_id},type=node,type-id=0 event="line {i}" '
        f"{1700000000 + i}" for i in range(LINES_PER_BODY))


class Writers:
    """Client threads posting bodies until the server goes away; they record which
    bodies the server acknowledged (204)."""

    def __init__(self, server: ServerProcess, cluster: str, threads: int = 4) -> None:
        self.server = server
        self.cluster = cluster
        self.acked: Set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(threads)]

    def run(self, t: int) -> None:
        seq = 0
        while not self.stop.is_set():
            bid = f"b{t}-{seq}"
            seq += 1
            try:
                r = http_call(self.server.host, self.server.port, "POST", "/api/write/",
                              body(self.cluster, bid), timeout=30)
            except OSError:
                return  # the server is gone
            if r.status == 204:
                with self.lock:
                    self.acked.add(bid)
            elif r.status == 503:
                return  # shutting down
            else:
                raise AssertionError(r)

    def __enter__(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def stored_bodies(server: ServerProcess, cluster: str) -> dict:
    j = server.count(f"cluster={cluster}&kind=event&by=hostname", missing_ok=True)
    return {c["hostname"]: c["count"] for c in j["counts"]}


def test_kill_9_loses_no_acknowledged_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "crash.db"))
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    try:
        for trial in range(3):
            cluster = f"crash{trial}"
            with Writers(server, cluster) as w:
                wait_until(lambda: w.acked_count() >= 10 * (trial + 1),
                           "acknowledged writes", 120)
                server.kill()  # kill -9 while the writers keep posting
            acked: List[str] = sorted(w.acked)
            server = ServerProcess(tmp_path, ["-config", str(config)]).start()
            stored = stored_bodies(server, cluster)
            missing = [b for b in acked if stored.get(b) != LINES_PER_BODY]
            assert not missing, f"trial {trial}: acknowledged but not stored: {missing}"
            # nothing half-written: a body is stored entirely or not at all
            assert all(n == LINES_PER_BODY for n in stored.values())
    finally:
        server.kill()


LARGE = 300_000


def large_body() -> bytes:
    """LARGE unique lines (logs and events), gzipped: some 30 MiB as lines."""
    lines = []
    for i in range(LARGE):
        if i % 5:
            lines.append(f"ccb,cluster=big,hostname=a{i % 800:04d},type=node,type-id=0,"
                         f'loglevel=info log="line {i} of the large request" {1700000000 + i}')
        else:
            lines.append(f"job,cluster=big,hostname=a{i % 800:04d},function=start_job "
                         f'event="line {i} of the large request" {1700000000 + i}')
    return gzip.compress("\n".join(lines).encode(), 1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_in_a_large_request_and_its_retry_store_each_line_once(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """The server is killed while it stores a large request (a quarter of its lines
    taken by the backend, none of it answered); the client sends it again: every
    line is stored exactly once."""
    storage = storage_for(backend, request, tmp_path / "large.db")
    config = write_config(tmp_path, storage=storage["file"])
    body = large_body()
    headers = {"Content-Encoding": "gzip"}
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    answers: List[Any] = []

    def send() -> None:
        try:
            answers.append(http_call(server.host, server.port, "POST", "/api/write/", body,
                                     headers, timeout=120))
        except OSError as exc:
            answers.append(exc)

    try:
        client = threading.Thread(target=send)
        client.start()
        wait_until(lambda: server.stats()["manager"]["status"]["streaming"]["rows"]
                   >= LARGE // 4, "a quarter of the request taken by the backend", 120)
        server.kill()
        client.join(60)
        assert len(answers) == 1 and isinstance(answers[0], OSError), answers
        server = ServerProcess(tmp_path, ["-config", str(config)]).start()
        r = server.call("POST", "/api/write/", body, headers)
        assert r.status == 204, r
        assert server.stop() == 0
    finally:
        server.kill()
    with ccstore.open(storage["target"]) as store:
        got = [r.value for kind in ("log", "event") for r in store.query("big", kind,
                                                                         limit=None)]
    assert len(got) == LARGE
    assert sorted(got) == sorted(f"line {i} of the large request" for i in range(LARGE))


def test_sigterm_finishes_in_flight_and_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "term.db"))
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    with Writers(server, "term") as w:
        wait_until(lambda: w.acked_count() >= 20, "acknowledged writes", 120)
        assert server.stop(signal.SIGTERM) == 0
    assert "stopped" in server.log
    acked = sorted(w.acked)
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    try:
        stored = stored_bodies(server, "term")
        assert [b for b in acked if stored.get(b) != LINES_PER_BODY] == []
        assert server.stop(signal.SIGINT) == 0
    finally:
        server.kill()


def test_retention_runs_in_the_background(tmp_path: Path) -> None:
    storage = sqlite_storage(tmp_path / "ret.db", retention_time="1h", retention_interval="1s")
    config = write_config(tmp_path, storage=storage)
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    try:
        now = int(time.time())
        lines = [f'job,cluster=ret,hostname=h event="old {i}" {now - 7200 - i}' for i in range(50)]
        lines += [f'job,cluster=ret,hostname=h event="new {i}" {now - i}' for i in range(5)]
        lines += [f'ccb,cluster=ret,hostname=h,loglevel=info log="old log" {now - 7200}']
        assert server.write("\n".join(lines)).status == 204
        wait_until(lambda: server.stats()["retention"]["rows_removed"] >= 50,
                   "a retention run that removes the old events", 60)
        assert server.count("cluster=ret&kind=event&by=cluster")["total"] == 5
        assert server.count("cluster=ret&kind=log&by=cluster")["total"] == 1  # logs are kept
        assert server.stats()["retention"]["last_error"] is None
    finally:
        server.kill()


def test_keep_alives_disabled_closes_connections(tmp_path: Path) -> None:
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "ka.db"),
                          api={"address": "127.0.0.1", "port": 0, "keep_alives_enabled": False,
                               "idle_timeout": "5s"})
    server = ServerProcess(tmp_path, ["-config", str(config)]).start()
    try:
        r = server.call("GET", "/api/health")
        assert r.status == 200 and r.headers.get("connection", "").lower() == "close"
    finally:
        server.kill()
