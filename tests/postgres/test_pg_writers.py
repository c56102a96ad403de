"""PostgreSQL: concurrent writes run on several writer connections (``writers``).

Each writer appends to segments of its own and counts their ids itself; a write
takes the first free writer, so one thread's writes keep to one connection.
"""
from __future__ import annotations

import threading

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402
from ccstore.backends.base import SEALED  # noqa: E402

from test_pg_streamed_writes import assert_gapless, mixed, records, T0  # noqa: E402


def backend_pids(st: ccstore.Store) -> list:
    return [None if w.conn is None else w.conn.info.backend_pid for w in st.backend._writers]


def test_a_write_takes_the_free_writer_while_another_is_busy(pg_url, tmp_path):
    with ccstore.open(pg_url, background_seal=False) as pg, \
            ccstore.open(str(tmp_path / "s.db")) as sq:
        assert len(pg.backend._writers) == 2
        first = mixed(50, T0)
        pg.write(first, precision="s")
        sq.write(first, precision="s")
        assert backend_pids(pg)[1] is None  # not needed yet
        busy = pg.backend._writers[0]
        second = mixed(300, T0 + 100, bad_every=41)
        result = []
        with busy.lock:  # another write holds writer 0
            th = threading.Thread(target=lambda: result.append(pg.write(second, precision="s")))
            th.start()
            th.join(60)
            assert result, "the write waited for the busy writer"
        want = sq.write(second, precision="s")
        assert (result[0].written, result[0].errors) == (want.written, want.errors)
        pids = backend_pids(pg)
        assert None not in pids and pids[0] != pids[1]
        # each writer has segments of its own for the same cluster, kind and day
        key = ("alex", "log", T0 // 86400)
        w0, w1 = pg.backend._writers
        assert w0.open[key].seg != w1.open[key].seg
        third = mixed(70, T0 + 500)
        pg.write(third, precision="s")  # writer 0 is free again: it takes this one
        sq.write(third, precision="s")
        assert w0.open[key].next_n == 40 + 56  # logs of the first and third writes
        assert records(pg) == records(sq)
        assert pg.backend.stats()["reconnects"] == 0
        pg.flush()
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM ccstore_segments WHERE rows > 0 AND "
                                "state <> %s", (SEALED,)).fetchone()[0] == 0  # all sealed
    assert_gapless(pg_url)


def test_concurrent_writers_store_every_row_once(pg_url, tmp_path):
    parts = [mixed(200, T0 + 1000 * k) for k in range(12)]
    with ccstore.open(pg_url, seal_rows=700) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        feed = iter(parts)
        lock = threading.Lock()
        errors = []

        def run() -> None:
            try:
                while True:
                    with lock:
                        part = next(feed, None)
                    if part is None:
                        return
                    pg.write(part, precision="s")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert not errors
        for part in parts:
            sq.write(part, precision="s")
        stats = pg.backend.stats()
        assert stats["rows_written"] == 12 * 200 and stats["transactions"] == 12
        assert records(pg) == records(sq)
    assert_gapless(pg_url)


def test_one_writer_when_asked(pg_url):
    with ccstore.open(pg_url, writers=1) as st:
        assert len(st.backend._writers) == 1
        assert st.write(mixed(30, T0), precision="s").written == 30
        assert len(records(st)) == 30
