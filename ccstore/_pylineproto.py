"""Pure-Python line-protocol codec: the reference semantics.

The compiled core (``ccstore._lineproto``) must give exactly the same points,
rows and errors (line, column, message, text) as this module on every input.

Decoding happens in two tiers that must agree:

* a *fast path* per physical line built from ``bytes.split``/``partition``
  and caches keyed by raw bytes.  It accepts only a strict, common subset of
  valid lines (no escapes in keys, single spaces between the sections, one
  field, ...) and hands anything else to
* the *precise path* (:func:`_frame` + :func:`_parse`), which implements the
  whole grammar and finds the exact error.

Rules the compiled core must mirror
-----------------------------------
Framing (where a logical line ends), byte level, independent of validity:

1. After leading spaces: an empty line (or only ``\\r`` at its end) is skipped;
   ``#`` starts a comment that ends at the next ``\\n``.
2. Otherwise the *key section* runs to the first space not directly preceded by
   a backslash, or ``\\n``.
3. In the field section (after a run of spaces), a *field key* runs to the first
   ``=``, ``,`` or space not directly preceded by a backslash, or ``\\n``.  ``,``
   starts the next key, a space ends the fields (rest of the line to ``\\n``).
   After ``=``, a value starting with ``"`` runs to the first ``"`` that follows an
   even run of backslashes (may cross ``\\n``; unterminated: to the end of
   input); a following ``,`` starts the next key, anything else ends the fields.
   Any other value runs to ``,`` (next key), space (rest of line) or ``\\n``.
4. The logical line ends at the next ``\\n`` outside such a string; one ``\\r``
   directly before that ``\\n`` (or before the end of input) is dropped.

Errors: exactly one per bad logical line; decoding continues after it.
``column`` is the 1-based byte offset of the error position within its
physical line, ``lineno`` that physical line's number, ``text`` that physical
line (without ``\\n`` and a dropped ``\\r``), first 200 bytes, decoded with
``errors="replace"``.  Which error: the parser below reports the first syntax
error it meets (left to right, messages in :data:`MESSAGES`); the whole logical
line (comments excepted) is also checked as UTF-8, and an invalid byte at a
position <= the syntax error's (or with no syntax error) wins: ``invalid UTF-8``
at the first byte Python's strict decoder rejects (``UnicodeDecodeError.start``).
Key names inside messages are the unescaped key, decoded, cut to 64 characters
plus ``...``, in double quotes.

Parser (positions are absolute; ``e`` is the end of the line's content):

* measurement: bytes up to an unescaped ``,``/space; ``\\,`` ``\\ `` are escapes,
  any other backslash is literal.  A byte 0x00-0x1F/0x7F stops the scan:
  ``non-printable character 0xNN in measurement`` at that byte (same for tag
  key, tag value, field key, comment; NN two upper-case hex digits).  Empty: ``missing measurement``.
* tags ``,key=value``, checked in this order: escapes ``\\,`` ``\\=`` ``\\ ``.
  Empty key: ``empty tag key`` (at the key's start); ``duplicate tag key "k"`` (at its start); no ``=``
  after the key: ``expected '=' after tag key "k"`` (at the byte after the key);
  value stopped by ``=``: ``unescaped '=' in value of tag "k" (write it as \\=)``
  (at the ``=``); empty value: ``empty value for tag "k"`` (at the value start).
* after the key section: at the end, or only spaces follow: ``missing fields (a
  point needs at least one field_key=value)`` at the end of the content.
* fields: ``empty field key``; ``expected '=' after field key "k"``; nothing
  before ``,``/space/end: ``missing value for field "k"``; ``"`` starts a string,
  ``unterminated string value for field "k"`` at the opening quote; a byte other
  than ``,``/space right after the closing quote: ``unexpected text after string
  value of field "k"``.  Duplicate field keys are allowed: the last value wins,
  the position of the first is kept.
* other field values run to ``,``/space/end (no escapes).  A non-printable
  byte in one: ``non-printable character 0xNN in field value`` at that byte.
  Else the value is judged as a whole, the message at its first byte (see
  :func:`_parse_bare`): a first byte other than ``-``, ``.``, a digit must make
  one of the ten boolean spellings, else ``invalid value for field "k": not a
  number, boolean or quoted string``.  A numeric start with last byte ``i``:
  ``-?[0-9]+`` in int64, else ``invalid integer for field "k"`` / ``integer out
  of range for field "k"``; last byte ``u``: ``[0-9]+`` in uint64, else ``invalid
  unsigned integer ...`` / ``unsigned integer out of range ...``; otherwise
  ``-?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?`` else ``invalid float
  ...``, and an overflow to infinity is ``float out of range ...`` (underflow
  to 0 is fine).  Leading zeros are allowed everywhere.
* timestamp: token to the next space/end; a non-printable byte in it:
  ``non-printable character 0xNN in timestamp`` at that byte; ``-?[0-9]+``:
  else ``invalid timestamp``; not in int64 after scaling: ``timestamp out of range`` (both at
  the token start); non-space after it: ``unexpected text after timestamp``.
  ``auto`` judges ``abs(value)``: < 1e11 s, < 1e14 ms, < 1e17 us, else ns.

Comments are not checked for UTF-8.  A ``str`` input is encoded as UTF-8 (lone
surrogates become invalid UTF-8 and so line errors).
"""
from __future__ import annotations

