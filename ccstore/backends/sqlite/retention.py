"""Retention on a SQLite store: whole segments dropped, straddling ones given a floor.

Rows are never deleted one by one: a segment wholly before the cutoff is dropped
with its indexes; one that straddles it hides its rows below the cutoff from every
read until a later cutoff passes it whole.
"""
from __future__ import annotations

from typing import List, Optional

from .compact import block_fts_table, block_table
from .schema import _SEG_FIELDS, _Segment, quote_ident


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
        q = quote_ident(seg.tbl)
        if seg.max_time is not None and seg.max_time < cutoff:
            visible = seg.rows
            if seg.floor is not None:
                visible = self._rows_between(seg, seg.floor, None)
            for t in (seg.tbl + "_fts", block_table(seg.tbl), block_fts_table(seg.tbl)):
                self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(t)}")
            self._w.execute(f"DROP TABLE IF EXISTS {q}")
            self._w.execute("DELETE FROM ccstore_counts WHERE seg=?", (seg.id,))
            self._w.execute("DELETE FROM ccstore_facets WHERE seg=?", (seg.id,))
            self._w.execute("DELETE FROM ccstore_segments WHERE id=?", (seg.id,))
            self._refresh_view(seg.cluster, seg.kind)
            self._stats["segments_dropped"] += 1
            dropped.append(seg.id)
            return visible
        gone = self._rows_between(seg, -(1 << 63) if seg.floor is None else seg.floor, cutoff)
        self._w.execute("UPDATE ccstore_segments SET floor=? WHERE id=?", (cutoff, seg.id))
        self._refresh_view(seg.cluster, seg.kind)
        return gone
