"""The SQLite backend: the class that composes the steps, its threads and its counters.

One writer connection and a fair write lock, a reader per thread, and two
background threads (sealer, checkpointer).  Each step of its work is a mixin of
its own module; they share the state set up here.
"""
from __future__ import annotations

import os
import threading
from typing import Dict, List, Optional

import apsw

from ..base import SEALED, Backend
from .checkpoint import _WAL_BACKSTOP_PAGES, Checkpointer
from .compact import CompactSteps
from .connections import Connections
from .fts import FullText
from .head import HeadIndex, _Head
from .indexfile import IndexFile
from .locks import FairLock
from .query import QuerySteps
from .retention import RetentionSteps
from .schema import INDEX_SUFFIX, SchemaSteps
from .seal import SealSteps
from .write import WriteSteps


class SQLiteBackend(SchemaSteps, WriteSteps, SealSteps, CompactSteps, IndexFile, HeadIndex,
                    QuerySteps, RetentionSteps, FullText, Checkpointer, Connections, Backend):
    """Segments in one SQLite file, written through one connection, read through many."""

    name = "sqlite"

    def __init__(self, path: str, *, fulltext: bool = True, durability: str = "normal",
                 busy_timeout_ms: int = 5000, seal_rows: int = 65536,
                 cache_mb: int = 64, background_seal: bool = True,
                 page_size: int = 16384, compact: bool = False,
                 max_disk_size: Optional[int] = None) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.path = os.fspath(path)
        self.index_path = self.path + INDEX_SUFFIX
        self.fulltext = bool(fulltext)
        self.seal_rows = int(seal_rows)
        #: sealed segments are compacted into compressed blocks (compact.py)
        self.compacting = bool(compact)
        if max_disk_size is not None and (isinstance(max_disk_size, bool)
                                          or int(max_disk_size) <= 0):
            raise ValueError(f"max_disk_size must be a positive number of bytes, not "
                             f"{max_disk_size!r}")
        self.max_disk_size = None if max_disk_size is None else int(max_disk_size)
        self._sync = "FULL" if durability == "full" else "NORMAL"
        self._busy = int(busy_timeout_ms)
        self._cache_kib = int(cache_mb) * 1024
        self._local = threading.local()
        self._heads: Dict[int, _Head] = {}
        self._heads_lock = threading.Lock()
        #: one thread seals at a time (the sealer, or a caller of flush)
        self._seal_lock = threading.Lock()
        self._appends: Dict[str, str] = {}  # segment table -> its append statement
        self._readers: List[apsw.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._lock = FairLock()  # the write lock: writes, sealing, retention, close
        self._ix_lock = threading.Lock()  # this process's writes to the index file
        self._stats = {"transactions": 0, "rows_written": 0, "segments_sealed": 0,
                       "seal_seconds": 0.0, "segments_dropped": 0, "rows_expired": 0,
                       "rows_expired_by_level": 0,
                       "seal_errors": 0, "checkpoints": 0, "segments_compacted": 0,
                       "compacted_reads": 0, "segments_dropped_for_size": 0,
                       "rows_dropped_for_size": 0}
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
        self._checkpoint_pause = threading.Event()  # set on close: no more pauses
        self._checkpointer: Optional[threading.Thread] = None
        self._w = self._connect()
        # a new file only: the page size of an existing database stays, and so does
        # its auto-vacuum mode (incremental: freed pages can be given back, see
        # give_back_space)
        self._w.execute(f"PRAGMA page_size={int(page_size)}")
        self._w.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._w.execute("PRAGMA journal_mode=WAL")
        self._size_caches(self._w, ("main",), self._cache_kib)  # now at its page size
        self._ix = self._open_index_file(page_size)  # builds and drops the indexes there
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

    def close(self) -> None:
        self._stopping = True
        if self._sealer is not None:
            self._seal_wanted.set()
            self._sealer.join()
            self._sealer = None
        if self._checkpointer is not None:
            self._checkpoint_pause.set()
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

    def get_state(self, key: str) -> Optional[str]:
        row = self._reader().execute(
            "SELECT value FROM ccstore_state WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

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
        size = self.disk_bytes()
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        out = dict(self._stats)
        out.update({"backend": self.name, "path": self.path, "bytes": size,
                    "free_pages": free, "free_bytes": free * page, "page_size": page,
                    "kinds": per_kind, "fulltext": self.fulltext, "compact": self.compacting,
                    "max_disk_size": self.max_disk_size})
        return out

    def disk_bytes(self) -> Optional[int]:
        """Bytes of every file the store keeps: the database, the index file, and
        their write-ahead logs and shared-memory files; None if the database is gone."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return None
        for extra in ("-wal", "-shm", INDEX_SUFFIX, INDEX_SUFFIX + "-wal", INDEX_SUFFIX + "-shm"):
            try:
                size += os.path.getsize(self.path + extra)
            except OSError:
                pass
        return size
