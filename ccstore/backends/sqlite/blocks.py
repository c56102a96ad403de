"""Blocks of a compacted SQLite segment: rows stored column by column, compressed.

A compacted segment keeps its rows, sorted by (hostname, time, id), in blocks of
:data:`BLOCK_ROWS`.  A block holds each column apart: ids and times delta-coded,
``timestamp`` left out where it is the second of ``time``, low-cardinality columns
(hostname, name, type, ..., tags, level) as a dictionary of their values and one
index per row, messages as they are; the whole then compressed with zlib.  Values
keep their SQLite type (NULL, integer, real, text, blob), so a block decodes to
exactly the rows that were read.
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any, List, Sequence

#: rows per block
BLOCK_ROWS = 256
#: zlib level of the blocks
LEVEL = 6
#: the columns of a block's rows, in order (a segment table's columns)
COLUMNS = ("id", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
           "othertags", "field", "time", "level")
_ID, _TS, _FIELD, _TIME = (COLUMNS.index(c) for c in ("id", "timestamp", "field", "time"))
#: columns kept as a dictionary of values plus an index per row
_DICT = tuple(i for i, c in enumerate(COLUMNS) if c not in ("id", "timestamp", "field", "time"))
_NS = 1_000_000_000
_FORMAT = 1


def _enc(v: Any) -> Any:
    """A SQLite value as JSON: a blob becomes a one-item list (no other value is one)."""
    if isinstance(v, bytes):
        return [base64.b64encode(v).decode("ascii")]
    return v


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return base64.b64decode(v[0])
    return v


def _plain(values: Sequence[Any]) -> bool:
    """Whether every value is NULL, an int, or text: JSON keeps them as they are."""
    return all(v is None or type(v) in (int, str) for v in values)


def _column(values: Sequence[Any]) -> Any:
    plain = _plain(values)
    return values if plain else ["b", [_enc(v) for v in values]]


def _ints_delta(values: Sequence[Any]) -> Any:
    """Integers as the first and the differences; anything else as a plain column."""
    if values and all(type(v) is int for v in values):
        out = [values[0]]
        prev = values[0]
        for v in values[1:]:
            out.append(v - prev)
            prev = v
        return ["d", out]
    return ["p", _column(list(values))]


def encode_block(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows shaped as :data:`COLUMNS` -> one compressed block."""
    cols = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    out: List[Any] = [_FORMAT, len(rows)]
    out.append(_ints_delta(cols[_ID]))
    times = cols[_TIME]
    out.append(_ints_delta(times))
    ts = cols[_TS]
    if all(type(t) is int and type(s) is int and s == t // _NS for t, s in zip(times, ts)):
        out.append(["t"])  # the second of time (floor), as the writer stores it
    else:
        out.append(["p", _column(list(ts))])
    for i in _DICT:
        values = cols[i]
        seen: dict = {}
        index = []
        for v in values:
            # the key tells 1 from 1.0 and True from 1 (they are distinct SQLite values)
            k = (type(v), v) if not isinstance(v, bytes) else (bytes, v)
            j = seen.get(k)
            if j is None:
                j = seen[k] = len(seen)
            index.append(j)
        distinct = [k[1] for k in seen]
        out.append([_column(distinct), index])
    out.append(_column(list(cols[_FIELD])))
    return zlib.compress(json.dumps(out, ensure_ascii=False, separators=(",", ":"),
                                    allow_nan=True).encode("utf-8", "surrogatepass"), LEVEL)


def _undelta(col: Any) -> List[Any]:
    tag, body = col[0], col[1]
    if tag == "d":
        out = []
        acc = 0
        for i, d in enumerate(body):
            acc = d if i == 0 else acc + d
            out.append(acc)
        return out
    return _plain_values(body)


def _plain_values(col: Any) -> List[Any]:
    """A column written by :func:`_column`: a plain list, or ``["b", encoded]`` (a plain
    column is never that: none of its values is a list)."""
    if isinstance(col, list) and len(col) == 2 and col[0] == "b" and isinstance(col[1], list):
        return [_dec(v) for v in col[1]]
    return col


def decode_block(data: bytes) -> List[tuple]:
    """One block -> its rows shaped as :data:`COLUMNS`, in stored order."""
    doc = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
    if doc[0] != _FORMAT:
        raise ValueError(f"unknown block format {doc[0]!r}")
    n = doc[1]
    ids = _undelta(doc[2])
    times = _undelta(doc[3])
    if doc[4][0] == "t":
        ts = [t // _NS for t in times]
    else:
        ts = _plain_values(doc[4][1])
    cols: List[Any] = [None] * len(COLUMNS)
    cols[_ID], cols[_TIME], cols[_TS] = ids, times, ts
    for i, (distinct, index) in zip(_DICT, doc[5:5 + len(_DICT)]):
        values = _plain_values(distinct)
        cols[i] = [values[j] for j in index]
    cols[_FIELD] = _plain_values(doc[5 + len(_DICT)])
    if n == 0:
        return []
    return list(zip(*cols))
