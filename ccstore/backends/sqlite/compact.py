"""Compacted segments on SQLite: sealed rows in compressed blocks, read back exactly.

A store opened with ``compact=True`` rewrites each segment when it is sealed (and
:meth:`CompactSteps.compact` rewrites those sealed before): its rows, sorted by
(hostname, time, id), go into blocks (:mod:`.blocks`) of about one host each in a
table ``<tbl>_b`` that records each block's host and time range (their dictionary,
zstd's trained on them or zlib's, in ``ccstore_dicts``), and, with full text on, into a
contentless FTS5 table ``<tbl>_bfts`` (``detail=none``) holding one document per
group of consecutive blocks.  The row table, its FTS5 table and its indexes in the index file go.
Everything but storing the result is done from a read snapshot, without the write lock:
the rows are read, sorted, encoded, and the block index is built in a private in-memory
database (:func:`index_blocks`); the write transaction then copies that index's rows
into the store's own FTS5 table, inserts the blocks and drops the row table.

A read of a compacted segment picks the blocks that may hold a match (host and
time ranges, the block index of the full-text terms), decodes them, and loads their
rows into a scratch table of the same shape in an in-memory database of the
reading thread; the read's own SQL then runs there unchanged, so every condition
means what it meant on the row table.
"""
from __future__ import annotations

import operator
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import apsw

from ..base import SEALED
from .blocks import (COLUMNS, block_layout, block_spans, compress_all, decode_block,
                     segment_dictionary, time_range)
from .fts import add_functions, literals_query, regex_search
from .schema import quote_ident

#: a block as stored: (rows, first host, last host, least time, greatest time, data,
#: full-text document)
Block = Tuple[int, Any, Any, Optional[int], Optional[int], bytes, str]
#: a segment's blocks and their preset dictionary
Encoded = Tuple[List[Block], Optional[bytes]]
#: a block index built apart: the rows of each of its shadow tables (:func:`index_blocks`)
BlockIndex = Dict[str, List[tuple]]

_SCRATCH_DDL = """
CREATE TABLE s(id INTEGER PRIMARY KEY, timestamp INTEGER, name TEXT, hostname TEXT,
               type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, othertags JSON, field TEXT,
               time INTEGER, level TEXT);
CREATE VIRTUAL TABLE s_fts USING fts5(field, content='s', content_rowid='id', columnsize=0);
"""
_SCRATCH_INSERT = f"INSERT INTO s({', '.join(COLUMNS)}) VALUES({', '.join('?' * len(COLUMNS))})"
_HOST_AT = COLUMNS.index("hostname")
_TIME_AT = COLUMNS.index("time")
_ID_AT = COLUMNS.index("id")
_FIELD_AT = COLUMNS.index("field")
_AT = {c: i for i, c in enumerate(COLUMNS)}
_TIME_ID = operator.itemgetter(_TIME_AT, _ID_AT)
_ID_OF = operator.itemgetter(_ID_AT)
_FIELD_OF = operator.itemgetter(_FIELD_AT)
#: a row of a block as a query selects it (``query.SELECT_COLUMNS``)
_AS_SELECTED = operator.itemgetter(*(_AT[c] for c in (
    "id", "time", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
    "othertags", "field")))
#: rows of a block at least (when split to fit a page) and at most
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 16, 4096
#: a block ends at a host's last row once it holds this many rows
HOST_BLOCK_ROWS = 64
#: the block index has one document per 2**FTS_GROUP_BITS consecutive blocks
FTS_GROUP_BITS = 3
#: bytes of a page a block leaves to the rest of its row (SQLite keeps a row of up to
#: the page size less 35 bytes in one page): a block takes one page at most
_ROW_ROOM = 160
#: the block index: a contentless FTS5 table without positions or column sizes
_BLOCK_FTS = "fts5(doc, content='', detail=none, columnsize=0)"
#: the shadow tables that hold such a table's index (its ``config`` one is made with it)
_FTS_SHADOWS = ("data", "idx")
#: a query part the block index can take as it is: a word or a "phrase", maybe a prefix
_QUERY_PART = re.compile(r'"(?:[^"]|"")*"\*?|[^\s"()]+')


def block_table(tbl: str) -> str:
    return tbl + "_b"


def block_fts_table(tbl: str) -> str:
    return tbl + "_bfts"


