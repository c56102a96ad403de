"""The catalog and tables of a PostgreSQL store, and the migration of the Go program's tables.

Each cluster and kind has the Go program's table ``"<cluster>_events"`` /
``"<cluster>_logs"``, partitioned by day (``RANGE (time)``), each day by segment
(``RANGE (id)``); the catalog ``ccstore_segments`` lists the segments with their
state and time range.  Tables the Go program made are kept as they are, with the
columns, ids and indexes ccstore needs added.  Every identifier is quoted with
:class:`psycopg.sql.Identifier`; every value is bound.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from typing import Dict, List, Tuple

import psycopg
from psycopg import sql

from ...rows import LEVEL_TAG, NS_PER_S
from ..base import GO_COLUMNS, ID_SHIFT, OPEN, TABLE_SUFFIX
from ..pgcopy import DAY_NS
from .writers import _Open, _Writer

SCHEMA_VERSION = 1
#: segment state of a table the Go program made (besides those of base)
PLAIN = 3
#: full, and its rows already rewritten in (hostname, time) order
SORTED = 4
#: ``ccstore_counts`` counts the rows of a sealed segment per minute of this many ns
MINUTE_NS = 60 * NS_PER_S
#: advisory lock class of ccstore's catalog changes ("ccst")
LOCK_CLASS = 0x63637374
#: PostgreSQL's identifier length (bytes)
MAX_IDENT = 63

_SEG_FIELDS = "id, cluster, kind, tbl, state, fts, min_time, max_time, rows"

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


def _day_name(day: int) -> str:
    try:
        return (_dt.datetime(1970, 1, 1) + _dt.timedelta(days=day)).strftime("%Y%m%d")
    except OverflowError:
        return f"d{day}"


def _toast_compression(conn: psycopg.Connection) -> str:
    """``"lz4"`` when the server can compress TOAST data with it (built with lz4,
    PostgreSQL 14 or later), else ``"pglz"``."""
    if conn.info.server_version < 140000:
        return "pglz"
    row = conn.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                       "WHERE name = 'default_toast_compression'").fetchone()
    return "lz4" if row and row[0] else "pglz"


def _floor(col: sql.Composable, step: int) -> sql.Composable:
    """``col`` floored to a multiple of ``step`` (also below 0): a minute, a bucket."""
    s = sql.Literal(int(step))
    return sql.SQL("({c} - mod(mod({c}, {s}) + {s}, {s}))").format(c=col, s=s)


class SchemaSteps:
    """Creating and migrating the catalog, tables, partitions and segments."""

    def _setup(self) -> None:
        conn = self._writer(self._writers[0])
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error:
            pass  # not installed or no privilege: full-text works without the index
        self._regexp_like = conn.info.server_version >= 150000  # regexp_like() is new in 15
        have = _toast_compression(conn)
        if self._toast_wanted == "lz4" and have != "lz4":
            raise ValueError("toast_compression='lz4': this server cannot compress with lz4 "
                             "(PostgreSQL 14 or later built with lz4 can)")
        self.toast_compression = "pglz" if self._toast_wanted == "pglz" else have
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
            self._compress(conn, table)
            rows, mn, mx = conn.execute(sql.SQL(
                "SELECT count(*), min(time), max(time) FROM {}").format(t)).fetchone()
            conn.execute("INSERT INTO ccstore_tables(cluster, kind, tbl, partitioned) "
                         "VALUES (%s, %s, %s, false)", (cluster, kind, table))
            conn.execute(
                "INSERT INTO ccstore_segments(id, cluster, kind, tbl, state, fts, rows, next_n, "
                "min_time, max_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (seg, cluster, kind, table, PLAIN, self.fulltext and self._have_trgm, rows, n,
                 mn, mx))

    def _compress(self, conn: psycopg.Connection, tbl: str) -> None:
        """Give the text columns of ``tbl`` the TOAST compression of the store (lz4
        where the server has it; else they keep pglz, PostgreSQL's default)."""
        if self.toast_compression == "lz4":
            conn.execute(sql.SQL(
                "ALTER TABLE {} ALTER COLUMN field SET COMPRESSION lz4, "
                "ALTER COLUMN othertags SET COMPRESSION lz4").format(_ident(tbl)))

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
                self._compress(conn, name)
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
            self._compress(conn, leaf)
            conn.execute(
                "INSERT INTO ccstore_segments(id, cluster, kind, tbl, parent, day, state, fts) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (seg, cluster, kind, leaf, day_tbl, day, OPEN, self.fulltext))
        self._bump("segments_created")
        op = w.open[(cluster, kind, day)] = _Open(seg, leaf)
        return op
