"""PostgreSQL backend (psycopg 3): time-partitioned tables, segments indexed once sealed.

Layout.  Each cluster and kind has the Go program's table ``"<cluster>_events"``
/ ``"<cluster>_logs"`` (Go columns plus ``time`` in ns and ``level``), natively
partitioned by ``RANGE (time)`` into daily partitions created on demand.  Each
daily partition is partitioned again by ``RANGE (id)`` into *segments*: a writer
appends to its own open segment (ids ``segment << 32 | n``, unique in the
database, so ``(time, id)`` orders records totally and a cursor stays valid);
when it holds ``seal_rows`` rows it is marked full in the write transaction and
a background thread *seals* it: rewrites it in ``(hostname, time)`` order (so
one host's rows share pages: a host query reads a few dozen pages per segment,
not one page per row), builds its ``(hostname, time, id)`` and ``(time, id)``
b-tree indexes and its full-text GIN index in one go, and stores per-minute
counts.  Retention drops whole daily partitions (and whole segments of the day
that straddles the cutoff, deleting only inside the one segment that straddles
it).  The catalog ``ccstore_segments`` records each segment's time range, so
a query reads only the segments that overlap its range, newest first.

Why defer the indexes: measured on this kind of machine (2 cores, psycopg
binary COPY of ready-made rows, 300,000 rows in 10,000-row transactions), COPY
into an unindexed table ran at about 210,000 rows/s (text COPY 145,000-166,000,
so binary is used), with the two b-tree indexes kept live 46,000 rows/s, with a
live tsvector GIN 27,000 and with a live trigram GIN 11,000.  Building the same
indexes on 131,072 sealed rows cost 2.5 + 1.4 us per row for the b-trees.

Full-text: pg_trgm (GIN ``gin_trgm_ops`` on ``field``), not tsvector.  Both were
measured: the bulk GIN build cost about 19 us/row for ``to_tsvector('simple',
field)`` and about 29-31 us/row for trigrams, but the tsvector form needs
``regexp_replace``/``translate`` on every row to give SQLite's answers (the
default parser keeps ``java.lang.NullPointerException`` as one lexeme, so
``NullPointerException`` would not find it), which brings it to 32-34 us/row:
the same cost.  What decides is the open (not yet indexed) segment, which every
query of recent data reads: a substring test (``ILIKE``) costs about 1.5 us per
row there, ``to_tsvector(...) @@`` about 8 us.  The trigram index answers the
same ``ILIKE`` conditions on sealed segments, so one predicate serves both (the
first 100 ``NullPointerException`` lines of 10,000,000, newest first: 6 ms).
SQLite FTS5 queries (words, ``"phrases"``, ``prefix*``, AND/OR/NOT,
parentheses) are translated to ``field ILIKE '%word%'`` (indexed) plus a
case-insensitive regular expression, through ``regexp_like()`` so that the
planner estimates rows from the ILIKE terms alone, that checks token boundaries
the way FTS5's unicode61 tokenizer sees them (runs of letters and digits), so
the answers are the same.  (In a database with the C locale, PostgreSQL's
``[:alnum:]`` is ASCII only: non-ASCII letters then count as separators.)

Sealing is the price of indexing: on the standard workload about 1.4 s per
million rows for the b-trees and per-minute counts, about 26 s per million with
the trigram index.  It runs beside ingest, one segment at a time, and any
instance's sealer may take any full segment (``FOR UPDATE SKIP LOCKED``), so
several instances writing one database share that work.

Writes: one transaction per :meth:`write`: a write id is inserted into
``ccstore_writes`` in the same transaction as the rows, so when the connection
breaks (even during COMMIT) the write is retried after reconnecting only if
that id is absent: no loss, no duplicates.  Outages are counted in
:meth:`stats`.  ``synchronous_commit`` is always on: what is acknowledged is
committed.

Ingest.  A write's rows go in by binary COPY, one statement per segment, then
one prepared bookkeeping statement (the write id; each segment's row count,
next row number and time range), then COMMIT.  A segment's ids are counted by
the writer that holds it open (no one else writes it); the bookkeeping
statement checks that count, so a write into a segment taken meanwhile (marked
full elsewhere) or whose count is off (a commit whose answer was lost) rolls
back and goes to a new segment.  The COPY data is made by one call of
``copy_binary`` (:mod:`ccstore.backends.pgcopy`; compiled: a loop in C over the
row tuples).  Per row the server then does what a raw COPY into an unindexed table does, and the
bookkeeping costs about 1.7 ms per write.

Concurrent writes (several HTTP clients, receivers) run on up to ``writers``
connections (default 2), each with segments of its own, so the server copies
them in parallel.  A write takes the first free writer: one thread's writes keep
to one connection.  One server backend copies about as fast as raw COPY; a
second one pays off where the server has cores to spare.  On 2 cores, shared by
the client's decoding (one thread at a time holds the GIL) and the backends, two
threads writing the standard workload gave (medians of 5-6 rounds, each against
raw COPY binary just before) 0.89x with two writers against 0.81x with one in one
run, 0.77x against 0.78x in another; two stores writing one database 0.95x
against 0.77x through a single connection.

A large write (``Store.write`` of more than two pieces of
:attr:`~PostgresBackend.stream_piece_bytes` of line protocol) is decoded piece
by piece while its COPY runs: the largest group (cluster, kind, day) of the
first piece goes into one COPY statement fed a piece at a time, so the server
copies one piece while the next is decoded; the other groups are held back and
copied whole after it, in the same transaction.  (A COPY statement per piece
was slower: every statement costs a fill and a drain of the client-server
pipeline, about 13 ms more for 10,000 rows as five statements than as one.)
After the first piece the decoder writes that group's rows as COPY data itself
(``pgcopy.decode_rows(..., copy_group=...)``: ids counted on from the segment's, no
row tuples, no str objects): decoding and encoding a 10,000-line write of the
standard workload in 32 kB pieces took 3.3 ms instead of 4.8 ms (medians of 15
runs, the two ways taking turns).  A piece that needs a table or segment the
write did not have when it began (a new cluster, a new day) sends the write back
to be decoded again and written whole, as segments are made outside write
transactions; so does a lost connection.  Decoding a write whole before its COPY bound one writer to
decoding and COPY one after the other (0.71-0.82x raw COPY binary; measured
0.50-0.66x).  ``bench_postgres.py --ingest-lines 300000 --skip-queries --rounds
5`` (10,000 lines per write, fsync on, 2 cores), one writer and raw COPY binary
taking turns write by write, median of the rounds: 0.98-1.00x raw COPY binary
with full-text off, 0.95-0.98x with it on (three runs); with row tuples made
for every row and encoded by ``copy_binary`` it was 0.79-0.83x and 0.80-0.83x.
The background sealer waits for a pause in the writes (see
:data:`SEAL_QUIET_S`); the bench prints the sealing time after the writes apart.

Tables made by the Go program (plain tables) are detected on open and kept:
the missing columns and indexes are added, ids are moved into a segment range,
new rows get ids from a sequence, retention deletes rows there.

Every identifier is quoted with :class:`psycopg.sql.Identifier`; every value is
bound.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re
import threading
import time as _time
import urllib.parse
import uuid
from dataclasses import replace
from functools import partial
from operator import itemgetter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ..lineproto import RowStream
from ..rows import LEVEL_TAG, NS_PER_S, ROW_COLUMNS, RowBatch
from .base import (FULL, GO_COLUMNS, ID_SHIFT, OPEN, SEALED, TABLE_SUFFIX, Backend, GroupKey,
                   QuerySpec, merge_groups)
from .pgcopy import DAY_NS, copy_binary
from .pgcopy import decode_rows as copy_decode_rows

__all__ = ["PostgresBackend", "conninfo_from_go_config", "fts_to_sql"]

SCHEMA_VERSION = 1
#: segment state of a table the Go program made (besides those of base)
PLAIN = 3
#: full, and its rows already rewritten in (hostname, time) order
SORTED = 4
MINUTE_NS = 60 * NS_PER_S
#: advisory lock class of ccstore's catalog changes ("ccst")
LOCK_CLASS = 0x63637374
#: data columns as written by COPY (after the id)
INSERT_COLUMNS = ROW_COLUMNS
#: leading int8 columns of a row (time, timestamp); the rest is text, sent as such
#: by binary COPY (json accepts its text form)
COPY_INTS = 2
MAX_IDENT = 63
#: segments queried in one statement at most
MAX_UNION = 64
#: segments read by a query's first statement; each next statement reads twice as
#: many (one host for one hour on 10,000,000 lines: p50 6.6-7.0 ms starting with
#: 8 segments, 8.0-11.4 ms with all of them in one statement, planned as one)
FIRST_UNION = 8
#: an open segment not written for this long is sealed by anyone
STALE_OPEN_S = 600
#: write ids are kept this long (a retry comes within seconds)
WRITE_ID_KEEP_S = 86400
#: the background sealer sorts and indexes full segments when this instance's
#: writes pause for this long (it competes with them for the CPU: 0.77x raw COPY
#: with it running during a burst of writes, 0.85x without, medians of 6 rounds) ...
SEAL_QUIET_S = 0.2
#: ... or, while they go on, this long after it was woken by a full segment
SEAL_DEFER_S = 10.0

_SEG_FIELDS = "id, cluster, kind, tbl, state, fts, min_time, max_time, rows"

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
#: the end of binary COPY data, and the length of its start (signature and header)
_COPY_TRAILER = b"\xff\xff"
_COPY_START = copy_binary([], None, 0)[:-len(_COPY_TRAILER)]
_COPY_HEAD = len(_COPY_START)
_TIME = itemgetter(0)

_FILL_FUNCTION = """
CREATE OR REPLACE FUNCTION ccstore_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.time IS NULL THEN
        NEW.time := NEW.timestamp * 1000000000;
    END IF;
    IF NEW.level IS NULL AND NEW.othertags IS NOT NULL THEN
        NEW.level := NEW.othertags::text::jsonb ->> TG_ARGV[0];
    END IF;
    RETURN NEW;
