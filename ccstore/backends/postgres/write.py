"""Writing to a PostgreSQL store: each write one transaction of binary COPYs and bookkeeping.

A write's rows go into this writer's open segments by binary COPY, one statement
per segment, then one prepared statement records the write id and each segment's
new count and time range.  The write id makes a retry after a lost connection
safe; a large write is decoded piece by piece while its COPY runs.
"""
from __future__ import annotations

import time as _time
import uuid
from functools import partial
from operator import itemgetter
from typing import Callable, Dict, List, Optional, Tuple

import psycopg
from psycopg import sql

from ...lineproto import RowStream
from ...rows import ROW_COLUMNS, RowBatch
from ..base import FULL, ID_SHIFT, OPEN, merge_groups
from ..pgcopy import COPY_TRAILER as _COPY_TRAILER
from ..pgcopy import DAY_NS, copy_binary
from ..pgcopy import decode_rows as copy_decode_rows
from .schema import _ident
from .writers import STALE_OPEN_S, _conn_broken, _Open, _Writer

#: data columns as written by COPY (after the id)
INSERT_COLUMNS = ROW_COLUMNS
#: leading int8 columns of a row (time, timestamp); the rest is text, sent as such
#: by binary COPY (json accepts its text form)
COPY_INTS = 2
#: a write's bookkeeping in one statement, after its COPYs: its write id, and for
#: each segment it wrote (segment, next row number it started from, rows, min time,
#: max time) the new row count, next row number and time range, and whether the
#: segment is full now; a segment no longer open, or whose next row number is not
#: the one the write started from, is not returned
_BOOK_SQL = """
WITH w AS (INSERT INTO ccstore_writes(id) VALUES (%s)),
d AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],
                           %s::bigint[]) AS d(seg, base, n, mn, mx))
UPDATE ccstore_segments s SET rows = s.rows + d.n, next_n = s.next_n + d.n,
    min_time = least(s.min_time, d.mn), max_time = greatest(s.max_time, d.mx),
    state = CASE WHEN s.rows + d.n >= %s THEN %s ELSE s.state END, updated = now()
FROM d WHERE s.id = d.seg AND s.state = %s AND s.next_n = d.base
RETURNING s.id, s.state"""
#: the start of binary COPY data (signature and header), and its length
_COPY_START = copy_binary([], None, 0)[:-len(_COPY_TRAILER)]
_COPY_HEAD = len(_COPY_START)
_TIME = itemgetter(0)


class _Retry(Exception):
    """A segment this writer cached is no longer open: allocate another, try again."""


class _Whole(Exception):
    """A streamed write needs a table or segment made first: write it whole."""


class _SegmentGone(_Retry):
    def __init__(self, key) -> None:
        super().__init__(key)
        self.key = key


