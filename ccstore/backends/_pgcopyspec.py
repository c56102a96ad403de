"""What both implementations of the PostgreSQL COPY encoder share.

``ccstore.backends._pgcopy`` (compiled) and ``ccstore.backends._pypgcopy``
(its pure-Python twin) import these from here: the layout constants of binary
COPY data, the day of a row, and the check of a ``copy_group``.
"""
from __future__ import annotations

from operator import index as _index
from typing import Any, Optional, Tuple

from .._lpspec import I64_MAX, I64_MIN

__all__ = ["COPY_SIGNATURE", "COPY_TRAILER", "DAY_NS", "check_copy_group"]

#: the start of binary COPY data: signature, flags, header extension length
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
#: the end of binary COPY data
COPY_TRAILER = b"\xff\xff"
#: nanoseconds per day: a row's day is ``time // DAY_NS``
DAY_NS = 86_400_000_000_000


def check_copy_group(spec: Any) -> Tuple[str, str, Optional[int], Optional[int]]:
    """``copy_group=(cluster, kind, day, first_id)`` of ``decode_rows``, checked."""
    if not isinstance(spec, (tuple, list)) or len(spec) != 4:
        raise TypeError("copy_group must be (cluster, kind, day, first_id)")
    cl, kind, day, first_id = spec
    if type(cl) is not str or not cl:
        raise TypeError("copy_group: the cluster must be a non-empty str")
    if kind not in ("log", "event"):
        raise ValueError(f"copy_group: kind must be 'log' or 'event', not {kind!r}")
    if day is not None:
        day = _index(day)
        if not I64_MIN // DAY_NS <= day <= I64_MAX // DAY_NS:
            raise OverflowError("copy_group: the day is beyond the int64 range")
    if first_id is not None:
        first_id = _index(first_id)
        if not I64_MIN <= first_id <= I64_MAX:
            raise OverflowError("ids beyond the int64 range")
    return cl, ("log" if kind == "log" else "event"), day, first_id
