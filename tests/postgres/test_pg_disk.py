"""PostgreSQL: the disk cap (oldest segments and partitions dropped) and lz4 TOAST data."""
from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402

T0 = 1_740_000_000
SEAL = 200


def lines(n: int, start: int = 0) -> str:
    return "".join(
        f'ccb,cluster=c,hostname=h{i % 7},loglevel={("info", "warn", "error")[i % 3]} '
        f'log="disk {i} of job {i % 11} failed at /scratch/x{i % 5}" {T0 + i}\n'
        for i in range(start, start + n))


def test_disk_cap_under_a_write_burst(postgres_dsn):
    # one sealed segment's bytes: a store holding one, less the empty store
    probe = postgres_dsn.fresh_database()
    with ccstore.open(probe, seal_rows=SEAL, background_seal=False, retention=None) as st:
        st.write(lines(1))
        st.backend.flush()
        empty = st.backend.used_bytes()
        st.write(lines(SEAL))
        st.backend.seal()
        segment = st.backend.used_bytes() - empty
    cap = empty + 5 * segment
    url = postgres_dsn.fresh_database()
    with ccstore.open(url, seal_rows=SEAL, retention=None, max_disk_size=cap,
                      background_seal=False) as st:
        for burst in range(40):
            st.write(lines(150, start=burst * 150))
            st.backend.seal()  # as the sealer does: the cap is checked after each seal
            used = st.backend.used_bytes()
            assert used <= cap + segment, (burst, used, cap, segment)
        stats = st.stats()["backend"]
        assert stats["segments_dropped_for_size"] > 0
        assert stats["rows_dropped_for_size"] > 0
        assert stats["max_disk_size"] == cap and stats["bytes"] <= cap + segment
        # the newest lines stay, the oldest went
        newest = st.query("c", kind="log", limit=1)[0]
        assert newest.timestamp == T0 + 40 * 150 - 1
        oldest = st.query("c", kind="log", limit=1, order="asc")[0]
        assert oldest.timestamp > T0 + 1000
        assert st.count("c", by=()) == [(len(st.query("c", limit=None)),)]


def test_disk_cap_drops_whole_day_partitions(postgres_dsn):
    url = postgres_dsn.fresh_database()
    day = 86400
    with ccstore.open(url, seal_rows=50, retention=None, background_seal=False) as st:
        for d in range(3):  # a segment per day, the day's partition its parent
            st.write("".join(f'ccb,cluster=c,hostname=h,loglevel=info log="d{d} {i}" '
                             f'{T0 + d * day + i}\n' for i in range(50)))
        st.backend.seal()
        cap = st.backend.used_bytes() - 1
    with ccstore.open(url, seal_rows=50, retention=None, max_disk_size=cap,
                      background_seal=False) as st:
        st.write(lines(50, start=3 * day))  # a fourth day: the oldest goes
        st.backend.seal()
        stats = st.stats()["backend"]
        assert stats["partitions_dropped_for_size"] >= 1
        assert min(r.timestamp for r in st.query("c", limit=None)) >= T0 + day
    with psycopg.connect(url) as conn:
        days = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'c_logs'")}
    assert len(days) == 3 - stats["partitions_dropped_for_size"] + 1


def test_max_disk_size_is_checked(postgres_dsn):
    with pytest.raises(ValueError, match="max_disk_size"):
        ccstore.open(postgres_dsn.fresh_database(), max_disk_size=0)


def _lz4_supported(url: str) -> bool:
    with psycopg.connect(url) as conn:
        if conn.info.server_version < 140000:
            return False
        row = conn.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                           "WHERE name = 'default_toast_compression'").fetchone()
        return bool(row and row[0])


def test_text_columns_are_lz4_compressed_where_supported(postgres_dsn):
    url = postgres_dsn.fresh_database()
    supported = _lz4_supported(url)
    long_text = " ".join(f"word{i % 50}" for i in range(3000))  # TOASTed: compressed
    with ccstore.open(url, seal_rows=SEAL) as st:
        st.write(f'ccb,cluster=c,hostname=h,loglevel=info log="{long_text}" {T0}\n'
                 + lines(20))
        st.flush()
        assert st.stats()["backend"]["toast_compression"] == ("lz4" if supported else "pglz")
        assert st.query(text="word49", limit=None)[0].value == long_text
    with psycopg.connect(url) as conn:
        leaf = conn.execute("SELECT tbl FROM ccstore_segments LIMIT 1").fetchone()[0]
        modes = dict(conn.execute(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname IN ('field', 'othertags')", (f'"{leaf}"',)).fetchall())
        used = conn.execute(f'SELECT pg_column_compression(field) FROM "{leaf}" '
                            "WHERE length(field) > 10000").fetchone()[0]
    if supported:
        assert modes == {"field": "l", "othertags": "l"}
        assert used == "lz4"
    else:
        assert used == "pglz"


def test_pglz_when_asked_for(postgres_dsn):
    url = postgres_dsn.fresh_database()
    with ccstore.open(url, toast_compression="pglz") as st:
        st.write(lines(3))
        assert st.stats()["backend"]["toast_compression"] == "pglz"
    with psycopg.connect(url) as conn:
        leaf = conn.execute("SELECT tbl FROM ccstore_segments LIMIT 1").fetchone()[0]
        modes = {r[0] for r in conn.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname IN ('field', 'othertags')", (f'"{leaf}"',))}
    assert modes == {""}  # the server's default_toast_compression: pglz
    with pytest.raises(ValueError, match="toast_compression"):
        ccstore.open(postgres_dsn.fresh_database(), toast_compression="zstd")
