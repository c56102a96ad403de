"""Full-text search on SQLite: an FTS5 table per segment, queried in FTS5's own syntax.

Each segment written with full-text on has an external-content FTS5 table, fed in
the write transaction.  Queries are FTS5 queries (:mod:`ccstore.backends.fts5`),
matched there as given; a segment written with full-text off is searched for the
query's words as substrings.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, List, Optional, Sequence

import apsw

from ...query.literals import literal_words
from ...query.text import fts_term
from ..fts5 import fts5_query
from .schema import quote_ident


class FullText:
    """The full-text tables of segments, and the queries they take."""

    def fulltext_query(self, text: str) -> str:
        return fts5_query(text)

    def _create_fts(self, tbl: str) -> None:
        self._w.execute(
            f"CREATE VIRTUAL TABLE {quote_ident(tbl + '_fts')} USING fts5("
            # columnsize=0: no per-row size records, which only ranking (bm25) reads
            f"field, content={quote_ident(tbl)}, content_rowid='id', columnsize=0)")


def _plain_terms(text: str) -> List[str]:
    """Lower-cased words of a full-text query, for segments without FTS."""
    words = []
    for tok in text.replace('"', " ").split():
        if tok.upper() in ("AND", "OR", "NOT"):
            continue
        words.append(tok.rstrip("*").lower())
    return [w for w in words if w]


def literals_query(literals: Sequence[str]) -> Optional[str]:
    """An FTS5 query that every message containing each of ``literals`` matches
    (their words, :func:`~ccstore.query.literals.literal_words`), or None."""
    terms = []
    for lit in literals:
        found = literal_words(lit)
        if found is not None:
            terms.append(fts_term(found[0].split(), found[1]))
    return " AND ".join(terms) or None


#: the SQL function ``ccstore_regexp(pattern, value)``: whether Python's regular
#: expression finds a match in a text value (NULL: no; another type: yes, the caller
#: decides)
REGEXP = "ccstore_regexp"


@functools.lru_cache(maxsize=64)
def regex_search(pattern: str) -> Callable[[str], Any]:
    """``re.compile(pattern).search``, compiled once."""
    return re.compile(pattern).search


def _regexp(pattern: str, value: Any) -> int:
    if value is None:
        return 0
    if type(value) is not str:
        return 1
    return 1 if regex_search(pattern)(value) is not None else 0


def add_functions(conn: apsw.Connection) -> None:
    """The SQL functions a read uses, on a reading connection."""
    conn.create_scalar_function(REGEXP, _regexp, 2, deterministic=True)
