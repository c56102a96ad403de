"""A throwaway PostgreSQL server for tests and benchmarks.

``start()`` runs ``initdb`` + ``pg_ctl`` (found on ``PATH`` or under
``/usr/lib/postgresql/*/bin``) in a fresh temporary directory, on a free TCP
port of 127.0.0.1 and a unix socket in a directory of its own there
(``socket_dir``, its name with a space, which a URL must quote).  As root the
server runs as an unprivileged user (``postgres`` when it exists, else a system
user ``ccstore-pg`` is created, else ``nobody``), which owns that directory.
``from_env()`` uses the server named by ``CCSTORE_TEST_POSTGRES_DSN`` instead.
``BIN_GLOBS`` and ``PATH`` are where the binaries are looked for.

Usage from pytest (see ``tests/conftest.py``)::

    server = pg_server.session_server()     # or pytest.skip / fail with the reason
    url = server.fresh_database()           # an empty database, as a postgresql:// URL
"""
from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from typing import List, Optional

__all__ = ["BIN_GLOBS", "PostgresServer", "Session", "Unavailable", "find_bin_dir", "start",
           "from_env", "session_server", "fixture_server"]

ENV_DSN = "CCSTORE_TEST_POSTGRES_DSN"
SUPERUSER = "ccstore"


class Unavailable(RuntimeError):
    """No PostgreSQL server can be had here; the message says why."""


#: directories searched for the server binaries after ``PATH``, best first within each
BIN_GLOBS = ["/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"]


def find_bin_dir() -> Optional[str]:
    """Directory holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        real = os.path.dirname(os.path.realpath(found))
        if os.path.exists(os.path.join(real, "postgres")):
            return real
    candidates: List[str] = []
    for pattern in BIN_GLOBS:
        candidates += sorted(glob.glob(pattern),
                             key=lambda p: [int(x) if x.isdigit() else 0
                                            for x in re.split(r"[/-]", p)],
                             reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as_prefix() -> List[str]:
    """Command prefix that drops root to an unprivileged user (empty when not root)."""
    if os.geteuid() != 0:
        return []
    user = os.environ.get("CCSTORE_TEST_POSTGRES_USER")
    if not user:
        for candidate in ("postgres", "ccstore-pg"):
            try:
                pwd.getpwnam(candidate)
                user = candidate
                break
            except KeyError:
                pass
    if not user and shutil.which("useradd"):
        r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", "ccstore-pg"], capture_output=True)
        if r.returncode == 0:
            user = "ccstore-pg"
    user = user or "nobody"
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"]
    if shutil.which("setpriv"):
        pw = pwd.getpwnam(user)
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups"]
    raise Unavailable("running as root, and neither runuser nor setpriv is available to "
                      "start PostgreSQL as an unprivileged user")


class PostgresServer:
    """A running server: its URL and a factory for fresh databases."""

    def __init__(self, url: str, *, owned: bool = False, datadir: Optional[str] = None,
                 pg_ctl: Optional[str] = None, prefix: Optional[List[str]] = None,
                 base: Optional[str] = None, host: str = "", port: int = 0,
                 socket_dir: Optional[str] = None) -> None:
        self.url = url  # maintenance database (postgres)
        self.owned = owned
        self.datadir = datadir
        self.base = base
        self.host = host
        self.port = port
        #: the directory of the server's unix socket (None: not known)
        self.socket_dir = socket_dir
        self._pg_ctl = pg_ctl
        self._prefix = prefix or []
        self._counter = itertools.count(1)
        self._stopped = False

    def url_for(self, dbname: str) -> str:
        """The server URL with the database replaced."""
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(dbname)))

    def connect(self, dbname: Optional[str] = None, **kw):
        import psycopg

        return psycopg.connect(self.url if dbname is None else self.url_for(dbname),
                               autocommit=True, **kw)

    def fresh_database(self, prefix: str = "ccs_test") -> str:
        """Create an empty database; return its ``postgresql://`` URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/"))
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def halt(self, mode: str = "fast") -> None:
        """Stop the server but keep its data (``resume()`` starts it again, same port)."""
        assert self.owned and not self._stopped, "only a running server started here"
        r = subprocess.run(self._prefix + [self._pg_ctl, "-D", self.datadir, "-m", mode, "-w",
                                           "stop"], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {r.stderr.strip() or r.stdout.strip()}")

    def resume(self, timeout: float = 60.0) -> None:
        """Start a server stopped by ``halt()``."""
        assert self.owned and not self._stopped, "only a server started here"
        r = subprocess.run(self._prefix + [self._pg_ctl, "-D", self.datadir, "-l",
                                           os.path.join(self.base, "server.log"), "-w", "-t",
                                           str(int(timeout)), "start"],
                           capture_output=True, text=True, cwd=self.base, timeout=timeout + 10)
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip() or r.stdout.strip()}")

    def stop(self) -> None:
        if self._stopped or not self.owned:
            return
        self._stopped = True
        subprocess.run(self._prefix + [self._pg_ctl, "-D", self.datadir, "-m", "immediate",
                                       "-w", "stop"], capture_output=True, timeout=60)
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)


