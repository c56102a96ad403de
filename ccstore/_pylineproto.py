"""Pure-Python line-protocol decoder: the reference semantics.

The compiled core (``ccstore._lineproto``) must give exactly the same points,
rows and errors (line, column, message, text) on every input.  Lines are
decoded in two tiers that must agree: a fast path for the strict common shape
of a line (``bytes.split``/``partition``, caches keyed by raw bytes) and the
precise path (:func:`_frame` + :func:`_parse`), which implements the whole
grammar and finds the exact error.  The grammar, framing and error rules are
written down in docs/design/codec.md.
"""
from __future__ import annotations

import re
import time as _time
from collections import deque
from itertools import islice
from operator import index as _index
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from . import rows as _rows
from ._lpspec import I64_MAX, I64_MIN, MESSAGES, NAME_LIMIT, TEXT_LIMIT, U64_MAX
from ._lpspec import multiplier as _multiplier
from .rows import LineError, RowBatch

__all__ = ["LineError", "Point", "RowBatch", "RowDecoder", "decode", "decode_rows"]

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


class RowDecoder:
    """decode_rows() as a class: a subclass may take rows of its own (those of
    one group, say) by defining :meth:`take_row`; they are not put in ``groups``."""

    #: ``take_row(cluster, kind, row) -> bool``, or None: whether the row is taken
    take_row: Optional[Callable[[str, str, tuple], bool]] = None

    def decode_rows(self, data: Data, *, precision: str = "auto",
                    default_time: Optional[int] = None, cluster: Optional[str] = None,
                    final: bool = True, lineno: int = 1) -> RowBatch:
        """See :func:`decode_rows`."""
        mult = _multiplier(precision)
        buf = _as_bytes(data)
        dt = _default_time(default_time)
        take = self.take_row
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
            if take is not None and take(cl, kind, row):
                continue
            if cl is not last_cl or kind is not last_kind:
                rows = _add_row(groups, cl, kind)
                last_cl, last_kind = cl, kind
            rows.append(row)
        consumed = state[0]
        lines = buf.count(b"\n", 0, consumed)
        if final and consumed and buf[consumed - 1] != 10:
            lines += 1
        return RowBatch(groups, _line_errors(buf, errs, lineno), dropped, consumed, lines)


def decode_rows(data: Data, *, precision: str = "auto", default_time: Optional[int] = None,
                cluster: Optional[str] = None, final: bool = True, lineno: int = 1) -> RowBatch:
    """Decode line protocol straight into storage rows (see :class:`RowBatch`).

    Gives exactly what :func:`decode` followed by
    :func:`ccstore.rows.point_to_row` gives.  With ``final=False`` the input
    is a chunk of a stream: an unterminated last line is left for the next call
    (``consumed``, in bytes of the UTF-8 encoding when ``data`` is str);
    ``lineno`` numbers the first physical line of ``data``.
    """
    return RowDecoder().decode_rows(data, precision=precision, default_time=default_time,
                                    cluster=cluster, final=final, lineno=lineno)


