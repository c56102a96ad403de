"""A PostgreSQL outage under a running ``python -m ccstore.server``: the server stays up,
``/api/stats/`` and ``/api/health`` report the outage, the write pending meanwhile is
stored once afterwards."""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Dict

import pytest

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("jwt")

import pg_server  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from srvutil import Keys, ServerProcess, wait_until, write_config  # noqa: E402

T0 = 1_750_000_000


def lines(tag: str, n: int, t0: int) -> str:
    return "".join(f'ccb,cluster=outage,hostname=h{i % 4},loglevel=info log="{tag} {i}" '
                   f"{t0 + i}\n" for i in range(n))


@pytest.fixture
def own_postgres(postgres_dsn):
    """A PostgreSQL of this test alone (it is stopped and started again)."""
    try:
        server = pg_server.start()
    except pg_server.Unavailable as exc:
        if postgres_dsn.owned:
            raise
        pytest.skip(f"a second PostgreSQL cannot be started here: {exc}")
    yield server
    server.stop()


def backend_status(s: ServerProcess) -> Dict[str, Any]:
    st = s.stats()
    found = _find(st, "in_outage")
    assert found is not None, st
    return found


def _find(obj: Any, key: str) -> Any:
    """The innermost dict of the stats that holds ``key``."""
    if isinstance(obj, dict):
        if key in obj:
            return obj
        for v in obj.values():
            got = _find(v, key)
            if got is not None:
                return got
    return None


def test_server_survives_an_outage_and_reports_it(tmp_path, own_postgres):
    url = own_postgres.fresh_database("ccs_outage")
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    keys = Keys()
    storage = {"retention_time": "48h", "flush_time": "1s",
               "backend": {"type": "postgres", "server": "127.0.0.1",
                           "port": own_postgres.port, "database_path": dbname,
                           "username": pg_server.SUPERUSER, "connection_timeout": 2}}
    config = write_config(tmp_path, storage=storage,
                          api={"address": "127.0.0.1", "port": "0",
                               "jwt_public_key": keys.public_b64})
    s = ServerProcess(tmp_path, ["-config", str(config)], keys.token()).start()
    try:
        r = s.write(lines("before", 50, T0))
        assert r.status == 204, r
        st = backend_status(s)
        assert st["connected"] and not st["in_outage"] and st["outages"] == 0, st

        own_postgres.halt()
        pending: Dict[str, Any] = {}

        def write_during_outage() -> None:
            try:
                pending["response"] = s.write(lines("during", 30, T0 + 100))
            except Exception as exc:  # noqa: BLE001
                pending["error"] = exc

        th = threading.Thread(target=write_during_outage)
        th.start()
        try:
            st = wait_until(lambda: (lambda b: b if b["in_outage"] else None)(backend_status(s)),
                            "/api/stats/ to report the outage", 20)
            assert st["connected"] is False and st["outages"] == 1, st
            assert st["write_retries"] >= 1 and st["last_error"], st
            # the server answers, and says honestly that storage cannot write
            h = wait_until(lambda: (lambda r: r if r.status == 503 else None)(
                s.call("GET", "/api/health", auth=False)), "health to report the outage", 20)
            assert "storage unavailable" in h.json()["error"], h
            assert s.proc.poll() is None
            assert "response" not in pending and "error" not in pending, pending
        finally:
            own_postgres.resume()
            th.join(60)
        assert not th.is_alive()
        assert pending.get("response") is not None and pending["response"].status == 204, pending

        r = s.write(lines("after", 20, T0 + 200))
        assert r.status == 204, r
        st = backend_status(s)
        assert st["connected"] and not st["in_outage"] and st["outages"] == 1, st
        assert st["outage_seconds"] > 0, st

        with psycopg.connect(url) as conn:
            got = [r[0] for r in conn.execute("SELECT field FROM outage_logs ORDER BY time")]
        expect = ([f"before {i}" for i in range(50)] + [f"during {i}" for i in range(30)]
                  + [f"after {i}" for i in range(20)])
        assert got == expect
        assert s.stop() == 0
    finally:
        s.kill()
