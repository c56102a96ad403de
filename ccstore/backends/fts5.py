"""The full-text query language of every backend: SQLite FTS5's query syntax.

Users write FTS5 queries (words, ``"phrases"``, ``prefix*``, AND/OR/NOT,
parentheses) whatever the backend, and FTS5 itself decides what parses: a tiny
in-memory FTS5 table per thread checks each query.  PostgreSQL translates the
checked query (:mod:`ccstore.backends.postgres.fts`); SQLite matches it as is.
"""
from __future__ import annotations

import threading

import apsw

__all__ = ["fts5_query", "fts_syntax_ok"]


def fts5_query(text: str) -> str:
    """The query as given when FTS5 accepts it, else each term as a phrase.

    So ``java.lang.NullPointerException`` finds what users expect instead of
    failing on the dots.  Raises ValueError when even that does not parse.
    """
    if fts_syntax_ok(text):
        return text
    quoted = " ".join('"' + t.replace('"', '""') + '"' for t in text.split())
    if not fts_syntax_ok(quoted):
        raise ValueError(f"invalid full-text query {text!r}")
    return quoted


def fts_syntax_ok(query: str) -> bool:
    """Whether SQLite FTS5 parses ``query`` (checked on a tiny in-memory table)."""
    conn = _fts_checker()
    try:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)).fetchall()
    except apsw.SQLError:
        return False
    return True


_fts_local = threading.local()


def _fts_checker() -> "apsw.Connection":
    conn = getattr(_fts_local, "conn", None)
    if conn is None:
        conn = apsw.Connection(":memory:")
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        _fts_local.conn = conn
    return conn
