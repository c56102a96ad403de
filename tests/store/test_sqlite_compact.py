"""Compacted SQLite segments: the block index, stores written before compaction, a crash
in the middle of compacting, and the disk-size cap.  (Every query kind on compacted
segments against the oracle: the ``sqlite-compact`` backend of the store tests; the block
codec: tests/backends/test_blocks.py.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import apsw
import pytest

import ccstore
from ccstore import cli
from ccstore.backends.sqlite import blocks as blocks_mod
from ccstore.backends.sqlite import seal as seal_mod
from ccstore.backends.sqlite.blocks import COLUMNS
from ccstore.backends.sqlite.compact import _block_terms, encode_segment

T0 = 1740000000


def lines(n: int, start: int = 0, hosts: int = 7) -> str:
    return "".join(
        f'ccb,cluster=c,hostname=h{i % hosts},loglevel={("info", "warn", "error")[i % 3]} '
        f'log="disk {i} of job {i % 11} failed at /scratch/x{i % 5}" {T0 + i}\n'
        if i % 4 else
        f'job,cluster=c,hostname=h{i % hosts},function=start_job event="{{\\"jobId\\": {i}}}" '
        f"{T0 + i}\n"
        for i in range(start, start + n))


def answers(store: ccstore.Store) -> list:
    """Answers of every query kind, to compare two stores holding the same lines."""
    out = []
    for kind in ("log", "event"):
        out.append([r.as_dict() for r in store.query("c", kind=kind, limit=None)])
        out.append([r.as_dict() for r in store.query("c", kind=kind, hosts=["h3", "h5"],
                                                     start=T0 + 100, end=T0 + 700)])
        out.append(store.count("c", kind=kind, by="host", interval=60))
        for order in ("desc", "asc"):
            # bounds on the times of rows (h3 writes at T0 + 101 and T0 + 703), paged
            pages, after = [], None
            while True:
                page = store.query("c", kind=kind, hosts="h3", start=T0 + 101, end=T0 + 703,
                                   limit=9, order=order, after=after)
                pages.append([r.as_dict() for r in page])
                if len(page) < 9:
                    break
                after = page[-1].cursor
            out.append(pages)
        # bounds to the nanosecond, on rows' times
        out.append([r.as_dict() for r in store.query(
            "c", kind=kind, hosts="h3", start=(T0 + 101) * 10**9, end=(T0 + 703) * 10**9)])
    out.append([r.as_dict() for r in store.query(text="failed AND x3", limit=50)])
    out.append([r.as_dict() for r in store.query(text='"job 4"', limit=None)])
    out.append(store.count("c", by="level", start=T0 + 33, end=T0 + 811))
    out.append([r.as_dict() for r in store.search("host:h2 OR disk*", limit=30)])
    out.append([r.as_dict() for r in store.search('level:>=warn ~"x[34]"', limit=None)])
    return out


# ----------------------------------------------------------------------- block index
@pytest.mark.parametrize("text, terms", [
    ("NullPointerException", '"nullpointerexception"'),
    ('"disk full" AND Xid*', '"disk" AND "full" AND "xid"*'),
    ('"java.lang.Err"', '"java" AND "lang" AND "err"'),
    ("a OR b", None), ("a NOT b", None), ("NEAR(a b)", None), ("(a b)", None),
    ("field:a", None), ("^a", None),
])
def test_block_index_terms_imply_the_query(text, terms):
    assert _block_terms(text) == terms


# ------------------------------------------------------------ stores before compaction
def previous_release_store(path: str, n: int) -> None:
    """A store as the release before compaction wrote it: no ``compact`` column,
    schema 1, sealed segments with their indexes in the index file."""
    with ccstore.open(path, seal_rows=100, retention=None) as st:
        st.write(lines(n))
        st.flush()
    conn = apsw.Connection(path)
    conn.execute("ALTER TABLE ccstore_segments DROP COLUMN compact")
    conn.execute("UPDATE ccstore_meta SET value='1' WHERE key='schema_version'")
    conn.close()


def test_store_of_previous_release_is_readable_and_compacted(tmp_path):
    old = str(tmp_path / "old.db")
    ref = str(tmp_path / "ref.db")
    previous_release_store(old, 1000)
    previous_release_store(ref, 1000)
    with ccstore.open(ref, seal_rows=100, retention=None) as st:
        st.write(lines(450, start=1000))
        st.flush()
        want = answers(st)
    with ccstore.open(old, seal_rows=100, retention=None, compact=True) as st:
        sealed_before = st.stats()["backend"]["kinds"]["log"]["sealed_segments"]
        assert sealed_before >= 7
        # mixed: old segments as they were, new ones compacted when sealed
        st.write(lines(450, start=1000))
        st.flush()
        assert 0 < st.stats()["backend"]["segments_compacted"] < 13
        assert answers(st) == want
        assert st.compact() >= sealed_before
        assert answers(st) == want
        conn = st.backend._reader()
        assert conn.execute("SELECT count(*) FROM ccstore_segments WHERE state=2 AND "
                            "compact=0").fetchone() == (0,)
        # the sealed segments' row tables and their indexes in the index file are gone
        assert not conn.execute("SELECT name FROM sqlite_schema WHERE name IN "
                                "(SELECT tbl FROM ccstore_segments WHERE state=2)").fetchall()
        assert not conn.execute("SELECT name FROM ix.sqlite_schema WHERE name GLOB 'ccx_*'"
                                ).fetchall()
    with ccstore.open(old, seal_rows=100, retention=None) as st:  # compact off: still read
        assert answers(st) == want
    conn = apsw.Connection(old)
    assert conn.execute("SELECT value FROM ccstore_meta WHERE key='schema_version'"
                        ).fetchone() == ("2",)
    conn.close()



def segment_codecs(path: str) -> dict:
    """Whether each compacted segment's blocks are zstd ones, by segment id."""
    conn = apsw.Connection(path)
    try:
        return {seg: blocks_mod.is_zstd_dictionary(d) for seg, d in conn.execute(
            "SELECT seg, data FROM ccstore_dicts")}
    finally:
        conn.close()


