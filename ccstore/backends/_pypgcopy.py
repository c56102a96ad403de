"""PostgreSQL binary COPY data from rows and from line protocol: the pure-Python twin.

:func:`copy_binary` encodes row tuples; :func:`decode_rows` decodes line
protocol as :func:`ccstore.lineproto.decode_rows` does, except that the rows of
one group (``copy_group``) come as COPY data instead of tuples.  The PostgreSQL
backend streams a large write through it.  ``ccstore.backends._pgcopy`` is the
compiled implementation of the same functions, tested against this one.
"""
from __future__ import annotations

import struct
from operator import index as _index
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from .._lpspec import I64_MAX, I64_MIN
from .._pylineproto import Data, RowDecoder
from ..rows import RowBatch
from ._pgcopyspec import COPY_SIGNATURE, COPY_TRAILER, DAY_NS, check_copy_group

__all__ = ["CopyDecoder", "copy_binary", "decode_rows"]

_I64 = struct.Struct(">iq")
_NULL = struct.pack(">i", -1)


def copy_binary(rows: Iterable[Sequence[Any]], first_id: Optional[int] = None,
                ints: int = 0) -> bytes:
    """Rows as PostgreSQL's binary ``COPY ... FROM STDIN`` data, whole: signature,
    one tuple per row, trailer (what psycopg's ``Copy.write`` takes for a
    ``FORMAT BINARY`` copy, with no ``set_types``).

    The first ``ints`` values of a row go as ``int8``, the others as ``text``
    (UTF-8); None is NULL.  With ``first_id``, each tuple starts with an
    ``int8`` id: ``first_id``, ``first_id + 1``, ...  Every row has as many
    values as the first.  Raises TypeError for a value of another type,
    OverflowError for an int beyond int64, ValueError for rows of unequal length.
    """
    extra = 0 if first_id is None else 1
    nid = _index(first_id) if extra else 0
    if not I64_MIN <= nid <= I64_MAX:
        raise OverflowError("ids beyond the int64 range")
    out = [COPY_SIGNATURE]
    put = out.append
    nf = -1
    for row in rows:
        n = len(row)
        if nf < 0:
            nf = n
            if nf + extra > 0x7FFF:
                raise ValueError(f"{nf + extra} columns: more than COPY takes")
        elif n != nf:
            raise ValueError(f"rows of {nf} and of {n} values")
        put((n + extra).to_bytes(2, "big"))
        if extra:
            if nid > I64_MAX:
                raise OverflowError("ids beyond the int64 range")
            put(_I64.pack(8, nid))
            nid += 1
        for k, v in enumerate(row):
            if k < ints:
                if v is None:
                    put(_NULL)
                    continue
                if not isinstance(v, int) or isinstance(v, bool):
                    raise TypeError(f"column {k}: expected int or None, not {type(v).__name__}")
                if not I64_MIN <= v <= I64_MAX:
                    raise OverflowError(f"column {k}: {v} is beyond the int64 range")
                put(_I64.pack(8, v))
            elif v is None:
                put(_NULL)
            elif isinstance(v, str):
                b = v.encode("utf-8")
                if len(b) > 0x7FFFFFFF:
                    raise ValueError(f"column {k}: text too long for COPY")
                put(len(b).to_bytes(4, "big"))
                put(b)
            else:
                raise TypeError(f"column {k}: expected str or None, not {type(v).__name__}")
    put(COPY_TRAILER)
    return b"".join(out)


class CopyDecoder(RowDecoder):
    """decode_rows() that takes the rows of one group and day (``copy_group``)
    instead of putting them in ``groups``; :meth:`batch` encodes them."""

    def __init__(self, copy_group: Tuple[str, str, Optional[int], Optional[int]]) -> None:
        self.cluster, self.kind, self.day, self.first_id = check_copy_group(copy_group)
        self.copied: List[tuple] = []

    def take_row(self, cl: str, kind: str, row: tuple) -> bool:
        if kind == self.kind and cl == self.cluster and (
                self.day is None or row[0] // DAY_NS == self.day):
            self.copied.append(row)
            return True
        return False

    def batch(self, batch: RowBatch) -> RowBatch:
        """``batch`` with the rows taken as COPY tuples (no signature, no trailer)."""
        copied = self.copied
        if copied:
            times = [r[0] for r in copied]
            batch.copy = copy_binary(copied, self.first_id, 2)[len(COPY_SIGNATURE):
                                                               -len(COPY_TRAILER)]
            batch.copied, batch.copy_min, batch.copy_max = len(copied), min(times), max(times)
        return batch


def decode_rows(data: Data, *, precision: str = "auto", default_time: Optional[int] = None,
                cluster: Optional[str] = None, final: bool = True, lineno: int = 1,
                copy_group: Optional[Tuple[str, str, Optional[int], Optional[int]]] = None
                ) -> RowBatch:
    """:func:`ccstore.lineproto.decode_rows`, and with
    ``copy_group=(cluster, kind, day, first_id)`` the rows of that cluster and
    kind whose time falls on ``day`` (``time // DAY_NS``; any day when None) go
    into the batch's ``copy`` instead of ``groups``, as the tuples of
    ``copy_binary(rows, first_id, 2)`` (without its signature and trailer);
    ``copied``, ``copy_min`` and ``copy_max`` count them and give their time range.
    """
    kw = dict(precision=precision, default_time=default_time, cluster=cluster, final=final,
              lineno=lineno)
    if copy_group is None:
        return RowDecoder().decode_rows(data, **kw)
    decoder = CopyDecoder(copy_group)
    return decoder.batch(decoder.decode_rows(data, **kw))
