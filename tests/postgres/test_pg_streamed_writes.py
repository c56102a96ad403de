"""PostgreSQL: a write decoded piece by piece while its COPY runs (``write_stream``).

The pieces are made small here (``stream_piece_bytes``) so that writes of a few
hundred lines take the streamed path; the answers must be those of a write
decoded whole, and of SQLite.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402
from ccstore import store as store_mod  # noqa: E402
from ccstore.backends.postgres import write as pgb  # noqa: E402
from ccstore.lineproto import decode_rows  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))

PIECE = 2048
T0 = 1_740_000_000  # seconds; the day boundary after it: DAY_END
DAY_END = (T0 // 86400 + 1) * 86400


def mixed(n: int, t0: int, cluster: str = "alex", bad_every: int = 0) -> bytes:
    """Logs and events interleaved (4:1), now and then a bad line."""
    out = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            out.append(f"ccb,cluster={cluster} log=unquoted {t0 + i}")
        elif i % 5 == 4:
            out.append(f'job,cluster={cluster},hostname=h{i % 7},function=start_job '
                       f'event="e{i}" {t0 + i}')
        else:
            out.append(f'ccb,cluster={cluster},hostname=h{i % 7},type=node,type-id=0,'
                       f'loglevel={("info", "warn", "error")[i % 3]} log="m{i} word{i % 11}" '
                       f'{t0 + i}')
    return ("\n".join(out) + "\n").encode()


def streaming(url: str, **options) -> ccstore.Store:
    st = ccstore.open(url, background_seal=False, **options)
    st.backend.stream_piece_bytes = PIECE
    return st


def records(st: ccstore.Store, cluster: str = "alex") -> list:
    return sorted((r.time, r.name, r.hostname, r.value, json.dumps(r.all_tags(), sort_keys=True))
                  for kind in ("log", "event") for r in st.query(cluster, kind, limit=None))


def segment_ids(url: str) -> list:
    """(rows, next_n, ids stored, lowest n, highest n) of every segment written."""
    with psycopg.connect(url) as conn:
        out = []
        for seg, tbl, rows, next_n in conn.execute(
                "SELECT id, tbl, rows, next_n FROM ccstore_segments WHERE rows > 0 "
                "ORDER BY id").fetchall():
            nids, lo, hi = conn.execute(psycopg.sql.SQL(
                "SELECT count(DISTINCT id), min(id) - (%s::bigint << 32), "
                "max(id) - (%s::bigint << 32) FROM {}").format(psycopg.sql.Identifier(tbl)),
                (seg, seg)).fetchone()
            out.append((rows, next_n, nids, lo, hi))
        return out


def assert_gapless(url: str) -> None:
    for rows, next_n, nids, lo, hi in segment_ids(url):
        assert (next_n, nids, lo, hi) == (rows, rows, 1, rows)


def test_streamed_write_gives_the_answers_of_a_whole_write(pg_url, tmp_path):
    data = mixed(700, T0, bad_every=97)
    with streaming(pg_url) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        got = pg.write(data, precision="s")
        want = sq.write(data, precision="s")
        assert pg.backend.stats()["streamed_writes"] == 1
        assert got.written == want.written == 700 - 7
        # bad lines are named by their line in the whole write, as decoding it whole does
        assert got.errors == want.errors == decode_rows(data, precision="s").errors
        assert [e.lineno for e in got.errors] == list(range(97, 701, 97))
        assert got.dropped == want.dropped
        assert records(pg) == records(sq)
        assert len(records(pg)) == 693
    assert_gapless(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM ccstore_writes").fetchone()[0] == 1


def test_streamed_write_across_midnight(pg_url, tmp_path):
    """Rows of the next day (whose segment exists) are held back and copied after
    the stream, in the same transaction."""
    before = mixed(10, DAY_END + 5)  # the next day's segments exist
    data = mixed(600, DAY_END - 300)  # half of it after midnight
    with streaming(pg_url) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        for st in (pg, sq):
            st.write(before, precision="s")
            st.write(data, precision="s")
        stats = pg.backend.stats()
        assert stats["streamed_writes"] == 1 and stats["streams_written_whole"] == 0
        assert records(pg) == records(sq)
        assert len(records(pg)) == 610
        days = [r.time // (86400 * 10**9) for r in pg.query("alex", limit=None)]
        assert set(days) == {DAY_END // 86400 - 1, DAY_END // 86400}
    assert_gapless(pg_url)


@pytest.mark.parametrize("hold", [1, 37, 10_000])
def test_held_rows_are_copied_as_they_pile_up(pg_url, tmp_path, monkeypatch, hold):
    """Rows held back (the events, those after midnight) are copied each time
    ``hold`` of them pile up, the COPY going on after them: one transaction, the
    answers of a whole write, ids without a gap."""
    monkeypatch.setattr(pgb, "HOLD_ROWS", hold)
    before = mixed(10, DAY_END + 5)  # the next day's segments exist
    data = mixed(900, DAY_END - 400, bad_every=101)
    copies = []
    with streaming(pg_url) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        for st in (pg, sq):
            st.write(before, precision="s")
        real = pg.backend._copy_sql
        monkeypatch.setattr(pg.backend, "_copy_sql", lambda *a, **k: copies.append(a[0])
                            or real(*a, **k))
        got = pg.write(data, precision="s")
        want = sq.write(data, precision="s")
        stats = pg.backend.stats()
        assert stats["streamed_writes"] == 1 and stats["streams_written_whole"] == 0
        assert (got.written, got.errors) == (want.written, want.errors)
        assert records(pg) == records(sq) and len(records(pg)) == 910 - 8
        if hold == 1:
            assert len(copies) > 40  # held rows copied batch after batch
        elif hold == 10_000:
            assert len(copies) <= 4  # the stream, then each held segment once
    assert_gapless(pg_url)


def test_stream_needing_a_new_segment_is_written_whole(pg_url, tmp_path):
    """A group whose table or segment does not exist yet shows up after the first
    piece: the streamed attempt rolls back, the write goes in whole, once."""
    data = mixed(400, T0) + mixed(50, T0, cluster="other") + mixed(300, DAY_END + 1)
    with streaming(pg_url) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        assert pg.write(data, precision="s").written == 750
        sq.write(data, precision="s")
        stats = pg.backend.stats()
        assert stats["streams_written_whole"] == 1 and stats["streamed_writes"] == 0
        assert stats["transactions"] == 1
        for cluster in ("alex", "other"):
            assert records(pg, cluster) == records(sq, cluster)
        # the next write of the same shape streams: its segments exist now
        more = mixed(400, T0 + 500) + mixed(50, T0 + 500, cluster="other")
        pg.write(more, precision="s")
        assert pg.backend.stats()["streamed_writes"] == 1
        assert len(records(pg)) == 1100
    assert_gapless(pg_url)


def test_connection_lost_while_streaming(pg_url, monkeypatch):
    """The writer's connection is terminated after the first batch was taken (the
    stream was then encoding the next ones as COPY data): the write is decoded
    again and retried whole after reconnecting, every row stored once, and the
    write's result counts every row and error once."""
    st = streaming(pg_url)
    try:
        st.write(mixed(5, T0), precision="s")  # connected, segments made
        be = st.backend
        opened = []
        killed = []
        next_batch = store_mod._KeptStream.__next__

        def taking(stream):
            if not opened or opened[-1] is not stream:
                opened.append(stream)
                stream.taken = 0
            if len(opened) == 1 and stream.taken == 1:
                pid = be._writers[0].conn.info.backend_pid
                with psycopg.connect(pg_url, autocommit=True) as admin:
                    killed.append(admin.execute("SELECT pg_terminate_backend(%s)",
                                                (pid,)).fetchone()[0])
                    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                        (pid,)).fetchone():
                        pass
            stream.taken += 1
            return next_batch(stream)

        monkeypatch.setattr(store_mod._KeptStream, "__next__", taking)
        got = st.write(mixed(600, T0 + 100, bad_every=50), precision="s")
        stats = be.stats()
        assert killed == [True]
        assert len(opened) == 2 and opened[0].decode_rows is not decode_rows
        assert opened[1].decode_rows is decode_rows  # decoded whole, as rows
        assert stats["write_retries"] == 1 and stats["streamed_writes"] == 0
        assert got.written == 588 and len(got.errors) == 12
        recs = st.query("alex", limit=None) + st.query("alex", "event", limit=None)
        assert len(recs) == 593 and len({r.id for r in recs}) == 593
        assert len({(r.time, r.name) for r in recs}) == 593
    finally:
        st.close()
    assert_gapless(pg_url)


