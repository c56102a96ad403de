"""The PostgreSQL backend: the class that composes the steps, its threads and its counters.

Writer connections (:mod:`.writers`), a pool of readers, and a sealer thread.
Each step of its work is a mixin of its own module; they share the state set up
here.
"""
from __future__ import annotations

import threading
import time as _time
from typing import Any, Dict, List, Optional, Tuple

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ..base import SEALED, Backend
from .connections import Connections
from .fts import FullText
from .query import QuerySteps
from .retention import RetentionSteps
from .schema import SchemaSteps
from .seal import SealSteps
from .write import WriteSteps
from .writers import WriterPool, _conn_broken, _Writer


class PostgresBackend(SchemaSteps, WriteSteps, SealSteps, QuerySteps, RetentionSteps, FullText,
                      WriterPool, Connections, Backend):
    """Segments in PostgreSQL: writer connections, a pool of readers, a sealer thread."""

    name = "postgres"

    def __init__(self, dsn: str, *, fulltext: bool = True, durability: str = "normal",
                 busy_timeout_ms: int = 5000, seal_rows: int = 200_000,
                 cache_mb: int = 64, pool_size: int = 4, retry_seconds: float = 30.0,
                 background_seal: bool = True, writers: int = 2,
                 max_disk_size: Optional[int] = None, toast_compression: str = "auto") -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        if max_disk_size is not None and (isinstance(max_disk_size, bool)
                                          or int(max_disk_size) <= 0):
            raise ValueError(f"max_disk_size must be a positive number of bytes, not "
                             f"{max_disk_size!r}")
        #: bytes the store's tables may take; the oldest sealed segments go past it
        self.max_disk_size = None if max_disk_size is None else int(max_disk_size)
        if toast_compression not in ("auto", "lz4", "pglz"):
            raise ValueError(f"toast_compression must be 'auto', 'lz4' or 'pglz', not "
                             f"{toast_compression!r}")
        self._toast_wanted = toast_compression
        #: TOAST compression of the text columns (set up on connecting): "lz4" where
        #: the server has it unless "pglz" was asked for
        self.toast_compression = "pglz"
        self.dsn = dsn
        self.fulltext = bool(fulltext)
        self.seal_rows = max(1, int(seal_rows))
        self.retry_seconds = float(retry_seconds)
        self.sort_on_seal = True
        # busy_timeout_ms and cache_mb are SQLite settings: the server's own
        # lock waits and shared_buffers apply here
        # writes run on up to ``writers`` connections at once, each copying into
        # segments of its own (connected when first needed)
        self._writers = [_Writer() for _ in range(max(1, int(writers)))]
        self._next_writer = 0
        self._lock = threading.Lock()  # _closed, _writing, the counters, _next_writer
        self._slock = threading.Lock()
        self._closed = False
        self._tables: Dict[Tuple[str, str], Tuple[str, bool]] = {}
        self._have_trgm = False
        self._copy_stmts: Dict[str, sql.Composed] = {}
        self._stats: Dict[str, Any] = {
            "transactions": 0, "rows_written": 0, "segments_created": 0, "streamed_writes": 0,
            "streams_written_whole": 0,
            "segments_sealed": 0, "seal_seconds": 0.0, "segments_dropped": 0,
            "partitions_dropped": 0, "rows_expired": 0, "write_retries": 0,
            "rows_expired_by_level": 0, "segments_dropped_for_size": 0,
            "rows_dropped_for_size": 0, "partitions_dropped_for_size": 0,
            "retried_writes_already_committed": 0, "reconnects": 0, "outages": 0,
            "outage_seconds": 0.0, "connection_errors": 0, "last_error": None}
        self._outage_since: Optional[float] = None
        self._setup()
        self._pool = ConnectionPool(dsn, min_size=1, max_size=max(1, int(pool_size)),
                                    kwargs={"autocommit": True}, configure=self._configure,
                                    open=True,
                                    name="ccstore-readers")
        self._seal_event = threading.Event()
        self._stopping = threading.Event()
        self._writing = 0  # writes in progress
        self._last_write = 0.0
        self._sealer: Optional[threading.Thread] = None
        if background_seal:
            self._sealer = threading.Thread(target=self._seal_loop, name="ccstore-sealer",
                                            daemon=True)
            self._sealer.start()
            self._seal_event.set()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        self._seal_event.set()
        if self._sealer is not None:
            self._sealer.join(timeout=600)
        try:
            for w in self._writers:
                with w.lock:  # after the write it may be running
                    try:
                        if not _conn_broken(w.conn):
                            # this writer's open segments are sealed now (small); a
                            # backlog of other full segments is left to the sealer of
                            # the next process
                            mine = self._mark_full(w, w.conn)
                            while mine and self._seal_next(w.conn, mine):
                                pass
                    except psycopg.Error:
                        pass
                    finally:
                        if w.conn is not None:
                            w.conn.close()
        finally:
            self._pool.close()

    def _bump(self, key: str, n: float = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def clusters(self) -> List[str]:
        return [r[0] for r in self._read(lambda c: c.execute(
            "SELECT DISTINCT cluster FROM ccstore_segments ORDER BY cluster").fetchall())]

    def stats(self) -> dict:
        with self._lock:
            out = dict(self._stats)
        out.update({"backend": self.name, "fulltext": self.fulltext,
                    "fulltext_index": "pg_trgm" if self._have_trgm else None,
                    "seal_rows": self.seal_rows, "max_disk_size": self.max_disk_size,
                    "toast_compression": self.toast_compression,
                    "connected": any(not _conn_broken(w.conn) for w in self._writers),
                    "in_outage": self._outage_since is not None})
        if self._outage_since is not None:
            out["outage_seconds"] += _time.monotonic() - self._outage_since
        try:
            per_kind = {}
            for kind, nseg, rows, sealed, tables in self._read(lambda c: c.execute(
                    "SELECT kind, count(*), sum(rows), count(*) FILTER (WHERE state = %s), "
                    "count(DISTINCT parent) FROM ccstore_segments GROUP BY kind",
                    (SEALED,)).fetchall(), timeout=2.0, attempts=1):
                per_kind[kind] = {"segments": nseg, "rows": int(rows or 0),
                                  "sealed_segments": sealed, "partitions": tables}
            out["kinds"] = per_kind
            out["database_bytes"] = self._read(lambda c: c.execute(
                "SELECT pg_database_size(current_database())").fetchone()[0], timeout=2.0,
                attempts=1)
            # what max_disk_size counts: the store's tables, indexes and TOAST data
            out["bytes"] = self._read(self.used_bytes, timeout=2.0, attempts=1)
        except (psycopg.Error, RuntimeError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
        return out