import re
import struct
import time as _time
from collections import deque
from itertools import islice
from operator import index as _index
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from . import logparse as _lp
from . import rows as _rows
from ._lpspec import I64_MAX, I64_MIN, MESSAGES, NAME_LIMIT, PRECISIONS, TEXT_LIMIT, U64_MAX
from .rows import LineError, RowBatch

__all__ = ["Point", "LineError", "RowBatch", "decode", "decode_rows", "encode",
           "group_by_host", "copy_binary", "syslog_chunk", "PRECISIONS",
           "MESSAGES"]

FieldValue = Union[int, float, bool, str]
Data = Union[bytes, bytearray, memoryview, str]

_BOOLS = {b"t": True, b"T": True, b"true": True, b"True": True, b"TRUE": True,
          b"f": False, b"F": False, b"false": False, b"False": False, b"FALSE": False}
_NUMBER_START = frozenset(b"-.0123456789")
_INT_RE = re.compile(rb"-?[0-9]+")
_UINT_RE = re.compile(rb"[0-9]+")
_FLOAT_RE = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# precise path: tokens (``\\`` before an escapable byte is an escape, else literal)
_CTRL = rb"\x00-\x1f\x7f"
_MEAS_TOK = re.compile(rb"(?:[^ ,\\" + _CTRL + rb"]|\\[ ,]|\\(?![ ,]))*")
_KEY_TOK = re.compile(rb"(?:[^ ,=\\" + _CTRL + rb"]|\\[ ,=]|\\(?![ ,=]))*")
_STR_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_SPACE_COMMA = re.compile(rb"[ ,]")
_NOT_SPACE = re.compile(rb"[^ ]")
_CTRL_RE = re.compile(b"[" + _CTRL + b"]")
_COMMENT_CTRL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_FKEY_END = re.compile(rb"[=, \n]")
_VALUE_END = re.compile(rb"[, \n]")
_MEAS_UNESC = re.compile(rb"\\([ ,])")
_KEY_UNESC = re.compile(rb"\\([ ,=])")
_STR_ESCAPES = (('\\"', '"'), ("\\n", "\n"), ("\\r", "\r"), ("\\t", "\t"))

# fast path: a key section without escapes, validated once per distinct value
_FAST_KEYS = re.compile(rb"[^ ,#\\" + _CTRL + rb"][^ ,\\" + _CTRL + rb"]*"
                        rb"(?:,[^ ,=\\" + _CTRL + rb"]+=[^ ,=\\" + _CTRL + rb"]+)*")
_FAST_FKEY = re.compile(rb"[^ ,=\\" + _CTRL + rb"]+")
#: the fast path's caches (key section -> entry, field key -> str) hold at
#: most this many entries of at most _CACHE_KEY_MAX bytes each
_CACHE_MAX = 65536
_CACHE_KEY_MAX = 512


class _Bad(Exception):
    """A syntax error at absolute byte position ``pos``."""

    def __init__(self, pos: int, message: str) -> None:
        self.pos = pos
        self.message = message


class _BadValue(Exception):
    """A field value or timestamp that is not valid (position added by caller)."""


# --------------------------------------------------------------------------- Point
def _value_class(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, float):
        return 2
    return 3


class Point:
    """One line-protocol point: measurement, tags, fields (input order), time (ns)."""

    __slots__ = ("name", "tags", "fields", "time")

    def __init__(self, name: str, tags: Optional[Dict[str, str]] = None,
                 fields: Optional[Dict[str, FieldValue]] = None, time: int = 0) -> None:
        self.name = name
        self.tags = {} if tags is None else tags
        self.fields = {} if fields is None else fields
        self.time = time

    def __eq__(self, other: object) -> bool:
        """Equal name, tags, time and fields; a field's type counts (``1`` != ``1.0``)."""
        try:
            oname, otags, ofields, otime = other.name, other.tags, other.fields, other.time
        except AttributeError:
            return NotImplemented
        if self.name != oname or self.time != otime or self.tags != otags:
            return False
        if self.fields != ofields:
            return False
        return all(_value_class(v) == _value_class(ofields[k]) for k, v in self.fields.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Point(name={self.name!r}, tags={self.tags!r}, fields={self.fields!r}, "
                f"time={self.time!r})")


# ----------------------------------------------------------------------- helpers
def _as_bytes(data: Data) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"data must be bytes or str, not {type(data).__name__}")


