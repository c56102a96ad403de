"""What both line-protocol decoders share: error messages, precisions, limits.

The compiled core (``ccstore._lineproto``) and its pure-Python twin
(``ccstore._pylineproto``) import these from here, so that neither depends on
the other's private names.  The grammar itself is described in the twin's
docstring and in docs/design/codec.md.
"""
from __future__ import annotations

from typing import Dict

__all__ = ["I64_MAX", "I64_MIN", "MESSAGES", "NAME_LIMIT", "PRECISIONS", "TEXT_LIMIT",
           "U64_MAX", "multiplier"]

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1

#: nanoseconds per unit; 0 means "auto" (judge each timestamp by magnitude)
PRECISIONS: Dict[str, int] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                              "auto": 0}


def multiplier(precision: str) -> int:
    """Nanoseconds per unit of ``precision`` (0 for ``auto``); ValueError for others."""
    try:
        return PRECISIONS[precision]
    except (KeyError, TypeError):
        raise ValueError(f"invalid precision {precision!r}: use one of "
                         + ", ".join(PRECISIONS)) from None


#: bytes of the offending line kept in a LineError's text
TEXT_LIMIT = 200
#: characters of a key shown in a message
NAME_LIMIT = 64

#: every syntax error message (``{k}`` is a quoted key, ``{part}`` a part name,
#: ``{byte}`` two upper-case hex digits)
MESSAGES: Dict[str, str] = {
    "nonprintable": "non-printable character 0x{byte} in {part}",
    "utf8": "invalid UTF-8",
    "no_measurement": "missing measurement",
    "empty_tag_key": "empty tag key",
    "dup_tag": "duplicate tag key {k}",
    "tag_eq": "expected '=' after tag key {k}",
    "tag_value_eq": "unescaped '=' in value of tag {k} (write it as \\=)",
    "empty_tag_value": "empty value for tag {k}",
    "no_fields": "missing fields (a point needs at least one field_key=value)",
    "empty_field_key": "empty field key",
    "field_eq": "expected '=' after field key {k}",
    "no_value": "missing value for field {k}",
    "unterminated": "unterminated string value for field {k}",
    "after_string": "unexpected text after string value of field {k}",
    "bad_int": "invalid integer for field {k}",
    "int_range": "integer out of range for field {k}",
    "bad_uint": "invalid unsigned integer for field {k}",
    "uint_range": "unsigned integer out of range for field {k}",
    "bad_float": "invalid float for field {k}",
    "float_range": "float out of range for field {k}",
    "bad_value": "invalid value for field {k}: not a number, boolean or quoted string",
    "bad_time": "invalid timestamp",
    "time_range": "timestamp out of range",
    "after_time": "unexpected text after timestamp",
}