def test_zlib_compacted_segments_stay_readable(tmp_path, monkeypatch):
    """Segments compacted with zlib (the release before zstd) are read, kept by
    retention and sit beside zstd ones: the answers are those of a store that never
    compacted."""
    old = str(tmp_path / "old.db")
    ref = str(tmp_path / "ref.db")
    with ccstore.open(ref, seal_rows=100, retention="10m", compact=False) as st:
        st.write(lines(1500))
        st.flush()
        want = answers(st)
        st.write(lines(500, start=1500))
        st.flush()
        removed = st.apply_retention(now=T0 + 650 + 600)
        want_after = (answers(st), st.count("c", kind="event"))
    monkeypatch.setattr(blocks_mod, "zstandard", None)
    with ccstore.open(old, seal_rows=100, retention="10m", compact=True) as st:
        st.write(lines(1500))
        st.flush()
    monkeypatch.undo()
    zlib_segments = segment_codecs(old)
    assert len(zlib_segments) >= 10 and not any(zlib_segments.values())
    with ccstore.open(old, seal_rows=100, retention="10m", compact=True) as st:
        assert answers(st) == want
        st.write(lines(500, start=1500))
        st.flush()
        codecs = segment_codecs(old)
        assert sorted(seg for seg, z in codecs.items() if not z) == sorted(zlib_segments)
        assert len(codecs) > len(zlib_segments)
        assert st.apply_retention(now=T0 + 650 + 600) == removed > 0
        assert (answers(st), st.count("c", kind="event")) == want_after


