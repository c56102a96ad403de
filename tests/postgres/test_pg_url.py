"""The Go program's PostgreSQL settings -> the URL the store connects with.

:func:`ccstore.config.postgres_url` is checked against libpq's own parser (through
psycopg) for every form of ``server``; then real connections: through the test
server's unix-socket directory (its name has a space) and over TCP as a user and
into a database whose names need quoting.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402
from ccstore.config import ConfigError, load_config, postgres_url  # noqa: E402

USER = "cc user:@/%"
PASSWORD = "p@ss:w/rd%?#&="
DBNAME = "events db/ü?#"


def parsed(url: str) -> dict:
    """The connection parameters libpq reads from ``url``."""
    return psycopg.conninfo.conninfo_to_dict(url)


def test_host_and_port() -> None:
    url = postgres_url("db.example", 5433, "events", user="me", password="secret")
    assert url == "postgresql://me:secret@db.example:5433/events"
    assert parsed(url) == {"host": "db.example", "port": "5433", "dbname": "events",
                           "user": "me", "password": "secret"}


def test_defaults_localhost_5432_and_no_user() -> None:
    assert postgres_url(dbname="x") == "postgresql://localhost:5432/x"


def test_host_colon_port_in_server() -> None:
    url = postgres_url("db.example:6000", None, "e")
    assert parsed(url) == {"host": "db.example", "port": "6000", "dbname": "e"}
    assert postgres_url("db.example:6000", 6000, "e") == url
    with pytest.raises(ValueError, match="6000"):
        postgres_url("db.example:6000", 5432, "e")


@pytest.mark.parametrize("server, host, port", [
    ("::1", "::1", "5432"),
    ("2001:db8::7", "2001:db8::7", "5432"),
    ("[2001:db8::7]", "2001:db8::7", "5432"),
    ("[::1]:6000", "::1", "6000"),
    ("fe80::1%eth0", "fe80::1%eth0", "5432"),
])
def test_ipv6(server: str, host: str, port: str) -> None:
    url = postgres_url(server, None, "e")
    assert "[" in url
    assert parsed(url) == {"host": host, "port": port, "dbname": "e"}


@pytest.mark.parametrize("sockdir", ["/run/postgresql", "/tmp/pg sock,dir&x=1"])
def test_socket_directory_is_the_host_parameter(sockdir: str) -> None:
    url = postgres_url(sockdir, 5433, "events", user="me", connect_timeout=3,
                       params=["sslmode=disable"])
    assert url.startswith("postgresql://me@/events?host=%2F")
    assert parsed(url) == {"host": sockdir, "port": "5433", "dbname": "events", "user": "me",
                           "connect_timeout": "3", "sslmode": "disable"}


def test_special_characters_in_user_password_and_database() -> None:
    url = postgres_url("db.example", 5432, DBNAME, user=USER, password=PASSWORD)
    assert parsed(url) == {"host": "db.example", "port": "5432", "dbname": DBNAME,
                           "user": USER, "password": PASSWORD}


def test_flags_are_appended_as_given_and_win_over_the_timeout() -> None:
    url = postgres_url("h", 5432, "d", connect_timeout=3,
                       params=["sslmode=verify-full", "application_name=cc%20store"])
    assert url == ("postgresql://h:5432/d?connect_timeout=3&sslmode=verify-full&"
                   "application_name=cc%20store")
    assert parsed(url)["application_name"] == "cc store"
    url = postgres_url("h", 5432, "d", connect_timeout=3, params=["connect_timeout=9"])
    assert parsed(url)["connect_timeout"] == "9" and url.count("connect_timeout") == 1
    assert "connect_timeout" not in postgres_url("h", 5432, "d", connect_timeout=0)


@pytest.mark.parametrize("server", ["db.example:port", "db.example:", ":5432", "[::1",
                                    "[::1]6000"])
def test_servers_that_are_no_host(server: str) -> None:
    with pytest.raises(ValueError):
        postgres_url(server, None, "d")


def storage_file(tmp_path: Path, backend: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"storage": {"backend": dict(type="postgres", **backend)}}))
    return path


def test_the_config_file_gives_a_socket_directory_url(tmp_path: Path) -> None:
    config = storage_file(tmp_path, {"server": "/run/postgresql", "database_path": "events",
                                     "username": "me", "password": "p@ss"})
    target = load_config(config).storage.backend.target
    assert parsed(target) == {"host": "/run/postgresql", "port": "5432", "dbname": "events",
                              "user": "me", "password": "p@ss", "connect_timeout": "1"}


def test_the_config_file_names_the_server_key_of_a_bad_server(tmp_path: Path) -> None:
    config = storage_file(tmp_path, {"server": "db:5433", "port": 5434,
                                     "database_path": "events"})
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == "backend.server"


def lines(n: int) -> str:
    return "".join(f'ccb,cluster=alex,hostname=h{i % 3} log="m{i}" {1_740_000_000 + i}\n'
                   for i in range(n))


def test_connects_through_the_servers_socket_directory(postgres_dsn, pg_url,
                                                        tmp_path: Path) -> None:
    if postgres_dsn.socket_dir is None:
        pytest.skip("the test server's unix-socket directory is not known "
                    "(CCSTORE_TEST_POSTGRES_DSN names a TCP server)")
    info = parsed(pg_url)
    config = storage_file(tmp_path, {"server": postgres_dsn.socket_dir,
                                     "port": postgres_dsn.port, "database_path": info["dbname"],
                                     "username": info.get("user", "")})
    target = load_config(config).storage.backend.target
    assert parsed(target)["host"] == postgres_dsn.socket_dir
    with ccstore.open(target) as st:
        assert st.write(lines(3), precision="s").written == 3
        assert len(st.query("alex", limit=None)) == 3
        conn = st.backend._connect()
        try:  # a unix socket: the server sees no client address
            assert conn.execute("SELECT inet_client_addr()").fetchone() == (None,)
        finally:
            conn.close()


@pytest.fixture
def quoted_names(postgres_dsn):
    """A role and a database of that role, both named with characters a URL must quote."""
    if not postgres_dsn.owned:
        pytest.skip("creates a role: only on a throwaway server started by the tests")
    with postgres_dsn.connect() as admin:
        admin.execute(f'CREATE ROLE "{USER}" LOGIN SUPERUSER')
        admin.execute(f'CREATE DATABASE "{DBNAME}" OWNER "{USER}"')
    yield
    with postgres_dsn.connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{USER}"')


def test_connects_over_tcp_with_names_that_need_quoting(postgres_dsn, quoted_names,
                                                        tmp_path: Path) -> None:
    config = storage_file(tmp_path, {"server": "127.0.0.1", "port": postgres_dsn.port,
                                     "database_path": DBNAME, "username": USER,
                                     "password": PASSWORD})
    target = load_config(config).storage.backend.target
    with ccstore.open(target) as st:
        assert st.write(lines(3), precision="s").written == 3
        conn = st.backend._connect()
        try:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == \
                (USER, DBNAME)
        finally:
            conn.close()
