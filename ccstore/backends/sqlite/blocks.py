"""Blocks of a compacted SQLite segment: rows stored column by column, compressed.

A compacted segment keeps its rows, sorted by (hostname, time, id), in blocks.  A
block holds each column apart: ids and times as 64-bit differences, ``timestamp``
left out where it is the second of ``time``, low-cardinality columns (hostname,
name, type, ..., tags, level) as a dictionary of their values and an index per row,
texts as one string and their lengths; the whole is compressed with zlib, with a
preset dictionary per segment (:func:`make_dictionary`).  Values
keep their SQLite type (NULL, integer, real, text, blob): a column holding anything
but integers, or text and NULL, is kept as JSON with blobs tagged.  So a block
decodes to exactly the rows that were read.

Layout (integers little-endian): ``b"CB2"``, the row count (u32), then one section
per column of :data:`COLUMNS` in the order hostname (first: a read of some hosts
takes only their rows from the other columns), id, time, timestamp, the other
dictionary columns, field; a section is a kind byte, a payload length (u32) and the
payload; a dictionary's payload is the count of its values (u32), their section, the
index type (``B``, ``H`` or ``I``) and the index of each row.
"""
from __future__ import annotations

import base64
import itertools
import json
import operator
import struct
import sys
import zlib
from array import array
from typing import Any, Container, List, Optional, Sequence, Tuple

#: zlib level of the blocks
LEVEL = 6
#: bytes of a segment's preset dictionary (zlib uses at most 32 KiB)
DICTIONARY_BYTES = 32768
#: the columns of a block's rows, in order (a segment table's columns)
COLUMNS = ("id", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
           "othertags", "field", "time", "level")
_ID, _TS, _FIELD, _TIME, _HOST = (COLUMNS.index(c)
                                  for c in ("id", "timestamp", "field", "time", "hostname"))
#: columns kept as a dictionary of values plus an index per row
_DICT = tuple(i for i, c in enumerate(COLUMNS) if c not in ("id", "timestamp", "field", "time"))
_NS = 1_000_000_000
_MAGIC = b"CB2"
_HEAD = struct.Struct("<3sI")
_SECTION = struct.Struct("<cI")
_COUNT = struct.Struct("<I")
_SWAP = sys.byteorder != "little"
_PLAIN_TYPES = frozenset((type(None), int, str))
_TEXT_TYPES = frozenset((type(None), str))
_INT64 = (-(1 << 63), (1 << 63) - 1)

# section kinds
_DELTA = b"D"  # all integers: the first and the differences, int64, byte planes
_TEXT = b"S"  # text and NULL: lengths in characters (int32, -1 NULL), then the text
_JSON = b"J"  # anything else: JSON, a blob as a one-item list
_SECOND = b"T"  # timestamp: the second of time, nothing stored
_DICTIONARY = b"K"  # distinct values (a section), then the index of each row


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


def _json_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return [base64.b64encode(v).decode("ascii")]
    return v


def _value_of_json(v: Any) -> Any:
    return base64.b64decode(v[0]) if isinstance(v, list) else v


def _section(kind: bytes, payload: bytes) -> bytes:
    return _SECTION.pack(kind, len(payload)) + payload


def _values_section(values: Sequence[Any]) -> bytes:
    """A column of SQLite values."""
    types = set(map(type, values))
    if types <= _TEXT_TYPES:
        lengths = array("i", [-1 if v is None else len(v) for v in values])
        text = "".join(v for v in values if v is not None)
        return _section(_TEXT, _le(lengths) + text.encode("utf-8", "surrogatepass"))
    if types == {int} and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        diffs = [values[0]] + list(map(operator.sub, values[1:], values[:-1]))
        if _INT64[0] <= min(diffs) and max(diffs) <= _INT64[1]:
            return _section(_DELTA, _shuffle(_le(array("q", diffs))))
    doc = json.dumps([_json_value(v) for v in values], ensure_ascii=False, allow_nan=True)
    return _section(_JSON, doc.encode("utf-8", "surrogatepass"))


def _dictionary_section(values: Sequence[Any]) -> bytes:
    if set(map(type, values)) <= _PLAIN_TYPES:  # no two distinct values equal as keys
        distinct = list(dict.fromkeys(values))
        index_of = {v: j for j, v in enumerate(distinct)}
        index = list(map(index_of.__getitem__, values))
    else:  # keyed by type too: 1 and 1.0 are distinct SQLite values
        keys = [(type(v), v) for v in values]
        seen = {k: j for j, k in enumerate(dict.fromkeys(keys))}
        index = list(map(seen.__getitem__, keys))
        distinct = [k[1] for k in seen]
    code = "B" if len(distinct) <= 0x100 else "H" if len(distinct) <= 0x10000 else "I"
    inner = _values_section(distinct)
    return _section(_DICTIONARY, _COUNT.pack(len(distinct)) + inner + code.encode("ascii")
                    + _le(array(code, index)))


