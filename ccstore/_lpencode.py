"""Points to line protocol: encode(), one implementation for both decoders.

Encoding is plain string work, so it has a single implementation, in Python
(docs/design/codec.md says why); what it writes, either decoder reads back as
the same points.
"""
from __future__ import annotations

import re
from operator import index as _index
from typing import Any, Iterable

from ._lpspec import I64_MAX, I64_MIN, U64_MAX, multiplier

__all__ = ["encode"]

_ENC_NONPRINT = re.compile("[\x00-\x1f\x7f]")


def _encode_key(s: str, what: str, specials: str) -> str:
    """Escape a measurement, key or tag value; reject what cannot round-trip."""
    if type(s) is not str:
        raise TypeError(f"{what} must be str, not {type(s).__name__}")
    if not s:
        raise ValueError(f"empty {what}")
    if _ENC_NONPRINT.search(s):
        raise ValueError(f"non-printable character in {what} {s!r}")
    if s[-1] == "\\":
        raise ValueError(f"{what} {s!r} ends with a backslash, which line protocol cannot express")
    for c in specials:
        if c in s:
            s = s.replace(c, "\\" + c)
    return s


def _encode_value(v: Any, key: str) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        if "\\" in v:
            v = v.replace("\\", "\\\\")
        return '"' + v.replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace(
            "\t", "\\t") + '"'
    if isinstance(v, int):
        if I64_MIN <= v <= I64_MAX:
            return f"{int(v)}i"
        if 0 <= v <= U64_MAX:
            return f"{int(v)}u"
        raise ValueError(f"integer field {key!r} out of the int64/uint64 range: {v}")
    if isinstance(v, float):
        if v - v != 0.0:
            raise ValueError(f"field {key!r}: {v} has no line-protocol form")
        return repr(float(v))
    raise TypeError(f"field {key!r}: unsupported value type {type(v).__name__}")


def encode(points: Iterable[Any], *, precision: str = "ns") -> bytes:
    """Line protocol for ``points``, one ``\\n``-terminated line each.

    Timestamps are divided by the precision (floor).  Raises ValueError for
    what line protocol cannot express (empty names, non-printable characters,
    a trailing backslash, a measurement starting with ``#``, no fields, NaN/Inf,
    integers beyond uint64, times beyond int64).
    """
    div = multiplier(precision)
    if div == 0:
        raise ValueError("precision 'auto' is for decoding only")
    out = []
    for p in points:
        name = _encode_key(p.name, "measurement", ", ")
        if name[0] == "#":
            raise ValueError(f"measurement {p.name!r} starts with '#' (a comment)")
        parts = [name]
        for k, v in p.tags.items():
            parts.append("," + _encode_key(k, "tag key", ",= ") + "="
                         + _encode_key(v, "tag value", ",= "))
        if not p.fields:
            raise ValueError(f"point {p.name!r} has no fields")
        sep = " "
        for k, v in p.fields.items():
            parts.append(sep + _encode_key(k, "field key", ",= ") + "=" + _encode_value(v, k))
            sep = ","
        t = _index(p.time)
        if not I64_MIN <= t <= I64_MAX:
            raise ValueError(f"time {t} does not fit in signed 64-bit nanoseconds")
        parts.append(f" {t // div}\n")
        out.append("".join(parts))
    return "".join(out).encode("utf-8")