def encode_segment(conn: apsw.Connection, tbl: str) -> Optional[Encoded]:
    """The blocks of segment table ``tbl`` read on ``conn`` and their preset
    dictionary; None if the table is gone.

    A block ends at the last row of a host once it holds :data:`HOST_BLOCK_ROWS`
    rows, so a read of one host decodes about that many rows per segment; the
    segment's preset dictionary, made from some of its blocks, gives small blocks
    about the compression of large ones.  A block larger than a page is split.
    The blocks carry their full-text documents only when the segment has full text.
    """
    q = quote_ident(tbl)
    try:
        rows = _host_ordered(conn, q)
    except apsw.SQLError as exc:
        if f"no such table: {tbl}" in str(exc):
            return None
        raise
    if not rows:
        return [], None
    target = conn.execute("PRAGMA page_size").fetchone()[0] - _ROW_ROOM
    groups = [rows[a:b] for a, b in block_spans(rows, HOST_BLOCK_ROWS, MAX_BLOCK_ROWS)]
    layouts = [block_layout(g) for g in groups]
    zdict = segment_dictionary(layouts)
    texts = _odd_texts(conn, q) if _has_fulltext(conn, tbl) else None
    blocks: List[Block] = []
    for part, data in _fitted(groups, zdict, target, layouts):
        blocks.append((len(part), part[0][_HOST_AT], part[-1][_HOST_AT], *time_range(part),
                       data, "" if texts is None else _document(part, texts)))
    return blocks, zdict


#: a segment's rows in (hostname, time) order when Python orders their values as SQLite
_HOST_TIME = (operator.itemgetter(_TIME_AT), operator.itemgetter(_HOST_AT))


def _host_ordered(conn: apsw.Connection, q: str) -> List[tuple]:
    """The rows of segment table ``q`` shaped as :data:`COLUMNS`, ordered by (hostname,
    time, id).  Read in id order (the table's own, no sort in SQLite) and sorted here,
    stably, by time and then host; where a column holds values Python does not order
    (NULL, or text next to numbers) the sort fails and SQLite sorts them instead:
    values Python can order, it orders as SQLite does."""
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {q} ORDER BY id").fetchall()
    try:
        for key in _HOST_TIME:
            rows.sort(key=key)
    except TypeError:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {q} "
                            "ORDER BY hostname, time, id").fetchall()
    return rows


def _has_fulltext(conn: apsw.Connection, tbl: str) -> bool:
    row = conn.execute("SELECT fts FROM ccstore_segments WHERE tbl=?", (tbl,)).fetchone()
    return row is None or bool(row[0])


def _odd_texts(conn: apsw.Connection, q: str) -> Dict[int, str]:
    """The text of each ``field`` of table ``q`` that is neither text nor NULL, by id."""
    return dict(conn.execute(f"SELECT id, CAST(field AS TEXT) FROM {q} "
                             "WHERE typeof(field) NOT IN ('text', 'null')"))


def _document(rows: List[tuple], texts: Dict[int, str]) -> str:
    """The full-text document of a block: its rows' ``field`` as text, one a line."""
    if texts:
        fields = [f if f is None or isinstance(f, str) else texts[i]
                  for i, f in zip(map(_ID_OF, rows), map(_FIELD_OF, rows))]
    else:
        fields = list(map(_FIELD_OF, rows))
    return "\n".join([f for f in fields if f is not None])


def _fitted(groups: List[list], zdict: bytes, target: int,
            layouts: Optional[List[bytes]] = None) -> List[Tuple[list, bytes]]:
    """(rows, block) of each group, in order, a group whose block is larger than
    ``target`` (it would take two pages, one mostly empty) split in halves first.
    ``layouts``: the groups' uncompressed layouts, when made already."""
    if layouts is None:
        layouts = [block_layout(g) for g in groups]
    out: List[Tuple[list, bytes]] = []
    for part, data in zip(groups, compress_all(layouts, zdict=zdict)):
        if len(data) > target and len(part) > MIN_BLOCK_ROWS:
            half = len(part) // 2
            out.extend(_fitted([part[:half], part[half:]], zdict, target))
        else:
            out.append((part, data))
    return out


def _index_documents(blocks: List[Block]) -> Iterator[Tuple[int, str]]:
    """(rowid, document) of the block index: one per 2**FTS_GROUP_BITS blocks."""
    for g in range(((len(blocks) - 1) >> FTS_GROUP_BITS) + 1):
        yield g, "\n".join(blk[6] for blk in blocks[g << FTS_GROUP_BITS:
                                                    (g + 1) << FTS_GROUP_BITS])


