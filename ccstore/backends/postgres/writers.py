"""The writer pool of a PostgreSQL store: connections that writes run on, and their segments.

Concurrent writes run on up to ``writers`` connections, each appending to open
segments of its own, so the server copies them in parallel.  A writer whose
connection breaks is connected again; the time without a connection is counted
as an outage.
"""
from __future__ import annotations

import threading
import time as _time
from typing import Dict, Optional, Tuple

import psycopg

#: an open segment not written for this long is sealed by anyone
STALE_OPEN_S = 600


class _Open:
    """A segment this writer appends to.  Its rows get ids ``seg << ID_SHIFT | n``
    for n = next_n + 1, ...; only this writer writes it while it is open, so it
    counts ``next_n`` itself (and the bookkeeping statement checks it)."""

    __slots__ = ("seg", "leaf", "next_n", "used")

    def __init__(self, seg: int, leaf: str) -> None:
        self.seg = seg
        self.leaf = leaf
        self.next_n = 0
        self.used = _time.monotonic()


class _Writer:
    """A writer connection and the segments it holds open.  A write holds one
    writer's lock from its first statement to COMMIT; each writer counts the ids
    of its own open segments (no one else appends to them)."""

    __slots__ = ("lock", "conn", "open", "connected")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conn: Optional[psycopg.Connection] = None
        self.open: Dict[Tuple[str, str, int], _Open] = {}
        self.connected = False  # has been connected (a new connection is a reconnect)


def _conn_broken(conn: Optional[psycopg.Connection]) -> bool:
    return conn is None or conn.closed or conn.broken


class WriterPool:
    """Taking a writer for a write, and keeping its connection up."""

    def _take_writer(self) -> _Writer:
        """A writer for one write, its lock held: the first free one (so that one
        thread's writes keep to one connection), else the next in turn."""
        for w in self._writers:
            if w.lock.acquire(blocking=False):
                return w
        with self._lock:
            w = self._writers[self._next_writer]
            self._next_writer = (self._next_writer + 1) % len(self._writers)
        w.lock.acquire()
        return w

    def _writer(self, w: _Writer) -> psycopg.Connection:
        """``w``'s connection, connected again when it is broken."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if _conn_broken(w.conn):
            if w.conn is not None:
                try:
                    w.conn.close()
                except Exception:  # noqa: BLE001
                    pass
            w.conn = None
            w.conn = self._connect_writer()
            if w.connected:
                self._bump("reconnects")
            w.connected = True
        return w.conn

    def _connect_writer(self) -> psycopg.Connection:
        conn = self._connect()
        # only statements executed with prepare=True (the same every write) are
        # prepared; the rest of the writer's statements differ by their values
        conn.prepare_threshold = 1 << 30
        return conn

    def _connection_lost(self, exc: BaseException, w: _Writer) -> None:
        """``w``'s connection broke: its open segments are left (a commit whose
        answer was lost may have moved them on)."""
        with self._lock:
            self._stats["connection_errors"] += 1
            self._stats["last_error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
            if self._outage_since is None:
                self._outage_since = _time.monotonic()
                self._stats["outages"] += 1
        w.open.clear()
        if w.conn is not None:
            try:
                w.conn.close()
            except Exception:  # noqa: BLE001
                pass
        w.conn = None

    def _connection_ok(self) -> None:
        with self._lock:
            if self._outage_since is not None:
                self._stats["outage_seconds"] += _time.monotonic() - self._outage_since
                self._outage_since = None