def test_cli_compact(tmp_path, capsys):
    path = str(tmp_path / "cli.db")
    previous_release_store(path, 700)
    with ccstore.open(path, retention=None) as st:
        want = answers(st)
    assert cli.main(["compact", "--db", path]) == 0
    assert capsys.readouterr().out.startswith("compacted 6 segments")  # 5 logs, 1 of events
    with ccstore.open(path, retention=None) as st:
        assert answers(st) == want
        assert st.stats()["backend"]["kinds"]["log"]["sealed_segments"] == 5


def test_retention_on_compacted_segments(tmp_path):
    path = str(tmp_path / "r.db")
    ref = str(tmp_path / "ref.db")
    removed = []
    counts = []
    for p, compact in ((ref, False), (path, True)):
        with ccstore.open(p, seal_rows=100, retention="10m", log_retention="15m",
                          compact=compact) as st:
            st.write(lines(2000))
            st.flush()
            # cutoffs inside segments (floors) and past whole ones, twice
            removed.append([st.apply_retention(now=T0 + 650 + 600),
                            st.apply_retention(now=T0 + 1333 + 900)])
            counts.append((answers(st), st.count("c", kind="event")))
    assert removed[0] == removed[1] and removed[0][0] > 0
    assert counts[0] == counts[1]


# ---------------------------------------------------------------------------- crash
CHILD = textwrap.dedent("""
    import os, sys
    import ccstore
    from ccstore.backends.sqlite import compact as compact_mod
    path, n = sys.argv[1], int(sys.argv[2])
    original = compact_mod.CompactSteps._install_blocks

    def install(self, *args):
        original(self, *args)  # the row table is dropped, the blocks are in: not committed
        print("installed", flush=True)
        sys.stdin.readline()  # killed here

    compact_mod.CompactSteps._install_blocks = install
    st = ccstore.open(path, seal_rows=100, retention=None, compact=True, background_seal=False)
    st.write(sys.stdin.readline().replace("|", "\\n"))  # fills segments: seals in the write
""")