def _multiplier(precision: str) -> int:
    try:
        return PRECISIONS[precision]
    except (KeyError, TypeError):
        raise ValueError(f"invalid precision {precision!r}: use one of "
                         + ", ".join(PRECISIONS)) from None


def _quote(name: bytes) -> str:
    s = name.decode("utf-8", "replace")
    if len(s) > NAME_LIMIT:
        s = s[:NAME_LIMIT] + "..."
    return '"' + s + '"'


def _unescape_str(s: str) -> str:
    """Decode the escapes of a string field value, pairwise from the left:
    ``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t``; any other backslash stays."""
    if "\\" not in s:
        return s
    if "\\\\" in s:  # split at escaped backslashes first: the rest has no pairs left
        return "\\".join([_unescape_simple(part) for part in s.split("\\\\")])
    return _unescape_simple(s)


def _unescape_simple(s: str) -> str:
    if "\\" not in s:
        return s
    for esc, char in _STR_ESCAPES:
        if esc in s:
            s = s.replace(esc, char)
    return s


def _small_int(digits: bytes) -> Optional[int]:
    """Value of ``-?[0-9]+`` text; None when it has over 20 significant digits
    (then it fits no int64/uint64; this also keeps ``int()`` off huge texts)."""
    neg = digits[0] == 45  # -
    sig = digits[1:] if neg else digits
    if len(sig) > 20:
        sig = sig.lstrip(b"0")
        if len(sig) > 20:
            return None
        if not sig:
            return 0
    v = int(sig)
    return -v if neg else v


def _parse_bare(tok: bytes, key: bytes) -> FieldValue:
    """Value of an unquoted field value token; raises _BadValue with the message.

    A token starting with ``-``, ``.`` or a digit is a number: ``i`` suffix
    integer, ``u`` suffix unsigned, else float.  Otherwise it must be a boolean.
    """
    if tok[0] not in _NUMBER_START:
        b = _BOOLS.get(tok)
        if b is None:
            raise _BadValue(MESSAGES["bad_value"].format(k=_quote(key)))
        return b
    last = tok[-1]
    if last == 105:  # i
        digits = tok[:-1]
        if not _INT_RE.fullmatch(digits):
            raise _BadValue(MESSAGES["bad_int"].format(k=_quote(key)))
        v = _small_int(digits)
        if v is not None and I64_MIN <= v <= I64_MAX:
            return v
        raise _BadValue(MESSAGES["int_range"].format(k=_quote(key)))
    if last == 117:  # u
        digits = tok[:-1]
        if not _UINT_RE.fullmatch(digits):
            raise _BadValue(MESSAGES["bad_uint"].format(k=_quote(key)))
        v = _small_int(digits)
        if v is not None and v <= U64_MAX:
            return v
        raise _BadValue(MESSAGES["uint_range"].format(k=_quote(key)))
    if _FLOAT_RE.fullmatch(tok) is None:
        raise _BadValue(MESSAGES["bad_float"].format(k=_quote(key)))
    f = float(tok)
    if f - f != 0.0:  # inf
        raise _BadValue(MESSAGES["float_range"].format(k=_quote(key)))
    return f


def _scale_time(tok: bytes, mult: int) -> int:
    """Nanoseconds of a timestamp token; raises _BadValue."""
    if not _INT_RE.fullmatch(tok):
        raise _BadValue(MESSAGES["bad_time"])
    v = _small_int(tok)
    if v is not None:
        if mult == 0:
            a = -v if v < 0 else v
            mult = (1_000_000_000 if a < 100_000_000_000 else 1_000_000 if a < 100_000_000_000_000
                    else 1_000 if a < 100_000_000_000_000_000 else 1)
        v *= mult
        if I64_MIN <= v <= I64_MAX:
            return v
    raise _BadValue(MESSAGES["time_range"])


# ---------------------------------------------------------------- precise path
def _unescaped_end(buf: bytes, i: int, stops: "re.Pattern[bytes]", n: int) -> int:
    """First match of ``stops`` at or after ``i`` not preceded by a backslash
    (a ``\\n`` always counts); ``n`` if none."""
    while True:
        m = stops.search(buf, i, n)
        if m is None:
            return n
        j = m.start()
        if buf[j] == 10 or buf[j - 1] != 92:
            return j
        i = j + 1


def _string_end(buf: bytes, i: int, e: int) -> int:
    """Index of the quote closing the string opened at ``i`` (the first ``"``
    after an even run of backslashes), or -1 before ``e``."""
    j = i
    while True:
        j = buf.find(b'"', j + 1, e)
        if j < 0:
            return -1
        k = j - 1
        while buf[k] == 92:
            k -= 1
        if (j - k) & 1:
            return j