def start(*, fast: bool = True, settings: Optional[dict] = None,
          timeout: float = 60.0) -> PostgresServer:
    """initdb + pg_ctl start in a temporary directory; raise :class:`Unavailable`.

    ``fast`` turns fsync off (a throwaway server: an OS crash may lose it all).
    """
    bindir = find_bin_dir()
    if bindir is None:
        raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on "
                          "PATH or under /usr/lib/postgresql/*/bin")
    prefix = _run_as_prefix()
    base = tempfile.mkdtemp(prefix="ccs-pg-", dir="/tmp" if os.path.isdir("/tmp") else None)
    datadir = os.path.join(base, "data")
    sockdir = os.path.join(base, "socket dir")
    if prefix:
        user = prefix[2] if prefix[0] == "runuser" else None
        if user is None:  # setpriv: --reuid=N
            uid = int(prefix[1].split("=")[1])
            gid = int(prefix[2].split("=")[1])
        else:
            pw = pwd.getpwnam(user)
            uid, gid = pw.pw_uid, pw.pw_gid
        os.chown(base, uid, gid)
        os.chmod(base, 0o755)
    os.mkdir(sockdir, 0o755)
    if prefix:
        os.chown(sockdir, uid, gid)
    initdb = os.path.join(bindir, "initdb")
    pg_ctl = os.path.join(bindir, "pg_ctl")
    r = subprocess.run(prefix + [initdb, "-D", datadir, "-U", SUPERUSER, "--auth=trust",
                                 "-E", "UTF8", "--locale=C", "--no-sync"],
                       capture_output=True, text=True, cwd=base, timeout=timeout)
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise Unavailable(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
    port = _free_port()
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'\"{sockdir}\"'",  # quoted: the name has a space
        "max_connections": "100",
        "shared_buffers": "128MB",
        "max_wal_size": "2GB",
        "logging_collector": "off",
        "log_min_messages": "warning",
    }
    if fast:
        conf.update({"fsync": "off", "full_page_writes": "off"})
    for k, v in (settings or {}).items():
        conf[k] = str(v)
    with open(os.path.join(datadir, "postgresql.conf"), "a") as fh:
        for k, v in conf.items():
            fh.write(f"{k} = {v}\n")
    log = os.path.join(base, "server.log")
    r = subprocess.run(prefix + [pg_ctl, "-D", datadir, "-l", log, "-w", "-t", str(int(timeout)),
                                 "start"], capture_output=True, text=True, cwd=base,
                       timeout=timeout + 10)
    if r.returncode != 0:
        try:
            with open(log) as fh:
                detail = fh.read()[-2000:]
        except OSError:
            detail = r.stderr
        shutil.rmtree(base, ignore_errors=True)
        raise Unavailable(f"pg_ctl start failed: {detail.strip()}")
    url = (f"postgresql://{SUPERUSER}@/postgres?host={urllib.parse.quote(sockdir, safe='')}"
           f"&port={port}")
    server = PostgresServer(url, owned=True, datadir=datadir, pg_ctl=pg_ctl, prefix=prefix,
                            base=base, host="127.0.0.1", port=port, socket_dir=sockdir)
    atexit.register(server.stop)
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.connect().close()
            break
        except Exception as exc:  # noqa: BLE001
            if time.monotonic() > deadline:
                server.stop()
                raise Unavailable(f"PostgreSQL did not accept connections: {exc}") from None
            time.sleep(0.1)
    return server


def from_env() -> Optional[PostgresServer]:
    """The server named by ``CCSTORE_TEST_POSTGRES_DSN``, or None when unset."""
    dsn = os.environ.get(ENV_DSN)
    if not dsn:
        return None
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qs(parts.query)
    host = query.get("host", [""])[0]
    port = parts.port or int(query.get("port", ["5432"])[0])
    return PostgresServer(dsn, owned=False, host=parts.hostname or "", port=port,
                          socket_dir=host if host.startswith("/") else None)


class Session:
    """At most one server per process: the one named by the environment, else one
    started on first use; the reason it cannot be had is kept too."""

    def __init__(self) -> None:
        self.server: Optional[PostgresServer] = None
        self.error: Optional[str] = None

    def get(self) -> PostgresServer:
        """The server; raises :class:`Unavailable`."""
        if self.server is not None:
            return self.server
        if self.error is not None:
            raise Unavailable(self.error)
        try:
            self.server = from_env() or start()
        except Unavailable as exc:
            self.error = str(exc)
            raise
        return self.server


_SESSION = Session()


def session_server() -> PostgresServer:
    """One server per process (started on first use); raises :class:`Unavailable`."""
    return _SESSION.get()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


try:  # the pytest fixture, for ``from pg_server import postgres_dsn`` in a conftest
    import pytest as _pytest
except ImportError:  # pragma: no cover - used without pytest (benchmarks)
    _pytest = None


def fixture_server(session: Optional[Session] = None) -> PostgresServer:
    """What the ``postgres_dsn`` fixture gives: the session's server, else
    ``pytest.skip`` with the reason printed, or ``pytest.fail`` when ``CI`` is set."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        reason = f"psycopg is not installed: {exc}"
    else:
        try:
            return (session or _SESSION).get()
        except Unavailable as exc:
            reason = str(exc)
    if in_ci():
        _pytest.fail(f"PostgreSQL unavailable in CI: {reason}", pytrace=False)
    print(f"\nskipping PostgreSQL tests: {reason}")
    _pytest.skip(f"PostgreSQL unavailable: {reason}")


if _pytest is not None:
    @_pytest.fixture(scope="session")
    def postgres_dsn() -> PostgresServer:
        """The session's PostgreSQL server (``.fresh_database()`` gives an empty one).

        Skips with the reason when no server can be had, except in CI (``CI`` set),
        where that is a failure.
        """
        return fixture_server()
