"""What a storage backend implements, and the normalised query it receives.

The store validates and normalises user arguments into a :class:`QuerySpec`; a
backend turns it into SQL with bound values only.  Also the layout both backends
share: the Go program's table names and columns, row ids, segment states.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..lineproto import RowStream
from ..rows import LEVEL_TAG

__all__ = ["QuerySpec", "TagCond", "Backend", "RESULT_COLUMNS", "COLUMN_OF", "GroupKey",
           "merge_groups",
           "TABLE_SUFFIX", "GO_COLUMNS", "ID_SHIFT", "OPEN", "FULL", "SEALED"]

#: the Go program's table of a kind is ``<cluster><suffix>``
TABLE_SUFFIX = {"event": "_events", "log": "_logs"}
#: columns every table of the Go program has (besides its payload column)
GO_COLUMNS = ("id", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
              "othertags")
#: row ids are ``segment id << ID_SHIFT | n``: unique in a store, kept when rows move
ID_SHIFT = 32
#: segment states: taking rows; full, waiting for its indexes; sealed
OPEN, FULL, SEALED = 0, 1, 2

#: columns of a query result row returned by a backend, in order
RESULT_COLUMNS = ("cluster", "kind", "id", "time", "timestamp", "name", "hostname", "type",
                  "typeid", "stype", "stypeid", "othertags", "field")

#: user-facing filter/group names -> row column
COLUMN_OF = {
    "name": "name",
    "hostname": "hostname",
    "host": "hostname",
    "type": "type",
    "type-id": "typeid",
    "type_id": "typeid",
    "typeid": "typeid",
    "stype": "stype",
    "stype-id": "stypeid",
    "stype_id": "stypeid",
    "stypeid": "stypeid",
}

#: a group-by key: ("column", name) | ("level", tag) | ("tag", key) | ("cluster", "")
GroupKey = Tuple[str, str]


@dataclass(frozen=True)
class TagCond:
    """Condition on a tag without a column: value in (or not in) ``values``.

    A negated condition also matches rows that do not carry the tag.
    """

    key: str
    values: Tuple[str, ...]
    negate: bool = False


@dataclass
class QuerySpec:
    kind: str
    clusters: Optional[Tuple[str, ...]] = None  # None: every cluster
    start: Optional[int] = None  # ns, inclusive
    end: Optional[int] = None  # ns, inclusive
    columns: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # column -> any of
    exclude: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # column -> none of
    levels: Optional[TagCond] = None  # condition on LEVEL_TAG[kind] (has a column)
    tags: List[TagCond] = field(default_factory=list)
    text: Optional[str] = None
    # substrings the message contains, each (case-sensitive): what a regular
    # expression checked after the read requires
    contains: Tuple[str, ...] = ()
    # the same in lower case, contained but for the case of ASCII letters
    icontains: Tuple[str, ...] = ()
    # regular expressions (Python's) the message matches, each: a backend may test
    # them as it reads (the caller checks them again)
    regex: Tuple[str, ...] = ()
    limit: Optional[int] = 1000
    order: str = "desc"
    after: Optional[Tuple[int, int]] = None  # (time, id) of the last record seen

    @property
    def literals(self) -> Tuple[str, ...]:
        """Every literal the message contains, ``icontains`` but for case."""
        return self.contains + self.icontains

    @property
    def level_tag(self) -> str:
        return LEVEL_TAG[self.kind]


def merge_groups(pieces: Iterable[Dict[Tuple[str, str], List[tuple]]]
                 ) -> Dict[Tuple[str, str], List[tuple]]:
    """The groups (``{(cluster, kind): rows}``) of several pieces as one, in new lists;
    keys in order of first appearance, rows in piece order."""
    out: Dict[Tuple[str, str], List[tuple]] = {}
    for piece in pieces:
        for key, rows in piece.items():
            have = out.get(key)
            if have is None:
                out[key] = list(rows)
            else:
                have.extend(rows)
    return out


class Backend:
    """Interface of a storage backend (SQLite, PostgreSQL)."""

    def write(self, groups: Dict[Tuple[str, str], List[tuple]],
              state: Optional[Dict[str, str]] = None) -> None:
        """Commit all rows of ``groups`` (and ``state``) in one transaction."""
        raise NotImplementedError

    #: whether strings may hold a NUL character (False: the store rejects the lines
    #: that have one, and refuses filters with one)
    stores_nul = True

    #: bytes of line protocol per piece that :meth:`write_stream` wants (0: it
    #: gains nothing from pieces, so :meth:`ccstore.Store.write` decodes a write whole)
    stream_piece_bytes = 0

    def write_stream(self, open_stream: Callable[[], RowStream],
                     state: Optional[Dict[str, str]] = None) -> None:
        """Commit the rows of one write (and ``state``) in one transaction.

        ``open_stream()`` gives the write's batches (a
        :class:`~ccstore.lineproto.RowStream`), each decoded when it is taken, so
        that a backend can send one while the next is decoded.  Before taking a
        batch it may replace the stream's ``decode_rows`` (by a decoder of its
        own that encodes some rows as it decodes them).  Each call
        starts the write over (a retry); the last stream opened is taken whole.
        """
        self.write(merge_groups(b.groups for b in open_stream()), state)

    def fulltext_query(self, text: str) -> str:
        """The full-text query ``text`` as :meth:`query` and :meth:`count` take it
        in :attr:`QuerySpec.text`; raises ValueError when it is none.

        The language is SQLite FTS5's query syntax on every backend
        (:mod:`ccstore.backends.fts5`)."""
        raise NotImplementedError

    def query(self, spec: QuerySpec) -> List[tuple]:
        """Rows shaped as :data:`RESULT_COLUMNS`, ordered by (time, id) per spec.order."""
        raise NotImplementedError

    def count(self, spec: QuerySpec, by: Sequence[GroupKey],
              interval: Optional[int]) -> List[tuple]:
        """``(group values..., [bucket start ns], count)`` rows, sorted."""
        raise NotImplementedError

    def facets(self, spec: QuerySpec, by: Sequence[GroupKey]) -> List[Dict[object, int]]:
        """For each key of ``by``, how many rows of ``spec`` have each of its values
        (``{value: count}``; rows without a value are not counted).

        One :meth:`count` per key; a backend may answer all keys at once."""
        out: List[Dict[object, int]] = []
        for key in by:
            out.append({r[0]: r[1] for r in self.count(spec, [key], None) if r[0] is not None})
        return out

    def expire(self, kind: str, cutoff: int) -> int:
        """Remove rows of ``kind`` with time < cutoff (ns); return how many."""
        raise NotImplementedError

    def expire_levels(self, kind: str, cutoff: int, levels: Sequence[str],
                      negate: bool = False) -> int:
        """Remove rows of ``kind`` with time < cutoff (ns) whose level (the value of
        ``LEVEL_TAG[kind]``) is one of ``levels`` (``negate``: is none of them, or
        missing); return how many.  The per-minute and facet counts follow."""
        raise NotImplementedError

    def get_state(self, key: str) -> Optional[str]:
        raise NotImplementedError

    def flush(self) -> None:
        """Finish background work (e.g. sealing) now; writes are committed already."""

    def compact(self) -> int:
        """Rewrite sealed segments compactly where the backend can; return how many."""
        return 0

    def clusters(self) -> List[str]:
        raise NotImplementedError

    def stats(self) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