def _frame(buf: bytes, s: int, n: int) -> int:
    """Index of the ``\\n`` ending the logical line whose key section starts at
    ``s`` (framing rules 2-3 of the module docstring), or -1 if none."""
    # rule 2: key section
    j = _unescaped_end(buf, s, _SPACE_NL, n)
    if j >= n or buf[j] == 10:
        return j if j < n else -1
    # rule 3: field section
    i = j
    while i < n and buf[i] == 32:
        i += 1
    while i < n:
        j = _unescaped_end(buf, i, _FKEY_END, n)
        if j >= n:
            return -1
        c = buf[j]
        if c == 44:  # ,
            i = j + 1
            continue
        if c != 61:  # space or newline: rest of the line
            break
        i = j + 1
        if i < n and buf[i] == 34:  # "
            i = _string_end(buf, i, n)
            if i < 0:
                return -1
            i += 1
            if i < n and buf[i] == 44:
                i += 1
                continue
            break
        m = _VALUE_END.search(buf, i)
        if m is None:
            return -1
        i = m.start()
        if buf[i] == 44:
            i += 1
            continue
        break
    return buf.find(b"\n", i)


_SPACE_NL = re.compile(rb"[ \n]")


def _scan_token(buf: bytes, i: int, e: int, tok: "re.Pattern[bytes]", part: str) -> int:
    """End of the key-like token at ``i``; raises at a non-printable byte."""
    j = tok.match(buf, i, e).end()
    if j < e:
        c = buf[j]
        if c < 32 or c == 127:
            raise _nonprintable(buf, j, part)
    return j


def _no_ctrl(buf: bytes, i: int, j: int, part: str) -> None:
    """Raise at the first non-printable byte of ``buf[i:j]``."""
    m = _CTRL_RE.search(buf, i, j)
    if m is not None:
        raise _nonprintable(buf, m.start(), part)


def _nonprintable(buf: bytes, p: int, part: str) -> _Bad:
    return _Bad(p, MESSAGES["nonprintable"].format(byte=f"{buf[p]:02X}", part=part))


def _parse(buf: bytes, s: int, e: int, mult: int):
    """Parse the logical line ``buf[s:e]`` (``s``: first byte after leading spaces).

    Returns ``(name, tags, fields, time_or_None)`` with bytes keys/values
    (escapes removed, strings still raw).  Raises :class:`_Bad`.
    """
    j = _scan_token(buf, s, e, _MEAS_TOK, "measurement")
    if j == s:
        raise _Bad(s, MESSAGES["no_measurement"])
    name = buf[s:j]
    if b"\\" in name:
        name = _MEAS_UNESC.sub(rb"\1", name)
    i = j
    tags: Dict[bytes, bytes] = {}
    while i < e and buf[i] == 44:  # ,
        i += 1
        j = _scan_token(buf, i, e, _KEY_TOK, "tag key")
        if j == i:
            raise _Bad(i, MESSAGES["empty_tag_key"])
        key = buf[i:j]
        if b"\\" in key:
            key = _KEY_UNESC.sub(rb"\1", key)
        if key in tags:
            raise _Bad(i, MESSAGES["dup_tag"].format(k=_quote(key)))
        if j >= e or buf[j] != 61:
            raise _Bad(j, MESSAGES["tag_eq"].format(k=_quote(key)))
        i = j + 1
        j = _scan_token(buf, i, e, _KEY_TOK, "tag value")
        if j < e and buf[j] == 61:
            raise _Bad(j, MESSAGES["tag_value_eq"].format(k=_quote(key)))
        if j == i:
            raise _Bad(i, MESSAGES["empty_tag_value"].format(k=_quote(key)))
        value = buf[i:j]
        tags[key] = _KEY_UNESC.sub(rb"\1", value) if b"\\" in value else value
        i = j
    # here i == e or buf[i] is a space
    while i < e and buf[i] == 32:
        i += 1
    if i >= e:
        raise _Bad(e, MESSAGES["no_fields"])
    fields: Dict[bytes, Any] = {}
    while True:
        j = _scan_token(buf, i, e, _KEY_TOK, "field key")
        if j == i:
            raise _Bad(i, MESSAGES["empty_field_key"])
        key = buf[i:j]
        if b"\\" in key:
            key = _KEY_UNESC.sub(rb"\1", key)
        if j >= e or buf[j] != 61:
            raise _Bad(j, MESSAGES["field_eq"].format(k=_quote(key)))
        i = j + 1
        if i < e and buf[i] == 34:
            j = _string_end(buf, i, e)
            if j < 0:
                raise _Bad(i, MESSAGES["unterminated"].format(k=_quote(key)))
            fields[key] = buf[i + 1:j]  # bytes: a raw string, decoded later
            i = j + 1
            if i < e and buf[i] != 44 and buf[i] != 32:
                raise _Bad(i, MESSAGES["after_string"].format(k=_quote(key)))
        else:
            m = _SPACE_COMMA.search(buf, i, e)
            j = e if m is None else m.start()
            if j == i:
                raise _Bad(i, MESSAGES["no_value"].format(k=_quote(key)))
            _no_ctrl(buf, i, j, "field value")
            try:
                fields[key] = _parse_bare(buf[i:j], key)
            except _BadValue as exc:
                raise _Bad(i, str(exc)) from None
            i = j
        if i < e and buf[i] == 44:
            i += 1
            continue
        break
    while i < e and buf[i] == 32:
        i += 1
    t = None
    if i < e:
        j = buf.find(b" ", i, e)
        if j < 0:
            j = e
        _no_ctrl(buf, i, j, "timestamp")
        try:
            t = _scale_time(buf[i:j], mult)
        except _BadValue as exc:
            raise _Bad(i, str(exc)) from None
        m = _NOT_SPACE.search(buf, j, e)
        if m is not None:
            raise _Bad(m.start(), MESSAGES["after_time"])
    return name, tags, fields, t