def index_blocks(blocks: List[Block]) -> BlockIndex:
    """The block index of ``blocks``, built in a private in-memory database: the rows
    of its shadow tables, which the write transaction copies into an empty block
    index of the store (FTS5 keeps its whole index there)."""
    conn = apsw.Connection(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE x USING {_BLOCK_FTS}")
        with conn:
            conn.executemany("INSERT INTO x(rowid, doc) VALUES(?, ?)", _index_documents(blocks))
        return {s: conn.execute(f"SELECT * FROM x_{s}").fetchall() for s in _FTS_SHADOWS}
    finally:
        conn.close()


class CompactSteps:
    """Writing compacted segments, and reading them through a scratch table."""

    def _install_blocks(self, seg_id: int, tbl: str, fts: bool, encoded: Encoded,
                        index: Optional[BlockIndex] = None) -> None:
        """Replace row table ``tbl`` by its blocks (inside the caller's write transaction);
        ``index``: their block index built beforehand (:func:`index_blocks`), else it is
        built here."""
        blocks, zdict = encoded
        self._w.execute("DELETE FROM ccstore_dicts WHERE seg=?", (seg_id,))
        if zdict is not None:
            self._w.execute("INSERT INTO ccstore_dicts(seg, data) VALUES(?, ?)", (seg_id, zdict))
        b = quote_ident(block_table(tbl))
        self._w.execute(f"DROP TABLE IF EXISTS {b}")
        self._w.execute(f"CREATE TABLE {b}(blk INTEGER PRIMARY KEY, n INTEGER NOT NULL, "
                        "host_min, host_max, tmin INTEGER, tmax INTEGER, data BLOB NOT NULL)")
        self._w.executemany(
            f"INSERT INTO {b}(blk, n, host_min, host_max, tmin, tmax, data) "
            "VALUES(?, ?, ?, ?, ?, ?, ?)",
            [(i,) + blk[:6] for i, blk in enumerate(blocks)])
        bf = quote_ident(block_fts_table(tbl))
        self._w.execute(f"DROP TABLE IF EXISTS {bf}")
        if fts:
            self._w.execute(f"CREATE VIRTUAL TABLE {bf} USING {_BLOCK_FTS}")
            if index is None:
                self._w.executemany(f"INSERT INTO {bf}(rowid, doc) VALUES(?, ?)",
                                    _index_documents(blocks))
            else:  # an FTS5 index is its shadow tables' rows: copied as they are
                for shadow in _FTS_SHADOWS:
                    rows = index[shadow]
                    q = quote_ident(f"{block_fts_table(tbl)}_{shadow}")
                    self._w.execute(f"DELETE FROM {q}")
                    if rows:
                        self._w.executemany(
                            f"INSERT INTO {q} VALUES({', '.join('?' * len(rows[0]))})", rows)
        self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(tbl + '_fts')}")
        self._w.execute(f"DROP TABLE IF EXISTS {quote_ident(tbl)}")
        self._w.execute("UPDATE ccstore_segments SET compact=1, ix=0 WHERE id=?", (seg_id,))
        self._mark_compact_schema()

    def _mark_compact_schema(self) -> None:
        """A file holding compacted segments is schema 2: earlier ccstores refuse it."""
        self._w.execute("UPDATE ccstore_meta SET value='2' WHERE key='schema_version' "
                        "AND CAST(value AS INTEGER) < 2")

    def compact(self) -> int:
        """Compact every sealed segment that is not yet; return how many were."""
        done = 0
        while not self._closed:
            row = self._read(lambda c: c.execute(
                "SELECT id, tbl, fts, rows FROM ccstore_segments WHERE state=? AND compact=0 "
                "AND tbl != '' ORDER BY id LIMIT 1", (SEALED,)).fetchone())
            if row is None:
                return done
            seg_id, tbl, fts, rows = row
            blocks = self._read(encode_segment, tbl)
            index = index_blocks(blocks[0]) if (blocks and blocks[0] and fts) else None

            def txn() -> bool:
                now = self._w.execute("SELECT state, compact, rows FROM ccstore_segments "
                                      "WHERE id=?", (seg_id,)).fetchone()
                if now is None or now[1]:
                    return False
                if now[2] == rows:
                    self._install_blocks(seg_id, tbl, bool(fts), blocks or ([], None), index)
                else:
                    self._install_blocks(seg_id, tbl, bool(fts),
                                         encode_segment(self._w, tbl) or ([], None))
                self._refresh_view(*self._w.execute(
                    "SELECT cluster, kind FROM ccstore_segments WHERE id=?", (seg_id,)).fetchone())
                return True

            if self._txn(txn):
                self._drop_indexes([seg_id])
                self._stats["segments_compacted"] += 1
                done += 1
                self.enforce_disk_cap()
        if done:
            self.give_back_space()
        return done

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _zdict(conn: apsw.Connection, seg_id: int) -> Optional[bytes]:
        row = conn.execute("SELECT data FROM ccstore_dicts WHERE seg=?", (seg_id,)).fetchone()
        return None if row is None else row[0]

    def _segment_zdict(self, conn: apsw.Connection, seg: Any) -> Optional[bytes]:
        """The preset dictionary of compacted ``seg``, kept once read: a segment's
        blocks and dictionary never change once compacted, and ``last_id`` (its
        rows' greatest id, ids being unique in a store) tells a segment from a later
        one that took the same id."""
        cache = self.__dict__.setdefault("_zdicts", {})
        key = (seg.id, seg.last_id, seg.rows)
        try:
            return cache[key]
        except KeyError:
            pass
        zdict = self._zdict(conn, seg.id)
        if len(cache) >= _ZDICTS:
            cache.pop(next(iter(cache)), None)
        cache[key] = zdict
        return zdict

    def _scratch(self) -> apsw.Connection:
        conn = getattr(self._local, "scratch", None)
        if conn is None:
            conn = apsw.Connection(":memory:")
            conn.execute(_SCRATCH_DDL)
            add_functions(conn)
            self._local.scratch = conn
            self._local.scratch_fts = False  # whether s_fts holds entries
        return conn

    def _candidates(self, conn: apsw.Connection, seg: Any, spec: Any,
                    bounds: Tuple[Optional[int], Optional[int]]) -> List[tuple]:
        """The rows of ``seg``'s blocks that may match ``spec`` (a superset), shaped as
        :data:`~.blocks.COLUMNS`."""
        start, end = bounds
        b = quote_ident(block_table(seg.tbl))
        sql = [f"SELECT blk, data FROM {b} WHERE 1"]
        args: list = []
        if start is not None:
            sql.append("AND (tmax IS NULL OR tmax >= ?)")
            args.append(start)
        if end is not None:
            sql.append("AND (tmin IS NULL OR tmin <= ?)")
            args.append(end)
        hosts = spec.columns.get("hostname")
        if hosts:
            sql.append("AND (" + " OR ".join(
                "((host_min IS NULL OR host_min <= ?) AND (host_max IS NULL OR host_max >= ?))"
                for _ in hosts) + ")")
            for h in hosts:
                args.extend((h, h))
            if len(hosts) <= _SEARCHED_HOSTS:
                # the blocks of these hosts, found by binary search: a scan of the
                # block table would read every block
                ranges = [_host_blocks(conn, b, h) for h in hosts]
                sql.append("AND (" + " OR ".join("blk BETWEEN ? AND ?" for _ in ranges) + ")")
                for r in ranges:
                    args.extend(r)
        terms = None
        if seg.fts:
            parts = [_block_terms(t) for t in (spec.text, literals_query(spec.literals))
                     if t is not None]
            terms = " AND ".join(p for p in parts if p is not None) or None
        if terms is not None:
            bf = quote_ident(block_fts_table(seg.tbl))
            sql.append(f"AND (blk >> {FTS_GROUP_BITS}) IN "
                       f"(SELECT rowid FROM {bf} WHERE {bf} MATCH ?)")
            args.append(terms)
        host_set = set(hosts) if hosts else None
        zdict = self._segment_zdict(conn, seg)
        out: List[tuple] = []
        for _, data in conn.execute(" ".join(sql), args).fetchall():
            rows = decode_block(data, host_set, zdict)
            if start is not None or end is not None:
                rows = [r for r in rows if _may_pass(r[_TIME_AT], start, end)]
            out.extend(rows)
        self._stats["compacted_reads"] += 1
        return out

    def _load_scratch(self, conn: apsw.Connection, seg: Any, spec: Any,
                      bounds: Tuple[Optional[int], Optional[int]]) -> apsw.Connection:
        """Fill the scratch table with the rows of ``seg`` that may match ``spec`` (a
        superset: the read's SQL decides); return its connection."""
        rows = self._candidates(conn, seg, spec, bounds)
        scratch = self._scratch()
        scratch.execute("DELETE FROM s")
        if self._local.scratch_fts:
            scratch.execute("INSERT INTO s_fts(s_fts) VALUES('delete-all')")
            self._local.scratch_fts = False
        with scratch:
            scratch.executemany(_SCRATCH_INSERT, rows)
            if spec.text is not None and seg.fts:
                scratch.execute("INSERT INTO s_fts(s_fts) VALUES('rebuild')")
                self._local.scratch_fts = True
        return scratch

    def _select_rows(self, conn: apsw.Connection, seg: Any, spec: Any,
                     bounds: Tuple[Optional[int], Optional[int]]) -> Optional[List[tuple]]:
        """The records of compacted ``seg`` that ``spec`` selects, in its order and
        cut to its limit, shaped as ``SELECT_COLUMNS``, filtered in Python: for a spec
        of time, column, level and cursor conditions over integer times and text
        values, which compare alike in Python and SQLite.  None for anything else
        (the read then runs its SQL on the scratch table)."""
        if spec.tags or spec.text is not None:
            return None
        conds = [(_AT[c], frozenset(v), False) for c, v in spec.columns.items()]
        conds += [(_AT[c], frozenset(v), True) for c, v in spec.exclude.items()]
        if spec.levels is not None:
            conds.append((_AT["level"], frozenset(spec.levels.values), spec.levels.negate))
        if not all(type(x) is str for _, values, _ in conds for x in values):
            return None
        literals = spec.contains
        lowered = spec.icontains
        searches = [regex_search(p) for p in spec.regex]
        start, end = bounds
        after = spec.after
        desc = spec.order == "desc"
        out = []
        rows = self._candidates(conn, seg, spec, bounds)
        if literals or lowered or searches:  # the message first: it turns most rows down
            rows = [r for r in rows
                    if _message_may_pass(r[_FIELD_AT], literals, lowered, searches)]
        for r in rows:
            t = r[_TIME_AT]
            if type(t) is not int or type(r[_ID_AT]) is not int:
                return None
            if (start is not None and t < start) or (end is not None and t > end):
                continue
            ok = True
            for at, values, negate in conds:
                v = r[at]
                if v is not None and type(v) is not str:
                    return None
                # SQL: NULL IN (...) is not true; (v IS NULL OR v NOT IN (...))
                if (v is None or v not in values) if negate else (v in values):
                    continue
                ok = False
                break
            if not ok:
                continue
            if (literals or lowered or searches) and type(r[_FIELD_AT]) is not str:
                return None
            if after is not None:
                key = (t, r[_ID_AT])
                if (key >= after) if desc else (key <= after):
                    continue
            out.append(r)
        out.sort(key=_TIME_ID, reverse=desc)
        if spec.limit is not None:
            del out[spec.limit:]
        return list(map(_AS_SELECTED, out))

    def _compact_rows_between(self, conn: apsw.Connection, seg: Any, lo: int,
                              hi: Optional[int]) -> int:
        """Rows of compacted ``seg`` whose time is in ``[lo, hi)`` (``hi`` None: no end),
        compared as SQLite compares them."""
        sql = (f"SELECT data FROM {quote_ident(block_table(seg.tbl))} "
               "WHERE (tmax IS NULL OR tmax >= ?)")
        args = [lo]
        if hi is not None:
            sql += " AND (tmin IS NULL OR tmin < ?)"
            args.append(hi)
        scratch = self._scratch()
        zdict = self._zdict(conn, seg.id)
        n = 0
        for (data,) in conn.execute(sql, args).fetchall():
            times = [(r[_TIME_AT],) for r in decode_block(data, zdict=zdict)]
            scratch.execute("CREATE TEMP TABLE IF NOT EXISTS tm(time INTEGER)")
            scratch.execute("DELETE FROM tm")
            scratch.executemany("INSERT INTO tm VALUES(?)", times)
            n += scratch.execute("SELECT count(*) FROM tm WHERE time >= ?"
                                 + ("" if hi is None else " AND time < ?"),
                                 args).fetchone()[0]
        return n


