"""Retention on a PostgreSQL store: whole days and segments dropped, short transactions.

Daily partitions and segments wholly older than the cutoff are dropped; rows are
deleted only inside the segments that straddle it, and in tables the Go program
made.
"""
from __future__ import annotations

from typing import Iterable

import psycopg
from psycopg import sql

from ..base import OPEN, SEALED
from ..pgcopy import DAY_NS
from .schema import PLAIN, _ident
from .seal import WRITE_ID_KEEP_S


class RetentionSteps:
    """Expiring rows older than a cutoff."""

    def expire(self, kind: str, cutoff: int) -> int:
        """Drop partitions and segments of ``kind`` older than ``cutoff``; delete
        inside the segments that straddle it.  Short transactions, one per table."""
        removed = 0
        with self._slock:
            conn = self._connect()
            try:
                removed += self._expire(conn, kind, cutoff)
                conn.execute("DELETE FROM ccstore_writes WHERE at < now() - make_interval("
                             "secs => %s)", (WRITE_ID_KEEP_S,))
                self._mark_stale(conn)
            finally:
                conn.close()
        self._bump("rows_expired", removed)
        self._seal_event.set()
        return removed

    def _expire(self, conn: psycopg.Connection, kind: str, cutoff: int) -> int:
        removed = 0
        # whole daily partitions: every segment of the day is older than the cutoff
        days = conn.execute(
            "SELECT parent, day, sum(rows), array_agg(id) FROM ccstore_segments "
            "WHERE kind = %s AND parent IS NOT NULL GROUP BY parent, day "
            "HAVING max(coalesce(max_time, day * %s)) < %s AND (day + 1) * %s <= %s",
            (kind, DAY_NS, cutoff, DAY_NS, cutoff)).fetchall()
        for parent, _day, _rows, _ids in days:
            # every row of the day is older than the cutoff: whatever a writer adds
            # meanwhile may go too; the partition lock orders us after such writers
            with conn.transaction():
                if not conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND "
                                    "relnamespace = current_schema()::regnamespace",
                                    (parent,)).fetchone():
                    continue
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    _ident(parent)))
                ids, rows = conn.execute(
                    "SELECT coalesce(array_agg(id), '{}'), coalesce(sum(rows), 0) "
                    "FROM ccstore_segments WHERE parent = %s", (parent,)).fetchone()
                conn.execute(sql.SQL("DROP TABLE {}").format(_ident(parent)))
                conn.execute("DELETE FROM ccstore_counts WHERE seg = ANY(%s)", (ids,))
                conn.execute("DELETE FROM ccstore_segments WHERE parent = %s", (parent,))
            removed += int(rows)
            self._bump("partitions_dropped")
            self._forget(ids)
        # whole segments
        for seg, leaf, rows in conn.execute(
                "SELECT id, tbl, rows FROM ccstore_segments WHERE kind = %s AND state <> %s "
                "AND (max_time < %s OR (rows = 0 AND day IS NOT NULL AND (day + 1) * %s <= %s "
                "AND state <> %s)) ORDER BY id",
                (kind, PLAIN, cutoff, DAY_NS, cutoff, OPEN)).fetchall():
            with conn.transaction():
                row = conn.execute(
                    "SELECT rows FROM ccstore_segments WHERE id = %s AND (max_time < %s OR "
                    "(rows = 0 AND state <> %s)) FOR UPDATE", (seg, cutoff, OPEN)).fetchone()
                if row is None:  # gone, or a writer added newer rows meanwhile
                    continue
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_ident(leaf)))
                conn.execute("DELETE FROM ccstore_counts WHERE seg = %s", (seg,))
                conn.execute("DELETE FROM ccstore_segments WHERE id = %s", (seg,))
            removed += int(row[0])
            self._bump("segments_dropped")
            self._forget([seg])
        # segments straddling the cutoff, and plain tables
        for seg, leaf, state in conn.execute(
                "SELECT id, tbl, state FROM ccstore_segments WHERE kind = %s AND "
                "(state = %s OR (min_time < %s AND max_time >= %s)) ORDER BY id",
                (kind, PLAIN, cutoff, cutoff)).fetchall():
            with conn.transaction():
                row = conn.execute("SELECT state FROM ccstore_segments WHERE id = %s FOR UPDATE",
                                   (seg,)).fetchone()
                if row is None:
                    continue
                t = _ident(leaf)
                cur = conn.execute(sql.SQL("DELETE FROM {} WHERE time < %s").format(t), (cutoff,))
                gone = cur.rowcount
                if gone:
                    if state == PLAIN:
                        conn.execute(sql.SQL(
                            "UPDATE ccstore_segments SET rows = greatest(rows - %s, 0), "
                            "min_time = (SELECT min(time) FROM {}) WHERE id = %s").format(t),
                            (gone, seg))
                    else:
                        conn.execute(sql.SQL(
                            "UPDATE ccstore_segments s SET rows = s.rows - %s, min_time = "
                            "(SELECT min(time) FROM {}) WHERE s.id = %s").format(t), (gone, seg))
                    if row[0] == SEALED:
                        self._summarise(conn, seg, leaf)
            removed += gone
        return removed

    def _forget(self, ids: Iterable[int]) -> None:
        gone = set(ids)
        for w in self._writers:
            for key, op in list(w.open.items()):
                if op.seg in gone:
                    w.open.pop(key, None)
