"""Rows grouped by host for writing: pure-Python twin of ``_hostruns``.

The SQLite backend writes each host's rows together (see its module
docstring); ``ccstore.backends._hostruns`` is the compiled implementation of
the same function, tested against this one.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

__all__ = ["group_by_host"]


def group_by_host(rows: List[tuple], host_at: int, time_at: int
                  ) -> Tuple[List[tuple], List[Tuple[Optional[str], int]], Optional[int],
                             Optional[int]]:
    """Storage rows grouped by host, for writing: ``(rows, runs, min_time, max_time)``.

    ``rows`` come back with each host's rows together, in arrival order, hosts
    in order of first appearance; ``runs`` gives ``(host, count)`` for each
    host in that order; the times are the least and greatest value at
    ``time_at`` (None for no rows).  ``host_at`` indexes the hostname.
    """
    buckets: Dict[Optional[str], List[tuple]] = {}
    mn = mx = None
    n = len(rows)
    for row in rows:
        host = row[host_at]
        bucket = buckets.get(host)
        if bucket is None:
            buckets[host] = [row]
        else:
            bucket.append(row)
        t = row[time_at]
        if mn is None or t < mn:
            mn = t
        if mx is None or t > mx:
            mx = t
    if len(rows) != n or sum(map(len, buckets.values())) != n:
        raise RuntimeError("rows changed while they were grouped")
    out: List[tuple] = []
    for bucket in buckets.values():
        out.extend(bucket)
    return out, [(h, len(bucket)) for h, bucket in buckets.items()], mn, mx