def _message_may_pass(v: Any, literals: Sequence[str], lowered: Sequence[str],
                      searches: Sequence[Callable[[str], Any]]) -> bool:
    """False only when message ``v`` surely fails ``instr(field, lit) > 0`` for one of
    ``literals``, ``instr(lower(field), lit) > 0`` for one of ``lowered`` (ASCII
    letters map alike in both lower cases), or ``ccstore_regexp`` for one of
    ``searches``."""
    if type(v) is not str:
        return v is not None  # NULL fails them all; other types: SQL decides
    for lit in literals:
        if lit not in v:
            return False
    if lowered:
        low = v.lower()
        for lit in lowered:
            if lit not in low:
                return False
    for search in searches:
        if search(v) is None:
            return False
    return True


#: preset dictionaries of compacted segments kept in memory (32 KiB each at most)
_ZDICTS = 256
#: a read of at most this many hosts finds their blocks by binary search
_SEARCHED_HOSTS = 16
#: the first block of a block table ``{b}`` whose ``{col} {op} ?`` holds (a NULL
#: counts as not), by binary search on its row ids, which follow the blocks'
#: (hostname, time, id) order: one statement, a few pages read
_BISECT = """
WITH RECURSIVE s(lo, hi) AS (
    SELECT 0, (SELECT coalesce(max(blk) + 1, 0) FROM {b})
    UNION ALL
    SELECT CASE WHEN (SELECT {col} {op} ?1 FROM {b} WHERE blk = (lo + hi) / 2)
                THEN lo ELSE (lo + hi) / 2 + 1 END,
           CASE WHEN (SELECT {col} {op} ?1 FROM {b} WHERE blk = (lo + hi) / 2)
                THEN (lo + hi) / 2 ELSE hi END
    FROM s WHERE lo < hi)
SELECT lo FROM s WHERE lo >= hi
"""


