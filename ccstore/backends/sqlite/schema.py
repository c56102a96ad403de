"""The catalog and tables of a SQLite store, and the migration of the Go program's tables.

Rows of one cluster and kind live in *segments*: tables ``ccs_<n>`` listed in the
catalog ``ccstore_segments`` with their state and time range.  For the Go program's
readers, ``<cluster>_events`` / ``<cluster>_logs`` are views over a cluster's
segments with that program's columns; a database the Go program wrote is migrated
on open, its tables becoming segments.  All identifiers are generated or quoted.
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ...rows import LEVEL_TAG, NS_PER_S
from ..base import FULL, GO_COLUMNS, ID_SHIFT, OPEN, TABLE_SUFFIX

#: 2: the file may hold compacted segments (``compact.py``), which earlier releases
#: cannot read
SCHEMA_VERSION = 2
#: SQLite refuses compound SELECTs of more than 500 terms
MAX_VIEW_SEGMENTS = 450
#: the index file beside the database: the sealed segments' indexes
INDEX_SUFFIX = "-index"
#: its schema name on the connections that attach it
_IX = "ix"
#: columns whose value counts a sealed segment keeps in ``ccstore_facets`` (each a field
#: of its own; besides them: ``*`` the rows, ``#`` rows per tag key, ``tag:<key>`` rows
#: per value of a tag, ``!`` a tag key or column with too many values to keep them)
FACET_COLUMNS = ("hostname", "type", "typeid", "stype", "stypeid", "name", "level")
#: a tag's values are kept per segment while it has at most this many
FACET_TAG_VALUES = 1000
#: a column's values likewise, in segments with indexes (``!`` marks a column
#: with more; its counts are then read through the segment's host index or rows)
FACET_COLUMN_VALUES = 4096
#: a sealed segment's time, for rows without one (sorts where SQLite sorts NULL)
_NO_TIME = -(1 << 63)

_CATALOG = """
CREATE TABLE IF NOT EXISTS ccstore_meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS ccstore_segments(
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    kind TEXT NOT NULL,
    tbl TEXT NOT NULL DEFAULT '',
    state INTEGER NOT NULL DEFAULT 0,
    fts INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    last_id INTEGER NOT NULL DEFAULT 0,
    min_time INTEGER,
    max_time INTEGER,
    created REAL
);
CREATE INDEX IF NOT EXISTS ccstore_segments_open ON ccstore_segments(cluster, kind, state);
CREATE TABLE IF NOT EXISTS ccstore_counts(
    seg INTEGER NOT NULL, name TEXT, level TEXT, minute INTEGER NOT NULL, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ccstore_counts_seg ON ccstore_counts(seg);
CREATE TABLE IF NOT EXISTS ccstore_facets(
    seg INTEGER NOT NULL, field TEXT NOT NULL, value TEXT, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ccstore_facets_seg ON ccstore_facets(seg, field);
CREATE TABLE IF NOT EXISTS ccstore_state(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS ccstore_dicts(seg INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""


def quote_ident(name: str) -> str:
    """SQL identifier quoting: any text becomes one harmless identifier."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Segment:
    id: int
    tbl: str
    state: int
    fts: bool
    rows: int
    last_id: int
    min_time: Optional[int]
    max_time: Optional[int]
    cluster: str = ""
    kind: str = ""
    floor: Optional[int] = None  # rows older than this have expired (still on disk)
    ix: int = 0  # 1: sealed, its indexes are in the index file
    compact: int = 0  # 1: sealed and compacted into blocks (compact.py)


_SEG_FIELDS = ("id, tbl, state, fts, rows, last_id, min_time, max_time, cluster, kind, floor, "
               "ix, compact")


def _index_tables(seg_id: int) -> Tuple[str, str]:
    """Names of segment ``seg_id``'s host and time indexes in the index file."""
    return f"ccx_{seg_id}_host", f"ccx_{seg_id}_time"


class SchemaSteps:
    """Creating and migrating the catalog, segment tables and views."""

    def _setup(self) -> None:
        def setup() -> None:
            self._w.execute(_CATALOG)
            cols = {r[1] for r in self._w.execute("PRAGMA table_info(ccstore_segments)")}
            if "floor" not in cols:  # written by an earlier ccstore
                self._w.execute("ALTER TABLE ccstore_segments ADD COLUMN floor INTEGER")
            if "ix" not in cols:  # sealed before the index file: indexes in this file
                self._w.execute(
                    "ALTER TABLE ccstore_segments ADD COLUMN ix INTEGER NOT NULL DEFAULT 0")
            if "compact" not in cols:  # written before segments were compacted
                self._w.execute(
                    "ALTER TABLE ccstore_segments ADD COLUMN compact INTEGER NOT NULL DEFAULT 0")
            # indexes the index file lost (deleted, or not yet written to disk when
            # the machine stopped): those segments are sealed again
            have = self._index_file_tables()
            for (seg_id,) in self._w.execute(
                    "SELECT id FROM ccstore_segments WHERE ix=1").fetchall():
                if not have.issuperset(_index_tables(seg_id)):
                    self._w.execute("UPDATE ccstore_segments SET state=?, ix=0 WHERE id=?",
                                    (FULL, seg_id))
            row = self._w.execute(
                "SELECT value FROM ccstore_meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._w.execute(
                    "INSERT INTO ccstore_meta(key, value) VALUES('schema_version', '1')")
            elif int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: written by a newer ccstore (schema {row[0]} > "
                    f"{SCHEMA_VERSION})")
            for cluster, kind in self._migrate_go_tables():
                self._refresh_view(cluster, kind)
        self._txn(setup)
        self.seal_full()

    def _go_tables(self) -> List[Tuple[str, str, str, str]]:
        """Tables written by the Go program: (table, cluster, kind, payload column)."""
        found = []
        names = [r[0] for r in self._w.execute(
            "SELECT name FROM sqlite_schema WHERE type='table'")]
        for name in names:
            for kind, suffix in TABLE_SUFFIX.items():
                if not name.endswith(suffix) or len(name) == len(suffix):
                    continue
                cols = {r[1] for r in self._w.execute(
                    f"PRAGMA table_info({quote_ident(name)})")}
                payload = next((c for c in ("field", "event", "log") if c in cols), None)
                if payload and set(GO_COLUMNS) <= cols:
                    found.append((name, name[: -len(suffix)], kind, payload))
        return found

    def _migrate_go_tables(self) -> List[Tuple[str, str]]:
        """Turn each table of the Go program into a segment (once, on open)."""
        migrated = []
        for table, cluster, kind, payload in self._go_tables():
            seg_id = self._new_segment_row(cluster, kind)
            tbl = f"ccs_{seg_id}"
            q = quote_ident(tbl)
            self._w.execute(f"ALTER TABLE {quote_ident(table)} RENAME TO {q}")
            if payload != "field":
                self._w.execute(f"ALTER TABLE {q} RENAME COLUMN {quote_ident(payload)} TO field")
            self._w.execute(f"ALTER TABLE {q} ADD COLUMN time INTEGER")
            self._w.execute(f"ALTER TABLE {q} ADD COLUMN level TEXT")
            self._w.execute(
                f"UPDATE {q} SET id = id + ?, time = timestamp * {NS_PER_S}, "
                f"level = CASE WHEN json_valid(othertags) THEN json_extract(othertags, ?) END",
                (seg_id << ID_SHIFT, f"$.{LEVEL_TAG[kind]}"))
            rows, last_id, mn, mx = self._w.execute(
                f"SELECT count(*), coalesce(max(id), ?), min(time), max(time) FROM {q}",
                (seg_id << ID_SHIFT,)).fetchone()
            self._w.execute(
                "UPDATE ccstore_segments SET tbl=?, state=?, rows=?, last_id=?, min_time=?, "
                "max_time=? WHERE id=?", (tbl, FULL, rows, last_id, mn, mx, seg_id))
            if self.fulltext:
                self._create_fts(tbl)
                fq = quote_ident(tbl + "_fts")
                self._w.execute(f"INSERT INTO {fq}({fq}) VALUES('rebuild')")
                self._w.execute("UPDATE ccstore_segments SET fts=1 WHERE id=?", (seg_id,))
            migrated.append((cluster, kind))
        return migrated

    def _new_segment_row(self, cluster: str, kind: str) -> int:
        self._w.execute(
            "INSERT INTO ccstore_segments(cluster, kind, created) VALUES(?, ?, ?)",
            (cluster, kind, _time.time()))
        return self._w.last_insert_rowid()

    def _create_segment(self, cluster: str, kind: str) -> _Segment:
        seg_id = self._new_segment_row(cluster, kind)
        tbl = f"ccs_{seg_id}"
        self._w.execute(
            f"CREATE TABLE {quote_ident(tbl)}(id INTEGER PRIMARY KEY, timestamp INTEGER, "
            "name TEXT, hostname TEXT, type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, "
            "othertags JSON, field TEXT, time INTEGER NOT NULL, level TEXT)")
        if self.fulltext:
            self._create_fts(tbl)
        last_id = seg_id << ID_SHIFT
        self._w.execute("UPDATE ccstore_segments SET tbl=?, fts=?, last_id=? WHERE id=?",
                        (tbl, int(self.fulltext), last_id, seg_id))
        self._refresh_view(cluster, kind)
        self._new_head(seg_id, last_id)
        return _Segment(seg_id, tbl, OPEN, self.fulltext, 0, last_id, None, None, cluster, kind)

    def _refresh_view(self, cluster: str, kind: str) -> None:
        """(Re)create ``<cluster>_<kind>s`` as a view with the Go program's columns."""
        view = cluster + TABLE_SUFFIX[kind]
        existing = self._w.execute(
            "SELECT type FROM sqlite_schema WHERE name=?", (view,)).fetchone()
        if existing is not None and existing[0] != "view":
            return  # a table of that name that is not ours: leave it alone
        self._w.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
        tables = self._w.execute(
            "SELECT tbl, floor, compact FROM ccstore_segments WHERE cluster=? AND kind=? "
            "AND tbl != '' ORDER BY id", (cluster, kind)).fetchall()
        # compacted segments have no row table to show: no view rather than part of one
        if not tables or len(tables) > MAX_VIEW_SEGMENTS or any(t[2] for t in tables):
            return
        cols = "id, timestamp, name, hostname, type, typeid, stype, stypeid, othertags, field"
        body = " UNION ALL ".join(
            f"SELECT {cols} FROM {quote_ident(t)}"
            + ("" if floor is None else f" WHERE time >= {int(floor)}")
            for t, floor, _ in tables)
        self._w.execute(f"CREATE VIEW {quote_ident(view)} AS {body}")
