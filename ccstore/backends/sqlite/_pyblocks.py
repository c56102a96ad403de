"""Block layouts of compacted SQLite segments: the pure-Python twin of ``_blocks``.

:func:`block_layout` turns rows into a block's uncompressed layout and
:func:`rows_of_layout` turns it back into rows (see :mod:`.blocks` for the layout);
:func:`block_spans` cuts a segment's sorted rows into blocks and :func:`time_range`
gives a block's time range;
``ccstore.backends.sqlite._blocks`` is the compiled implementation of the same
functions, tested against this one.
"""
from __future__ import annotations

import itertools
import operator
import sys
from array import array
from typing import Any, Container, List, Optional, Sequence, Tuple

from ._blockspec import (
    COLUMNS, COUNT, DELTA, DICT, DICTIONARY, FIELD, HEAD, HOST, ID, JSON, MAGIC, NS, SECOND,
    SECTION, TEXT, TIME, TS, json_section, json_values, typed_distinct)

__all__ = ["block_layout", "block_spans", "rows_of_layout", "time_range"]

_SWAP = sys.byteorder != "little"
_PLAIN_TYPES = frozenset((type(None), int, str))
_TEXT_TYPES = frozenset((type(None), str))
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _le(a: array) -> bytes:
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _from_le(typecode: str, data: Any) -> array:
    a = array(typecode)
    a.frombytes(data)
    if _SWAP:
        a.byteswap()
    return a


def _shuffle(data: bytes) -> bytes:
    """64-bit integers byte plane by byte plane: the high bytes of small differences,
    mostly equal, end up side by side, where zlib finds them."""
    return b"".join(data[i::8] for i in range(8))


def _unshuffle(data: Any) -> bytearray:
    data = bytes(data)
    n = len(data) // 8
    out = bytearray(len(data))
    for i in range(8):
        out[i::8] = data[i * n:(i + 1) * n]
    return out


def _section(kind: bytes, payload: bytes) -> bytes:
    return SECTION.pack(kind, len(payload)) + payload


def _values_section(values: Sequence[Any]) -> bytes:
    """A column of SQLite values."""
    types = set(map(type, values))
    if types <= _TEXT_TYPES:
        lengths = array("i", [-1 if v is None else len(v) for v in values])
        text = "".join(v for v in values if v is not None)
        return _section(TEXT, _le(lengths) + text.encode("utf-8", "surrogatepass"))
    if types == {int} and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        diffs = [values[0]] + list(map(operator.sub, values[1:], values[:-1]))
        if _INT64[0] <= min(diffs) and max(diffs) <= _INT64[1]:
            return _section(DELTA, _shuffle(_le(array("q", diffs))))
    return json_section(values)


def _dictionary_section(values: Sequence[Any]) -> bytes:
    if set(map(type, values)) <= _PLAIN_TYPES:  # no two distinct values equal as keys
        distinct = list(dict.fromkeys(values))
        index_of = {v: j for j, v in enumerate(distinct)}
        index = list(map(index_of.__getitem__, values))
    else:
        distinct, index = typed_distinct(values)
    code = "B" if len(distinct) <= 0x100 else "H" if len(distinct) <= 0x10000 else "I"
    inner = _values_section(distinct)
    return _section(DICTIONARY, COUNT.pack(len(distinct)) + inner + code.encode("ascii")
                    + _le(array(code, index)))


