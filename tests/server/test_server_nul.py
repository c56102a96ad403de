"""A NUL character over HTTP: on PostgreSQL the line with one is rejected alone (400
naming its line and column, the other lines stored), SQLite stores it in the message; a
filter with one is a 400 on both; no answer names an internal table."""
from __future__ import annotations

from pathlib import Path

import pytest
from srvutil import ServerProcess, storage_for, write_config

BODY = (b'ccb,cluster=nul,hostname=h1,loglevel=info log="one" 1740000000\n'
        b'ccb,cluster=nul,hostname=h1,loglevel=info log="t\x00wo" 1740000001\n'
        b'job,cluster=nul,hostname=h2 event="three" 1740000002\n')


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_nul_over_http(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    storage = storage_for(backend, request, tmp_path / "nul.db")
    s = ServerProcess(tmp_path, ["-config", str(write_config(tmp_path,
                                                             storage=storage["file"]))])
    s.start()
    try:
        r = s.write(BODY)
        if backend == "sqlite":
            assert r.status == 204, r
        else:
            assert r.status == 400, r
            answer = r.json()
            assert (answer["written"], answer["rejected"]) == (2, 1)
            assert answer["errors"] == [{"line": 2, "column": BODY.split(b"\n")[1].index(b"\x00")
                                         + 1, "message": answer["errors"][0]["message"]}]
            assert "NUL" in answer["errors"][0]["message"]
        assert s.count("cluster=nul&kind=log&by=cluster")["total"] == (
            2 if backend == "sqlite" else 1)
        assert s.count("cluster=nul&kind=event&by=cluster")["total"] == 1
        for path, body in (
                ("/api/query/", {"cluster": "nul", "kind": "log", "host": "h\x00"}),
                ("/api/query/", {"cluster": "nul", "conditions": ["loglevel==in\x00fo"],
                                 "kind": "log"}),
                ("/api/query/", {"cluster": "nul", "for-all-nodes": ["j\x00b"]}),
                ("/api/count/", {"cluster": "nul", "host": "h\x00"}),
                ("/api/count/?cluster=nul&host=h%00", None)):
            # no host, tag or key holds a NUL on either backend (the decoder rejects it
            # there): a filter with one is a mistake, named as such
            r = s.call("POST" if body is not None else "GET", path, body)
            assert r.status == 400, (path, body, r)
            assert "NUL" in r.json()["error"] and "ccs_" not in r.json()["error"]
        assert s.stop() == 0
    finally:
        s.kill()