def _host_blocks(conn: apsw.Connection, b: str, host: str) -> Tuple[int, int]:
    """The row ids ``(first, last)`` of the blocks of block table ``b`` that may hold
    rows of ``host`` (none: ``first > last``).  A block's host range is that of its
    rows, and the blocks follow (hostname, time, id) order, so the blocks with
    ``host_max >= host`` and ``host_min <= host`` are consecutive; a block of NULL
    hosts (they sort first) holds no row of a host."""
    first = conn.execute(_BISECT.format(b=b, col="host_max", op=">="), (host,)).fetchone()[0]
    after = conn.execute(_BISECT.format(b=b, col="host_min", op=">"), (host,)).fetchone()[0]
    return first, after - 1


def _may_pass(t: Any, start: Optional[int], end: Optional[int]) -> bool:
    """False only when time ``t`` surely fails the read's time bounds."""
    if not isinstance(t, int):
        return t is not None  # NULL fails every time bound; other types: SQL decides
    return (start is None or t >= start) and (end is None or t <= end)


def _block_terms(text: str) -> Optional[str]:
    """A query for the block index that every block holding a match of FTS5 query
    ``text`` matches: the AND of its tokens.  None when ``text`` is more than words
    and phrases joined by AND (then every block is read)."""
    parts = _QUERY_PART.findall(text)
    if re.sub(r"\s+", "", "".join(parts)) != re.sub(r"\s+", "", text):
        return None
    tokens: List[str] = []
    prefix_last: List[bool] = []
    for part in parts:
        if part == "AND":
            continue
        if part in ("OR", "NOT", "NEAR") or part.startswith(("^", "-", "+")) or ":" in part:
            return None
        prefix = part.endswith("*")
        body = part[:-1] if prefix else part
        if body.startswith('"'):
            body = body[1:-1].replace('""', '"')
        toks = _tokenize(body)
        if not toks:
            return None
        tokens.extend(toks)
        prefix_last.extend([False] * (len(toks) - 1) + [prefix])
    if not tokens:
        return None
    return " AND ".join('"' + t.replace('"', '""') + '"' + ("*" if p else "")
                        for t, p in zip(tokens, prefix_last))


_tokenizer_conn: List[apsw.Connection] = []


def _tokenize(text: str) -> List[str]:
    """FTS5's unicode61 tokens of ``text`` (as the block index holds them)."""
    if not _tokenizer_conn:
        _tokenizer_conn.append(apsw.Connection(":memory:"))
    tok = _tokenizer_conn[0].fts5_tokenizer("unicode61")
    out = tok(text.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None,
              include_offsets=False, include_colocated=False)
    return [t if isinstance(t, str) else t[0] for t in out]