def block_layout(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows shaped as :data:`COLUMNS` (values past those ignored) -> a block's
    layout, uncompressed."""
    n = len(rows)
    cols = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    parts = [HEAD.pack(MAGIC, n), _dictionary_section(cols[HOST]),
             _values_section(cols[ID]), _values_section(cols[TIME])]
    times, ts = cols[TIME], cols[TS]
    if set(map(type, times)) <= {int} and set(map(type, ts)) <= {int} and \
            list(map(operator.floordiv, times, itertools.repeat(NS, n))) == list(ts):
        parts.append(_section(SECOND, b""))  # the writer stores it so
    else:
        parts.append(_values_section(ts))
    for i in DICT:
        if i != HOST:
            parts.append(_dictionary_section(cols[i]))
    parts.append(_values_section(cols[FIELD]))
    return b"".join(parts)


def _read_section(buf: memoryview, pos: int) -> Tuple[bytes, memoryview, int]:
    if pos + SECTION.size > len(buf):
        raise ValueError("truncated block")
    kind, size = SECTION.unpack_from(buf, pos)
    pos += SECTION.size
    if pos + size > len(buf):
        raise ValueError("truncated block")
    return kind, buf[pos:pos + size], pos + size


def _values(kind: bytes, payload: memoryview, n: int,
            keep: Optional[List[int]] = None) -> List[Any]:
    """A column of ``n`` values; with ``keep``, only the values at those positions."""
    if kind == TEXT:
        lengths = _from_le("i", payload[:4 * n])
        text = bytes(payload[4 * n:]).decode("utf-8", "surrogatepass")
        if -1 not in lengths:
            ends = list(itertools.accumulate(lengths))
            starts = [0] + ends[:-1]
            if keep is not None:
                starts = list(map(starts.__getitem__, keep))
                ends = list(map(ends.__getitem__, keep))
            return list(map(text.__getitem__, map(slice, starts, ends)))
        out: List[Any] = []
        pos = 0
        for length in lengths:
            if length < 0:
                out.append(None)
            else:
                out.append(text[pos:pos + length])
                pos += length
    elif kind == DELTA:
        out = list(itertools.accumulate(_from_le("q", _unshuffle(payload))))
    elif kind == JSON:
        out = json_values(payload)
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    return out if keep is None else list(map(out.__getitem__, keep))


def _dictionary(buf: memoryview, pos: int) -> Tuple[List[Any], array, int]:
    """A dictionary column: its distinct values, the index of each row, where the
    next section starts."""
    kind, payload, pos = _read_section(buf, pos)
    if kind != DICTIONARY:
        raise ValueError(f"unknown dictionary kind {kind!r}")
    if len(payload) < COUNT.size:
        raise ValueError("truncated block")
    (count,) = COUNT.unpack_from(payload, 0)
    ikind, ipayload, ipos = _read_section(payload, COUNT.size)
    if ipos >= len(payload):
        raise ValueError("truncated block")
    index = _from_le(chr(payload[ipos]), payload[ipos + 1:])
    return _values(ikind, ipayload, count), index, pos


def rows_of_layout(raw: Any, hosts: Optional[Container[str]] = None) -> List[tuple]:
    """A block's uncompressed layout -> its rows shaped as :data:`COLUMNS`, in stored
    order; with ``hosts``, only those whose hostname is one of them or not text."""
    buf = memoryview(raw)
    if len(buf) < HEAD.size:
        raise ValueError("truncated block")
    magic, n = HEAD.unpack_from(buf, 0)
    if magic != MAGIC:
        raise ValueError(f"unknown block format {bytes(magic)!r}")
    cols: List[Any] = [None] * len(COLUMNS)
    keep: Optional[List[int]] = None  # the rows of ``hosts``, when not all
    distinct, index, pos = _dictionary(buf, HEAD.size)
    if hosts is not None:
        flags = [h in hosts or not isinstance(h, str) for h in distinct]
        if not all(flags):
            keep = list(itertools.compress(range(n), map(flags.__getitem__, index)))
            if not keep:
                return []
            index = list(map(index.__getitem__, keep))
    cols[HOST] = list(map(distinct.__getitem__, index))
    kind, payload, pos = _read_section(buf, pos)
    cols[ID] = _values(kind, payload, n, keep)
    kind, payload, pos = _read_section(buf, pos)
    cols[TIME] = _values(kind, payload, n, keep)
    kind, payload, pos = _read_section(buf, pos)
    cols[TS] = (list(map(operator.floordiv, cols[TIME], itertools.repeat(NS)))
                if kind == SECOND else _values(kind, payload, n, keep))
    for i in DICT:
        if i != HOST:
            distinct, index, pos = _dictionary(buf, pos)
            if keep is not None:
                index = list(map(index.__getitem__, keep))
            cols[i] = (distinct * len(index) if len(distinct) == 1
                       else list(map(distinct.__getitem__, index)))
    kind, payload, pos = _read_section(buf, pos)
    cols[FIELD] = _values(kind, payload, n, keep)
    return list(zip(*cols)) if n else []


def block_spans(rows: Sequence[Sequence[Any]], host_rows: int,
                max_rows: int) -> List[Tuple[int, int]]:
    """(start, end) of each block of ``rows`` (sorted by host), in order: a block ends
    at a host's last row once it holds ``host_rows`` rows, and at ``max_rows`` rows.
    Two hosts are the same when they are one object or equal."""
    spans: List[Tuple[int, int]] = []
    start = 0
    prev = rows[0][HOST] if rows else None
    for i in range(1, len(rows)):
        host = rows[i][HOST]
        k = i - start
        if k >= max_rows or (k >= host_rows and host is not prev and host != prev):
            spans.append((start, i))
            start = i
        prev = host
    if rows:
        spans.append((start, len(rows)))
    return spans


def time_range(rows: Sequence[Sequence[Any]]) -> Tuple[Optional[int], Optional[int]]:
    """The least and greatest ``time`` of ``rows`` when every one that is not NULL is an
    integer and there is one, else (None, None)."""
    times = [r[TIME] for r in rows if isinstance(r[TIME], int)]
    if not times or len(times) != sum(r[TIME] is not None for r in rows):
        return None, None
    return min(times), max(times)
