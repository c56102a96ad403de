"""Retention on a SQLite store: whole segments dropped, straddling ones given a floor.

Retention of a whole kind never deletes rows one by one: a segment wholly before
the cutoff is dropped with its indexes; one that straddles it hides its rows below
the cutoff from every read until a later cutoff passes it whole.  Retention by log
level deletes the rows of those levels: from a row table with their full-text
entries, from a compacted segment by rewriting only the blocks that held them
(:func:`.blocks.decode_block` / :func:`.blocks.encode_block`); a sealed segment's
per-minute and facet counts lose the counts of the rows deleted.  With
``max_disk_size``, the oldest sealed segments are dropped after each seal while the
store's files, less their free pages (which SQLite reuses), hold more.
"""
from __future__ import annotations

import logging
from typing import Any, List, Optional, Sequence, Tuple

import apsw

from ..base import SEALED
from .blocks import COLUMNS, decode_block, encode_block
from .compact import block_fts_table, block_table
from .schema import _IX, _SEG_FIELDS, _Segment, quote_ident
from .seal import _summary

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

    # ------------------------------------------------------------- by level
    def expire_levels(self, kind: str, cutoff: int, levels: Sequence[str],
                      negate: bool = False) -> int:
        """Delete the rows of ``kind`` older than ``cutoff`` whose level is one of
        ``levels`` (``negate``: none of them, or missing), a segment per write
        transaction; return how many were visible.  Rows below a segment's floor
        are hidden already and stay."""
        levels = tuple(levels)
        seg_ids = [r[0] for r in self._read(lambda c: c.execute(
            "SELECT id FROM ccstore_segments WHERE kind=?1 AND tbl != '' AND min_time < ?2 "
            "AND coalesce(floor, min_time) < ?2 ORDER BY id", (kind, cutoff)).fetchall())]
        removed = 0
        for seg_id in seg_ids:
            removed += self._txn(self._expire_levels_txn, seg_id, cutoff, levels, negate)
        if removed:
            self._stats["rows_expired"] += removed
            self._stats["rows_expired_by_level"] += removed
            self.give_back_space()
        return removed

    def _expire_levels_txn(self, seg_id: int, cutoff: int, levels: Tuple[str, ...],
                           negate: bool) -> int:
        row = self._w.execute(f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE id=? "
                              "AND tbl != ''", (seg_id,)).fetchone()
        if row is None:
            return 0  # dropped meanwhile
        seg = _Segment(*row[:3], bool(row[3]), *row[4:])
        if seg.compact:
            gone = self._expire_level_blocks(seg, cutoff, levels, negate)
        else:
            gone = self._expire_level_rows(seg, cutoff, levels, negate)
        if not gone:
            return 0
        self._w.execute("UPDATE ccstore_segments SET rows=rows-? WHERE id=?", (len(gone), seg.id))
        if seg.state == SEALED:
            self._uncount(seg.id, gone)
        return len(gone)

    def _expire_level_rows(self, seg: _Segment, cutoff: int, levels: Tuple[str, ...],
                           negate: bool) -> List[tuple]:
        """Delete the expired rows of the given levels from row table ``seg`` (and its
        full-text table); return them shaped as :data:`~.blocks.COLUMNS`."""
        q = quote_ident(seg.tbl)
        conds = ["time < ?"]
        args: List[Any] = [cutoff]
        if seg.floor is not None:
            conds.append("time >= ?")
            args.append(seg.floor)
        marks = ", ".join("?" * len(levels))
        if negate:
            conds.append(f"(level IS NULL OR level NOT IN ({marks}))" if levels else "1")
        else:
            conds.append(f"level IN ({marks})")
        args.extend(levels)
        where = " AND ".join(conds)
        gone = self._w.execute(f"SELECT {', '.join(COLUMNS)} FROM {q} WHERE {where}",
                               args).fetchall()
        if gone:
            if seg.fts:
                fq = quote_ident(seg.tbl + "_fts")
                self._w.execute(f"INSERT INTO {fq}({fq}, rowid, field) "
                                f"SELECT 'delete', id, field FROM {q} WHERE {where}", args)
            self._w.execute(f"DELETE FROM {q} WHERE {where}", args)
        return gone

    def _expire_level_blocks(self, seg: _Segment, cutoff: int, levels: Tuple[str, ...],
                             negate: bool) -> List[tuple]:
        """Rewrite the blocks of compacted ``seg`` that hold expired rows of the given
        levels without them (a block left empty goes); return the rows deleted.

        The block index keeps the terms of the rows deleted: it names blocks that
        may hold a match, and every candidate is verified after decoding."""
        b = quote_ident(block_table(seg.tbl))
        zdict = self._zdict(self._w, seg.id)
        wanted = frozenset(levels)
        lo = seg.floor
        gone: List[tuple] = []
        for blk, data in self._w.execute(
                f"SELECT blk, data FROM {b} WHERE tmin IS NULL OR tmin < ?",
                (cutoff,)).fetchall():
            keep: List[tuple] = []
            drop: List[tuple] = []
            for r in decode_block(data, zdict=zdict):
                t, level = r[_TIME_AT], r[_LEVEL_AT]
                expired = (type(t) is int and t < cutoff and (lo is None or t >= lo)
                           and ((level is None or level not in wanted) if negate
                                else level in wanted))
                (drop if expired else keep).append(r)
            if not drop:
                continue
            gone.extend(drop)
            if keep:
                self._w.execute(f"UPDATE {b} SET n=?, data=? WHERE blk=?",
                                (len(keep), encode_block(keep, zdict=zdict), blk))
            else:
                self._w.execute(f"DELETE FROM {b} WHERE blk=?", (blk,))
        return gone

    def _uncount(self, seg_id: int, gone: List[tuple]) -> None:
        """Take rows ``gone`` (shaped as :data:`~.blocks.COLUMNS`) out of the
        per-minute and facet counts of sealed segment ``seg_id``: the counts the
        sealer would find in a table of those rows are subtracted."""
        scratch = apsw.Connection(":memory:")
        try:
            scratch.execute(_GONE_DDL)
            with scratch:
                scratch.executemany(f"INSERT INTO s VALUES({', '.join('?' * len(COLUMNS))})",
                                    gone)
            minutes, facets = _summary(scratch, "s")
        finally:
            scratch.close()
        self._w.executemany(
            "UPDATE ccstore_counts SET n = n - ? WHERE seg=? AND name IS ? AND level IS ? "
            "AND minute=?", [(n, seg_id, name, level, minute)
                             for name, level, minute, n in minutes])
        self._w.execute("DELETE FROM ccstore_counts WHERE seg=? AND n <= 0", (seg_id,))
        # "!" (a tag with too many values to keep) stays: that tag is counted from rows
        self._w.executemany(
            "UPDATE ccstore_facets SET n = n - ? WHERE seg=? AND field=? AND value IS ?",
            [(n, seg_id, field, value) for field, value, n in facets if field != "!"])
        self._w.execute("DELETE FROM ccstore_facets WHERE seg=? AND n <= 0 "
                        "AND field NOT IN ('*', '!')", (seg_id,))

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


_TIME_AT = COLUMNS.index("time")
_LEVEL_AT = COLUMNS.index("level")
#: a table shaped as a segment's, for the counts of rows deleted
_GONE_DDL = ("CREATE TABLE s(id INTEGER PRIMARY KEY, timestamp INTEGER, name TEXT, "
             "hostname TEXT, type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, othertags JSON, "
             "field TEXT, time INTEGER, level TEXT)")


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
