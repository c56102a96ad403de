"""Retention on a SQLite store: whole segments dropped, straddling ones given a floor.

Rows are never deleted one by one: a segment wholly before the cutoff is dropped
with its indexes; one that straddles it hides its rows below the cutoff from every
read until a later cutoff passes it whole.  With ``max_disk_size``, the oldest
sealed segments are dropped after each seal while the store's files, less their
free pages (which SQLite reuses), hold more.
"""
from __future__ import annotations

import logging
from typing import List, Optional

import apsw

from ..base import SEALED
from .compact import block_fts_table, block_table
from .schema import _IX, _SEG_FIELDS, _Segment, quote_ident

log = logging.getLogger("ccstore.sqlite")


class RetentionSteps:
    """Expiring rows older than a cutoff."""

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

    def _drop_segment(self, seg: _Segment, dropped: List[int]) -> int:
        """Drop ``seg`` whole (inside the caller's write transaction); its id goes to
        ``dropped`` (its indexes in the index file are dropped after the commit).
        Return how many of its rows were visible."""
        visible = seg.rows
        if seg.floor is not None:
            visible = self._rows_between(seg, seg.floor, None)
        for t in (seg.tbl + "_fts", block_table(seg.tbl), block_fts_table(seg.tbl)):
            self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(t)}")
        self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(seg.tbl)}")
        self._w.execute("DELETE FROM ccstore_counts WHERE seg=?", (seg.id,))
        self._w.execute("DELETE FROM ccstore_facets WHERE seg=?", (seg.id,))
        self._w.execute("DELETE FROM ccstore_dicts WHERE seg=?", (seg.id,))
        self._w.execute("DELETE FROM ccstore_segments WHERE id=?", (seg.id,))
        self._refresh_view(seg.cluster, seg.kind)
        self._stats["segments_dropped"] += 1
        dropped.append(seg.id)
        return visible

    # ------------------------------------------------------------- by disk size
    def used_bytes(self) -> int:
        """Bytes the pages in use of the database and the index file take, committed
        pages still in the write-ahead log included; free pages (which SQLite reuses)
        and the logs themselves (which the checkpointer bounds) left out."""
        return self._read(_pages, False)

    def file_bytes(self) -> int:
        """The size of the database and the index file once checkpointed (free pages
        included)."""
        return self._read(_pages, True)

    def enforce_disk_cap(self) -> int:
        """Drop the oldest sealed segments while the store holds more than
        ``max_disk_size`` bytes; return how many rows went."""
        if self.max_disk_size is None:
            return 0
        removed = 0
        while True:
            used = self.used_bytes()
            if used <= self.max_disk_size:
                if removed:
                    self.give_back_space()
                return removed
            dropped: List[int] = []
            gone = self._txn(self._drop_oldest_txn, dropped)
            if gone is None:
                return removed  # nothing sealed left to drop
            seg_id, cluster, kind, rows = gone
            self._drop_indexes(dropped)
            removed += rows
            self._stats["segments_dropped_for_size"] += 1
            self._stats["rows_dropped_for_size"] += rows
            log.warning("%s: %d bytes on disk, more than max_disk_size %d: dropped segment "
                        "%d (%s, %s, %d rows)", self.path, used, self.max_disk_size, seg_id,
                        cluster, kind, rows)

    def give_back_space(self) -> None:
        """Return the free pages of the database and the index file to the file
        system (files created with incremental auto-vacuum; others keep them for
        reuse)."""
        self._txn(lambda: self._w.execute("PRAGMA incremental_vacuum").fetchall())
        with self._ix_txn() as ix:
            ix.execute(f"PRAGMA {_IX}.incremental_vacuum").fetchall()

    def _drop_oldest_txn(self, dropped: List[int]) -> Optional[tuple]:
        row = self._w.execute(
            f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE state=? AND tbl != '' "
            "ORDER BY coalesce(max_time, min_time), id LIMIT 1", (SEALED,)).fetchone()
        if row is None:
            return None
        seg = _Segment(*row[:3], bool(row[3]), *row[4:])
        return seg.id, seg.cluster, seg.kind, self._drop_segment(seg, dropped)

    def _rows_between(self, seg: _Segment, lo: int, hi: Optional[int]) -> int:
        """Rows of ``seg`` whose time is in ``[lo, hi)`` (``hi`` None: no end), read
        by the writer."""
        if seg.compact:
            return self._compact_rows_between(self._w, seg, lo, hi)
        sql = f"SELECT count(*) FROM {quote_ident(seg.tbl)} WHERE time >= ?"
        args = [lo]
        if hi is not None:
            sql += " AND time < ?"
            args.append(hi)
        return self._w.execute(sql, args).fetchone()[0]

    def _expire_next_txn(self, kind: str, cutoff: int, dropped: List[int]) -> Optional[int]:
        row = self._w.execute(
            f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE kind=? AND tbl != '' "
            "AND min_time < ?2 AND coalesce(floor, min_time) < ?2 ORDER BY min_time LIMIT 1",
            (kind, cutoff)).fetchone()
        if row is None:
            return None
        seg = _Segment(*row[:3], bool(row[3]), *row[4:])
        if seg.max_time is not None and seg.max_time < cutoff:
            return self._drop_segment(seg, dropped)
        gone = self._rows_between(seg, -(1 << 63) if seg.floor is None else seg.floor, cutoff)
        self._w.execute("UPDATE ccstore_segments SET floor=? WHERE id=?", (cutoff, seg.id))
        self._refresh_view(seg.cluster, seg.kind)
        return gone


def _pages(conn: apsw.Connection, free_too: bool) -> int:
    """Bytes of the pages of the database and the index file (less the free ones)."""
    n = 0
    for schema in ("main", _IX):
        page = conn.execute(f"PRAGMA {schema}.page_size").fetchone()[0]
        count = conn.execute(f"PRAGMA {schema}.page_count").fetchone()[0]
        if not free_too:
            count -= conn.execute(f"PRAGMA {schema}.freelist_count").fetchone()[0]
        n += page * count
    return n
