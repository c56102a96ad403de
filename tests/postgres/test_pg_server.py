"""The test server's fixture: skip with the reason without server binaries, fail in CI,
use ``CCSTORE_TEST_POSTGRES_DSN`` instead of starting a server."""
from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")

import pg_server  # noqa: E402  (tests/ is on sys.path, see tests/conftest.py)


@pytest.fixture
def no_binaries(tmp_path, monkeypatch):
    """Nothing to be found on PATH nor in the directories searched after it."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(pg_server, "BIN_GLOBS", [str(empty / "*" / "bin")])
    monkeypatch.delenv(pg_server.ENV_DSN, raising=False)
    assert pg_server.find_bin_dir() is None


@pytest.mark.parametrize("ci", [None, "", "0", "false", "no"])
def test_without_binaries_skips_with_the_reason(no_binaries, monkeypatch, capsys, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    session = pg_server.Session()
    with pytest.raises(pytest.skip.Exception) as info:
        pg_server.fixture_server(session)
    assert "binaries" in str(info.value) and "not found" in str(info.value)
    printed = capsys.readouterr().out
    assert "skipping PostgreSQL tests" in printed and "not found" in printed
    # the reason is kept: asking again does not search again, and gives the same answer
    assert session.server is None and "not found" in session.error
    with pytest.raises(pytest.skip.Exception):
        pg_server.fixture_server(session)


@pytest.mark.parametrize("ci", ["1", "true", "yes"])
def test_without_binaries_fails_in_ci(no_binaries, monkeypatch, capsys, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception) as info:
        pg_server.fixture_server(pg_server.Session())
    assert "PostgreSQL unavailable in CI" in str(info.value)
    assert "not found" in str(info.value)
    assert "skipping" not in capsys.readouterr().out


def test_dsn_names_the_server_to_use(no_binaries, monkeypatch, postgres_dsn):
    """With the variable set nothing is started (no binaries could be found anyway)."""
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv(pg_server.ENV_DSN, postgres_dsn.url)
    session = pg_server.Session()
    server = pg_server.fixture_server(session)
    assert server.url == postgres_dsn.url and not server.owned
    assert session.get() is server
    url = server.fresh_database("ccs_dsn")
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == \
                url.rsplit("/", 1)[1].split("?")[0]
    finally:
        server.drop_database(url)
    server.stop()  # not ours: the server keeps running
    with postgres_dsn.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_search_finds_binaries_after_path(tmp_path, monkeypatch):
    """The directories of BIN_GLOBS are searched, newest version first."""
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    for version in ("9", "15", "13"):
        d = tmp_path / "pg" / version / "bin"
        d.mkdir(parents=True)
        for b in ("initdb", "pg_ctl", "postgres"):
            (d / b).write_text("#!/bin/sh\n")
            (d / b).chmod(0o755)
    (tmp_path / "pg" / "15" / "bin" / "postgres").chmod(0o644)  # not executable
    monkeypatch.setattr(pg_server, "BIN_GLOBS", [str(tmp_path / "pg" / "*" / "bin")])
    assert pg_server.find_bin_dir() == str(tmp_path / "pg" / "13" / "bin")