def encode_block(rows: Sequence[Sequence[Any]], level: int = LEVEL,
                 zdict: Optional[bytes] = None) -> bytes:
    """Rows shaped as :data:`COLUMNS` -> one compressed block (with ``zdict``, zlib's
    preset dictionary: the block is decoded with the same)."""
    raw = block_layout(rows)
    if zdict is None:
        return zlib.compress(raw, level)
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(raw) + c.flush()


def make_dictionary(samples: Sequence[bytes], size: int = DICTIONARY_BYTES) -> bytes:
    """A preset dictionary for the blocks of one segment from the uncompressed layouts
    of some of them (zlib looks back at most 32 KiB, nearest first)."""
    per = max(size // max(len(samples), 1), 1)
    return b"".join(s[:per] for s in samples)[-size:]


def block_layout(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows shaped as :data:`COLUMNS` -> a block's layout, uncompressed."""
    n = len(rows)
    cols = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    parts = [_HEAD.pack(_MAGIC, n), _dictionary_section(cols[_HOST]),
             _values_section(cols[_ID]), _values_section(cols[_TIME])]
    times, ts = cols[_TIME], cols[_TS]
    if set(map(type, times)) <= {int} and set(map(type, ts)) <= {int} and \
            list(map(operator.floordiv, times, itertools.repeat(_NS, n))) == list(ts):
        parts.append(_section(_SECOND, b""))  # the writer stores it so
    else:
        parts.append(_values_section(ts))
    for i in _DICT:
        if i != _HOST:
            parts.append(_dictionary_section(cols[i]))
    parts.append(_values_section(cols[_FIELD]))
    return b"".join(parts)


def _read_section(buf: memoryview, pos: int) -> Tuple[bytes, memoryview, int]:
    kind, size = _SECTION.unpack_from(buf, pos)
    pos += _SECTION.size
    return kind, buf[pos:pos + size], pos + size


def _values(kind: bytes, payload: memoryview, n: int,
            keep: Optional[List[int]] = None) -> List[Any]:
    """A column of ``n`` values; with ``keep``, only the values at those positions."""
    if kind == _TEXT:
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
    elif kind == _DELTA:
        out = list(itertools.accumulate(_from_le("q", _unshuffle(payload))))
    elif kind == _JSON:
        out = [_value_of_json(v)
               for v in json.loads(bytes(payload).decode("utf-8", "surrogatepass"))]
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    return out if keep is None else list(map(out.__getitem__, keep))


def _dictionary(buf: memoryview, pos: int) -> Tuple[List[Any], array, int]:
    """A dictionary column: its distinct values, the index of each row, where the
    next section starts."""
    kind, payload, pos = _read_section(buf, pos)
    if kind != _DICTIONARY:
        raise ValueError(f"unknown dictionary kind {kind!r}")
    (count,) = _COUNT.unpack_from(payload, 0)
    ikind, ipayload, ipos = _read_section(payload, _COUNT.size)
    index = _from_le(chr(payload[ipos]), payload[ipos + 1:])
    return _values(ikind, ipayload, count), index, pos


def decode_block(data: bytes, hosts: Optional[Container[str]] = None,
                 zdict: Optional[bytes] = None) -> List[tuple]:
    """One block -> its rows shaped as :data:`COLUMNS`, in stored order; with
    ``hosts``, only those whose hostname is one of them or not text.  ``zdict``: the
    preset dictionary it was compressed with."""
    if zdict is None:
        raw = zlib.decompress(data)
    else:
        d = zlib.decompressobj(15, zdict)
        raw = d.decompress(data)
        if not d.eof:
            raise ValueError("truncated block")
    buf = memoryview(raw)
    magic, n = _HEAD.unpack_from(buf, 0)
    if magic != _MAGIC:
        raise ValueError(f"unknown block format {bytes(magic)!r}")
    cols: List[Any] = [None] * len(COLUMNS)
    keep: Optional[List[int]] = None  # the rows of ``hosts``, when not all
    distinct, index, pos = _dictionary(buf, _HEAD.size)
    if hosts is not None:
        flags = [h in hosts or not isinstance(h, str) for h in distinct]
        if not all(flags):
            keep = list(itertools.compress(range(n), map(flags.__getitem__, index)))
            if not keep:
                return []
            index = list(map(index.__getitem__, keep))
    cols[_HOST] = list(map(distinct.__getitem__, index))
    kind, payload, pos = _read_section(buf, pos)
    cols[_ID] = _values(kind, payload, n, keep)
    kind, payload, pos = _read_section(buf, pos)
    cols[_TIME] = _values(kind, payload, n, keep)
    kind, payload, pos = _read_section(buf, pos)
    cols[_TS] = (list(map(operator.floordiv, cols[_TIME], itertools.repeat(_NS)))
                 if kind == _SECOND else _values(kind, payload, n, keep))
    for i in _DICT:
        if i != _HOST:
            distinct, index, pos = _dictionary(buf, pos)
            if keep is not None:
                index = list(map(index.__getitem__, keep))
            cols[i] = (distinct * len(index) if len(distinct) == 1
                       else list(map(distinct.__getitem__, index)))
    kind, payload, pos = _read_section(buf, pos)
    cols[_FIELD] = _values(kind, payload, n, keep)
    return list(zip(*cols)) if n else []
