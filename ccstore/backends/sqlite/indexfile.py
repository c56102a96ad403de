"""The index file beside a SQLite store: the indexes of its sealed segments.

Per sealed segment, two ``WITHOUT ROWID`` tables keyed by the indexed columns and
the row id.  In a file of their own, index builds take only that file's write lock,
so they run beside ingest; the file can be rebuilt from the database, and is: a
damaged one is set aside at open and its segments are sealed again.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time as _time
from typing import Iterable, Iterator

import apsw

from .schema import _IX, _NO_TIME, _index_tables, quote_ident

#: page cache (KiB) of the connection that builds indexes from full segments
_IX_BUILD_CACHE_KIB = 4096

log = logging.getLogger("ccstore.sqlite")


class IndexFile:
    """Opening the index file; building and dropping the sealed segments' index tables."""

    def _open_index_file(self, page_size: int) -> apsw.Connection:
        """The connection that builds and drops indexes, the index file attached.

        A file SQLite cannot read (not a database, a damaged header or schema) is
        renamed to ``<index>.damaged`` and a new one started: the segments whose
        indexes are then missing are sealed again from the database."""
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._connect(attach=True)
                conn.execute(f"PRAGMA {_IX}.page_size={int(page_size)}")
                conn.execute(f"PRAGMA {_IX}.auto_vacuum=INCREMENTAL")
                conn.execute(f"PRAGMA {_IX}.journal_mode=WAL")
                # it reads each full segment once: a small cache, not one that grows
                self._size_caches(conn, ("main", _IX), _IX_BUILD_CACHE_KIB)
                conn.execute(f"PRAGMA {_IX}.synchronous={self._sync}")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {_IX}.ccstore_ix(key TEXT PRIMARY KEY, "
                             "value TEXT)")
                conn.execute(f"SELECT name FROM {_IX}.sqlite_schema").fetchall()
                return conn
            except (apsw.CorruptError, apsw.NotADBError) as exc:
                if conn is not None:
                    conn.close()
                if attempt == 2:
                    raise
                log.warning("%s: the index file is damaged (%s); set aside as %s.damaged and "
                            "rebuilt from the database", self.index_path, exc, self.index_path)
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.index_path + suffix)
                os.replace(self.index_path, self.index_path + ".damaged")
        raise AssertionError("unreachable")

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