END $$"""


def _ident(name: str) -> sql.Identifier:
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return sql.Identifier(name)


def _utf8len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def conninfo_from_go_config(cfg: dict) -> str:
    """The Go program's postgres backend config -> a ``postgresql://`` URL.

    Keys: ``server`` (default localhost; a path means a unix socket directory),
    ``port`` (default 5432), ``database_path`` (the database name),
    ``username``, ``password``, ``flags`` (``["sslmode=verify-full", ...]``,
    libpq parameters) and ``connection_timeout`` (seconds, default 1 as in Go).
    """
    if not isinstance(cfg, dict):
        raise TypeError("postgres backend config must be an object")
    server = str(cfg.get("server") or "localhost")
    port = cfg.get("port") or 5432
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"postgres backend: invalid port {cfg.get('port')!r}") from None
    dbname = str(cfg.get("database_path") or cfg.get("database") or "")
    user = str(cfg.get("username") or "")
    password = str(cfg.get("password") or "")
    params: List[Tuple[str, str]] = []
    flags = cfg.get("flags") or []
    if isinstance(flags, str):
        flags = [flags]
    for flag in flags:
        flag = str(flag).lstrip("?&")
        for part in flag.split("&"):
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"postgres backend: flag {part!r} is not key=value")
            params.append((key.strip(), value.strip()))
    timeout = cfg.get("connection_timeout", 1)
    if timeout not in (None, "") and not any(k == "connect_timeout" for k, _ in params):
        try:
            t = int(float(timeout))
        except (TypeError, ValueError):
            raise ValueError(f"postgres backend: invalid connection_timeout {timeout!r}") \
                from None
        if t > 0:
            params.append(("connect_timeout", str(max(t, 2))))  # libpq's minimum
    netloc = ""
    if user:
        netloc = urllib.parse.quote(user, safe="")
        if password:
            netloc += ":" + urllib.parse.quote(password, safe="")
        netloc += "@"
    if server.startswith("/"):
        params.insert(0, ("host", server))
        params.insert(1, ("port", str(port)))
    else:
        host = f"[{server}]" if ":" in server and not server.startswith("[") else server
        netloc += f"{host}:{port}"
    url = f"postgresql://{netloc}/{urllib.parse.quote(dbname, safe='')}"
    if params:
        url += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return url


# ---------------------------------------------------------------------- full-text
_B = "[^[:alnum:]]"


class _Lexer:
    """Tokens of an SQLite FTS5 query: (kind, value) with kind in
    ``( ) + * : AND OR NOT WORD PHRASE``."""

    def __init__(self, text: str) -> None:
        self.toks: List[Tuple[str, str]] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()+*:":
                self.toks.append((c, c))
                i += 1
            elif c == '"':
                j = i + 1
                buf = []
                while True:
                    if j >= n:
                        raise ValueError("invalid full-text query: unterminated string")
                    if text[j] == '"':
                        if j + 1 < n and text[j + 1] == '"':
                            buf.append('"')
                            j += 2
                            continue
                        break
                    buf.append(text[j])
                    j += 1
                self.toks.append(("PHRASE", "".join(buf)))
                i = j + 1
            elif c.isalnum() or c == "_" or c == "\x1a" or ord(c) > 127:
                j = i
                while j < n and (text[j].isalnum() or text[j] in "_\x1a" or ord(text[j]) > 127):
                    j += 1
                word = text[i:j]
                self.toks.append((word, word) if word in ("AND", "OR", "NOT", "NEAR")
                                 else ("WORD", word))
                i = j
            elif c in "^-{}":
                raise ValueError(f"full-text syntax {c!r} is not supported")
            else:
                raise ValueError(f"invalid full-text query: unexpected {c!r}")
        self.pos = 0

    def peek(self) -> Optional[str]:
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def take(self) -> Tuple[str, str]:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok


def _tokens(text: str) -> List[str]:
    """Lower-cased tokens as FTS5's unicode61 tokenizer forms them (runs of
    letters and digits)."""
    out, cur = [], []
    for ch in text:
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur).lower())
            cur = []
    if cur:
        out.append("".join(cur).lower())
    return out


def _phrase_sql(tokens: List[str], prefix: bool, func: bool) -> Tuple[sql.Composable, list]:
    if not tokens:
        return sql.SQL("FALSE"), []
    conds: List[sql.Composable] = []
    args: list = []
    for t in tokens:
        conds.append(sql.SQL("field ILIKE %s"))
        args.append("%" + t + "%")
    pattern = f"(^|{_B})" + f"{_B}+".join(re.escape(t) for t in tokens)
    if not prefix:
        pattern += f"($|{_B})"
    # regexp_like() rather than ~*: the planner then estimates the rows from the
    # ILIKE conditions alone (a regex guess is far too selective, which turns a
    # "first 100 of a frequent word" into reading every match of the segment)
    conds.append(sql.SQL("regexp_like(field, %s, 'i')" if func else "field ~* %s"))
    args.append(pattern)
    return sql.SQL("({})").format(sql.SQL(" AND ").join(conds)), args


class _Parser:
    def __init__(self, text: str, func: bool) -> None:
        self.lx = _Lexer(text)
        self.func = func

    def parse(self) -> Tuple[sql.Composable, list]:
        if self.lx.peek() is None:
            raise ValueError("invalid full-text query: empty")
        expr = self.or_expr()
        if self.lx.peek() is not None:
            raise ValueError(f"invalid full-text query near {self.lx.take()[1]!r}")
        return expr

    def or_expr(self):
        left, args = self.and_expr()
        while self.lx.peek() == "OR":
            self.lx.take()
            right, rargs = self.and_expr()
            left, args = sql.SQL("({} OR {})").format(left, right), args + rargs
        return left, args

    def and_expr(self):
        left, args = self.not_expr()
        while self.lx.peek() in ("AND", "WORD", "PHRASE", "("):
            if self.lx.peek() == "AND":
                self.lx.take()
            right, rargs = self.not_expr()
            left, args = sql.SQL("({} AND {})").format(left, right), args + rargs
        return left, args

    def not_expr(self):
        left, args = self.primary()
        while self.lx.peek() == "NOT":
            self.lx.take()
            right, rargs = self.primary()
            left, args = sql.SQL("({} AND NOT {})").format(left, right), args + rargs
        return left, args

    def primary(self):
        kind = self.lx.peek()
        if kind == "(":
            self.lx.take()
            expr = self.or_expr()
            if self.lx.peek() != ")":
                raise ValueError("invalid full-text query: missing ')'")
            self.lx.take()
            return expr
        if kind == "WORD" and self.lx.pos + 1 < len(self.lx.toks) and \
                self.lx.toks[self.lx.pos + 1][0] == ":":
            col = self.lx.take()[1]
            self.lx.take()
            if col.lower() != "field":
                raise ValueError(f"invalid full-text query: no column {col!r}")
            return self.primary()
        if kind == "NEAR":
            raise ValueError("full-text NEAR() is not supported")
        tokens: List[str] = []
        prefix = False
        while True:
            kind = self.lx.peek()
            if kind not in ("WORD", "PHRASE"):
                raise ValueError("invalid full-text query: expected a word or a phrase")
            tokens.extend(_tokens(self.lx.take()[1]))
            prefix = False
            if self.lx.peek() == "*":
                self.lx.take()
                prefix = True
            if self.lx.peek() == "+":
                self.lx.take()
                if prefix:
                    raise ValueError("invalid full-text query: '*' inside a phrase")
                continue
            break
        return _phrase_sql(tokens, prefix, self.func)


def fts_to_sql(text: str, regexp_like: bool = True) -> Tuple[sql.Composable, list]:
    """An SQLite FTS5 query -> (SQL condition on ``field``, bound values).

    Raises ValueError for what FTS5 rejects and for NEAR/``^``/column sets.
    """
    return _Parser(text, regexp_like).parse()


# ---------------------------------------------------------------------- SQL pieces
def _any(col: sql.Composable, values: Sequence[str], negate: bool = False
         ) -> Tuple[sql.Composable, list]:
    if len(values) == 1 and not negate:
        # "= value" rather than "= ANY(array)": an index scan on (col, time) then
        # yields rows in time order, so a merge over segments reads only what it returns
        return sql.SQL("{} = %s").format(col), [values[0]]
    if negate:
        return sql.SQL("({c} IS NULL OR NOT ({c} = ANY(%s)))").format(c=col), [list(values)]
    return sql.SQL("{} = ANY(%s)").format(col), [list(values)]


def _tag_expr(key: str) -> Tuple[sql.Composable, list]:
    return sql.SQL("(othertags::jsonb ->> %s)"), [key]


def _floor(col: sql.Composable, step: int) -> sql.Composable:
    s = sql.Literal(int(step))
    return sql.SQL("({c} - mod(mod({c}, {s}) + {s}, {s}))").format(c=col, s=s)


class _Retry(Exception):
    """A segment this writer cached is no longer open: allocate another, try again."""


class _Whole(Exception):
    """A streamed write needs a table or segment made first: write it whole."""


class _Open:
    """A segment this writer appends to.  Its rows get ids ``seg << ID_SHIFT | n``
    for n = next_n + 1, ...; only this writer writes it while it is open, so it
    counts ``next_n`` itself (and the bookkeeping statement checks it)."""

    __slots__ = ("seg", "leaf", "next_n", "used")

    def __init__(self, seg: int, leaf: str) -> None:
        self.seg = seg
        self.leaf = leaf
        self.next_n = 0
        self.used = _time.monotonic()


class _Writer:
    """A writer connection and the segments it holds open.  A write holds one
    writer's lock from its first statement to COMMIT; each writer counts the ids
    of its own open segments (no one else appends to them)."""

    __slots__ = ("lock", "conn", "open", "connected")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conn: Optional[psycopg.Connection] = None
        self.open: Dict[Tuple[str, str, int], _Open] = {}
        self.connected = False  # has been connected (a new connection is a reconnect)


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


def _conn_broken(conn: Optional[psycopg.Connection]) -> bool:
    return conn is None or conn.closed or conn.broken


def _day_name(day: int) -> str:
    try:
        return (_dt.datetime(1970, 1, 1) + _dt.timedelta(days=day)).strftime("%Y%m%d")
    except OverflowError:
        return f"d{day}"


class PostgresBackend(Backend):
    """Segments in PostgreSQL: writer connections, a pool of readers, a sealer thread."""

    name = "postgres"

    def __init__(self, dsn: str, *, fulltext: bool = True, durability: str = "normal",
                 busy_timeout_ms: int = 5000, seal_rows: int = 200_000,
                 cache_mb: int = 64, pool_size: int = 4, retry_seconds: float = 30.0,
                 background_seal: bool = True, writers: int = 2) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.dsn = dsn
        self.fulltext = bool(fulltext)
        self.seal_rows = max(1, int(seal_rows))
        self.retry_seconds = float(retry_seconds)
        self.sort_on_seal = True
        # busy_timeout_ms and cache_mb are SQLite settings: the server's own
        # lock waits and shared_buffers apply here
        # writes run on up to ``writers`` connections at once, each copying into
        # segments of its own (connected when first needed)
        self._writers = [_Writer() for _ in range(max(1, int(writers)))]
        self._next_writer = 0
        self._lock = threading.Lock()  # _closed, _writing, the counters, _next_writer
        self._slock = threading.Lock()
        self._closed = False
        self._tables: Dict[Tuple[str, str], Tuple[str, bool]] = {}
        self._have_trgm = False
        self._copy_stmts: Dict[str, sql.Composed] = {}
        self._stats: Dict[str, Any] = {
            "transactions": 0, "rows_written": 0, "segments_created": 0, "streamed_writes": 0,
            "streams_written_whole": 0,
            "segments_sealed": 0, "seal_seconds": 0.0, "segments_dropped": 0,
            "partitions_dropped": 0, "rows_expired": 0, "write_retries": 0,
            "retried_writes_already_committed": 0, "reconnects": 0, "outages": 0,
            "outage_seconds": 0.0, "connection_errors": 0, "last_error": None}
        self._outage_since: Optional[float] = None
        self._setup()
        self._pool = ConnectionPool(dsn, min_size=1, max_size=max(1, int(pool_size)),
                                    kwargs={"autocommit": True}, configure=self._configure,
                                    open=True,
                                    name="ccstore-readers")
        self._seal_event = threading.Event()
        self._stopping = threading.Event()
        self._writing = 0  # writes in progress
        self._last_write = 0.0
        self._sealer: Optional[threading.Thread] = None
        if background_seal:
            self._sealer = threading.Thread(target=self._seal_loop, name="ccstore-sealer",
                                            daemon=True)
            self._sealer.start()
            self._seal_event.set()

    # ------------------------------------------------------------------ connections
    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        # statements differ in their values only: a cached generic plan would not
        # know which segment a time range or a host selects
        conn.prepare_threshold = None
        conn.execute("SET synchronous_commit = on")
        conn.execute("SET application_name = 'ccstore'")

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, autocommit=True)
        self._configure(conn)
        return conn

    def _bump(self, key: str, n: float = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def _writer(self, w: _Writer) -> psycopg.Connection:
        """``w``'s connection, connected again when it is broken."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if _conn_broken(w.conn):
            if w.conn is not None:
                try:
                    w.conn.close()
                except Exception:  # noqa: BLE001
                    pass
            w.conn = None
            w.conn = self._connect_writer()
            if w.connected:
                self._bump("reconnects")
            w.connected = True
        return w.conn

    def _connect_writer(self) -> psycopg.Connection:
        conn = self._connect()
        # only statements executed with prepare=True (the same every write) are
        # prepared; the rest of the writer's statements differ by their values
        conn.prepare_threshold = 1 << 30
        return conn

    def _connection_lost(self, exc: BaseException, w: _Writer) -> None:
        """``w``'s connection broke: its open segments are left (a commit whose
        answer was lost may have moved them on)."""
        with self._lock:
            self._stats["connection_errors"] += 1
            self._stats["last_error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
            if self._outage_since is None:
                self._outage_since = _time.monotonic()
                self._stats["outages"] += 1
        w.open.clear()
        if w.conn is not None:
            try:
                w.conn.close()
            except Exception:  # noqa: BLE001
                pass
        w.conn = None

    def _connection_ok(self) -> None:
        with self._lock:
            if self._outage_since is not None:
                self._stats["outage_seconds"] += _time.monotonic() - self._outage_since
                self._outage_since = None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        self._seal_event.set()
        if self._sealer is not None:
            self._sealer.join(timeout=600)
        try:
            for w in self._writers:
                with w.lock:  # after the write it may be running
                    try:
                        if not _conn_broken(w.conn):
                            # this writer's open segments are sealed now (small); a
                            # backlog of other full segments is left to the sealer of
                            # the next process
                            mine = self._mark_full(w, w.conn)
                            while mine and self._seal_next(w.conn, mine):
                                pass
                    except psycopg.Error:
                        pass
                    finally:
                        if w.conn is not None:
                            w.conn.close()
        finally:
            self._pool.close()

    # ------------------------------------------------------------------ schema
    def _setup(self) -> None:
        conn = self._writer(self._writers[0])
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error:
            pass  # not installed or no privilege: full-text works without the index
        self._regexp_like = conn.info.server_version >= 150000  # regexp_like() is new in 15
        self._have_trgm = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()[0] > 0
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
            conn.execute("""
                CREATE TABLE IF NOT EXISTS ccstore_meta(key text PRIMARY KEY, value text);
                CREATE TABLE IF NOT EXISTS ccstore_tables(
                    id serial UNIQUE, cluster text NOT NULL, kind text NOT NULL,
                    tbl text NOT NULL UNIQUE, partitioned boolean NOT NULL,
                    PRIMARY KEY (cluster, kind));
                CREATE SEQUENCE IF NOT EXISTS ccstore_segment_seq;
                CREATE TABLE IF NOT EXISTS ccstore_segments(
                    id bigint PRIMARY KEY, cluster text NOT NULL, kind text NOT NULL,
                    tbl text NOT NULL, parent text, day bigint, state smallint NOT NULL,
                    fts boolean NOT NULL DEFAULT false, rows bigint NOT NULL DEFAULT 0,
                    next_n bigint NOT NULL DEFAULT 0, min_time bigint, max_time bigint,
                    updated timestamptz NOT NULL DEFAULT now());
                CREATE INDEX IF NOT EXISTS ccstore_segments_kind
                    ON ccstore_segments(kind, state);
                CREATE TABLE IF NOT EXISTS ccstore_counts(
                    seg bigint NOT NULL, name text, level text, minute bigint NOT NULL,
                    n bigint NOT NULL);
                CREATE INDEX IF NOT EXISTS ccstore_counts_seg ON ccstore_counts(seg);
                CREATE TABLE IF NOT EXISTS ccstore_state(key text PRIMARY KEY, value text);
                CREATE TABLE IF NOT EXISTS ccstore_writes(
                    id uuid PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
            """)
            row = conn.execute(
                "SELECT value FROM ccstore_meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO ccstore_meta(key, value) VALUES ('schema_version', %s)",
                             (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(f"database written by a newer ccstore (schema {row[0]} > "
                                   f"{SCHEMA_VERSION})")
            self._migrate_go_tables(conn)
        self._load_tables(conn)

    def _load_tables(self, conn: psycopg.Connection) -> None:
        self._tables = {(c, k): (t, p) for c, k, t, p in conn.execute(
            "SELECT cluster, kind, tbl, partitioned FROM ccstore_tables")}

    def _go_tables(self, conn: psycopg.Connection) -> List[Tuple[str, str, str, Dict[str, str]]]:
        """Plain tables of the Go program: (table, cluster, kind, {column: type})."""
        found = []
        rows = conn.execute("""
            SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
              AND NOT c.relispartition
              AND (c.relname LIKE '%\\_events' OR c.relname LIKE '%\\_logs')
              AND c.relname NOT IN (SELECT tbl FROM ccstore_tables)
        """).fetchall()
        for (name,) in rows:
            for kind, suffix in TABLE_SUFFIX.items():
                if not name.endswith(suffix) or len(name) == len(suffix):
                    continue
                cols = dict(conn.execute(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (sql.Identifier(name).as_string(conn),)).fetchall())
                if set(GO_COLUMNS) <= set(cols) and any(
                        c in cols for c in ("field", "event", "log")):
                    found.append((name, name[: -len(suffix)], kind, cols))
        return found

    def _migrate_go_tables(self, conn: psycopg.Connection) -> None:
        """Keep each table of the Go program: add our columns, ids and indexes."""
        for table, cluster, kind, cols in self._go_tables(conn):
            if conn.execute("SELECT 1 FROM ccstore_tables WHERE cluster = %s AND kind = %s",
                            (cluster, kind)).fetchone():
                continue  # that cluster already has a table of ours
            t = _ident(table)
            seg = conn.execute("SELECT nextval('ccstore_segment_seq')").fetchone()[0]
            base = seg << ID_SHIFT
            if "field" not in cols:
                payload = "event" if "event" in cols else "log"
                conn.execute(sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO field").format(
                    t, sql.Identifier(payload)))
            if cols["id"] != "bigint":
                conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN id TYPE bigint").format(t))
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS time bigint, "
                                 "ADD COLUMN IF NOT EXISTS level text").format(t))
            conn.execute(sql.SQL(
                "UPDATE {} SET id = id + %s, time = coalesce(time, timestamp * %s), "
                "level = CASE WHEN othertags IS NULL THEN NULL "
                "ELSE othertags::text::jsonb ->> %s END").format(t),
                (base, NS_PER_S, LEVEL_TAG[kind]))
            seq = f"ccs_seq_{seg}"
            n = conn.execute(sql.SQL("SELECT coalesce(max(id) - %s, 0) FROM {}").format(t),
                             (base,)).fetchone()[0]
            conn.execute(sql.SQL("CREATE SEQUENCE {}").format(_ident(seq)))
            if n > 0:
                conn.execute("SELECT setval(%s::regclass, %s)",
                             (sql.Identifier(seq).as_string(conn), n))
            conn.execute(sql.SQL(
                "ALTER TABLE {} ALTER COLUMN id SET DEFAULT ({}::bigint + nextval({}::regclass))"
            ).format(t, sql.Literal(base), sql.Literal(sql.Identifier(seq).as_string(conn))))
            # rows the Go program may still insert get their time and level too
            conn.execute(_FILL_FUNCTION)
            conn.execute(sql.SQL(
                "CREATE TRIGGER ccstore_fill BEFORE INSERT ON {} FOR EACH ROW "
                "EXECUTE FUNCTION ccstore_fill({})").format(t, sql.Literal(LEVEL_TAG[kind])))
            self._index_table(conn, table, self.fulltext)
            rows, mn, mx = conn.execute(sql.SQL(
                "SELECT count(*), min(time), max(time) FROM {}").format(t)).fetchone()
            conn.execute("INSERT INTO ccstore_tables(cluster, kind, tbl, partitioned) "
                         "VALUES (%s, %s, %s, false)", (cluster, kind, table))
            conn.execute(
                "INSERT INTO ccstore_segments(id, cluster, kind, tbl, state, fts, rows, next_n, "
                "min_time, max_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (seg, cluster, kind, table, PLAIN, self.fulltext and self._have_trgm, rows, n,
                 mn, mx))

    def _index_table(self, conn: psycopg.Connection, tbl: str, fts: bool) -> None:
        t = _ident(tbl)
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (hostname, time, id)").format(
            _ident(self._short(tbl, "_h")), t))
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (time, id)").format(
            _ident(self._short(tbl, "_t")), t))
        if fts and self._have_trgm:
            conn.execute(sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING gin (field gin_trgm_ops)").format(
                _ident(self._short(tbl, "_f")), t))

    @staticmethod
    def _short(base: str, suffix: str) -> str:
        """``base + suffix`` within PostgreSQL's identifier length, still unique."""
        name = base + suffix
        if _utf8len(name) <= MAX_IDENT:
            return name
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        head = base
        while _utf8len(head) + 11 + _utf8len(suffix) > MAX_IDENT:
            head = head[:-1]
        return f"{head}_{digest}{suffix}"

    # ------------------------------------------------------------------ tables, segments
    def _table(self, conn: psycopg.Connection, cluster: str, kind: str) -> Tuple[str, bool]:
        """(table, partitioned) of a cluster and kind; created when missing."""
        have = self._tables.get((cluster, kind))
        if have is not None:
            return have
        if "\x00" in cluster:
            raise ValueError("cluster name contains a NUL character")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 1)", (LOCK_CLASS,))
            row = conn.execute("SELECT tbl, partitioned FROM ccstore_tables "
                               "WHERE cluster = %s AND kind = %s", (cluster, kind)).fetchone()
            if row is None:
                tid = conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('ccstore_tables', 'id'))").fetchone()[0]
                name = cluster + TABLE_SUFFIX[kind]
                if _utf8len(name) > MAX_IDENT or conn.execute(
                        "SELECT 1 FROM pg_class WHERE relname = %s "
                        "AND relnamespace = current_schema()::regnamespace",
                        (name,)).fetchone():
                    name = f"ccs_t{tid}{TABLE_SUFFIX[kind]}"
                conn.execute(sql.SQL(
                    "CREATE TABLE {} (id bigint NOT NULL, timestamp bigint, name text, "
                    "hostname text, type text, typeid text, stype text, stypeid text, "
                    "othertags json, field text, time bigint NOT NULL, level text) "
                    "PARTITION BY RANGE (time)").format(_ident(name)))
                conn.execute("INSERT INTO ccstore_tables(id, cluster, kind, tbl, partitioned) "
                             "VALUES (%s, %s, %s, %s, true)", (tid, cluster, kind, name))
                row = (name, True)
        self._tables[(cluster, kind)] = (row[0], bool(row[1]))
        if not row[1]:
            self._load_tables(conn)
        return row[0], bool(row[1])

    def _new_segment(self, w: _Writer, conn: psycopg.Connection, cluster: str, kind: str,
                     day: int) -> _Open:
        """A new open segment of this writer for rows of ``day``; own transaction."""
        tbl, _ = self._table(conn, cluster, kind)
        tid = conn.execute("SELECT id FROM ccstore_tables WHERE tbl = %s", (tbl,)).fetchone()[0]
        day_tbl = f"ccs_t{tid}_{_day_name(day)}"
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND "
                                  "relnamespace = current_schema()::regnamespace",
                                  (day_tbl,)).fetchone()
            if not exists:
                conn.execute("SELECT pg_advisory_xact_lock(%s, 2)", (LOCK_CLASS,))
                conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({}) "
                    "PARTITION BY RANGE (id)").format(_ident(day_tbl), _ident(tbl),
                                                      sql.Literal(day * DAY_NS),
                                                      sql.Literal((day + 1) * DAY_NS)))
        with conn.transaction():
            seg = conn.execute("SELECT nextval('ccstore_segment_seq')").fetchone()[0]
            leaf = f"ccs_s{seg}"
            conn.execute(sql.SQL(
                "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                _ident(leaf), _ident(day_tbl), sql.Literal(seg << ID_SHIFT),
                sql.Literal((seg + 1) << ID_SHIFT)))
            conn.execute(
                "INSERT INTO ccstore_segments(id, cluster, kind, tbl, parent, day, state, fts) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (seg, cluster, kind, leaf, day_tbl, day, OPEN, self.fulltext))
        self._bump("segments_created")
        op = w.open[(cluster, kind, day)] = _Open(seg, leaf)
        return op

    # ------------------------------------------------------------------ writing
    #: line protocol per piece of a streamed write.  Small, so that the socket
    #: buffers always hold data the server has not copied yet while the next piece
    #: is decoded: with 256 kB pieces (about 180 kB of COPY data, near the 208 kB
    #: a Unix socket buffers) the server's backend was idle for 2.5 ms of the 8.5 ms
    #: a write of 10,000 lines streamed, with 32 kB pieces for 1.1 of 8.9 ms.  As
    #: ratios to raw COPY (medians of 6-8 rounds, each against raw COPY just before),
    #: three runs: 32 kB 0.85x, 0.89x, 0.81x; 256 kB 0.76x, 0.85x, 0.79x; in another
    #: run 1 MB gave 0.61x where 256 kB gave 0.77x
    stream_piece_bytes = 32 << 10

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

    def _take_writer(self) -> _Writer:
        """A writer for one write, its lock held: the first free one (so that one
        thread's writes keep to one connection), else the next in turn."""
        for w in self._writers:
            if w.lock.acquire(blocking=False):
                return w
        with self._lock:
            w = self._writers[self._next_writer]
            self._next_writer = (self._next_writer + 1) % len(self._writers)
        w.lock.acquire()
        return w

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
        the first batch goes into one COPY, fed batch by batch as they are taken
        (after the first, the stream encodes that group's rows of the day as COPY
        data itself, ids included); the rest (other groups, rows of another day)
        is held back and copied whole after it, in the same transaction.

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
        held: Dict[Tuple[str, str], List[tuple]] = {}
        n = 0
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(self._copy_sql(target.table, plain=target.seg is None)) as cp:
                cp.write(_COPY_START)
                batch: Optional[RowBatch] = first
                while batch is not None:
                    for key, rows in batch.groups.items():
                        if not rows:
                            continue
                        if key != skey:
                            held.setdefault(key, []).extend(rows)
                            continue
                        if sday is not None:
                            rows = target.take(rows, sday, held)
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
                if any(key not in self._tables for key in held):
                    raise _Whole()  # a new table: made outside this transaction
                targets = self._targets(w, conn, self._plan(conn, held), create=False)
                encoded = [copy_binary(t.rows, t.first_id(0), COPY_INTS) for t in targets]
            target.count = n
            self._copy_whole(cur, targets, encoded)
            targets.append(target)
            filled = self._book(cur, wid, targets, state)
        self._bump("streamed_writes")
        return self._committed(w, targets, filled)

    def _copy_whole(self, cur: psycopg.Cursor, targets: List[_Target],
                    encoded: Optional[List[bytes]] = None) -> None:
        """Each target's rows by one binary COPY (its data ``encoded[i]`` when given)."""
        for i, t in enumerate(targets):
            with cur.copy(self._copy_sql(t.table, plain=t.seg is None)) as cp:
                cp.write(copy_binary(t.rows, t.first_id(0), COPY_INTS) if encoded is None
                         else encoded[i])

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

    # ------------------------------------------------------------------ sealing
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
        return True

    def _summarise(self, conn: psycopg.Connection, seg: int, tbl: str) -> None:
        conn.execute("DELETE FROM ccstore_counts WHERE seg = %s", (seg,))
        conn.execute(sql.SQL(
            "INSERT INTO ccstore_counts(seg, name, level, minute, n) "
            "SELECT %s, name, level, {}, count(*) FROM {} GROUP BY 2, 3, 4").format(
            _floor(sql.SQL("time"), MINUTE_NS), _ident(tbl)), (seg,))

    # ------------------------------------------------------------------ reading
    def get_state(self, key: str) -> Optional[str]:
        row = self._read(lambda c: c.execute(
            "SELECT value FROM ccstore_state WHERE key = %s", (key,)).fetchone())
        return None if row is None else row[0]

    def _read(self, fn, timeout: float = 10.0, attempts: int = 4):
        """Run ``fn(conn)`` on a pooled connection; retried when a table went away
        (retention) or the connection broke."""
        if self._closed:
            raise RuntimeError("the store is closed")
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self._pool.connection(timeout=timeout) as conn:
                    return fn(conn)
            except psycopg.errors.UndefinedTable:
                if last:
                    raise
            except psycopg.errors.InvalidRegularExpression as exc:
                raise ValueError(f"invalid full-text query: {exc}") from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self._bump("connection_errors")
                self._stats["last_error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
                if last:
                    raise
                _time.sleep(0.05 * (attempt + 1))

    def _segments(self, conn: psycopg.Connection, spec: QuerySpec) -> List[tuple]:
        conds = ["kind = %s", "(state = %s OR rows > 0)"]
        args: list = [spec.kind, PLAIN]
        if spec.clusters is not None:
            conds.append("cluster = ANY(%s)")
            args.append(list(spec.clusters))
        if spec.start is not None:
            conds.append("(state = %s OR max_time >= %s)")
            args += [PLAIN, spec.start]
        if spec.end is not None:
            conds.append("(state = %s OR min_time <= %s)")
            args += [PLAIN, spec.end]
        return conn.execute(f"SELECT {_SEG_FIELDS} FROM ccstore_segments WHERE "
                            + " AND ".join(conds), args).fetchall()

    def _where(self, seg: tuple, spec: QuerySpec, text: Optional[Tuple[sql.Composable, list]],
               with_after: bool = True) -> Tuple[sql.Composable, list]:
        conds: List[sql.Composable] = []
        args: list = []
        plain = seg[4] == PLAIN
        mn, mx = seg[6], seg[7]
        if spec.start is not None and (plain or mn is None or mn < spec.start):
            conds.append(sql.SQL("time >= %s"))
            args.append(spec.start)
        if spec.end is not None and (plain or mx is None or mx > spec.end):
            conds.append(sql.SQL("time <= %s"))
            args.append(spec.end)
        for col, values in spec.columns.items():
            c, a = _any(sql.Identifier(col), values)
            conds.append(c)
            args += a
        for col, values in spec.exclude.items():
            c, a = _any(sql.Identifier(col), values, negate=True)
            conds.append(c)
            args += a
        if spec.levels is not None:
            c, a = _any(sql.Identifier("level"), spec.levels.values, spec.levels.negate)
            conds.append(c)
            args += a
        for tc in spec.tags:
            expr, eargs = _tag_expr(tc.key)
            if tc.negate:
                conds.append(sql.SQL("({e} IS NULL OR NOT ({e} = ANY(%s)))").format(e=expr))
                args += eargs + eargs + [list(tc.values)]
            else:
                conds.append(sql.SQL("{} = ANY(%s)").format(expr))
                args += eargs + [list(tc.values)]
        if text is not None:
            conds.append(text[0])
            args += text[1]
        if with_after and spec.after is not None:
            op = sql.SQL("<" if spec.order == "desc" else ">")
            conds.append(sql.SQL("(time, id) {} (%s, %s)").format(op))
            args += [spec.after[0], spec.after[1]]
        if not conds:
            return sql.SQL("TRUE"), args
        return sql.SQL(" AND ").join(conds), args

    def query(self, spec: QuerySpec) -> List[tuple]:
        text = fts_to_sql(spec.text, self._regexp_like) if spec.text is not None else None
        return self._read(lambda conn: self._query(conn, spec, text))

    def _query(self, conn: psycopg.Connection, spec: QuerySpec,
               text: Optional[Tuple[sql.Composable, list]]) -> List[tuple]:
        desc = spec.order == "desc"
        segs = self._segments(conn, spec)
        # one query per table; plain tables (time range unknown) first
        by_tbl: Dict[str, tuple] = {}
        for s in segs:
            have = by_tbl.get(s[3])
            if have is None:
                by_tbl[s[3]] = s
        segs = list(by_tbl.values())
        big = 1 << 62
        if desc:
            segs.sort(key=lambda s: -big if s[4] == PLAIN else -(s[7] or 0))
        else:
            segs.sort(key=lambda s: -big if s[4] == PLAIN else (s[6] or 0))
        limit = spec.limit
        found: List[tuple] = []
        direction = sql.SQL("DESC" if desc else "ASC")
        cols = sql.SQL("id, time, timestamp, name, hostname, type, typeid, stype, stypeid, "
                       "othertags::text, field")
        pos = 0
        # segments are read newest first in growing groups (each branch an ordered
        # index scan, merged) until the limit is met; planning a statement over
        # every segment costs more than the second statement it spares, and
        # full-text conditions cost more per row, so they start smaller
        group = 2 if text is not None else FIRST_UNION
        while pos < len(segs):
            if limit is not None and len(found) >= limit:
                worst = found[limit - 1][3]
                nxt = segs[pos]
                if nxt[4] != PLAIN and ((desc and (nxt[7] or 0) < worst) or
                                        (not desc and (nxt[6] or 0) > worst)):
                    break
            batch = segs[pos:pos + (group if limit is not None else MAX_UNION)]
            pos += len(batch)
            group = min(group * 2, MAX_UNION)
            parts: List[sql.Composable] = []
            args: list = []
            for s in batch:
                where, wargs = self._where(s, spec, text)
                q = sql.SQL("(SELECT %s::text, %s::text, {cols} FROM {t} WHERE {w} "
                            "ORDER BY time {d}, id {d}").format(
                    cols=cols, t=_ident(s[3]), w=where, d=direction)
                args += [s[1], s[2]] + wargs
                if limit is not None:
                    q = sql.SQL("{} LIMIT %s)").format(q)
                    args.append(limit)
                else:
                    q = sql.SQL("{})").format(q)
                parts.append(q)
            stmt = sql.SQL(" UNION ALL ").join(parts)
            if len(parts) > 1:
                stmt = sql.SQL("{} ORDER BY 4 {d}, 3 {d}").format(stmt, d=direction)
                if limit is not None:
                    stmt = sql.SQL("{} LIMIT %s").format(stmt)
                    args.append(limit)
            rows = conn.execute(stmt, args).fetchall()
            if found:
                found.extend(rows)
                found.sort(key=lambda r: (r[3], r[2]), reverse=desc)
            else:
                found = rows
            if limit is not None:
                del found[limit:]
        return found

    def count(self, spec: QuerySpec, by: Sequence[GroupKey],
              interval: Optional[int]) -> List[tuple]:
        text = fts_to_sql(spec.text, self._regexp_like) if spec.text is not None else None
        return self._read(lambda conn: self._count(conn, spec, by, interval, text))

    def _count(self, conn: psycopg.Connection, spec: QuerySpec, by: Sequence[GroupKey],
               interval: Optional[int], text) -> List[tuple]:
        """Sealed segments answer from their per-minute counts for the whole minutes
        of the range; rows are counted only in the other segments and in the
        partial minutes at the range's edges."""
        totals: Dict[tuple, int] = {}
        coverable = self._summary_usable(spec, by, interval)
        lo = hi = None  # whole minutes [lo, hi) inside the range
        if coverable:
            lo = None if spec.start is None else -(-spec.start // MINUTE_NS) * MINUTE_NS
            hi = None if spec.end is None else (spec.end + 1) // MINUTE_NS * MINUTE_NS
            if lo is not None and hi is not None and hi <= lo:
                coverable = False
        summarised: List[int] = []
        done_tbls = set()
        raw: List[Tuple[tuple, QuerySpec]] = []
        edges = []
        if coverable:
            if lo is not None and lo > spec.start:
                edges.append(replace(spec, end=lo - 1))
            if hi is not None and hi <= spec.end:
                edges.append(replace(spec, start=hi))
        for seg in self._segments(conn, spec):
            if coverable and seg[4] == SEALED:
                summarised.append(seg[0])
                for edge in edges:
                    if (seg[6] or 0) <= (edge.end if edge.end is not None else seg[6]) and \
                            (seg[7] or 0) >= (edge.start if edge.start is not None else 0):
                        raw.append((seg, edge))
            elif seg[3] not in done_tbls:
                done_tbls.add(seg[3])
                raw.append((seg, spec))
        for i in range(0, len(raw), MAX_UNION):
            parts: List[sql.Composable] = []
            args: list = []
            for seg, sp in raw[i:i + MAX_UNION]:
                exprs, eargs = _group_exprs(by, interval, seg[1])
                where, wargs = self._where(seg, sp, text, with_after=False)
                select = sql.SQL(", ").join(exprs + [sql.SQL("count(*)")])
                q = sql.SQL("(SELECT {} FROM {} WHERE {}").format(select, _ident(seg[3]), where)
                if exprs:
                    q = sql.SQL("{} GROUP BY {}").format(q, sql.SQL(", ").join(
                        sql.Literal(j + 1) for j in range(len(exprs))))
                parts.append(sql.SQL("{})").format(q))
                args += eargs + wargs
            for row in conn.execute(sql.SQL(" UNION ALL ").join(parts), args):
                if row[-1]:
                    k = tuple(row[:-1])
                    totals[k] = totals.get(k, 0) + row[-1]
        if summarised:
            for row in self._count_summaries(conn, summarised, spec, by, interval, lo, hi):
                k = tuple(row[:-1])
                totals[k] = totals.get(k, 0) + int(row[-1])
        return sorted((k + (v,) for k, v in totals.items()),
                      key=lambda r: tuple((x is None, x) for x in r[:-1]))

    @staticmethod
    def _summary_usable(spec: QuerySpec, by: Sequence[GroupKey],
                        interval: Optional[int]) -> bool:
        """Whether per-minute counts by (name, level) can answer this count."""
        if spec.tags or spec.exclude or spec.text is not None:
            return False
        if set(spec.columns) - {"name"}:
            return False
        if any(k not in (("column", "name"), ("level", spec.level_tag), ("cluster", ""))
               for k in by):
            return False
        return interval is None or interval % MINUTE_NS == 0

    @staticmethod
    def _count_summaries(conn: psycopg.Connection, segs: List[int], spec: QuerySpec,
                         by: Sequence[GroupKey], interval: Optional[int],
                         lo: Optional[int], hi: Optional[int]) -> List[tuple]:
        exprs: List[sql.Composable] = []
        for kind, _key in by:
            if kind == "cluster":
                exprs.append(sql.SQL("s.cluster"))
            elif kind == "level":
                exprs.append(sql.SQL("c.level"))
            else:
                exprs.append(sql.SQL("c.name"))
        if interval is not None:
            exprs.append(_floor(sql.SQL("c.minute"), interval))
        conds = [sql.SQL("c.seg = ANY(%s)")]
        args: list = [segs]
        if lo is not None:
            conds.append(sql.SQL("c.minute >= %s"))
            args.append(lo)
        if hi is not None:
            conds.append(sql.SQL("c.minute < %s"))
            args.append(hi)
        if "name" in spec.columns:
            conds.append(sql.SQL("c.name = ANY(%s)"))
            args.append(list(spec.columns["name"]))
        if spec.levels is not None:
            c, a = _any(sql.SQL("c.level"), spec.levels.values, spec.levels.negate)
            conds.append(c)
            args += a
        q = sql.SQL("SELECT {} FROM ccstore_counts c JOIN ccstore_segments s ON s.id = c.seg "
                    "WHERE {}").format(sql.SQL(", ").join(exprs + [sql.SQL("sum(c.n)")]),
                                       sql.SQL(" AND ").join(conds))
        if exprs:
            q = sql.SQL("{} GROUP BY {}").format(q, sql.SQL(", ").join(
                sql.Literal(j + 1) for j in range(len(exprs))))
        return conn.execute(q, args).fetchall()

    # ------------------------------------------------------------------ retention
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

    # ------------------------------------------------------------------ misc
    def clusters(self) -> List[str]:
        return [r[0] for r in self._read(lambda c: c.execute(
            "SELECT DISTINCT cluster FROM ccstore_segments ORDER BY cluster").fetchall())]

    def stats(self) -> dict:
        with self._lock:
            out = dict(self._stats)
        out.update({"backend": self.name, "fulltext": self.fulltext,
                    "fulltext_index": "pg_trgm" if self._have_trgm else None,
                    "seal_rows": self.seal_rows,
                    "connected": any(not _conn_broken(w.conn) for w in self._writers),
                    "in_outage": self._outage_since is not None})
        if self._outage_since is not None:
            out["outage_seconds"] += _time.monotonic() - self._outage_since
        try:
            per_kind = {}
            for kind, nseg, rows, sealed, tables in self._read(lambda c: c.execute(
                    "SELECT kind, count(*), sum(rows), count(*) FILTER (WHERE state = %s), "
                    "count(DISTINCT parent) FROM ccstore_segments GROUP BY kind",
                    (SEALED,)).fetchall(), timeout=2.0, attempts=1):
                per_kind[kind] = {"segments": nseg, "rows": int(rows or 0),
                                  "sealed_segments": sealed, "partitions": tables}
            out["kinds"] = per_kind
            out["bytes"] = self._read(lambda c: c.execute(
                "SELECT pg_database_size(current_database())").fetchone()[0], timeout=2.0,
                attempts=1)
        except (psycopg.Error, RuntimeError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
        return out


class _SegmentGone(_Retry):
    def __init__(self, key) -> None:
        super().__init__(key)
        self.key = key


def _group_exprs(by: Sequence[GroupKey], interval: Optional[int],
                 cluster: str) -> Tuple[List[sql.Composable], list]:
    exprs: List[sql.Composable] = []
    args: list = []
    for kind, key in by:
        if kind == "column":
            exprs.append(sql.Identifier(key))
        elif kind == "level":
            exprs.append(sql.Identifier("level"))
        elif kind == "cluster":
            exprs.append(sql.SQL("%s::text"))
            args.append(cluster)
        else:
            e, a = _tag_expr(key)
            exprs.append(e)
            args += a
    if interval is not None:
        exprs.append(_floor(sql.SQL("time"), interval))
    return exprs, args
