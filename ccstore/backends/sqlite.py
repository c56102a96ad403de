"""SQLite backend (APSW): append-only segments, indexed once sealed.

Measured on this kind of machine, secondary indexes maintained row by row cut
insert speed about four-fold, while building them after the fact is cheap.  So
rows of one (cluster, kind) are appended to an *open segment*: a table without
secondary indexes.  When it holds ``seal_rows`` rows it is marked full in the
same transaction, and afterwards *sealed* by a background thread: its
per-minute counts are summarised, and its ``(hostname, time)`` and ``(time)``
indexes built, both from a read snapshot; then a short write transaction marks
it sealed.

The *index file* (the database's path + ``-index``) holds those indexes: per
sealed segment, two ``WITHOUT ROWID`` tables keyed by the indexed columns and
the row id.  A database has one write lock, and index builds under it stopped
ingest for about 1.2 µs per row; in a file of their own they take only that
file's lock, so they run beside ingest, on another core (SQLite releases the
GIL).  Readers attach the file and walk an index table, looking rows up by id.
The writer does not attach it.  The file can be rebuilt from the database: on
open, segments whose index tables are missing are sealed again.  Segments
sealed before the index file existed keep their indexes in the database.

The *head index*: each process keeps, in memory, the row ids of each host in
the unsealed segments it has written or searched by host, as id runs per host.
The writer adds to it in the write transaction, before it commits; a reader
whose snapshot is ahead of it (another process wrote, or the store was just
opened) first reads the missing ``(id, hostname)`` pairs, by rowid range.  A
host query then reads an unsealed segment by rowid (``id IN carray(?)``)
instead of scanning it.  Leaving out the live host index that this replaces
makes ingest about 1.5 times as fast: every commit no longer rewrites most of
that index's pages into the WAL.

Each write inserts a batch's rows host by host (grouped per host, hosts in
order of first appearance), so that one host's rows of a batch share table
pages instead of one page each: a host query on 10,000,000 stored lines ran
about 1.5x as fast as with rows in arrival order.  Ids therefore follow
arrival order only per host within a write; records are ordered by
``(time, id)`` everywhere.  The rows after a write's first are appended with
``INSERT INTO <segment> VALUES(NULL, ?2, ...)``: APSW's ``executemany`` looks
its statement up again for every row, hashing and comparing the SQL text, and
the short text without a column list made ingest a few percent faster.

Full-text (FTS5, external content) is fed per batch inside the write
transaction: that costs about the same per row as a bulk rebuild and keeps
search exact everywhere.

The catalog ``ccstore_segments`` records each segment's time range, so a query
reads only the segments that overlap its range, and retention drops whole
segments; one that straddles the cutoff gets a *floor* below which its rows are
hidden from every read, and goes as a whole once a later cutoff passes it (so
up to ``seal_rows`` expired rows per cluster and kind stay on disk a while, and
no row is ever deleted one by one).  Row ids are ``segment id << 32 | n``:
unique across the database and kept when rows move, so ``(time, id)`` orders
records totally and a paging cursor stays valid.

For the Go program's readers, each ``<cluster>_events`` / ``<cluster>_logs``
is a view over its segments with the Go program's columns.  A database the Go
program wrote is migrated on open: its tables become sealed segments.

All identifiers are generated (``ccs_<n>``) or quoted; all values are bound.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
import operator
import os
import threading
import time as _time
from array import array
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apsw

from .hostruns import group_by_host
from ..rows import LEVEL_TAG, NS_PER_S, ROW_COLUMNS
from .base import (FULL, GO_COLUMNS, ID_SHIFT, OPEN, SEALED, TABLE_SUFFIX, Backend, GroupKey,
                   QuerySpec, TagCond)

__all__ = ["SQLiteBackend", "quote_ident"]

log = logging.getLogger("ccstore.sqlite")

SCHEMA_VERSION = 1
#: SQLite refuses compound SELECTs of more than 500 terms
MAX_VIEW_SEGMENTS = 450
#: how often a read is started again after the schema changed under it
_READ_ATTEMPTS = 5
#: a head index lookup pays while it names at most this share of the segment's rows
_HEAD_MAX_SHARE = 0.25
#: prepared statements a reader keeps (a query prepares one per segment it reads)
_READER_STATEMENTS = 512
#: WAL pages after which the writer checkpoints itself (the checkpoint thread fell behind)
_WAL_BACKSTOP_PAGES = 4096
#: the index file beside the database: the sealed segments' indexes
INDEX_SUFFIX = "-index"
#: its schema name on the connections that attach it
_IX = "ix"
#: page cache (KiB) of the connection that builds indexes from full segments
_IX_BUILD_CACHE_KIB = 4096
#: a sealed segment's time, for rows without one (sorts where SQLite sorts NULL)
_NO_TIME = -(1 << 63)
INSERT_COLUMNS = ROW_COLUMNS
#: the column list and parameters of an INSERT of a row tuple
_INSERT_COLS = ", ".join(INSERT_COLUMNS)
_INSERT_MARKS = ", ".join("?" * len(INSERT_COLUMNS))
SELECT_COLUMNS = ("id", "time", "timestamp", "name", "hostname", "type", "typeid", "stype",
                  "stypeid", "othertags", "field")

_CATALOG = """
CREATE TABLE IF NOT EXISTS ccstore_meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS ccstore_segments(
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    kind TEXT NOT NULL,
    tbl TEXT NOT NULL DEFAULT '',
    state INTEGER NOT NULL DEFAULT 0,
    fts INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    last_id INTEGER NOT NULL DEFAULT 0,
    min_time INTEGER,
    max_time INTEGER,
    created REAL
);
CREATE INDEX IF NOT EXISTS ccstore_segments_open ON ccstore_segments(cluster, kind, state);
CREATE TABLE IF NOT EXISTS ccstore_counts(
    seg INTEGER NOT NULL, name TEXT, level TEXT, minute INTEGER NOT NULL, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ccstore_counts_seg ON ccstore_counts(seg);
CREATE TABLE IF NOT EXISTS ccstore_state(key TEXT PRIMARY KEY, value TEXT);
"""


def quote_ident(name: str) -> str:
    """SQL identifier quoting: any text becomes one harmless identifier."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def _floor_expr(col: str) -> str:
    """SQL for ``col`` floored to a multiple of the bound parameter (also below 0)."""
    return f"({col} - ((({col} % ?1) + ?1) % ?1))"


@dataclass
class _Segment:
    id: int
    tbl: str
    state: int
    fts: bool
    rows: int
    last_id: int
    min_time: Optional[int]
    max_time: Optional[int]
    cluster: str = ""
    kind: str = ""
    floor: Optional[int] = None  # rows older than this have expired (still on disk)
    ix: int = 0  # 1: sealed, its indexes are in the index file


_SEG_FIELDS = ("id, tbl, state, fts, rows, last_id, min_time, max_time, cluster, kind, floor, "
               "ix")


class FairLock:
    """A lock granted in the order it was asked for.

    Retention and the sealer take the write lock once per segment; with a plain
    lock the thread that has just released it usually takes it again before a
    waiting writer wakes up, so a writer could wait for a whole retention run.
    Here a waiting writer gets the lock between two segments.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that holds the lock (or may take it)
        self._abandoned: set = set()

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: give the turn away
                self._abandoned.add(ticket)
                self._advance()
                raise

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._advance()

    def waiting(self) -> int:
        """Threads that asked for the lock and do not hold it."""
        with self._cond:
            return max(0, self._next - self._serving - 1 - len(self._abandoned))

    def _advance(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()

    def __enter__(self) -> "FairLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Head:
    """Row ids per host of one unsealed segment: every id up to ``last`` is here.

    Each host has an ``array`` of id runs, ``first, last`` pairs: a write inserts
    its rows host by host, so one run per host and write.  Ids only ever join
    (in increasing order), under the backend's head lock: the writer adds the
    rows it inserts before it commits, and a reader that finds ``last`` behind
    the ``last_id`` of its snapshot (another process wrote, or this process has
    just opened the store) first reads the missing ``(id, hostname)`` pairs from
    its snapshot.  Lookups copy arrays, which the GIL makes atomic.  Ids of rows
    that retention deleted may stay: the lookup only narrows a query that still
    tests the hostname.
    """

    __slots__ = ("last", "hosts")

    def __init__(self, last: int) -> None:
        self.last = last
        self.hosts: Dict[Optional[str], array] = {}

    def _join(self, host: Optional[str], first: int, last: int) -> None:
        runs = self.hosts.get(host)
        if runs is None:
            self.hosts[host] = array("q", (first, last))
        elif runs[-1] == first - 1:
            runs[-1] = last
        else:
            runs.extend((first, last))

    def add(self, first: int, runs: Iterable[Tuple[Optional[str], int]]) -> None:
        """Rows from id ``first`` on, given as ``(hostname, count)`` in id order."""
        i = first
        for host, n in runs:
            self._join(host, i, i + n - 1)
            i += n
        if i > first:
            self.last = i - 1

    def catch_up(self, conn: apsw.Connection, seg: "_Segment") -> None:
        """Add the rows of ``seg`` after ``last`` up to ``seg.last_id``, as ``conn`` sees them."""
        for i, h in conn.execute(
                f"SELECT id, hostname FROM {quote_ident(seg.tbl)} WHERE id > ? AND id <= ? "
                "ORDER BY id", (self.last, seg.last_id)):
            self._join(h, i, i)
        self.last = seg.last_id

    def ids(self, hosts: Iterable[str], most: float) -> Optional[array]:
        """The ids of ``hosts``, or None when they are more than ``most``."""
        found = [r for r in map(self.hosts.get, hosts) if r is not None]
        if sum(r[k + 1] - r[k] + 1 for r in found for k in range(0, len(r), 2)) > most:
            return None
        ids = array("q")
        for r in found:
            for k in range(0, len(r), 2):
                ids.extend(range(r[k], r[k + 1] + 1))
        return ids


class SQLiteBackend(Backend):
    """Segments in one SQLite file, written through one connection, read through many."""

    name = "sqlite"

    def __init__(self, path: str, *, fulltext: bool = True, durability: str = "normal",
                 busy_timeout_ms: int = 5000, seal_rows: int = 65536,
                 cache_mb: int = 64, background_seal: bool = True,
                 page_size: int = 16384) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.path = os.fspath(path)
        self.index_path = self.path + INDEX_SUFFIX
        self.fulltext = bool(fulltext)
        self.seal_rows = int(seal_rows)
        self._sync = "FULL" if durability == "full" else "NORMAL"
        self._busy = int(busy_timeout_ms)
        self._cache_kib = int(cache_mb) * 1024
        self._local = threading.local()
        self._heads: Dict[int, _Head] = {}
        self._heads_lock = threading.Lock()
        self._appends: Dict[str, str] = {}  # segment table -> its append statement
        self._readers: List[apsw.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._lock = FairLock()  # the write lock: writes, sealing, retention, close
        self._ix_lock = threading.Lock()  # this process's writes to the index file
        self._stats = {"transactions": 0, "rows_written": 0, "segments_sealed": 0,
                       "seal_seconds": 0.0, "segments_dropped": 0, "rows_expired": 0,
                       "seal_errors": 0, "checkpoints": 0}
        # Sealing in a thread of its own: SQLite releases the GIL while it builds
        # indexes, so callers decode their next batches meanwhile.
        self._seal_wanted = threading.Event()
        self._stopping = False
        self._sealer: Optional[threading.Thread] = None
        # Checkpoints (copying committed WAL pages into the database file) in a
        # thread of their own too: the writer no longer does that work in every
        # few commits; it checkpoints itself only when the WAL outgrows
        # _WAL_BACKSTOP_PAGES, i.e. when the thread falls behind.
        self._checkpoint_wanted = threading.Event()
        self._checkpointer: Optional[threading.Thread] = None
        self._w = self._connect()
        # a new file only: the page size of an existing database stays
        self._w.execute(f"PRAGMA page_size={int(page_size)}")
        self._w.execute("PRAGMA journal_mode=WAL")
        self._size_caches(self._w, ("main",), self._cache_kib)  # now at its page size
        self._ix = self._connect(attach=True)  # builds and drops the indexes there
        self._ix.execute(f"PRAGMA {_IX}.page_size={int(page_size)}")
        self._ix.execute(f"PRAGMA {_IX}.journal_mode=WAL")
        # it reads each full segment once: a small cache, not one that grows with them
        self._size_caches(self._ix, ("main", _IX), _IX_BUILD_CACHE_KIB)
        self._ix.execute(f"PRAGMA {_IX}.synchronous={self._sync}")
        self._ix.execute(f"CREATE TABLE IF NOT EXISTS {_IX}.ccstore_ix(key TEXT PRIMARY KEY, "
                         "value TEXT)")
        self._setup()
        self._drop_orphan_indexes()
        if background_seal:
            self._w.execute(f"PRAGMA wal_autocheckpoint={_WAL_BACKSTOP_PAGES}")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, args=(self._connect(),),
                name="ccstore-checkpoint", daemon=True)
            self._checkpointer.start()
            self._sealer = threading.Thread(target=self._seal_loop, name="ccstore-sealer",
                                            daemon=True)
            self._sealer.start()

    def _checkpoint_loop(self, conn: apsw.Connection) -> None:
        try:
            while True:
                self._checkpoint_wanted.wait()
                self._checkpoint_wanted.clear()
                if self._stopping:
                    return
                try:  # PASSIVE: never waits for, nor blocks, the writer or readers
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self._stats["checkpoints"] += 1
                except apsw.Error:
                    log.exception("checkpoint of %s failed", self.path)
        finally:
            conn.close()

    def _seal_loop(self) -> None:
        while True:
            self._seal_wanted.wait()
            self._seal_wanted.clear()
            if self._stopping:
                return
            try:
                self.seal_full()
            except Exception:  # noqa: BLE001 - kept FULL, sealed on the next try or open
                self._stats["seal_errors"] += 1
                log.exception("sealing segments of %s failed", self.path)

    def flush(self) -> None:
        """Seal every full segment now (normally done in the background)."""
        self.seal_full()

    # ------------------------------------------------------------------ connections
    def _connect(self, readonly: bool = False, statements: int = 32,
                 attach: bool = False) -> apsw.Connection:
        """A connection to the store; ``attach``: with the index file as ``ix``.

        The writer must not attach it: ``BEGIN IMMEDIATE`` would take the index
        file's write lock too, and wait for every index build."""
        flags = apsw.SQLITE_OPEN_READONLY if readonly else (
            apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
        conn = apsw.Connection(self.path, flags=flags, statementcachesize=statements)
        conn.set_busy_timeout(self._busy)
        if attach:
            conn.execute(f"ATTACH DATABASE ? AS {_IX}", (self.index_path,))
        conn.execute(f"PRAGMA synchronous={self._sync}")
        conn.execute("PRAGMA temp_store=MEMORY")
        self._size_caches(conn, ("main", _IX) if attach else ("main",), self._cache_kib)
        return conn

    @staticmethod
    def _size_caches(conn: apsw.Connection, schemas: Sequence[str], kib: int) -> None:
        """Cap the page cache of each schema at ``kib`` KiB.

        SQLite turns a size in KiB into pages by the page size it knows when the
        pragma runs: before the file's header was read (or its page size set),
        that is the default 4 KiB, and 16 KiB pages then fill four times the
        memory.  So each file is read first."""
        for schema in schemas:
            conn.execute(f"SELECT 1 FROM {schema}.sqlite_schema LIMIT 1").fetchall()
            conn.execute(f"PRAGMA {schema}.cache_size=-{int(kib)}")

    def _reader(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the store is closed")
            # a query prepares one statement per segment it reads: keep those of
            # every segment a store usually holds
            conn = self._connect(statements=_READER_STATEMENTS, attach=True)
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _read(self, fn, *args):
        """Run ``fn(conn, *args)`` on this thread's reader inside one read transaction.

        One snapshot covers the catalog and the segment tables, so a segment that
        retention drops or the sealer changes meanwhile is either wholly there or
        wholly gone.  A schema change committed between the reader's last look at
        the schema and the snapshot can still make SQLite refuse a statement (an
        FTS5 table's constructor reports it as a failure); the read is then run
        again from the start, on the new schema.
        """
        conn = self._reader()
        if not conn.getautocommit():  # already inside a snapshot of this thread
            return fn(conn, *args)
        for attempt in range(_READ_ATTEMPTS):
            conn.execute("BEGIN")
            try:
                return fn(conn, *args)
            except (apsw.SchemaChangeError, apsw.SQLError) as exc:
                # an index table that retention dropped after this snapshot's
                # catalog was read, or one sealed between the two snapshots
                if attempt == _READ_ATTEMPTS - 1 or (
                        isinstance(exc, apsw.SQLError)
                        and f"no such table: {_IX}." not in str(exc)):
                    raise
            finally:
                if not conn.getautocommit():
                    conn.execute("ROLLBACK")  # read only: just ends the snapshot
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._stopping = True
        if self._sealer is not None:
            self._seal_wanted.set()
            self._sealer.join()
            self._sealer = None
        if self._checkpointer is not None:
            self._checkpoint_wanted.set()
            self._checkpointer.join()
            self._checkpointer = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._readers_lock:
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
            try:
                self._w.execute("PRAGMA optimize")
            except apsw.Error:
                pass
            self._w.close()
            with self._ix_lock:
                self._ix.close()

    # ------------------------------------------------------------------ transactions
    def _begin(self) -> None:
        self._w.execute("BEGIN IMMEDIATE")

    def _txn(self, fn, *args):
        """Run ``fn`` in one write transaction on the writer connection."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._begin()
            try:
                result = fn(*args)
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")
            self._stats["transactions"] += 1
            self._checkpoint_wanted.set()
            return result

    # ------------------------------------------------------------------ schema
    def _setup(self) -> None:
        def setup() -> None:
            self._w.execute(_CATALOG)
            cols = {r[1] for r in self._w.execute("PRAGMA table_info(ccstore_segments)")}
            if "floor" not in cols:  # written by an earlier ccstore
                self._w.execute("ALTER TABLE ccstore_segments ADD COLUMN floor INTEGER")
            if "ix" not in cols:  # sealed before the index file: indexes in this file
                self._w.execute(
                    "ALTER TABLE ccstore_segments ADD COLUMN ix INTEGER NOT NULL DEFAULT 0")
            # indexes the index file lost (deleted, or not yet written to disk when
            # the machine stopped): those segments are sealed again
            have = self._index_file_tables()
            for (seg_id,) in self._w.execute(
                    "SELECT id FROM ccstore_segments WHERE ix=1").fetchall():
                if not have.issuperset(_index_tables(seg_id)):
                    self._w.execute("UPDATE ccstore_segments SET state=?, ix=0 WHERE id=?",
                                    (FULL, seg_id))
            row = self._w.execute(
                "SELECT value FROM ccstore_meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._w.execute(
                    "INSERT INTO ccstore_meta(key, value) VALUES('schema_version', ?)",
                    (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: written by a newer ccstore (schema {row[0]} > "
                    f"{SCHEMA_VERSION})")
            for cluster, kind in self._migrate_go_tables():
                self._refresh_view(cluster, kind)
        self._txn(setup)
        self.seal_full()

    def _go_tables(self) -> List[Tuple[str, str, str, str]]:
        """Tables written by the Go program: (table, cluster, kind, payload column)."""
        found = []
        names = [r[0] for r in self._w.execute(
            "SELECT name FROM sqlite_schema WHERE type='table'")]
        for name in names:
            for kind, suffix in TABLE_SUFFIX.items():
                if not name.endswith(suffix) or len(name) == len(suffix):
                    continue
                cols = {r[1] for r in self._w.execute(
                    f"PRAGMA table_info({quote_ident(name)})")}
                payload = next((c for c in ("field", "event", "log") if c in cols), None)
                if payload and set(GO_COLUMNS) <= cols:
                    found.append((name, name[: -len(suffix)], kind, payload))
        return found

    def _migrate_go_tables(self) -> List[Tuple[str, str]]:
        """Turn each table of the Go program into a segment (once, on open)."""
        migrated = []
        for table, cluster, kind, payload in self._go_tables():
            seg_id = self._new_segment_row(cluster, kind)
            tbl = f"ccs_{seg_id}"
            q = quote_ident(tbl)
            self._w.execute(f"ALTER TABLE {quote_ident(table)} RENAME TO {q}")
            if payload != "field":
                self._w.execute(f"ALTER TABLE {q} RENAME COLUMN {quote_ident(payload)} TO field")
            self._w.execute(f"ALTER TABLE {q} ADD COLUMN time INTEGER")
            self._w.execute(f"ALTER TABLE {q} ADD COLUMN level TEXT")
            self._w.execute(
                f"UPDATE {q} SET id = id + ?, time = timestamp * {NS_PER_S}, "
                f"level = CASE WHEN json_valid(othertags) THEN json_extract(othertags, ?) END",
                (seg_id << ID_SHIFT, f"$.{LEVEL_TAG[kind]}"))
            rows, last_id, mn, mx = self._w.execute(
                f"SELECT count(*), coalesce(max(id), ?), min(time), max(time) FROM {q}",
                (seg_id << ID_SHIFT,)).fetchone()
            self._w.execute(
                "UPDATE ccstore_segments SET tbl=?, state=?, rows=?, last_id=?, min_time=?, "
                "max_time=? WHERE id=?", (tbl, FULL, rows, last_id, mn, mx, seg_id))
            if self.fulltext:
                self._create_fts(tbl)
                fq = quote_ident(tbl + "_fts")
                self._w.execute(f"INSERT INTO {fq}({fq}) VALUES('rebuild')")
                self._w.execute("UPDATE ccstore_segments SET fts=1 WHERE id=?", (seg_id,))
            migrated.append((cluster, kind))
        return migrated

    def _new_segment_row(self, cluster: str, kind: str) -> int:
        self._w.execute(
            "INSERT INTO ccstore_segments(cluster, kind, created) VALUES(?, ?, ?)",
            (cluster, kind, _time.time()))
        return self._w.last_insert_rowid()

    def _create_fts(self, tbl: str) -> None:
        self._w.execute(
            f"CREATE VIRTUAL TABLE {quote_ident(tbl + '_fts')} USING fts5("
            # columnsize=0: no per-row size records, which only ranking (bm25) reads
            f"field, content={quote_ident(tbl)}, content_rowid='id', columnsize=0)")

    def _create_segment(self, cluster: str, kind: str) -> _Segment:
        seg_id = self._new_segment_row(cluster, kind)
        tbl = f"ccs_{seg_id}"
        self._w.execute(
            f"CREATE TABLE {quote_ident(tbl)}(id INTEGER PRIMARY KEY, timestamp INTEGER, "
            "name TEXT, hostname TEXT, type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, "
            "othertags JSON, field TEXT, time INTEGER NOT NULL, level TEXT)")
        if self.fulltext:
            self._create_fts(tbl)
        last_id = seg_id << ID_SHIFT
        self._w.execute("UPDATE ccstore_segments SET tbl=?, fts=?, last_id=? WHERE id=?",
                        (tbl, int(self.fulltext), last_id, seg_id))
        self._refresh_view(cluster, kind)
        with self._heads_lock:
            self._heads[seg_id] = _Head(last_id)
        return _Segment(seg_id, tbl, OPEN, self.fulltext, 0, last_id, None, None, cluster, kind)

    def _refresh_view(self, cluster: str, kind: str) -> None:
        """(Re)create ``<cluster>_<kind>s`` as a view with the Go program's columns."""
        view = cluster + TABLE_SUFFIX[kind]
        existing = self._w.execute(
            "SELECT type FROM sqlite_schema WHERE name=?", (view,)).fetchone()
        if existing is not None and existing[0] != "view":
            return  # a table of that name that is not ours: leave it alone
        self._w.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
        tables = self._w.execute(
            "SELECT tbl, floor FROM ccstore_segments WHERE cluster=? AND kind=? AND tbl != '' "
            "ORDER BY id", (cluster, kind)).fetchall()
        if not tables or len(tables) > MAX_VIEW_SEGMENTS:
            return
        cols = "id, timestamp, name, hostname, type, typeid, stype, stypeid, othertags, field"
        body = " UNION ALL ".join(
            f"SELECT {cols} FROM {quote_ident(t)}"
            + ("" if floor is None else f" WHERE time >= {int(floor)}")
            for t, floor in tables)
        self._w.execute(f"CREATE VIEW {quote_ident(view)} AS {body}")

    # ------------------------------------------------------------------ writing
    def _open_segment(self, cluster: str, kind: str) -> _Segment:
        row = self._w.execute(
            f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE cluster=? AND kind=? AND state=? "
            "ORDER BY id DESC LIMIT 1", (cluster, kind, OPEN)).fetchone()
        if row is None:
            return self._create_segment(cluster, kind)
        return _Segment(*row[:3], bool(row[3]), *row[4:])

    def _head(self, conn: apsw.Connection, seg: _Segment) -> _Head:
        """The head index of unsealed ``seg``, caught up to the ``last_id`` that
        ``conn`` sees (call with the head lock held)."""
        head = self._heads.get(seg.id)
        if head is None:
            # a new segment: forget those sealed or dropped since (also by others)
            unsealed = {r[0] for r in conn.execute(
                "SELECT id FROM ccstore_segments WHERE state != ?", (SEALED,))}
            for gone in [k for k in self._heads if k not in unsealed]:
                del self._heads[gone]
            head = self._heads[seg.id] = _Head(seg.id << ID_SHIFT)
        if head.last < seg.last_id:
            head.catch_up(conn, seg)
        return head

    def write(self, groups: Dict[Tuple[str, str], List[tuple]],
              state: Optional[Dict[str, str]] = None) -> None:
        if not groups and not state:
            return
        try:
            full = self._txn(self._write_txn, groups, state)
        except BaseException:
            with self._heads_lock:  # may name rows that were rolled back: rebuilt on use
                self._heads.clear()
            raise
        if full:
            if self._sealer is not None:
                self._seal_wanted.set()
            else:
                self.seal_full()

    def _write_txn(self, groups: Dict[Tuple[str, str], List[tuple]],
                   state: Optional[Dict[str, str]]) -> bool:
        full = False
        for (cluster, kind), rows in groups.items():
            pos, n = 0, len(rows)
            while pos < n:
                seg = self._open_segment(cluster, kind)
                if seg.rows >= self.seal_rows:  # the store was opened with a smaller seal_rows
                    self._w.execute("UPDATE ccstore_segments SET state=? WHERE id=?",
                                    (FULL, seg.id))
                    full = True
                    continue
                take = min(n - pos, self.seal_rows - seg.rows)
                # host by host, within the rows of this segment (its time range stays)
                part, runs, mn, mx = group_by_host(rows[pos:pos + take] if take < n else rows,
                                                   _HOSTNAME_AT, _TIME_AT)
                pos += take
                q = quote_ident(seg.tbl)
                first = seg.last_id + 1
                # the first row's id is explicit: ids continue the segment's range
                # even when retention emptied the table
                self._w.execute(f"INSERT INTO {q}(id, {_INSERT_COLS}) VALUES(?, {_INSERT_MARKS})",
                                (first,) + tuple(part[0]))
                if take > 1:
                    self._w.executemany(self._append_sql(seg.tbl),
                                        itertools.islice(part, 1, None))
                last = self._w.last_insert_rowid() if take > 1 else first
                if last - first + 1 != take:
                    raise RuntimeError(f"{seg.tbl}: ids {first}..{last} for {take} rows")
                with self._heads_lock:
                    head = self._head(self._w, seg)
                    if head.last != first - 1:
                        raise RuntimeError(
                            f"{seg.tbl}: head index at {head.last}, rows from {first}")
                    head.add(first, runs)
                if seg.fts:
                    fq = quote_ident(seg.tbl + "_fts")
                    self._w.execute(
                        f"INSERT INTO {fq}(rowid, field) SELECT id, field FROM {q} "
                        "WHERE id BETWEEN ? AND ?", (first, last))
                rows_now = seg.rows + take
                new_state = FULL if rows_now >= self.seal_rows else OPEN
                full = full or new_state == FULL
                self._w.execute(
                    "UPDATE ccstore_segments SET rows=?3, last_id=?4, state=?5, "
                    "min_time=min(coalesce(min_time, ?1), ?1), "
                    "max_time=max(coalesce(max_time, ?2), ?2) WHERE id=?6",
                    (mn, mx, rows_now, last, new_state, seg.id))
                self._stats["rows_written"] += take
        if state:
            self._w.executemany(
                "INSERT INTO ccstore_state(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [(str(k), None if v is None else str(v)) for k, v in state.items()])
        return full

    def _append_sql(self, tbl: str) -> str:
        """The statement that appends a row tuple to segment ``tbl``, ids following.

        As short as it can be: APSW's ``executemany`` looks the statement up in
        its cache again for every row, hashing and comparing the SQL text, which
        for the column-list form is a few percent of an append.
        """
        sql = self._appends.get(tbl)
        if sql is None:
            cols = [r[1] for r in self._w.execute(f"PRAGMA table_info({quote_ident(tbl)})")]
            if cols[0] == "id" and sorted(cols[1:]) == sorted(INSERT_COLUMNS):
                sql = (f"INSERT INTO {quote_ident(tbl)} VALUES(NULL,"
                       + ",".join(f"?{INSERT_COLUMNS.index(c) + 1}" for c in cols[1:]) + ")")
            else:
                sql = f"INSERT INTO {quote_ident(tbl)}({_INSERT_COLS}) VALUES({_INSERT_MARKS})"
            if len(self._appends) >= 64:
                self._appends.clear()
            self._appends[tbl] = sql
        return sql

    def seal_full(self) -> int:
        """Index and summarise every full segment, one at a time.

        The per-minute counts are read from a snapshot, and the indexes built in
        the index file from a snapshot too: neither takes the database's write
        lock, so ingest goes on meanwhile.  A short write transaction then stores
        the counts (or counts again itself if the segment changed meanwhile) and
        marks the segment sealed.
        """
        sealed = 0
        while not (self._stopping and threading.current_thread() is self._sealer):
            t0 = _time.perf_counter()
            found = self._read(self._next_full)
            if found is None:
                return sealed
            seg_id, tbl, shape, counts = found
            if not self._build_indexes(seg_id, tbl):
                continue  # dropped by retention meanwhile
            if self._txn(self._seal_txn, seg_id, tbl, shape, counts) is None:
                self._drop_indexes([seg_id])  # retention dropped it meanwhile
                continue
            with self._heads_lock:
                self._heads.pop(seg_id, None)
            self._stats["seal_seconds"] += _time.perf_counter() - t0
            self._stats["segments_sealed"] += 1
            sealed += 1
        return sealed

    def _next_full(self, conn: apsw.Connection) -> Optional[tuple]:
        row = conn.execute(
            "SELECT id, tbl, rows, min_time FROM ccstore_segments WHERE state=? "
            "ORDER BY id LIMIT 1", (FULL,)).fetchone()
        if row is None:
            return None
        seg_id, tbl, rows, min_time = row
        counts = conn.execute(_summary_sql(tbl), (60,)).fetchall()
        return seg_id, tbl, (rows, min_time), counts

    def _seal_txn(self, seg_id: int, tbl: str, shape: tuple,
                  counts: List[tuple]) -> Optional[bool]:
        """Mark ``seg_id`` sealed: True, False if already sealed, None if it is gone."""
        row = self._w.execute("SELECT state, rows, min_time FROM ccstore_segments WHERE id=?",
                              (seg_id,)).fetchone()
        if row is None:
            return None  # dropped by retention
        if row[0] != FULL:
            return False  # sealed by another process
        if tuple(row[1:]) == shape:
            self._store_counts(seg_id, counts)
        else:
            self._summarise(seg_id, tbl)
        self._w.execute("UPDATE ccstore_segments SET state=?, ix=1 WHERE id=?", (SEALED, seg_id))
        return True

    # ------------------------------------------------------------------ the index file
    def _build_indexes(self, seg_id: int, tbl: str) -> bool:
        """Build the indexes of full segment ``seg_id`` in the index file, from a
        snapshot of the database; False if the segment is gone.

        Each index is a table of its own keyed by the indexed columns and the
        row id (``WITHOUT ROWID``), filled in key order, in one transaction of
        the index file: readers see all of it or none.
        """
        host, tm = (f"{_IX}.{quote_ident(t)}" for t in _index_tables(seg_id))
        q = quote_ident(tbl)
        try:
            with self._ix_txn() as ix:
                ix.execute(f"DROP TABLE IF EXISTS {host}")
                ix.execute(f"DROP TABLE IF EXISTS {tm}")
                ix.execute(f"CREATE TABLE {host}(h TEXT, tm INTEGER, rid INTEGER, "
                           "PRIMARY KEY(h, tm, rid)) WITHOUT ROWID")
                ix.execute(f"INSERT INTO {host} SELECT hostname, coalesce(time, ?), id FROM {q} "
                           "WHERE hostname IS NOT NULL ORDER BY 1, 2, 3", (_NO_TIME,))
                ix.execute(f"CREATE TABLE {tm}(tm INTEGER, rid INTEGER, "
                           "PRIMARY KEY(tm, rid)) WITHOUT ROWID")
                ix.execute(f"INSERT INTO {tm} SELECT coalesce(time, ?), id FROM {q} "
                           "ORDER BY 1, 2", (_NO_TIME,))
        except apsw.SQLError as exc:
            if f"no such table: {tbl}" in str(exc):
                return False
            raise
        return True

    @contextlib.contextmanager
    def _ix_txn(self) -> Iterator[apsw.Connection]:
        """A transaction that writes the index file and at most reads the database.

        ``BEGIN IMMEDIATE`` would lock both files for writing; so a deferred
        transaction whose first statement writes the index file, which takes
        its write lock at once (waiting while another process holds it), rather
        than upgrading a read, which fails at once after a commit elsewhere.
        """
        with self._ix_lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            ix = self._ix
            ix.execute("BEGIN")
            try:
                ix.execute(f"INSERT OR REPLACE INTO {_IX}.ccstore_ix(key, value) "
                           "VALUES('written', ?)", (str(_time.time()),))
                yield ix
            except BaseException:
                ix.execute("ROLLBACK")
                raise
            ix.execute("COMMIT")

    def _index_file_tables(self) -> set:
        """Names of the index tables in the index file."""
        with self._ix_lock:
            return {r[0] for r in self._ix.execute(
                f"SELECT name FROM {_IX}.sqlite_schema WHERE type='table' AND name GLOB 'ccx_*'")}

    def _drop_indexes(self, seg_ids: Iterable[int]) -> None:
        """Drop the index tables of segments that retention dropped."""
        if self._closed:
            return
        for seg_id in seg_ids:
            with self._ix_txn() as ix:
                for t in _index_tables(seg_id):
                    ix.execute(f"DROP TABLE IF EXISTS {_IX}.{quote_ident(t)}")

    def _drop_orphan_indexes(self) -> None:
        """Drop index tables whose segment is gone (retention stopped between the two)."""
        names = self._index_file_tables()
        with self._ix_lock:
            live = {r[0] for r in self._ix.execute("SELECT id FROM main.ccstore_segments")}
        gone = {int(n.split("_")[1]) for n in names if n.split("_")[1].isdigit()} - live
        if gone:
            self._drop_indexes(sorted(gone))

    def _summarise(self, seg_id: int, tbl: str) -> None:
        self._store_counts(seg_id, self._w.execute(_summary_sql(tbl), (60,)).fetchall())

    def _store_counts(self, seg_id: int, counts: List[tuple]) -> None:
        self._w.execute("DELETE FROM ccstore_counts WHERE seg=?", (seg_id,))
        self._w.executemany(
            "INSERT INTO ccstore_counts(seg, name, level, minute, n) VALUES(?, ?, ?, ?, ?)",
            [(seg_id,) + c for c in counts])

    def get_state(self, key: str) -> Optional[str]:
        row = self._reader().execute(
            "SELECT value FROM ccstore_state WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ reading
    def _segments(self, conn: apsw.Connection, spec: QuerySpec) -> List[_Segment]:
        sql = [f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE kind=? AND rows > 0 "
               "AND tbl != ''"]
        args: list = [spec.kind]
        if spec.clusters is not None:
            sql.append(f"AND cluster IN ({', '.join('?' * len(spec.clusters))})")
            args.extend(spec.clusters)
        if spec.start is not None:
            sql.append("AND max_time >= ?")
            args.append(spec.start)
        if spec.end is not None:
            sql.append("AND min_time <= ?")
            args.append(spec.end)
        return [_Segment(*r[:3], bool(r[3]), *r[4:]) for r in conn.execute(" ".join(sql), args)]

    def _source(self, seg: _Segment, spec: QuerySpec, counting: bool = False) -> Optional[str]:
        """Which index of sealed ``seg`` in the index file drives the read:
        ``"host"``, ``"time"``, or None (the table alone, or its own indexes)."""
        if not seg.ix:
            return None
        if "hostname" in spec.columns:
            return "host"
        if spec.text is not None:
            return None  # the full-text index finds the rows
        if counting and not self._cuts(seg, spec):
            return None  # every row of the segment counts: a plain scan
        return "time"

    @staticmethod
    def _bounds(seg: _Segment, spec: QuerySpec) -> Tuple[Optional[int], Optional[int]]:
        """The first and last time a read of ``seg`` must test, None where every row
        of ``seg`` passes (its floor hides the rows below it)."""
        start = spec.start
        if seg.floor is not None and (start is None or start < seg.floor):
            start = seg.floor
        if start is not None and seg.min_time is not None and seg.min_time >= start:
            start = None
        end = spec.end
        if end is not None and seg.max_time is not None and seg.max_time <= end:
            end = None
        return start, end

    def _cuts(self, seg: _Segment, spec: QuerySpec) -> bool:
        """Whether the time range of ``spec`` leaves out part of ``seg``."""
        return self._bounds(seg, spec) != (None, None)

    def _from(self, seg: _Segment, via: Optional[str]) -> str:
        q = quote_ident(seg.tbl)
        if via is None:
            return q
        host, tm = _index_tables(seg.id)
        x = quote_ident(host if via == "host" else tm)
        # CROSS JOIN: the index walks, the table is looked up by row id
        return f"{_IX}.{x} AS x CROSS JOIN {q} AS t ON t.id = x.rid"

    def _where(self, conn: apsw.Connection, seg: _Segment, spec: QuerySpec,
               with_after: bool = True, via: Optional[str] = None) -> Tuple[str, list]:
        conds: List[str] = []
        args: list = []
        # read through an index table, conditions on its columns (x.h is the
        # hostname, x.tm the time, NULL stored as _NO_TIME) bound its walk
        tm, rid = _order_columns(via)
        start, end = self._bounds(seg, spec)
        if start is not None:
            conds.append(f"{tm} >= ?")
            args.append(start)
        if end is not None:
            conds.append(f"{tm} <= ?")
            args.append(end)
            if via and start is None:
                conds.append("x.tm > ?")  # a NULL time fails a time condition
                args.append(_NO_TIME)
        for col, values in spec.columns.items():
            conds.append(_in_cond("x.h" if via == "host" and col == "hostname" else col,
                                  len(values)))
            args.extend(values)
        if "hostname" in spec.columns and seg.state != SEALED:
            ids = self._head_ids(conn, seg, spec.columns["hostname"])
            if ids is not None and not ids:
                conds.append("0")  # none of these hosts wrote here
            elif ids is not None:
                conds.append(_ID_IN_ARRAY)
                args.append(_bind_ids(ids))
        for col, values in spec.exclude.items():
            conds.append(_in_cond(col, len(values), negate=True))
            args.extend(values)
        if spec.levels is not None:
            conds.append(_in_cond("level", len(spec.levels.values), spec.levels.negate))
            args.extend(spec.levels.values)
        for tc in spec.tags:
            sql, targs = _tag_cond(tc)
            conds.append(sql)
            args.extend(targs)
        if spec.text is not None:
            if seg.fts:
                fq = quote_ident(seg.tbl + "_fts")
                conds.append(f"id IN (SELECT rowid FROM {fq} WHERE {fq} MATCH ?)")
                args.append(spec.text)
            else:
                for word in _plain_terms(spec.text):
                    conds.append("instr(lower(field), ?) > 0")
                    args.append(word)
        if with_after and spec.after is not None:
            t, i = spec.after
            op = "<" if spec.order == "desc" else ">"
            conds.append(f"({tm} {op} ? OR ({tm} = ? AND {rid} {op} ?))")
            args.extend((t, t, i))
        return (" AND ".join(conds) or "1"), args

    def _head_ids(self, conn: apsw.Connection, seg: _Segment,
                  hosts: Sequence[str]) -> Optional[array]:
        """Ids of ``hosts`` in unsealed ``seg`` (as of this snapshot) from the head
        index, or None where that would not spare much of a scan."""
        head = self._heads.get(seg.id)
        if head is None or head.last < seg.last_id:
            with self._heads_lock:
                head = self._head(conn, seg)
        return head.ids(hosts, _HEAD_MAX_SHARE * seg.rows)

    def query(self, spec: QuerySpec) -> List[tuple]:
        return self._read(self._query, spec)

    def _query(self, conn: apsw.Connection, spec: QuerySpec) -> List[tuple]:
        desc = spec.order == "desc"
        segs = self._segments(conn, spec)
        # visit the segments most likely to hold the first records first, and stop
        # once no remaining segment can beat the records already found
        segs.sort(key=(lambda s: -(s.max_time or 0)) if desc else (lambda s: s.min_time or 0))
        limit = spec.limit
        found: List[tuple] = []
        cols = ", ".join(SELECT_COLUMNS)
        direction = "DESC" if desc else "ASC"
        merged = True  # found is in result order, cut to limit
        for seg in segs:
            if limit is not None and len(found) >= limit:
                if not merged:
                    found.sort(key=_ORDER_KEY, reverse=desc)  # sorted runs: linear in C
                    del found[limit:]
                    merged = True
                worst = found[limit - 1][3]
                if (desc and (seg.max_time or 0) < worst) or (
                        not desc and (seg.min_time or 0) > worst):
                    break
            via = self._source(seg, spec)
            where, args = self._where(conn, seg, spec, via=via)
            tm, rid = _order_columns(via)
            sql = (f"SELECT {cols} FROM {self._from(seg, via)} WHERE {where} "
                   f"ORDER BY {tm} {direction}, {rid} {direction}")
            if limit is not None:
                sql += " LIMIT ?"
                args.append(limit)
            rows = self._run(conn, sql, args)
            if rows:
                # cluster and kind are added here: cheaper than SQLite handing
                # out the same two strings with every row
                found.extend(map((seg.cluster, seg.kind).__add__, rows))
                merged = False
        if not merged:
            found.sort(key=_ORDER_KEY, reverse=desc)
            if limit is not None:
                del found[limit:]
        return found

    def _run(self, conn: apsw.Connection, sql: str, args: Sequence) -> List[tuple]:
        try:
            return conn.execute(sql, args).fetchall()
        except apsw.SQLError as exc:
            if "fts5" in str(exc):
                raise ValueError(f"invalid full-text query: {exc}") from None
            raise

    def count(self, spec: QuerySpec, by: Sequence[GroupKey],
              interval: Optional[int]) -> List[tuple]:
        return self._read(self._count, spec, by, interval)

    def _count(self, conn: apsw.Connection, spec: QuerySpec, by: Sequence[GroupKey],
               interval: Optional[int]) -> List[tuple]:
        totals: Dict[tuple, int] = {}
        summarised: List[int] = []
        for seg in self._segments(conn, spec):
            if self._summary_covers(seg, spec, by, interval):
                summarised.append(seg.id)
                continue
            exprs, eargs = _group_exprs(by, "time", interval, seg.cluster)
            via = self._source(seg, spec, counting=True)
            where, wargs = self._where(conn, seg, spec, with_after=False, via=via)
            select = ", ".join(exprs + ["count(*)"])
            group = ", ".join(str(i + 1) for i in range(len(exprs)))
            sql = f"SELECT {select} FROM {self._from(seg, via)} WHERE {where}"
            if group:
                sql += f" GROUP BY {group}"
            for row in self._run(conn, sql, eargs + wargs):
                if row[-1]:
                    totals[row[:-1]] = totals.get(row[:-1], 0) + row[-1]
        if summarised:
            for row in self._count_summaries(conn, summarised, spec, by, interval):
                totals[row[:-1]] = totals.get(row[:-1], 0) + row[-1]
        return sorted((k + (v,) for k, v in totals.items()),
                      key=lambda r: tuple((x is None, x) for x in r[:-1]))

    def _summary_covers(self, seg: _Segment, spec: QuerySpec, by: Sequence[GroupKey],
                        interval: Optional[int]) -> bool:
        """Whether the per-minute summary of ``seg`` answers this count exactly."""
        if (seg.state != SEALED or seg.floor is not None or spec.tags or spec.exclude
                or spec.text is not None):
            return False
        if set(spec.columns) - {"name"}:
            return False
        if any(k not in (("column", "name"), ("level", spec.level_tag), ("cluster", ""))
               for k in by):
            return False
        if interval is not None and interval % (60 * NS_PER_S):
            return False
        inside_start = spec.start is None or (seg.min_time or 0) >= spec.start
        inside_end = spec.end is None or (seg.max_time or 0) <= spec.end
        return inside_start and inside_end

    def _count_summaries(self, conn: apsw.Connection, segs: List[int], spec: QuerySpec,
                         by: Sequence[GroupKey], interval: Optional[int]) -> List[tuple]:
        exprs: List[str] = []
        args: list = []
        for kind, key in by:
            if kind == "cluster":
                exprs.append("(SELECT cluster FROM ccstore_segments s WHERE s.id = c.seg)")
            elif kind == "level":
                exprs.append("c.level")
            else:
                exprs.append("c.name")
        if interval is not None:
            step = interval // NS_PER_S
            exprs.append(f"((c.minute - (((c.minute % {step}) + {step}) % {step})) "
                         f"* {NS_PER_S})")
        conds = [f"c.seg IN ({', '.join('?' * len(segs))})"]
        args.extend(segs)
        if "name" in spec.columns:
            conds.append(_in_cond("c.name", len(spec.columns["name"])))
            args.extend(spec.columns["name"])
        if spec.levels is not None:
            conds.append(_in_cond("c.level", len(spec.levels.values), spec.levels.negate))
            args.extend(spec.levels.values)
        select = ", ".join(exprs + ["sum(c.n)"])
        sql = f"SELECT {select} FROM ccstore_counts c WHERE {' AND '.join(conds)}"
        if exprs:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(exprs)))
        return conn.execute(sql, args).fetchall()

    # ------------------------------------------------------------------ retention
    def expire(self, kind: str, cutoff: int) -> int:
        """Drop the segments of ``kind`` that lie wholly before ``cutoff``, and raise
        the floor of those that straddle it; return how many rows expired.

        A straddling segment keeps its expired rows on disk until it lies wholly
        before a later cutoff: every read hides rows below its floor, and counts
        do not use its per-minute summaries.  So retention never deletes rows
        one by one (nor their full-text entries), and a writer waits at most for
        one segment's transaction.
        """
        removed = 0
        while True:
            dropped: List[int] = []
            gone = self._txn(self._expire_next_txn, kind, cutoff, dropped)
            if gone is None:
                break
            removed += gone
            self._drop_indexes(dropped)  # after the commit: no reader is sent to them
        self._stats["rows_expired"] += removed
        return removed

    def _expire_next_txn(self, kind: str, cutoff: int, dropped: List[int]) -> Optional[int]:
        row = self._w.execute(
            f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE kind=? AND tbl != '' "
            "AND min_time < ?2 AND coalesce(floor, min_time) < ?2 ORDER BY min_time LIMIT 1",
            (kind, cutoff)).fetchone()
        if row is None:
            return None
        seg = _Segment(*row[:3], bool(row[3]), *row[4:])
        q = quote_ident(seg.tbl)
        if seg.max_time is not None and seg.max_time < cutoff:
            visible = seg.rows
            if seg.floor is not None:
                visible = self._w.execute(f"SELECT count(*) FROM {q} WHERE time >= ?",
                                          (seg.floor,)).fetchone()[0]
            self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(seg.tbl + '_fts')}")
            self._w.execute(f"DROP TABLE {q}")
            self._w.execute("DELETE FROM ccstore_counts WHERE seg=?", (seg.id,))
            self._w.execute("DELETE FROM ccstore_segments WHERE id=?", (seg.id,))
            self._refresh_view(seg.cluster, seg.kind)
            self._stats["segments_dropped"] += 1
            dropped.append(seg.id)
            return visible
        gone = self._w.execute(
            f"SELECT count(*) FROM {q} WHERE time >= ? AND time < ?",
            (-(1 << 63) if seg.floor is None else seg.floor, cutoff)).fetchone()[0]
        self._w.execute("UPDATE ccstore_segments SET floor=? WHERE id=?", (cutoff, seg.id))
        self._refresh_view(seg.cluster, seg.kind)
        return gone

    # ------------------------------------------------------------------ misc
    def clusters(self) -> List[str]:
        return [r[0] for r in self._reader().execute(
            "SELECT DISTINCT cluster FROM ccstore_segments ORDER BY cluster")]

    def stats(self) -> dict:
        conn = self._reader()
        per_kind = {}
        for kind, nseg, rows, sealed in conn.execute(
                "SELECT kind, count(*), sum(rows), sum(state = ?) FROM ccstore_segments "
                "GROUP BY kind", (SEALED,)):
            per_kind[kind] = {"segments": nseg, "rows": rows or 0, "sealed_segments": sealed}
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = None
        else:  # with the write-ahead log, the index file and its log
            for extra in ("-wal", INDEX_SUFFIX, INDEX_SUFFIX + "-wal"):
                if os.path.exists(self.path + extra):
                    size += os.path.getsize(self.path + extra)
        out = dict(self._stats)
        out.update({"backend": self.name, "path": self.path, "bytes": size,
                    "kinds": per_kind, "fulltext": self.fulltext})
        return out


#: (time, id) of a result row: the total order of records
_ORDER_KEY = operator.itemgetter(3, 2)
#: the hostname of a row shaped as ROW_COLUMNS
_HOSTNAME_AT = ROW_COLUMNS.index("hostname")
_TIME_AT = ROW_COLUMNS.index("time")


def _order_columns(via: Optional[str]) -> Tuple[str, str]:
    """The (time, id) columns of a read: the index table's when it reads through one."""
    return ("x.tm", "x.rid") if via else ("time", "id")


def _index_tables(seg_id: int) -> Tuple[str, str]:
    """Names of segment ``seg_id``'s host and time indexes in the index file."""
    return f"ccx_{seg_id}_host", f"ccx_{seg_id}_time"


if hasattr(apsw, "carray"):  # APSW 3.50+: the array is read in C, without the GIL
    _ID_IN_ARRAY = "id IN carray(?)"
    _bind_ids = apsw.carray
else:
    _ID_IN_ARRAY = "id IN (SELECT value FROM json_each(?))"

    def _bind_ids(ids: array) -> str:
        return json.dumps(ids.tolist())


def _summary_sql(tbl: str) -> str:
    """Per-minute counts of a segment table: (name, level, minute, n); ?1 is 60."""
    return (f"SELECT name, level, {_floor_expr('timestamp')}, count(*) "
            f"FROM {quote_ident(tbl)} GROUP BY 1, 2, 3")


# ---------------------------------------------------------------------- SQL pieces
def _in_cond(col: str, n: int, negate: bool = False) -> str:
    marks = ", ".join("?" * n)
    if negate:
        return f"({col} IS NULL OR {col} NOT IN ({marks}))"
    return f"{col} IN ({marks})"


def _json_path(key: str) -> Optional[str]:
    """A JSON path naming one object key, or None when SQLite's path syntax can't."""
    if '"' in key or "\\" in key:
        return None
    return f'$."{key}"'


def _tag_cond(tc: TagCond) -> Tuple[str, list]:
    marks = ", ".join("?" * len(tc.values))
    path = _json_path(tc.key)
    if path is not None:
        expr = "json_extract(othertags, ?)"
        if tc.negate:
            return (f"({expr} IS NULL OR {expr} NOT IN ({marks}))",
                    [path, path, *tc.values])
        return f"{expr} IN ({marks})", [path, *tc.values]
    sub = f"EXISTS (SELECT 1 FROM json_each(othertags) j WHERE j.key = ? AND j.value IN ({marks}))"
    return (f"NOT {sub}" if tc.negate else sub), [tc.key, *tc.values]


def _group_exprs(by: Sequence[GroupKey], time_col: str, interval: Optional[int],
                 cluster: str) -> Tuple[List[str], list]:
    exprs: List[str] = []
    args: list = []
    for kind, key in by:
        if kind == "column":
            exprs.append(key)
        elif kind == "level":
            exprs.append("level")
        elif kind == "cluster":
            exprs.append("?")
            args.append(cluster)
        else:
            path = _json_path(key)
            if path is None:
                raise ValueError(f"cannot group by tag key {key!r}: quotes and backslashes "
                                 "are not supported there")
            exprs.append("json_extract(othertags, ?)")
            args.append(path)
    if interval is not None:
        exprs.append(f"({time_col} - ((({time_col} % {int(interval)}) + {int(interval)}) "
                     f"% {int(interval)}))")
    return exprs, args


def _plain_terms(text: str) -> List[str]:
    """Lower-cased words of a full-text query, for segments without FTS."""
    words = []
    for tok in text.replace('"', " ").split():
        if tok.upper() in ("AND", "OR", "NOT"):
            continue
        words.append(tok.rstrip("*").lower())
    return [w for w in words if w]