def _precise_line(buf: bytes, pos: int, n: int, mult: int):
    """Decode the logical line starting at ``pos`` (start of a physical line).

    Returns ``(nl, result)``: ``nl`` the index of its terminating ``\\n`` (-1: runs
    to the end of input) and ``result`` None (blank or comment), ``(errpos, message)``
    or ``(measurement position, name, tags, fields, time_or_None)`` with str
    keys and values.
    """
    s = pos
    while s < n and buf[s] == 32:
        s += 1
    if s >= n or buf[s] == 10:
        return (s if s < n else -1), None
    if buf[s] == 35:  # '#': comment
        nl = buf.find(b"\n", s)
        e = n if nl < 0 else nl
        if e > s and buf[e - 1] == 13:
            e -= 1
        m = _COMMENT_CTRL.search(buf, s, e)
        if m is not None:
            bad = _nonprintable(buf, m.start(), "comment")
            return nl, (bad.pos, bad.message)
        return nl, None
    nl = _frame(buf, s, n)
    e = n if nl < 0 else nl
    if buf[e - 1] == 13:
        e -= 1
        if e == s:  # a lone "\r": blank line
            return nl, None
    bad: Optional[_Bad] = None
    try:
        name, tags, fields, t = _parse(buf, s, e, mult)
    except _Bad as exc:
        bad = exc
    try:
        buf[s:e].decode("utf-8")
    except UnicodeDecodeError as exc:
        if bad is None or s + exc.start <= bad.pos:
            return nl, (s + exc.start, MESSAGES["utf8"])
    if bad is not None:
        return nl, (bad.pos, bad.message)
    dfields = {}
    for k, v in fields.items():
        dfields[k.decode()] = _unescape_str(v.decode()) if type(v) is bytes else v
    return nl, (s, name.decode(), {k.decode(): v.decode() for k, v in tags.items()}, dfields, t)


# ------------------------------------------------------------------ the scanner
def _fast_keys(ks: bytes, make: Callable[[str, Dict[str, str]], Any]) -> Any:
    """Entry for a strict key section (no escapes, valid UTF-8, no duplicate
    tag), else None (the line then takes the precise path)."""
    if _FAST_KEYS.fullmatch(ks) is None:
        return None
    try:
        parts = ks.decode().split(",")
    except UnicodeDecodeError:
        return None
    tags = {}
    for part in parts[1:]:
        k, _, v = part.partition("=")
        tags[k] = v
    if len(tags) != len(parts) - 1:
        return None
    return make(parts[0], tags)