class _Target:
    """Rows of one write bound for one table: an open segment, or a table the Go
    program made (``seg`` None, ids from its sequence)."""

    __slots__ = ("key", "table", "seg", "rows", "mn", "mx", "count")

    def __init__(self, key: Optional[Tuple[str, str, int]], table: str, seg: Optional[_Open],
                 rows: List[tuple], mn: Optional[int], mx: Optional[int]) -> None:
        self.key = key
        self.table = table
        self.seg = seg
        self.rows = rows
        self.mn = mn
        self.mx = mx
        self.count = len(rows)

    def first_id(self, offset: int) -> Optional[int]:
        """The id of this write's row ``offset`` in the segment (None: the table's own)."""
        if self.seg is None:
            return None
        return (self.seg.seg << ID_SHIFT) + self.seg.next_n + 1 + offset

    def take(self, rows: List[tuple], day: int,
             held: Dict[Tuple[str, str], List[tuple]]) -> List[tuple]:
        """The rows of ``day`` (its time range widened by theirs); the others go to
        ``held`` under this target's cluster and kind."""
        times = list(map(_TIME, rows))
        lo, hi = min(times), max(times)
        if lo // DAY_NS != day or hi // DAY_NS != day:
            keep = [r for t, r in zip(times, rows) if t // DAY_NS == day]
            held.setdefault(self.key[:2], []).extend(
                r for t, r in zip(times, rows) if t // DAY_NS != day)
            if not keep:
                return keep
            rows = keep
            lo, hi = min(map(_TIME, keep)), max(map(_TIME, keep))
        self.widen(lo, hi)
        return rows

    def widen(self, lo: int, hi: int) -> None:
        """The time range widened to take in [lo, hi]."""
        self.mn = lo if self.mn is None else min(self.mn, lo)
        self.mx = hi if self.mx is None else max(self.mx, hi)


#: rows a streamed write holds back (groups other than the one its COPY takes)
#: before it copies them, to keep its memory bounded
HOLD_ROWS = 20_000


class _Held:
    """The targets of the rows a streamed write held back and copied, one per
    segment (their counts add up over the copies) plus those of plain tables."""

    def __init__(self) -> None:
        self.targets: List[_Target] = []
        self._by_key: Dict[Tuple[str, str, int], _Target] = {}

    def place(self, steps: "WriteSteps", w: _Writer, conn: psycopg.Connection,
              held: Dict[Tuple[str, str], List[tuple]]) -> List[Tuple[sql.Composed, bytes]]:
        """The COPY statements and data of ``held``; raises :class:`_Whole` when a
        table or segment would have to be made."""
        if not held:
            return []
        if any(key not in steps._tables for key in held):
            raise _Whole()  # a new table: made outside this transaction
        out = []
        for t in steps._targets(w, conn, steps._plan(conn, held), create=False):
            have = self._by_key.get(t.key) if t.key is not None else None
            if have is None:
                data = copy_binary(t.rows, t.first_id(0), COPY_INTS)
                if t.key is not None:
                    self._by_key[t.key] = t
                self.targets.append(t)
            else:
                data = copy_binary(t.rows, have.first_id(have.count), COPY_INTS)
                have.count += t.count
                have.widen(t.mn, t.mx)
            t.rows = []
            out.append((steps._copy_sql(t.table, plain=t.seg is None), data))
        return out


class WriteSteps:
    """Writes: planned per segment, copied, booked, retried."""

    #: line protocol per piece of a streamed write.  Small, so that the socket
    #: buffers always hold data the server has not copied yet while the next piece
    #: is decoded (larger pieces left the server idle: docs/design/postgres.md)
    stream_piece_bytes = 32 << 10
    #: PostgreSQL's text holds no NUL character
    stores_nul = False

    def write(self, groups: Dict[Tuple[str, str], List[tuple]],
              state: Optional[Dict[str, str]] = None) -> None:
        if not any(groups.values()) and not state:
            return
        self._write_retrying(None, groups, state)

    def write_stream(self, open_stream: Callable[[], RowStream],
                     state: Optional[Dict[str, str]] = None) -> None:
        self._write_retrying(open_stream, {}, state)

    def _write_retrying(self, open_stream: Optional[Callable[[], RowStream]],
                        groups: Dict[Tuple[str, str], List[tuple]],
                        state: Optional[Dict[str, str]]) -> None:
        """One write, retried after a reconnect unless its write id shows it committed.

        A write of ``open_stream`` (when given) is streamed on the first attempt;
        whatever makes that attempt fail, a retry decodes it again, whole.
        """
        wid = uuid.uuid4()
        w = self._take_writer()
        try:
            with self._lock:
                self._writing += 1
            self._write_attempts(w, wid, open_stream, groups, state)
        finally:
            with self._lock:
                self._writing -= 1
                self._last_write = _time.monotonic()
            w.lock.release()

    def _write_attempts(self, w: _Writer, wid: uuid.UUID,
                        open_stream: Optional[Callable[[], RowStream]],
                        groups: Dict[Tuple[str, str], List[tuple]],
                        state: Optional[Dict[str, str]]) -> None:
        """The attempts of one write, on writer ``w`` (its lock held)."""
        deadline = _time.monotonic() + self.retry_seconds
        attempt = 0
        delay = 0.05
        stream = open_stream is not None  # the next attempt streams
        while True:
            try:
                conn = self._writer(w)
                if attempt and conn.execute("SELECT 1 FROM ccstore_writes WHERE id = %s",
                                            (wid,)).fetchone():
                    self._bump("retried_writes_already_committed")
                    self._connection_ok()
                    return
                if stream:
                    stream = False
                    full = self._write_streamed(w, conn, wid, open_stream(), state)
                else:
                    if open_stream is not None:
                        groups = merge_groups(b.groups for b in open_stream())
                        open_stream = None
                    full = self._write_once(w, conn, wid, groups, state)
                self._connection_ok()
                if full:
                    self._seal_event.set()
                return
            except _SegmentGone as gone:
                w.open.pop(gone.key, None)
                continue
            except _Whole:
                self._bump("streams_written_whole")
                continue
            except psycopg.DataError as exc:
                # a value PostgreSQL cannot hold (a NUL character from write_batches):
                # said without the statement's context, which names internal tables
                raise ValueError(f"a value of this write cannot be stored: "
                                 f"{exc.diag.message_primary or type(exc).__name__}") from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not _conn_broken(w.conn) and not isinstance(exc, psycopg.InterfaceError):
                    raise
                self._connection_lost(exc, w)
                attempt += 1
                self._bump("write_retries")
                if _time.monotonic() + delay > deadline or self._closed:
                    raise
                _time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _plan(self, conn: psycopg.Connection, groups: Dict[Tuple[str, str], List[tuple]]
              ) -> List[Tuple[str, str, Optional[int], List[tuple], int, int]]:
        """(cluster, kind, day, rows, min time, max time); day None for a plain table."""
        out = []
        for (cluster, kind), rows in groups.items():
            if not rows:
                continue
            _, partitioned = self._table(conn, cluster, kind)
            if not partitioned:
                out.append((cluster, kind, None, rows, 0, 0))
                continue
            times = list(map(_TIME, rows))
            mn, mx = min(times), max(times)
            d0, d1 = mn // DAY_NS, mx // DAY_NS
            if d0 == d1:
                out.append((cluster, kind, d0, rows, mn, mx))
                continue
            by_day: Dict[int, List[tuple]] = {}
            for t, r in zip(times, rows):
                by_day.setdefault(t // DAY_NS, []).append(r)
            for d in sorted(by_day):
                ts = [r[0] for r in by_day[d]]
                out.append((cluster, kind, d, by_day[d], min(ts), max(ts)))
        return out

    def _targets(self, w: _Writer, conn: psycopg.Connection,
                 plan: List[Tuple[str, str, Optional[int], List[tuple], int, int]],
                 create: bool = True) -> List[_Target]:
        """Where each part of a plan goes: its open segment (made when missing and
        ``create``; outside any transaction, as segments are shared catalog state) or,
        for a table the Go program made, that table.  Without ``create`` a missing
        segment raises :class:`_Whole`."""
        out = []
        for cluster, kind, day, rows, mn, mx in plan:
            if day is None:
                out.append(_Target(None, self._tables[(cluster, kind)][0], None, rows, mn, mx))
                continue
            key = (cluster, kind, day)
            op = self._open_segment(w, conn, key, create)
            out.append(_Target(key, op.leaf, op, rows, mn, mx))
        return out

    def _open_segment(self, w: _Writer, conn: psycopg.Connection, key: Tuple[str, str, int],
                      create: bool = True) -> _Open:
        op = w.open.get(key)
        if op is not None and _time.monotonic() - op.used > STALE_OPEN_S / 2:
            # soon sealed as stale by any instance; leave it to that
            del w.open[key]
            op = None
        if op is None:
            if not create:
                raise _Whole()
            op = self._new_segment(w, conn, *key)
        return op

    def _write_once(self, w: _Writer, conn: psycopg.Connection, wid: uuid.UUID,
                    groups: Dict[Tuple[str, str], List[tuple]],
                    state: Optional[Dict[str, str]]) -> bool:
        targets = self._targets(w, conn, self._plan(conn, groups))
        with conn.transaction(), conn.cursor() as cur:
            self._copy_whole(cur, targets)
            filled = self._book(cur, wid, targets, state)
        return self._committed(w, targets, filled)

    def _write_streamed(self, w: _Writer, conn: psycopg.Connection, wid: uuid.UUID,
                        stream: RowStream, state: Optional[Dict[str, str]]) -> bool:
        """A write whose batches are decoded while it is sent: the largest group of
        the first batch goes into a COPY, fed batch by batch as they are taken
        (after the first, the stream encodes that group's rows of the day as COPY
        data itself, ids included); the rest (other groups, rows of another day)
        is held back and copied after it, in the same transaction.  Once
        ``HOLD_ROWS`` rows are held, the COPY is ended, the held rows copied, and
        a new COPY goes on where the first stopped: memory holds a few batches,
        never the write.

        Segments are made before the transaction begins; when a later batch needs
        one that does not exist yet, :class:`_Whole` rolls back and the caller
        writes everything whole (which makes it).
        """
        first = next((b for b in stream if any(b.groups.values())), None)
        if first is None:  # no rows at all
            return bool(state) and self._write_once(w, conn, wid, {}, state)
        groups = first.groups
        skey = max((k for k, rows in groups.items() if rows), key=lambda k: len(groups[k]))
        # the tables and segments of the first batch's groups exist before the transaction
        self._targets(w, conn, self._plan(conn, groups))
        table, partitioned = self._tables[skey]
        if partitioned:
            sday: Optional[int] = groups[skey][0][0] // DAY_NS
            op = self._open_segment(w, conn, (skey[0], skey[1], sday))
            target = _Target((skey[0], skey[1], sday), op.leaf, op, [], None, None)
        else:
            sday = None
            target = _Target(None, table, None, [], 0, 0)
        copy_sql = self._copy_sql(target.table, plain=target.seg is None)
        held: Dict[Tuple[str, str], List[tuple]] = {}
        kept = _Held()  # the targets of the held rows copied so far
        n = 0
        batch: Optional[RowBatch] = first
        with conn.transaction(), conn.cursor() as cur:
            while batch is not None:
                held_rows = 0
                with cur.copy(copy_sql) as cp:
                    cp.write(_COPY_START)
                    while batch is not None and held_rows < HOLD_ROWS:
                        for key, rows in batch.groups.items():
                            if not rows:
                                continue
                            if key != skey:
                                held.setdefault(key, []).extend(rows)
                                held_rows += len(rows)
                                continue
                            if sday is not None:
                                before = sum(map(len, held.values()))
                                rows = target.take(rows, sday, held)
                                held_rows += sum(map(len, held.values())) - before
                                if not rows:
                                    continue
                            data = copy_binary(rows, target.first_id(n), COPY_INTS)
                            cp.write(memoryview(data)[_COPY_HEAD:-len(_COPY_TRAILER)])
                            n += len(rows)
                        if batch.copied:
                            cp.write(batch.copy)
                            n += batch.copied
                            if sday is not None:
                                target.widen(batch.copy_min, batch.copy_max)
                        stream.decode_rows = partial(copy_decode_rows, copy_group=(
                            skey[0], skey[1], sday, target.first_id(n)))
                        batch = next(stream, None)
                    cp.write(_COPY_TRAILER)
                    # the held rows are placed and encoded while the server copies the
                    # last batches
                    encoded = kept.place(self, w, conn, held)
                    held = {}
                for data in encoded:
                    with cur.copy(data[0]) as hp:
                        hp.write(data[1])
            target.count = n
            targets = kept.targets + [target]
            filled = self._book(cur, wid, targets, state)
        self._bump("streamed_writes")
        return self._committed(w, targets, filled)

    def _copy_whole(self, cur: psycopg.Cursor, targets: List[_Target]) -> None:
        """Each target's rows by one binary COPY."""
        for t in targets:
            with cur.copy(self._copy_sql(t.table, plain=t.seg is None)) as cp:
                cp.write(copy_binary(t.rows, t.first_id(0), COPY_INTS))

    def _book(self, cur: psycopg.Cursor, wid: uuid.UUID, targets: List[_Target],
              state: Optional[Dict[str, str]]) -> List[Tuple[str, str, int]]:
        """A write's bookkeeping, after its rows and in their transaction: one
        statement records the write id, and for every segment written its new row
        count, next row number and time range.  Raises :class:`_SegmentGone` for a
        segment no longer open or written by someone else meanwhile (the
        transaction then rolls back).  Returns the segments now full."""
        segs = [t for t in targets if t.seg is not None]
        got = dict(cur.execute(
            _BOOK_SQL, (wid, [t.seg.seg for t in segs], [t.seg.next_n for t in segs],
                        [t.count for t in segs], [t.mn for t in segs], [t.mx for t in segs],
                        self.seal_rows, FULL, OPEN), prepare=True).fetchall())
        filled = []
        for t in segs:
            st = got.get(t.seg.seg)
            if st is None:
                raise _SegmentGone(t.key)
            if st == FULL:
                filled.append(t.key)
        if state:
            cur.executemany(
                "INSERT INTO ccstore_state(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(str(k), None if v is None else str(v)) for k, v in state.items()])
        return filled

    def _committed(self, w: _Writer, targets: List[_Target],
                   filled: List[Tuple[str, str, int]]) -> bool:
        """After COMMIT: the segments' next row numbers; full ones are no longer
        this writer's open ones.  True when one became full."""
        now = _time.monotonic()
        for t in targets:
            if t.seg is not None:
                t.seg.next_n += t.count
                t.seg.used = now
        for key in filled:
            w.open.pop(key, None)
        self._bump("transactions")
        self._bump("rows_written", sum(t.count for t in targets))
        return bool(filled)

    def _copy_sql(self, table: str, plain: bool = False) -> sql.Composed:
        """``COPY <table> (...) FROM STDIN (FORMAT BINARY)``, composed once per table."""
        stmt = self._copy_stmts.get(table)
        if stmt is None:
            if len(self._copy_stmts) > 256:
                self._copy_stmts.clear()
            cols = sql.SQL(", ").join(map(sql.Identifier, INSERT_COLUMNS if plain
                                          else ("id",) + INSERT_COLUMNS))
            stmt = self._copy_stmts[table] = sql.SQL(
                "COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(_ident(table), cols)
        return stmt
