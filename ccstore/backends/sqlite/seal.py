"""Sealing full SQLite segments: their counts, then their indexes, off the write lock.

The sealer thread takes full segments one at a time: it counts rows per minute (by
name and level) and the values of the columns and tags (facets), and builds the
segment's indexes in the index file, all from read snapshots, so ingest goes on
meanwhile; a short write transaction then marks the segment sealed.
"""
from __future__ import annotations

import json
import logging
import threading
import time as _time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apsw

from ..base import FULL, SEALED
from .compact import BlockIndex, Encoded, encode_segment, index_blocks
from .schema import FACET_COLUMN_VALUES, FACET_COLUMNS, FACET_TAG_VALUES, quote_ident

log = logging.getLogger("ccstore.sqlite")


class SealSteps:
    """Sealing full segments, in the sealer thread or on :meth:`flush`."""

    def _seal_loop(self) -> None:
        while True:
            self._seal_wanted.wait()
            self._seal_wanted.clear()
            if self._stopping:
                return
            try:
                self.seal_full()
            except Exception:  # noqa: BLE001 - kept FULL, sealed on the next try or open
                self._stats["seal_errors"] += 1
                log.exception("sealing segments of %s failed", self.path)

    def flush(self) -> None:
        """Seal every full segment now (normally done in the background)."""
        self.seal_full()

    def seal_full(self) -> int:
        """Seal every full segment (:meth:`_seal_each`), in one thread at a time: a
        thread that comes while another seals waits, and then finds those segments
        sealed, rather than doing the same work on the same segment beside it."""
        with self._seal_lock:
            return self._seal_each()

    def _seal_each(self) -> int:
        """Index and summarise every full segment, one at a time.

        The per-minute counts are read from a snapshot, and the indexes built in
        the index file from a snapshot too: neither takes the database's write
        lock, so ingest goes on meanwhile.  A short write transaction then stores
        the counts (or counts again itself if the segment changed meanwhile) and
        marks the segment sealed.
        """
        sealed = 0
        while not (self._stopping and threading.current_thread() is self._sealer):
            t0 = _time.perf_counter()
            found = self._read(self._next_full)
            if found is None:
                return sealed
            seg_id, tbl, shape, counts = found
            blocks = index = None
            if self.compacting:  # blocks instead of indexes, encoded from a snapshot too
                blocks = self._read(encode_segment, tbl)
                if blocks is None:
                    continue  # dropped by retention meanwhile
                if self.fulltext and blocks[0]:
                    index = index_blocks(blocks[0])
            elif not self._build_indexes(seg_id, tbl):
                continue  # dropped by retention meanwhile
            if self._txn(self._seal_txn, seg_id, tbl, shape, counts, blocks, index) is None:
                if blocks is None:
                    self._drop_indexes([seg_id])  # retention dropped it meanwhile
                continue
            with self._heads_lock:
                self._heads.pop(seg_id, None)
            self._stats["seal_seconds"] += _time.perf_counter() - t0
            self._stats["segments_sealed"] += 1
            sealed += 1
            if self.max_disk_size is not None:
                if blocks is not None:
                    self.give_back_space()  # the row table's pages
                self.enforce_disk_cap()
        return sealed

    def _next_full(self, conn: apsw.Connection) -> Optional[tuple]:
        row = conn.execute(
            "SELECT id, tbl, rows, min_time FROM ccstore_segments WHERE state=? "
            "ORDER BY id LIMIT 1", (FULL,)).fetchone()
        if row is None:
            return None
        seg_id, tbl, rows, min_time = row
        return seg_id, tbl, (rows, min_time), _summary(conn, tbl, self._column_values())

    def _seal_txn(self, seg_id: int, tbl: str, shape: tuple,
                  counts: Tuple[List[tuple], List[tuple]],
                  blocks: Optional[Encoded] = None,
                  index: Optional[BlockIndex] = None) -> Optional[bool]:
        """Mark ``seg_id`` sealed: True, False if already sealed, None if it is gone.

        With ``blocks`` (encoded from a snapshot, with their block ``index`` when full
        text is on), the segment is compacted in the same transaction: a crash leaves
        either the full row table or the blocks.  A segment that changed since the
        snapshot is encoded again here."""
        row = self._w.execute("SELECT state, rows, min_time, fts, cluster, kind "
                              "FROM ccstore_segments WHERE id=?", (seg_id,)).fetchone()
        if row is None:
            return None  # dropped by retention
        if row[0] != FULL:
            return False  # sealed by another process
        same = tuple(row[1:3]) == shape
        if same:
            self._store_counts(seg_id, counts)
        else:
            self._summarise(seg_id, tbl)
        self._w.execute("UPDATE ccstore_segments SET state=?, ix=? WHERE id=?",
                        (SEALED, int(blocks is None), seg_id))
        if blocks is not None:
            if same:
                self._install_blocks(seg_id, tbl, bool(row[3]), blocks, index)
            else:
                self._install_blocks(seg_id, tbl, bool(row[3]),
                                     encode_segment(self._w, tbl) or ([], None))
            self._refresh_view(row[4], row[5])
            self._stats["segments_compacted"] += 1
        return True

    def _summarise(self, seg_id: int, tbl: str) -> None:
        self._store_counts(seg_id, _summary(self._w, tbl, self._column_values()))

    def _column_values(self) -> Optional[int]:
        """The most values of a column whose counts a sealed segment keeps: capped
        where the index file answers the hostname's counts (not when compacting)."""
        return None if self.compacting else FACET_COLUMN_VALUES

    def _store_counts(self, seg_id: int, counts: Tuple[List[tuple], List[tuple]]) -> None:
        minutes, facets = counts
        self._w.execute("DELETE FROM ccstore_counts WHERE seg=?", (seg_id,))
        self._w.executemany(
            "INSERT INTO ccstore_counts(seg, name, level, minute, n) VALUES(?, ?, ?, ?, ?)",
            [(seg_id,) + c for c in minutes])
        self._w.execute("DELETE FROM ccstore_facets WHERE seg=?", (seg_id,))
        self._w.executemany("INSERT INTO ccstore_facets(seg, field, value, n) VALUES(?, ?, ?, ?)",
                            [(seg_id,) + f for f in facets])


