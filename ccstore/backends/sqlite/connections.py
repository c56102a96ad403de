"""Connections to a SQLite store: one writer, one reader per thread, write transactions.

The writer does not attach the index file (its ``BEGIN IMMEDIATE`` would lock that
file too); readers do, and each read runs in one snapshot of both files.
"""
from __future__ import annotations

from typing import Sequence

import apsw

from .fts import add_functions
from .schema import _IX

#: how often a read is started again after the schema changed under it
_READ_ATTEMPTS = 5
#: prepared statements a reader keeps (a query prepares one per segment it reads)
_READER_STATEMENTS = 512


class Connections:
    """The writer and reader connections, and the transactions run on them."""

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
            add_functions(conn)
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
                self._w.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk, an I/O error): a
                # second ROLLBACK would hide the error that ended the transaction
                if not self._w.getautocommit():
                    self._w.execute("ROLLBACK")
                raise
            self._stats["transactions"] += 1
            self._checkpoint_wanted.set()
            return result
