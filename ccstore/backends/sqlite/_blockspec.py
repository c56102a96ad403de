"""What both implementations of the block layout share.

``ccstore.backends.sqlite._blocks`` (compiled) and ``ccstore.backends.sqlite._pyblocks``
(its pure-Python twin) import these from here: the columns, the section kinds and
the layout's fixed parts (see :mod:`.blocks` for the layout), and the rare cases
both hand to Python: columns kept as JSON, and dictionaries over values of other
types than NULL, integer and text.
"""
from __future__ import annotations

import base64
import json
import struct
from typing import Any, List, Sequence, Tuple

__all__ = ["COLUMNS", "DELTA", "DICT", "DICTIONARY", "FIELD", "HEAD", "HOST", "ID", "JSON",
           "MAGIC", "NS", "SECOND", "SECTION", "COUNT", "TEXT", "TIME", "TS", "json_section",
           "json_values", "typed_distinct"]

#: the columns of a block's rows, in order (a segment table's columns)
COLUMNS = ("id", "timestamp", "name", "hostname", "type", "typeid", "stype", "stypeid",
           "othertags", "field", "time", "level")
ID, TS, FIELD, TIME, HOST = (COLUMNS.index(c)
                             for c in ("id", "timestamp", "field", "time", "hostname"))
#: columns kept as a dictionary of values plus an index per row, in layout order
DICT = tuple(i for i, c in enumerate(COLUMNS) if c not in ("id", "timestamp", "field", "time"))
NS = 1_000_000_000
MAGIC = b"CB2"
HEAD = struct.Struct("<3sI")
SECTION = struct.Struct("<cI")
COUNT = struct.Struct("<I")

# section kinds
DELTA = b"D"  # all integers: the first and the differences, int64, byte planes
TEXT = b"S"  # text and NULL: lengths in characters (int32, -1 NULL), then the text
JSON = b"J"  # anything else: JSON, a blob as a one-item list
SECOND = b"T"  # timestamp: the second of time, nothing stored
DICTIONARY = b"K"  # distinct values (a section), then the index of each row


def _json_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return [base64.b64encode(v).decode("ascii")]
    return v


def _value_of_json(v: Any) -> Any:
    return base64.b64decode(v[0]) if isinstance(v, list) else v


def json_section(values: Sequence[Any]) -> bytes:
    """A column of SQLite values as a JSON section (header included)."""
    doc = json.dumps([_json_value(v) for v in values], ensure_ascii=False, allow_nan=True)
    payload = doc.encode("utf-8", "surrogatepass")
    return SECTION.pack(JSON, len(payload)) + payload


def json_values(payload: Any) -> List[Any]:
    """The values of a JSON section's payload."""
    return [_value_of_json(v)
            for v in json.loads(bytes(payload).decode("utf-8", "surrogatepass"))]


def typed_distinct(values: Sequence[Any]) -> Tuple[List[Any], List[int]]:
    """The distinct values in order of first appearance and the index of each value,
    keyed by type too: 1 and 1.0 are distinct SQLite values."""
    keys = [(type(v), v) for v in values]
    seen = {k: j for j, k in enumerate(dict.fromkeys(keys))}
    return [k[1] for k in seen], list(map(seen.__getitem__, keys))