def _scan(buf: bytes, mult: int, default_time: int, final: bool,
          make: Callable[[str, Dict[str, str]], Any], cache: Dict[bytes, Any],
          errs: List[Tuple[int, str]], state: List[int], fast: bool = True) -> Iterator[tuple]:
    """Yield ``(mpos, entry, first_key, first_value, fields_or_None, time)`` per point.

    ``entry`` is ``make(name, tags)`` (cached per raw key section), ``mpos`` the
    position of the measurement's first byte, ``fields`` None when the point
    has a single field.  Syntax errors are appended to ``errs`` as
    ``(position, message)``.  ``state[0]`` is set to the bytes consumed.
    ``fast=False`` sends every line through the precise path (for tests).
    """
    lines = buf.split(b"\n")
    n = len(buf)
    if not final:
        lines.pop()  # unterminated tail: decoded with the next chunk
    cget = cache.get
    fkeys = _FIELD_KEYS
    fkget = fkeys.get
    parse_bare = _parse_bare
    pos = 0
    it = iter(lines)
    for line in it:
        ln = len(line)
        lpos = pos
        pos += ln + 1
        if not ln:
            continue
        # -- fast path: strict common shape, else fall through to the precise path
        if line[-1] == 13:
            line = line[:-1]
            if not line:
                continue
        ks, _, rest = line.partition(b" ")
        entry = cget(ks) if fast else None
        if entry is None and fast:
            if not ks and not line.strip(b" "):  # blank line
                continue
            entry = _fast_keys(ks, make)
            if entry is not None and len(ks) <= _CACHE_KEY_MAX:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[ks] = entry
        if entry is not None:
            fs, sp, ts = rest.rpartition(b" ")
            t = default_time
            if sp and ts.isdigit() and len(ts) < 20:
                t = int(ts)
                if mult == 1:
                    pass
                elif mult:
                    t *= mult
                else:
                    t *= (1_000_000_000 if t < 100_000_000_000 else 1_000_000
                          if t < 100_000_000_000_000 else 1_000 if t < 100_000_000_000_000_000
                          else 1)
                if t > I64_MAX:
                    fs = b""  # out of range: precise path
            else:
                fs = rest
            fk, _, val = fs.partition(b"=")
            key = fkget(fk)
            if key is None and _FAST_FKEY.fullmatch(fk) is not None:
                try:
                    key = fk.decode()
                except UnicodeDecodeError:
                    pass
                else:
                    if len(fkeys) >= _CACHE_MAX:
                        fkeys.clear()
                    if len(fk) <= _CACHE_KEY_MAX:
                        fkeys[fk] = key
            if key is not None and val:
                if val[0] == 34:  # "
                    if len(val) > 1 and val[-1] == 34:
                        inner = val[1:-1]
                        if b"\\" in inner:
                            if _STR_BODY.fullmatch(inner) is not None:
                                try:
                                    yield lpos, entry, key, _unescape_str(inner.decode()), None, t
                                    continue
                                except UnicodeDecodeError:
                                    pass
                        elif b'"' not in inner:
                            try:
                                yield lpos, entry, key, inner.decode(), None, t
                                continue
                            except UnicodeDecodeError:
                                pass
                else:
                    try:
                        yield lpos, entry, key, parse_bare(val, fk), None, t
                        continue
                    except _BadValue:
                        pass
        # -- precise path
        nl, result = _precise_line(buf, lpos, n, mult)
        if nl < 0:
            if not final:
                state[0] = lpos
                return
            nl = n
        if nl >= pos:  # a string spanned lines: skip the physical lines it covered
            _consume(islice(it, buf.count(b"\n", pos, nl) + 1))
            pos = nl + 1
        if result is None:
            continue
        if len(result) == 2:
            errs.append(result)
            continue
        s, name, tags, fields, tm = result
        fk = next(iter(fields))
        yield (s, make(name, tags), fk, fields[fk], fields if len(fields) > 1 else None,
               default_time if tm is None else tm)
    state[0] = n if final else buf.rfind(b"\n") + 1


_FIELD_KEYS: Dict[bytes, str] = {}


def _consume(iterator: Iterator[Any]) -> None:
    deque(iterator, maxlen=0)


_POINT_KEYS: Dict[bytes, Any] = {}
_ROW_KEYS: Dict[bytes, Any] = {}


def _line_errors(buf: bytes, errs: List[Tuple[int, str]], lineno: int) -> List[LineError]:
    """LineError objects for ``(position, message)`` pairs in increasing position."""
    out = []
    cpos, cline = 0, lineno
    for p, message in errs:
        cline += buf.count(b"\n", cpos, p)
        cpos = p
        start = buf.rfind(b"\n", 0, p) + 1
        end = buf.find(b"\n", p)
        if end < 0:
            end = len(buf)
        if end > start and buf[end - 1] == 13:
            end -= 1
        text = buf[start:min(end, start + TEXT_LIMIT)].decode("utf-8", "replace")
        out.append(LineError(cline, p - start + 1, message, text))
    return out


def _default_time(default_time: Optional[int]) -> int:
    if default_time is None:
        return _time.time_ns()
    t = _index(default_time)
    if not I64_MIN <= t <= I64_MAX:
        raise ValueError("default_time must fit in signed 64-bit nanoseconds")
    return t


# ---------------------------------------------------------------- public API
def _point_entry(name: str, tags: Dict[str, str]) -> Tuple[str, Dict[str, str]]:
    return name, tags


def decode(data: Data, *, precision: str = "ns", default_time: Optional[int] = None,
           _fast: bool = True) -> Tuple[List[Point], List[LineError]]:
    """Decode line protocol into ``(points, errors)``.

    ``precision``: unit of the timestamps (``ns us ms s auto``); ``default_time``
    (ns) is given to lines without a timestamp, None meaning now (taken once per
    call).  A bad line becomes a :class:`LineError` and never affects other
    lines.  ``_fast=False`` sends every line through the precise path (tests
    compare the two).
    """
    mult = _multiplier(precision)
    buf = _as_bytes(data)
    dt = _default_time(default_time)
    errs: List[Tuple[int, str]] = []
    points: List[Point] = []
    append = points.append
    for _, (name, tags), key, value, fields, t in _scan(buf, mult, dt, True, _point_entry,
                                                        _POINT_KEYS, errs, [0], _fast):
        append(Point(name, tags.copy(), {key: value} if fields is None else fields, t))
    return points, _line_errors(buf, errs, 1)


