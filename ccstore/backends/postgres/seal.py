"""Sealing full PostgreSQL segments: sorted by host, indexed and counted, in the background.

A full segment is rewritten in ``(hostname, time)`` order, then gets its b-tree
and full-text indexes and its per-minute counts.  Any instance's sealer may take
any full segment (``FOR UPDATE SKIP LOCKED``); the sealer lets this instance's
writes go first (:data:`SEAL_QUIET_S`, :data:`SEAL_DEFER_S`).
"""
from __future__ import annotations

import time as _time
from typing import List, Optional

import psycopg
from psycopg import sql

from ..base import FULL, OPEN, SEALED
from .schema import MINUTE_NS, SORTED, _floor, _ident
from .writers import STALE_OPEN_S, _conn_broken, _Writer

#: write ids are kept this long (a retry comes within seconds)
WRITE_ID_KEEP_S = 86400
#: the background sealer sorts and indexes full segments when this instance's
#: writes pause for this long (it competes with them for the CPU) ...
SEAL_QUIET_S = 0.2
#: ... or, while they go on, this long after it was woken by a full segment
SEAL_DEFER_S = 10.0


class SealSteps:
    """Sealing full segments, in the sealer thread or on :meth:`seal`."""

    def _seal_loop(self) -> None:
        conn: Optional[psycopg.Connection] = None
        last_stale = 0.0
        while True:
            self._seal_event.wait(timeout=30)
            self._seal_event.clear()
            self._await_pause()
            if self._closed:
                break
            try:
                if _conn_broken(conn):
                    conn = self._connect()
                if _time.monotonic() - last_stale > 60:
                    last_stale = _time.monotonic()
                    self._mark_stale(conn)
                    conn.execute("DELETE FROM ccstore_writes WHERE at < now() - "
                                 "make_interval(secs => %s)", (WRITE_ID_KEEP_S,))
                while not self._closed and self._seal_next(conn):
                    pass
            except psycopg.Error as exc:
                self._stats["seal_errors"] = self._stats.get("seal_errors", 0) + 1
                self._stats["last_seal_error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
                _time.sleep(1)
                self._seal_event.set()
        if conn is not None:
            conn.close()

    def _await_pause(self) -> None:
        """Let this instance's writes go first: return once they have paused for
        :data:`SEAL_QUIET_S`, or after :data:`SEAL_DEFER_S`, or on close."""
        give_up = _time.monotonic() + SEAL_DEFER_S
        while True:
            now = _time.monotonic()
            quiet = 0.0 if self._writing else now - self._last_write
            if quiet >= SEAL_QUIET_S or now >= give_up:
                return
            if self._stopping.wait(min(SEAL_QUIET_S - quiet, give_up - now)):
                return

    def _mark_stale(self, conn: psycopg.Connection) -> None:
        conn.execute("UPDATE ccstore_segments SET state = %s WHERE state = %s AND rows > 0 "
                     "AND updated < now() - make_interval(secs => %s)",
                     (FULL, OPEN, STALE_OPEN_S))

    def _seal_all(self, conn: psycopg.Connection) -> int:
        n = 0
        while self._seal_next(conn):
            n += 1
        return n

    def seal(self, timeout: float = 600.0) -> int:
        """Seal every full segment now (in the caller's thread) and wait for those
        another thread or process is sealing; return how many this call sealed."""
        deadline = _time.monotonic() + timeout
        with self._slock:
            conn = self._connect()
            try:
                n = 0
                while True:
                    n += self._seal_all(conn)
                    left = conn.execute("SELECT count(*) FROM ccstore_segments WHERE state "
                                        "IN (%s, %s)", (FULL, SORTED)).fetchone()[0]
                    if not left or _time.monotonic() > deadline:
                        return n
                    _time.sleep(0.05)
            finally:
                conn.close()

    def flush(self) -> int:
        """Mark this instance's open segments full and seal everything full now."""
        for w in self._writers:
            with w.lock:
                if w.open:
                    self._mark_full(w, self._writer(w))
        return self.seal()

    @staticmethod
    def _mark_full(w: _Writer, conn: psycopg.Connection) -> List[int]:
        """Mark the segments ``w`` holds open full (they are no longer its own);
        return their ids.  ``w``'s lock is held."""
        mine = [op.seg for op in w.open.values()]
        w.open.clear()
        if mine:
            conn.execute("UPDATE ccstore_segments SET state = %s WHERE id = ANY(%s) "
                         "AND state = %s AND rows > 0", (FULL, mine, OPEN))
        return mine

    def _seal_next(self, conn: psycopg.Connection, only: Optional[List[int]] = None) -> bool:
        """Seal (or first sort) one full segment; False when there is none left.

        Sorting rewrites the segment in (hostname, time) order (``CLUSTER``), so a
        host's rows of a segment share a few pages instead of one page each: a
        query for one host reads a few dozen pages per segment.  It runs in a
        transaction of its own (it locks the segment against readers for the
        rewrite) and is skipped when readers hold the segment for long."""
        t0 = _time.perf_counter()
        try:
            with conn.transaction():
                row = conn.execute(
                    "SELECT id, tbl, fts, state FROM ccstore_segments WHERE state IN (%s, %s) "
                    "AND (%s::bigint[] IS NULL OR id = ANY(%s)) ORDER BY id "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED", (FULL, SORTED, only, only)).fetchone()
                if row is None:
                    return False
                seg, tbl, fts, state = row
                conn.execute("SET LOCAL maintenance_work_mem = '128MB'")
                if state == FULL and self.sort_on_seal:
                    conn.execute("SET LOCAL lock_timeout = '2s'")
                    t = _ident(tbl)
                    h = _ident(self._short(tbl, "_h"))
                    conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} "
                                         "(hostname, time, id)").format(h, t))
                    conn.execute(sql.SQL("CLUSTER {} USING {}").format(t, h))
                    conn.execute("UPDATE ccstore_segments SET state = %s WHERE id = %s",
                                 (SORTED, seg))
                    self._bump("seal_seconds", _time.perf_counter() - t0)
                    return True
                self._index_table(conn, tbl, fts)
                self._summarise(conn, seg, tbl)
                conn.execute("UPDATE ccstore_segments SET state = %s, fts = %s WHERE id = %s",
                             (SEALED, bool(fts and self._have_trgm), seg))
        except psycopg.errors.LockNotAvailable:
            # readers kept the segment busy: seal it unsorted
            conn.execute("UPDATE ccstore_segments SET state = %s WHERE id = %s AND state = %s",
                         (SORTED, seg, FULL))
            return True
        self._bump("seal_seconds", _time.perf_counter() - t0)
        self._bump("segments_sealed")
        self.enforce_disk_cap(conn)
        return True

    def _summarise(self, conn: psycopg.Connection, seg: int, tbl: str) -> None:
        conn.execute("DELETE FROM ccstore_counts WHERE seg = %s", (seg,))
        conn.execute(sql.SQL(
            "INSERT INTO ccstore_counts(seg, name, level, minute, n) "
            "SELECT %s, name, level, {}, count(*) FROM {} GROUP BY 2, 3, 4").format(
            _floor(sql.SQL("time"), MINUTE_NS), _ident(tbl)), (seg,))
