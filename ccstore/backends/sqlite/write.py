"""Writing to a SQLite store: each write one transaction, rows appended to open segments.

A write appends each (cluster, kind)'s rows to its open segment, host by host,
feeds the segment's full-text index, and marks the segment full once it holds
``seal_rows`` rows, for the sealer.  A streamed write appends its batches as they
are decoded, all in one transaction.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...lineproto import RowStream
from ...rows import ROW_COLUMNS
from ..base import FULL, OPEN
from ..hostruns import group_by_host
from .schema import _SEG_FIELDS, _Segment, quote_ident

INSERT_COLUMNS = ROW_COLUMNS
#: the column list and parameters of an INSERT of a row tuple
_INSERT_COLS = ", ".join(INSERT_COLUMNS)
_INSERT_MARKS = ", ".join("?" * len(INSERT_COLUMNS))
#: the hostname of a row shaped as ROW_COLUMNS
_HOSTNAME_AT = ROW_COLUMNS.index("hostname")
_TIME_AT = ROW_COLUMNS.index("time")


class WriteSteps:
    """Appending rows to open segments."""

    def _open_segment(self, cluster: str, kind: str) -> _Segment:
        row = self._w.execute(
            f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE cluster=? AND kind=? AND state=? "
            "ORDER BY id DESC LIMIT 1", (cluster, kind, OPEN)).fetchone()
        if row is None:
            return self._create_segment(cluster, kind)
        return _Segment(*row[:3], bool(row[3]), *row[4:])

    def write(self, groups: Dict[Tuple[str, str], List[tuple]],
              state: Optional[Dict[str, str]] = None) -> None:
        if not groups and not state:
            return
        self._write(self._write_txn, groups, state)

    def write_stream(self, open_stream: Callable[[], RowStream],
                     state: Optional[Dict[str, str]] = None) -> None:
        """The batches of one write appended as they are decoded, in one transaction:
        memory holds one batch, and the write is stored whole or not at all."""
        self._write(self._write_stream_txn, open_stream, state)

    def _write(self, txn: Callable[..., bool], *args: Any) -> None:
        """Run the write transaction ``txn(*args)``; wake the sealer when it filled
        a segment."""
        try:
            full = self._txn(txn, *args)
        except BaseException:
            with self._heads_lock:  # may name rows that were rolled back: rebuilt on use
                self._heads.clear()
            raise
        if full:
            if self._sealer is not None:
                self._seal_wanted.set()
            else:
                self.seal_full()

    def _write_stream_txn(self, open_stream: Callable[[], RowStream],
                          state: Optional[Dict[str, str]]) -> bool:
        full = False
        for batch in open_stream():
            if batch.groups:
                full = self._write_txn(batch.groups, None) or full
        if state:
            full = self._write_txn({}, state) or full
        return full

    def _write_txn(self, groups: Dict[Tuple[str, str], List[tuple]],
                   state: Optional[Dict[str, str]]) -> bool:
        full = False
        for (cluster, kind), rows in groups.items():
            pos, n = 0, len(rows)
            while pos < n:
                seg = self._open_segment(cluster, kind)
                if seg.rows >= self.seal_rows:  # the store was opened with a smaller seal_rows
                    self._w.execute("UPDATE ccstore_segments SET state=? WHERE id=?",
                                    (FULL, seg.id))
                    full = True
                    continue
                take = min(n - pos, self.seal_rows - seg.rows)
                # host by host, within the rows of this segment (its time range stays)
                part, runs, mn, mx = group_by_host(rows[pos:pos + take] if take < n else rows,
                                                   _HOSTNAME_AT, _TIME_AT)
                pos += take
                q = quote_ident(seg.tbl)
                first = seg.last_id + 1
                # the first row's id is explicit: ids continue the segment's range
                # even when retention emptied the table
                self._w.execute(f"INSERT INTO {q}(id, {_INSERT_COLS}) VALUES(?, {_INSERT_MARKS})",
                                (first,) + tuple(part[0]))
                if take > 1:
                    self._w.executemany(self._append_sql(seg.tbl),
                                        itertools.islice(part, 1, None))
                last = self._w.last_insert_rowid() if take > 1 else first
                if last - first + 1 != take:
                    raise RuntimeError(f"{seg.tbl}: ids {first}..{last} for {take} rows")
                with self._heads_lock:
                    head = self._head(self._w, seg)
                    if head.last != first - 1:
                        raise RuntimeError(
                            f"{seg.tbl}: head index at {head.last}, rows from {first}")
                    head.add(first, last, runs)
                if seg.fts:
                    fq = quote_ident(seg.tbl + "_fts")
                    self._w.execute(
                        f"INSERT INTO {fq}(rowid, field) SELECT id, field FROM {q} "
                        "WHERE id BETWEEN ? AND ?", (first, last))
                rows_now = seg.rows + take
                new_state = FULL if rows_now >= self.seal_rows else OPEN
                full = full or new_state == FULL
                self._w.execute(
                    "UPDATE ccstore_segments SET rows=?3, last_id=?4, state=?5, "
                    "min_time=min(coalesce(min_time, ?1), ?1), "
                    "max_time=max(coalesce(max_time, ?2), ?2) WHERE id=?6",
                    (mn, mx, rows_now, last, new_state, seg.id))
                self._stats["rows_written"] += take
        if state:
            self._w.executemany(
                "INSERT INTO ccstore_state(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [(str(k), None if v is None else str(v)) for k, v in state.items()])
        return full

    def _append_sql(self, tbl: str) -> str:
        """The statement that appends a row tuple to segment ``tbl``, ids following.

        As short as it can be: APSW's ``executemany`` looks the statement up in
        its cache again for every row, hashing and comparing the SQL text, which
        costs the column-list form measurably more (docs/design/storage.md).
        """
        sql = self._appends.get(tbl)
        if sql is None:
            cols = [r[1] for r in self._w.execute(f"PRAGMA table_info({quote_ident(tbl)})")]
            if cols[0] == "id" and sorted(cols[1:]) == sorted(INSERT_COLUMNS):
                sql = (f"INSERT INTO {quote_ident(tbl)} VALUES(NULL,"
                       + ",".join(f"?{INSERT_COLUMNS.index(c) + 1}" for c in cols[1:]) + ")")
            else:
                sql = f"INSERT INTO {quote_ident(tbl)}({_INSERT_COLS}) VALUES({_INSERT_MARKS})"
            if len(self._appends) >= 64:
                self._appends.clear()
            self._appends[tbl] = sql
        return sql
