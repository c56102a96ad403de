"""The head index: row ids per host of the unsealed segments, kept in memory.

Unsealed segments have no secondary index; each process keeps, per segment, the
ids of each host's rows it has written or searched by host, so that a host query
reads those rows by id instead of scanning the segment.
"""
from __future__ import annotations

from array import array
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apsw

from ..base import ID_SHIFT, SEALED
from .schema import _Segment, quote_ident

#: a head index lookup pays while it names at most this share of the segment's rows
_HEAD_MAX_SHARE = 0.25


class _Head:
    """Row ids per host of one unsealed segment: every id up to ``last`` is here.

    Each host has an ``array`` of id runs, ``first, last`` pairs: a write inserts
    its rows host by host, so one run per host and write.  Ids only ever join
    (in increasing order), under the backend's head lock: the writer adds the
    rows it inserts before it commits, as the ``(host, count)`` runs of the
    write, which the first lookup after it joins into the arrays (so that a
    write pays nothing per host, and nothing at all when no lookup comes before
    the segment is sealed); a reader that finds ``last`` behind the ``last_id``
    of its snapshot (another process wrote, or this process has just opened the
    store) first reads the missing ``(id, hostname)`` pairs from its snapshot.
    Lookups copy arrays, which the GIL makes atomic.  Ids of rows that retention
    deleted may stay: the lookup only narrows a query that still tests the
    hostname.
    """

    __slots__ = ("last", "hosts", "pending")

    def __init__(self, last: int) -> None:
        self.last = last
        self.hosts: Dict[Optional[str], array] = {}
        #: writes not yet joined into ``hosts``: (first id, runs), in id order
        self.pending: List[Tuple[int, Sequence[Tuple[Optional[str], int]]]] = []

    def _join(self, host: Optional[str], first: int, last: int) -> None:
        runs = self.hosts.get(host)
        if runs is None:
            self.hosts[host] = array("q", (first, last))
        elif runs[-1] == first - 1:
            runs[-1] = last
        else:
            runs.extend((first, last))

    def add(self, first: int, last: int, runs: Sequence[Tuple[Optional[str], int]]) -> None:
        """Rows ``first`` to ``last``, given as ``(hostname, count)`` in id order."""
        if last >= first:
            self.pending.append((first, runs))
            self.last = last

    def fold(self) -> None:
        """Join the runs of the writes added since the last lookup into ``hosts``."""
        pending, self.pending = self.pending, []
        for first, runs in pending:
            i = first
            for host, n in runs:
                self._join(host, i, i + n - 1)
                i += n

    def catch_up(self, conn: apsw.Connection, seg: "_Segment") -> None:
        """Add the rows of ``seg`` after ``last`` up to ``seg.last_id``, as ``conn`` sees them."""
        self.fold()
        for i, h in conn.execute(
                f"SELECT id, hostname FROM {quote_ident(seg.tbl)} WHERE id > ? AND id <= ? "
                "ORDER BY id", (self.last, seg.last_id)):
            self._join(h, i, i)
        self.last = seg.last_id

    def ids(self, hosts: Iterable[str], most: float) -> Optional[array]:
        """The ids of ``hosts``, or None when they are more than ``most``."""
        found = [r for r in map(self.hosts.get, hosts) if r is not None]
        if sum(r[k + 1] - r[k] + 1 for r in found for k in range(0, len(r), 2)) > most:
            return None
        ids = array("q")
        for r in found:
            for k in range(0, len(r), 2):
                ids.extend(range(r[k], r[k + 1] + 1))
        return ids


class HeadIndex:
    """The head indexes of this process's segments (``_heads``, under ``_heads_lock``)."""

    def _new_head(self, seg_id: int, last_id: int) -> None:
        """Start the head index of a new, empty segment."""
        with self._heads_lock:
            self._heads[seg_id] = _Head(last_id)

    def _head(self, conn: apsw.Connection, seg: _Segment) -> _Head:
        """The head index of unsealed ``seg``, caught up to the ``last_id`` that
        ``conn`` sees (call with the head lock held)."""
        head = self._heads.get(seg.id)
        if head is None:
            # a new segment: forget those sealed or dropped since (also by others)
            unsealed = {r[0] for r in conn.execute(
                "SELECT id FROM ccstore_segments WHERE state != ?", (SEALED,))}
            for gone in [k for k in self._heads if k not in unsealed]:
                del self._heads[gone]
            head = self._heads[seg.id] = _Head(seg.id << ID_SHIFT)
        if head.last < seg.last_id:
            head.catch_up(conn, seg)
        return head

    def _head_ids(self, conn: apsw.Connection, seg: _Segment,
                  hosts: Sequence[str]) -> Optional[array]:
        """Ids of ``hosts`` in unsealed ``seg`` (as of this snapshot) from the head
        index, or None where that would not spare much of a scan."""
        head = self._heads.get(seg.id)
        if head is None or head.last < seg.last_id or head.pending:
            with self._heads_lock:
                head = self._head(conn, seg)
                head.fold()
        return head.ids(hosts, _HEAD_MAX_SHARE * seg.rows)