def test_write_with_a_stale_row_count_goes_to_a_new_segment(pg_url):
    """The writer's count of an open segment's rows is wrong (a commit it never
    heard of): the bookkeeping refuses it, the write rolls back and goes to a new
    segment; no id is stored twice."""
    with streaming(pg_url) as st:
        st.write(mixed(50, T0), precision="s")
        be = st.backend
        op = be._writers[0].open[("alex", "log", T0 // 86400)]
        op.next_n -= 5
        st.write(mixed(600, T0 + 100), precision="s")
        assert be._writers[0].open[("alex", "log", T0 // 86400)].seg != op.seg
        recs = st.query("alex", limit=None)
        assert len(recs) == 520 and len({r.id for r in recs}) == 520
    assert_gapless(pg_url)


def test_copy_pieces_join_to_the_whole_copy():
    """The streamed COPY data (the first piece without trailer, the others without
    signature and trailer, then the trailer) is byte for byte one whole COPY."""
    rows = decode_rows(mixed(50, T0)).groups[("alex", "log")]
    whole = pgb.copy_binary(rows, 7, pgb.COPY_INTS)
    parts = [pgb.copy_binary(rows[:10], 7, pgb.COPY_INTS)[:-len(pgb._COPY_TRAILER)],
             pgb.copy_binary(rows[10:], 17, pgb.COPY_INTS)[pgb._COPY_HEAD:-2]]
    assert b"".join(parts) + pgb._COPY_TRAILER == whole