_IDENTITY = [tag for tag, _ in _rows.IDENTITY_TAGS]
_LOG = _rows.KIND_FIELDS["log"]
_EVENT = _rows.KIND_FIELDS["event"]


def _row_entry(name: str, tags: Dict[str, str]) -> tuple:
    """What a row needs from a key section, computed once per distinct one:
    ``(name, tags, cluster tag, row columns name..othertags, log level, event level)``."""
    get = tags.get
    return (name, tags, get(_rows.CLUSTER_TAG),
            (name, *[get(t) for t in _IDENTITY], _rows.othertags_json(tags)),
            get(_rows.LEVEL_TAG[_LOG]), get(_rows.LEVEL_TAG[_EVENT]))


def _add_row(groups: Dict[Tuple[str, str], List[tuple]], cl: str, kind: str) -> List[tuple]:
    rows = groups.get((cl, kind))
    if rows is None:
        rows = groups[(cl, kind)] = []
    return rows


#: nanoseconds per day: ``copy_group`` days are ``time // DAY_NS``
DAY_NS = 86_400_000_000_000


def _copy_group(spec: Any) -> Tuple[str, str, Optional[int], Optional[int]]:
    """``decode_rows``'s ``copy_group``, checked."""
    if not isinstance(spec, (tuple, list)) or len(spec) != 4:
        raise TypeError("copy_group must be (cluster, kind, day, first_id)")
    cl, kind, day, first_id = spec
    if type(cl) is not str or not cl:
        raise TypeError("copy_group: the cluster must be a non-empty str")
    if kind not in (_LOG, _EVENT):
        raise ValueError(f"copy_group: kind must be {_LOG!r} or {_EVENT!r}, not {kind!r}")
    if day is not None:
        day = _index(day)
        if not I64_MIN // DAY_NS <= day <= I64_MAX // DAY_NS:
            raise OverflowError("copy_group: the day is beyond the int64 range")
    if first_id is not None:
        first_id = _index(first_id)
        if not I64_MIN <= first_id <= I64_MAX:
            raise OverflowError("ids beyond the int64 range")
    return cl, (_LOG if kind == _LOG else _EVENT), day, first_id


