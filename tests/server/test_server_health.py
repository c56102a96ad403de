"""Honest health and metrics: /api/health is 503 naming why when storage cannot write
or a receiver is down; /metrics is Prometheus text that Prometheus's own parser reads."""
from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any, Dict, Tuple
from wsgiref.util import setup_testing_defaults

import apsw
import pytest
from srvutil import ServerProcess, sqlite_storage, wait_until, write_config

import ccstore
from ccstore.config import ApiConfig
from ccstore.ingest.commit import StorageManager
from ccstore.server import monitor as monitor_module
from ccstore.server.app import make_app
from ccstore.server.monitor import CommitWatch, Monitor

LINE = 'ccb,cluster=h,hostname=n1,type=node,type-id=0,loglevel=info log="m {i}" {t}'


def lines(n: int, t0: int = 1740000000) -> bytes:
    return "\n".join(LINE.format(i=i, t=t0 + i) for i in range(n)).encode()


def wsgi(app: Any, method: str, path: str, body: bytes = b"") -> Tuple[int, bytes]:
    env: Dict[str, Any] = {}
    setup_testing_defaults(env)
    p, _, q = path.partition("?")
    env.update({"REQUEST_METHOD": method, "PATH_INFO": p, "QUERY_STRING": q,
                "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})
    status = []
    out = b"".join(app(env, lambda s, h, e=None: status.append(s)))
    return int(status[0][:3]), out


@pytest.fixture
def running(tmp_path: Path):
    """A store written through a CommitWatch, its group commit and the API app."""
    store = ccstore.open(str(tmp_path / "h.db"), busy_timeout_ms=100)
    watch = CommitWatch(store)
    manager = StorageManager(watch, retention_daily=None).start()  # type: ignore[arg-type]
    app = make_app(store, manager, ApiConfig(), monitor=Monitor(store, manager, watch))
    yield store, app
    manager.close()
    store.close()


def test_health_is_503_while_the_database_is_locked(running, tmp_path: Path) -> None:
    store, app = running
    assert wsgi(app, "POST", "/api/write/", lines(3))[0] == 204
    assert wsgi(app, "GET", "/api/health")[0] == 200
    blocker = apsw.Connection(str(tmp_path / "h.db"))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert wsgi(app, "POST", "/api/write/", lines(3, 1740000100))[0] == 500
        status, body = wsgi(app, "GET", "/api/health")
        assert status == 503 and b"storage cannot write" in body and b"locked" in body, body
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert wsgi(app, "POST", "/api/write/", lines(3, 1740000200))[0] == 204
    assert wsgi(app, "GET", "/api/health")[0] == 200  # a commit went through again


def test_health_is_503_while_the_disk_is_full(running) -> None:
    store, app = running
    assert wsgi(app, "POST", "/api/write/", lines(3))[0] == 204
    w = store.backend._w  # the writer: room for no page more than it has
    pages = w.execute("PRAGMA page_count").fetchone()[0]
    w.execute(f"PRAGMA max_page_count={pages}")
    assert wsgi(app, "POST", "/api/write/", lines(20000, 1740001000))[0] == 500
    status, body = wsgi(app, "GET", "/api/health")
    assert status == 503 and b"full" in body, body
    w.execute("PRAGMA max_page_count=1073741823")
    assert wsgi(app, "POST", "/api/write/", lines(3, 1740100000))[0] == 204
    assert wsgi(app, "GET", "/api/health")[0] == 200


class _Manager:
    healthy = None


class _Store:
    def __init__(self, stats: Any) -> None:
        self._stats = stats

    def stats(self) -> Any:
        if isinstance(self._stats, Exception):
            raise self._stats
        return self._stats


@pytest.mark.parametrize("stats, named", [
    (apsw.CorruptError("database disk image is malformed"), "cannot be read"),
    ({"backend": {"backend": "postgres", "in_outage": True, "last_error": "refused"}},
     "does not answer"),
    ({"backend": {"backend": "postgres", "error": "OperationalError: timeout"}},
     "cannot be read"),
])
def test_health_names_a_store_that_cannot_be_read(stats: Any, named: str) -> None:
    problems = Monitor(_Store(stats), _Manager()).problems()
    assert len(problems) == 1 and named in problems[0], problems


def test_health_names_a_full_file_system(monkeypatch, tmp_path: Path) -> None:
    class Full:
        f_bavail, f_frsize = 10, 4096

    store = _Store({"backend": {"backend": "sqlite", "path": str(tmp_path / "x.db")}})
    assert Monitor(store, _Manager()).problems() == []
    monkeypatch.setattr(monitor_module.os, "statvfs", lambda p: Full)
    problems = Monitor(store, _Manager()).problems()
    assert problems and "disk full (40960 bytes free" in problems[0]


def test_health_names_a_receiver_that_is_down() -> None:
    receivers = {"up": {"type": "nats", "state": "subscribed"},
                 "gone": {"type": "nats", "state": "connecting", "last_error": "refused"},
                 "files": {"type": "files", "state": "down"}}
    problems = Monitor(_Store({}), _Manager(), receivers=lambda: receivers).problems()
    assert problems == ["receiver files is down", "receiver gone is connecting: refused"]


# ---------------------------------------------------------------------------- real server


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def samples(text: str) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_and_health_of_a_running_server(tmp_path: Path) -> None:
    receivers = {"collector": {"type": "http", "address": "127.0.0.1", "port": "0",
                               "path": "/write"},
                 "nowhere": {"type": "nats", "address": "127.0.0.1",
                             "port": str(closed_port()), "subject": "x"},
                 "udplog": {"type": "syslog", "address": "127.0.0.1", "port": 0,
                            "protocol": "udp", "cluster": "alex"}}
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "m.db"),
                          receivers=receivers)
    s = ServerProcess(tmp_path, ["-config", str(config)]).start(healthy=False)
    try:
        state = s.stats()["receivers"]["nowhere"]["state"]
        assert state in ("starting", "connecting")  # it retries, its server never answers
        r = s.call("GET", "/api/health")
        assert r.status == 503 and f"receiver nowhere is {state}" in r.json()["error"], r
        assert r.json()["problems"] == [r.json()["error"]]
        body = lines(5).decode() + "\nnot line protocol\ncpu,cluster=h value=1 1740000009"
        assert s.write(body).status == 400
        r = s.call("GET", "/metrics")
        assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
        m = samples(r.body.decode())
        api = (("receiver", "api"),)
        assert m[("ccstore_rows_written_total", api)] == 5
        assert m[("ccstore_lines_received_total", api)] == 7
        assert m[("ccstore_rows_rejected_total", (("reason", "syntax"), ("receiver", "api")))] == 1
        assert m[("ccstore_rows_dropped_total", (("kind", "metric"), ("receiver", "api")))] == 1
        assert m[("ccstore_rows_written_total", (("receiver", "collector"),))] == 0
        # the commit latency histogram: cumulative buckets ending in the count
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                         if k[0] == "ccstore_commit_seconds_bucket")
        counts = [v for _le, v in buckets]
        assert counts == sorted(counts) and counts[-1] == m[("ccstore_commit_seconds_count", ())]
        assert counts[-1] >= 1 and m[("ccstore_commit_seconds_sum", ())] > 0
        assert m[("ccstore_commit_queue_depth", ())] == 0
        assert m[("ccstore_commits_total", ())] >= 1
        assert m[("ccstore_rows_stored", (("kind", "log"),))] == 5
        assert m[("ccstore_segments", (("kind", "log"), ("state", "open")))] >= 1
        assert m[("ccstore_storage_bytes", (("backend", "sqlite"),))] > 0
        assert m[("ccstore_retention_runs_total", ())] == 0
        assert m[("ccstore_receiver_up", (("receiver", "collector"), ("type", "http")))] == 1
        assert m[("ccstore_receiver_up", (("receiver", "nowhere"), ("type", "nats")))] == 0
        assert m[("ccstore_receiver_state", (("receiver", "nowhere"), ("state", state)))] == 1
        for where in ("queue", "kernel"):
            lost = ("ccstore_receiver_messages_lost_total",
                    (("receiver", "udplog"), ("where", where)))
            assert m[lost] == 0
        assert m[("ccstore_http_connections", (("server", "api"),))] >= 1
        assert m[("ccstore_http_connections_refused_total", (("server", "collector"),))] == 0
        assert m[("ccstore_healthy", ())] == 0
        assert s.stop() == 0
    finally:
        s.kill()


def test_health_turns_ok_once_the_receiver_connects(tmp_path: Path, nats_server) -> None:
    receivers = {"late": {"type": "nats", "address": "127.0.0.1",
                          "port": str(nats_server.port), "subject": "late"}}
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "n.db"),
                          receivers=receivers)
    s = ServerProcess(tmp_path, ["-config", str(config)]).start(healthy=False)
    try:
        wait_until(lambda: s.call("GET", "/api/health").status == 200, "health 200")
        assert s.stats()["receivers"]["late"]["state"] == "subscribed"
    finally:
        s.kill()