def _summary(conn: apsw.Connection, tbl: str, column_values: Optional[int] = None
             ) -> Tuple[List[tuple], List[tuple]]:
    """A segment's per-minute counts ``(name, level, minute, n)`` and facet counts
    ``(field, value, n)`` (:data:`~.schema.FACET_COLUMNS`).

    Two grouped reads of the table, grouped by SQLite, which leaves the GIL to the
    writer and the parser meanwhile: one of the columns of few values (name, level,
    minute, the other columns, the tag set), one of the hostname, whose values may
    be as many as the rows; the facets are tallied from those groups.  A column with
    more than ``column_values`` values (None: no limit) keeps only the marker
    ``("!", column, values)``: its counts are read from rows or the host index then."""
    q = quote_ident(tbl)
    cols = [c for c in FACET_COLUMNS if c not in ("name", "level", "hostname")]
    groups = {row[:-1]: row[-1] for row in conn.execute(
        f"SELECT name, level, {_floor_expr('timestamp')}, {', '.join(cols)}, othertags, "
        f"count(*) FROM {q} GROUP BY {', '.join(str(i + 1) for i in range(len(cols) + 4))}",
        (60,))}
    hosts = {row[:-1]: row[-1] for row in conn.execute(
        f"SELECT hostname, count(*) FROM {q} GROUP BY 1")}
    minutes: Dict[tuple, int] = {}
    tally: Dict[Tuple[str, Any], int] = {}
    sets: Dict[Any, int] = {}
    fields = ("name", "level", "", *cols)
    for key, n in groups.items():
        minute = key[:3]
        minutes[minute] = minutes.get(minute, 0) + n
        for field, value in zip(fields, key):
            if field:
                tally[(field, value)] = tally.get((field, value), 0) + n
        sets[key[-1]] = sets.get(key[-1], 0) + n
    facets: List[tuple] = [("*", None, sum(groups.values()))]
    values = {"hostname": len(hosts)}
    for field, _ in tally:
        values[field] = values.get(field, 0) + 1
    capped = {f for f, k in values.items() if column_values is not None and k > column_values}
    facets.extend(("!", f, values[f]) for f in sorted(capped))
    if "hostname" not in capped:
        facets.extend(("hostname", h, n) for (h,), n in hosts.items())
    facets.extend((f, v, n) for (f, v), n in tally.items() if f not in capped)
    tags: Dict[str, Dict[Any, int]] = {}
    for key, value, n in _tag_counts(conn, q, sets):
        have = tags.setdefault(key, {})
        have[value] = have.get(value, 0) + n
    for key, tvalues in tags.items():
        facets.append(("#", key, sum(tvalues.values())))
        if len(tvalues) > FACET_TAG_VALUES:
            facets.append(("!", key, len(tvalues)))
        else:
            facets.extend(("tag:" + key, v, n) for v, n in tvalues.items())
    return [k + (n,) for k, n in minutes.items()], facets


#: distinct tag sets of a segment read in Python at most; more are counted by SQLite
_TAG_SETS = 2000


def _tag_counts(conn: apsw.Connection, q: str, sets: Dict[Any, int]
                ) -> Iterator[Tuple[str, Any, int]]:
    """(tag key, value, rows) of a segment table, a key's values possibly split over
    several items, from its tag sets (``othertags`` text: rows).  Segments hold few
    distinct tag sets: each is decoded once."""
    if len(sets) <= _TAG_SETS:
        decoded = []
        for text, n in sets.items():
            try:
                tags = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                continue
            if not isinstance(tags, dict):
                continue
            if not all(isinstance(v, str) for v in tags.values()):
                break  # a value JSON types: SQLite says what it is
            decoded.append((tags, n))
        else:
            for tags, n in decoded:
                for key, value in tags.items():
                    yield key, value, n
            return
    yield from conn.execute(
        f"SELECT j.key, j.value, count(*) FROM {q} AS t, json_each(t.othertags) AS j "
        "WHERE json_valid(t.othertags) AND json_type(t.othertags) = 'object' GROUP BY 1, 2")


def _floor_expr(col: str) -> str:
    """SQL for ``col`` floored to a multiple of the bound parameter (also below 0)."""
    return f"({col} - ((({col} % ?1) + ?1) % ?1))"