def decode_rows(data: Data, *, precision: str = "auto", default_time: Optional[int] = None,
                cluster: Optional[str] = None, final: bool = True, lineno: int = 1,
                copy_group: Optional[Tuple[str, str, Optional[int], Optional[int]]] = None
                ) -> RowBatch:
    """Decode line protocol straight into storage rows (see :class:`RowBatch`).

    Gives exactly what :func:`decode` followed by
    :func:`ccstore.rows.point_to_row` gives.  With ``final=False`` the input
    is a chunk of a stream: an unterminated last line is left for the next call
    (``consumed``, in bytes of the UTF-8 encoding when ``data`` is str);
    ``lineno`` numbers the first physical line of ``data``.

    ``copy_group=(cluster, kind, day, first_id)``: the rows of that cluster and
    kind whose time falls on ``day`` (``time // DAY_NS``; any day when None) go
    into ``copy`` instead of ``groups``, as the tuples of
    ``copy_binary(rows, first_id, 2)`` (without its signature and trailer).
    """
    mult = _multiplier(precision)
    buf = _as_bytes(data)
    dt = _default_time(default_time)
    if copy_group is not None:
        ccl, ckind, cday, cid = _copy_group(copy_group)
    else:
        ccl = ckind = cday = cid = None
    copied: List[tuple] = []
    errs: List[Tuple[int, str]] = []
    groups: Dict[Tuple[str, str], List[tuple]] = {}
    dropped: Dict[str, int] = {}
    state = [0]
    kinds = _rows.KIND_FIELDS
    point_to_row = _rows.point_to_row
    MessageError = _rows.MessageError
    LOG, EVENT = _LOG, _EVENT
    last_cl: Any = None
    last_kind: Any = None
    rows: List[tuple] = []
    for mpos, entry, key, value, fields, t in _scan(buf, mult, dt, final, _row_entry,
                                                     _ROW_KEYS, errs, state):
        kind = kinds.get(key)
        row = None
        if kind is LOG or kind is EVENT:
            cl = entry[2] or cluster
            if cl and type(value) is str:
                row = (t, t // 1_000_000_000, *entry[3], value,
                       entry[4] if kind is LOG else entry[5])
        elif kind is not None:  # metric, control: the first kind field decides
            dropped[kind] = dropped.get(kind, 0) + 1
            continue
        if row is None:  # not the plain case: the message rules decide
            try:
                cl, kind, row = point_to_row(entry[0], entry[1],
                                             {key: value} if fields is None else fields, t,
                                             cluster)
            except MessageError as exc:
                errs.append((mpos, str(exc)))
                continue
            if row is None:
                dropped[kind] = dropped.get(kind, 0) + 1
                continue
        if kind == ckind and cl == ccl and (cday is None or row[0] // DAY_NS == cday):
            copied.append(row)
            continue
        if cl is not last_cl or kind is not last_kind:
            rows = _add_row(groups, cl, kind)
            last_cl, last_kind = cl, kind
        rows.append(row)
    consumed = state[0]
    lines = buf.count(b"\n", 0, consumed)
    if final and consumed and buf[consumed - 1] != 10:
        lines += 1
    errors = _line_errors(buf, errs, lineno)
    if not copied:
        return RowBatch(groups, errors, dropped, consumed, lines)
    times = [r[0] for r in copied]
    return RowBatch(groups, errors, dropped, consumed, lines,
                    copy_binary(copied, cid, 2)[len(_COPY_SIGNATURE):-2], len(copied),
                    min(times), max(times))


# -------------------------------------------------------------------- encoding
_ENC_NONPRINT = re.compile("[\x00-\x1f\x7f]")


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


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # flags, extension length
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
    out = [_COPY_SIGNATURE]
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
    put(b"\xff\xff")
    return b"".join(out)


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


def encode(points: Iterable[Point], *, precision: str = "ns") -> bytes:
    """Line protocol for ``points``, one ``\\n``-terminated line each.

    Timestamps are divided by the precision (floor).  Raises ValueError for
    what line protocol cannot express (empty names, non-printable characters,
    a trailing backslash, a measurement starting with ``#``, no fields, NaN/Inf,
    integers beyond uint64, times beyond int64).
    """
    div = _multiplier(precision)
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


# ---------------------------------------------------------------------------
# syslog chunks: the fast path of ccstore.logparse
# ---------------------------------------------------------------------------
def syslog_chunk(data: bytes, name: str, othertags: Mapping[str, str],
                 bsd: Mapping[str, Optional[int]]) -> Optional[Tuple[List[tuple], bool]]:
    """Log rows of a chunk that is nothing but single-line RFC 3164 entries.

    ``data``: whole lines (``\\n``-separated, no final newline; CRLF line ends
    allowed) that must be valid UTF-8 without control characters;
    ``name``: the measurement of lines without a tag; ``othertags``: loglevel ->
    othertags JSON; ``bsd``: ``"Mmm dd HH:MM:SS"`` -> epoch seconds, None for an
    impossible date (:class:`ccstore.logparse.LogParser`'s year-inferring cache).

    Returns ``(rows, last_explicit)``, one row per line (the shape of
    :data:`ccstore.rows.ROW_COLUMNS`; ``last_explicit``: whether the last
    line states its level), or None when any line is something else: no RFC
    3164 header (``_FAST_SYSLOG_RE``), an impossible date, a line that
    continues an entry (``_CONT_RE``), a blank line, or when the chunk is not
    clean text.  The line loop of the parser takes over then.

    Levels: the ``<PRI>`` severity, else a level word opening the message
    (``_LEVEL_START``), else the first upper-case level word or ``level=``
    within the message's first ``_LEVEL_WINDOW`` characters, else ``info``.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"syslog_chunk: bytes expected, not {type(data).__name__}")
    text = _lp._clean_text(data)
    if text is None:
        return None
    tuples = _lp._SYSLOG_LINES_RE.findall(text)
    if len(tuples) != text.count("\n") + 1:
        return None
    if any(map(_lp._CONT_GROUP, tuples)):
        cont_match = _lp._CONT_RE.match
        if any(cont_match(t[7]) for t in tuples if t[6]):
            return None
    secs = [bsd[t[1]] for t in tuples]
    if None in secs:
        return None
    token_level, pri_level = _lp._token_level, _lp._PRI_LEVEL
    levels: List[Optional[str]] = [
        pri_level[int(p) & 7] if p else (token_level(w) if w else None)
        for p, _, _, _, _, w, _, _ in tuples]
    hits = _lp._level_hits(text)
    if hits:
        for i, level in _lp._body_hits(text, hits, [t[7] for t in tuples]).items():
            if level and levels[i] is None:
                levels[i] = level
    last_explicit = levels[-1] is not None
    levels = [lv or "info" for lv in levels]
    ns, frac_ns = _lp.NS_PER_S, _lp._frac_ns
    rows = [(sec * ns + (frac_ns(f) if f else 0), sec, tag or name, host, "node", "0",
             None, None, othertags[lv], body, lv)
            for (_, _, f, host, tag, _, _, body), sec, lv in zip(tuples, secs, levels)]
    return rows, last_explicit