def test_kill_9_while_compacting_loses_nothing(tmp_path):
    path = str(tmp_path / "k.db")
    body = lines(350)
    child = subprocess.Popen([sys.executable, "-c", CHILD, path, "350"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child.stdin.write(body.replace("\n", "|") + "\n")
    child.stdin.flush()
    assert child.stdout.readline() == "installed\n"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with ccstore.open(path, seal_rows=100, retention=None, compact=True) as st:
        st.flush()  # the full segments are sealed (and compacted) again
        got = sorted(r.value for k in ("log", "event") for r in st.query(kind=k, limit=None))
        assert len(got) == 350
        conn = st.backend._reader()
        for tbl, state, compact in conn.execute(
                "SELECT tbl, state, compact FROM ccstore_segments"):
            names = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE name IN (?, ?)", (tbl, tbl + "_b"))}
            assert names == ({tbl + "_b"} if compact else {tbl}), (tbl, state, names)
    with ccstore.open(str(tmp_path / "ref.db"), retention=None) as ref:
        ref.write(body)
        assert got == sorted(r.value for k in ("log", "event") for r in ref.query(kind=k,
                                                                                   limit=None))


# ------------------------------------------------------------------------- disk cap
def test_disk_cap_under_a_write_burst(tmp_path):
    seal_rows = 200
    # one segment's bytes: a store holding one full segment, less an empty one
    probe = str(tmp_path / "probe.db")
    with ccstore.open(probe, seal_rows=seal_rows, background_seal=False) as st:
        empty = st.backend.used_bytes()
        st.write(lines(seal_rows - 1))
        segment = st.backend.used_bytes() - empty
    cap = 6 * segment
    path = str(tmp_path / "cap.db")
    with ccstore.open(path, seal_rows=seal_rows, retention=None, compact=True,
                      max_disk_size=cap, background_seal=False) as st:
        for burst in range(60):
            st.write(lines(150, start=burst * 150))
            files = st.backend.file_bytes()  # their size once checkpointed
            assert files <= cap + segment, (burst, files, cap, segment)
        # checkpointed, the files are that size: the space freed went back
        st.backend._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        st.backend._ix.execute("PRAGMA ix.wal_checkpoint(TRUNCATE)")
        assert os.path.getsize(path) + os.path.getsize(path + "-index") <= cap + segment
        stats = st.stats()["backend"]
        assert stats["segments_dropped_for_size"] > 0
        assert stats["rows_dropped_for_size"] > 0
        assert stats["max_disk_size"] == cap and stats["free_pages"] >= 0
        # the newest lines stay, the oldest went
        newest = st.query("c", kind="log", limit=1)[0]
        assert newest.timestamp == T0 + 60 * 150 - 1
        oldest = st.query("c", kind="log", limit=1, order="asc")[0]
        assert oldest.timestamp > T0 + 1000


def test_max_disk_size_in_config_and_open(tmp_path):
    from ccstore.config import parse_storage

    c = parse_storage({"backend": {"type": "sqlite", "database_path": "x.db"},
                       "max_disk_size": "20GB", "compact": True}, "storage.json", str(tmp_path))
    assert c.max_disk_size == 20 * 10**9 and c.store_options()["max_disk_size"] == 20 * 10**9
    assert c.store_options()["compact"] is True
    with pytest.raises(ValueError):
        ccstore.open(str(tmp_path / "y.db"), max_disk_size=0)


def test_full_text_over_many_blocks(tmp_path):
    """Segments of many blocks and groups of blocks in the block index: what a
    compacted store finds is what the row tables find."""
    body = "".join(
        f'ccb,cluster=c,hostname=n{i % 25:02d} log="step {i} of job {i % 13}'
        + (f' needle{i}' if i % 450 == 0 else "") + f'" {T0 + i}\n' for i in range(6000))
    found = []
    for name, compact in (("ref", False), ("cmp", True)):
        with ccstore.open(str(tmp_path / f"{name}.db"), seal_rows=2500, retention=None,
                          compact=compact) as st:
            st.write(body)
            st.flush()
            if compact:
                assert st.backend._reader().execute(
                    "SELECT max(blk) FROM ccs_1_b").fetchone()[0] >= 16
            found.append([[r.as_dict() for r in st.query("c", text=q, limit=None)]
                          for q in ("needle1800", "needle4950", "needle*", '"job 7" AND step',
                                    "needle450 OR needle2250")])
    assert found[0] == found[1]
    assert [len(x) for x in found[0][:3]] == [1, 1, 14]
    # the block index, built apart and copied in, is a sound FTS5 index
    conn = apsw.Connection(str(tmp_path / "cmp.db"))
    names = [n for (n,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%bfts' "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
    assert len(names) == 2
    for name in names:
        conn.execute(f'INSERT INTO "{name}"("{name}") VALUES(\'integrity-check\')')
    conn.close()


def test_host_reads_find_their_blocks_by_binary_search(tmp_path):
    """A segment of many blocks: every host, and names between, before and after
    them, reads what the row tables hold (rows without a host sort first)."""
    text = "".join(
        f'ccb,cluster=c,{f"hostname=h{(i * 7) % 40:02d}," if i % 13 else ""}loglevel=info '
        f'log="line {i}" {T0 + i}\n' for i in range(3000))
    stores = [ccstore.open(str(tmp_path / name), seal_rows=3000, retention=None, **opts)
              for name, opts in (("plain.db", {}), ("compact.db", {"compact": True}))]
    try:
        for st in stores:
            assert st.write(text).ok
            st.flush()
        conn = stores[1].backend._reader()
        tbl = conn.execute("SELECT tbl FROM ccstore_segments WHERE compact=1").fetchone()[0]
        assert conn.execute(f'SELECT count(*) FROM "{tbl}_b"').fetchone()[0] > 20
        names = [f"h{i:02d}" for i in range(40)] + ["", "a", "h", "h05x", "h39", "i", "zz"]
        for h in names:
            for hosts in ([h], [h, "h17"]):
                want, got = (
                    [r.as_dict() for r in st.query("c", hosts=hosts, limit=None)]
                    for st in stores)
                assert got == want, hosts
            assert stores[0].query("c", hosts=h, limit=None) or h not in names[:40]
    finally:
        for st in stores:
            st.close()


#: rows of a segment table, the normal ones (text hosts, integer times) and odd ones
_SEG_ROWS = [(i, T0 + i % 5, "ccb", f"h{(7 * i) % 5}", "node", "0", None, None, None,
              f"message {i}", (T0 + i % 5) * 10**9 + (i * 13) % 7, "info") for i in range(1, 60)]


@pytest.mark.parametrize("odd", [
    [], [(100, T0, "x", None, None, None, None, None, None, "no host", T0, None)],
    [(100, T0, "x", "h1", None, None, None, None, None, b"\x00blob", "later", None)],
    [(100, T0, "x", "h1", None, None, None, None, None, 12, 1.5, None),
     (101, T0, "x", "h1", None, None, None, None, None, 2.5, None, None)],
    [(100, T0, "x", "h\u00e9", None, None, None, None, None, "", -(2**63), None)],
])
@pytest.mark.parametrize("fts", [0, 1])
def test_segment_encoded_in_host_time_id_order(odd, fts):
    """Rows sorted here come out in SQLite's (hostname, time, id) order, with SQLite's
    sort where Python cannot order a column's values; full-text documents are the
    ``field`` texts of a block's rows, as SQLite casts them."""
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE ccstore_segments(tbl TEXT, fts INTEGER)")
    conn.execute("INSERT INTO ccstore_segments VALUES('t', ?)", (fts,))
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, timestamp INTEGER, name TEXT, "
                 "hostname TEXT, type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, othertags, "
                 "field, time INTEGER, level TEXT)")
    conn.executemany(f"INSERT INTO t({', '.join(COLUMNS)}) VALUES({', '.join('?' * 12)})",
                     list(reversed(_SEG_ROWS)) + odd)
    want = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM t "
                        "ORDER BY hostname, time, id").fetchall()
    texts = dict(conn.execute("SELECT id, CAST(field AS TEXT) FROM t"))
    blocks, zdict = encode_segment(conn, "t")
    got, docs = [], []
    for n, _, _, _, _, data, doc in blocks:
        rows = blocks_mod.decode_block(data, zdict=zdict)
        assert len(rows) == n
        got.extend(rows)
        docs.append(doc)
        assert doc == ("\n".join(texts[r[0]] for r in rows if texts[r[0]] is not None)
                       if fts else "")
    assert got == want
    assert encode_segment(conn, "gone") is None


class _ProbeLock:
    """A lock that tells when a thread has to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting = threading.Event()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.waiting.set()
            self._lock.acquire()

    def __exit__(self, *exc) -> None:
        self._lock.release()


def test_flush_beside_the_sealer_seals_each_segment_once(tmp_path, monkeypatch):
    """A flush while the sealer thread compacts a segment waits for it, instead of
    reading and encoding the same segment beside it."""
    entered = threading.Event()
    calls = []

    def encode(conn, tbl):
        calls.append(tbl)
        if len(calls) == 1:  # the sealer: go on once the flush waits (or encodes too)
            entered.set()
            probe.waiting.wait(60)
        else:
            probe.waiting.set()
        return encode_segment(conn, tbl)

    monkeypatch.setattr(seal_mod, "encode_segment", encode)
    st = ccstore.open(str(tmp_path / "s.db"), seal_rows=100, retention=None, compact=True)
    probe = st.backend._seal_lock = _ProbeLock()  # the sealer waits for a full segment
    st.write(lines(150))
    assert entered.wait(60)
    flusher = threading.Thread(target=st.flush)
    flusher.start()
    flusher.join()
    st.close()
    assert len(calls) == len(set(calls)) == 1
