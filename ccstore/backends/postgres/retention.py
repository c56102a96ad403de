"""Retention on a PostgreSQL store: whole days and segments dropped, short transactions.

Daily partitions and segments wholly older than the cutoff are dropped; rows are
deleted only inside the segments that straddle it, and in tables the Go program
made.  Retention by log level deletes the rows of those levels segment by segment
(a sealed one is counted again; one left empty is dropped, its day partition too
when it was the last).  With ``max_disk_size``, the oldest sealed segments (and
the day partitions they leave empty) are dropped after each seal while the store's
tables (:meth:`RetentionSteps.used_bytes`) take more.
"""
from __future__ import annotations

import logging
from typing import Iterable, Optional, Sequence

import psycopg
from psycopg import sql

from ..base import OPEN, SEALED
from ..pgcopy import DAY_NS
from .schema import PLAIN, _ident
from .seal import WRITE_ID_KEEP_S

log = logging.getLogger("ccstore.postgres")

#: bytes of every table of the store (leaves, Go tables, the catalog), with their
#: indexes and TOAST data
_USED_SQL = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND (c.relname IN (SELECT tbl FROM ccstore_segments) OR c.relname LIKE 'ccstore\\_%')"""


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

    # ------------------------------------------------------------- by level
    def expire_levels(self, kind: str, cutoff: int, levels: Sequence[str],
                      negate: bool = False) -> int:
        """Delete the rows of ``kind`` older than ``cutoff`` whose level is one of
        ``levels`` (``negate``: none of them, or missing), a transaction per segment;
        return how many.  A sealed segment left empty is dropped."""
        names = list(levels)
        cond = ("(level IS NULL OR level <> ALL(%s))" if names else "true") if negate \
            else "level = ANY(%s)"
        removed = 0
        with self._slock:
            conn = self._connect()
            try:
                for seg, leaf in conn.execute(
                        "SELECT id, tbl FROM ccstore_segments WHERE kind = %s AND min_time < %s "
                        "ORDER BY id", (kind, cutoff)).fetchall():
                    with conn.transaction():
                        row = conn.execute("SELECT state FROM ccstore_segments "
                                           "WHERE id = %s FOR UPDATE", (seg,)).fetchone()
                        if row is None:
                            continue
                        args: list = [cutoff] + ([names] if names or not negate else [])
                        gone = conn.execute(sql.SQL(
                            "DELETE FROM {} WHERE time < %s AND " + cond).format(_ident(leaf)),
                            args).rowcount
                        if not gone:
                            continue
                        left = conn.execute(
                            "UPDATE ccstore_segments SET rows = greatest(rows - %s, 0) "
                            "WHERE id = %s RETURNING rows", (gone, seg)).fetchone()[0]
                        if row[0] == SEALED:
                            if left == 0:
                                self._drop_segment(conn, seg)
                            else:
                                self._summarise(conn, seg, leaf)
                    removed += gone
            finally:
                conn.close()
        self._bump("rows_expired", removed)
        self._bump("rows_expired_by_level", removed)
        return removed

    def _drop_segment(self, conn: psycopg.Connection, seg: int) -> bool:
        """Drop segment ``seg`` (inside the caller's transaction, its catalog row
        locked), and its day partition when no segment is left there and a later day
        has one (writers add segments to the latest day); True when the day went too."""
        leaf, parent, cluster, kind, day = conn.execute(
            "SELECT tbl, parent, cluster, kind, day FROM ccstore_segments WHERE id = %s",
            (seg,)).fetchone()
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_ident(leaf)))
        conn.execute("DELETE FROM ccstore_counts WHERE seg = %s", (seg,))
        conn.execute("DELETE FROM ccstore_segments WHERE id = %s", (seg,))
        self._forget([seg])
        self._bump("segments_dropped")
        if parent is None or not conn.execute(
                "SELECT 1 FROM ccstore_segments WHERE cluster = %s AND kind = %s AND day > %s "
                "LIMIT 1", (cluster, kind, day)).fetchone():
            return False
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_ident(parent)))
        if conn.execute("SELECT 1 FROM ccstore_segments WHERE parent = %s LIMIT 1",
                        (parent,)).fetchone():
            return False
        conn.execute(sql.SQL("DROP TABLE {}").format(_ident(parent)))
        self._bump("partitions_dropped")
        return True

    # ------------------------------------------------------------- by disk size
    def used_bytes(self, conn: Optional[psycopg.Connection] = None) -> int:
        """Bytes of the store's tables: every segment (and table of the Go program)
        and the catalog, with their indexes and TOAST data."""
        if conn is None:
            return int(self._read(lambda c: c.execute(_USED_SQL).fetchone()[0]))
        return int(conn.execute(_USED_SQL).fetchone()[0])

    def enforce_disk_cap(self, conn: psycopg.Connection) -> int:
        """Drop the oldest sealed segments (and day partitions left empty) while the
        store takes more than ``max_disk_size`` bytes; return how many rows went."""
        if self.max_disk_size is None:
            return 0
        removed = 0
        while True:
            used = self.used_bytes(conn)
            if used <= self.max_disk_size:
                return removed
            with conn.transaction():
                row = conn.execute(
                    "SELECT id, cluster, kind, rows FROM ccstore_segments "
                    "WHERE state = %s AND parent IS NOT NULL "
                    "ORDER BY coalesce(max_time, min_time), id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    (SEALED,)).fetchone()
                if row is None:
                    return removed  # nothing sealed left to drop
                seg, cluster, kind, rows = row
                whole_day = self._drop_segment(conn, seg)
            removed += int(rows)
            self._bump("segments_dropped_for_size")
            self._bump("rows_dropped_for_size", int(rows))
            if whole_day:
                self._bump("partitions_dropped_for_size")
            log.warning("%d bytes in the store's tables, more than max_disk_size %d: dropped "
                        "segment %d (%s, %s, %d rows)", used, self.max_disk_size, seg, cluster,
                        kind, rows)

    def _forget(self, ids: Iterable[int]) -> None:
        gone = set(ids)
        for w in self._writers:
            for key, op in list(w.open.items()):
                if op.seg in gone:
                    w.open.pop(key, None)
