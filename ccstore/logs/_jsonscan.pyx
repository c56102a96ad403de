# cython: boundscheck=False, wraparound=False, cdivision=True
"""The rows of a chunk of JSON lines: the compiled implementation.

The same functions and rows as :mod:`ccstore.logs._pyjsonscan` (see there).  Each line
is scanned once in C: its object is checked against the JSON grammar and only the
values of the keys that make a row are turned into Python objects.  Lines this scanner
leaves to the line loop (the chunk function then gives None): nested objects or arrays,
``NaN``/``Infinity``, keys with escapes or non-ASCII bytes, CR line ends, and for
``journal_json`` values other than text in the keys it reads or a timestamp in escapes.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcmp

import json as _json
from json.encoder import encode_basestring as _json_str

from ..rows import NS_PER_S, othertags_json
from ._grammar import _CONT_RE, _PRI_LEVEL, normalize_level
from ._pyjsonscan import TRACEBACK
from .formats import (JSON_EXTRA, JSON_HOST, JSON_LEVEL, JSON_MSG, JSON_NAME, JSON_TIME,
                      json_message, json_time)

__all__ = ["json_chunk", "journal_json_chunk"]

# value kinds of a scanned pair
cdef enum:
    K_STR = 1      # a string without escapes
    K_ESC = 2      # a string with escapes
    K_INT = 3      # an integer
    K_FLOAT = 4    # a number with a fraction or exponent
    K_TRUE = 5
    K_FALSE = 6
    K_NULL = 7
    MAXPAIRS = 128
    MAXKEYS = 64

cdef struct Pair:
    Py_ssize_t ks, ke   # the key's bytes (no quotes)
    Py_ssize_t vs, ve   # the value's bytes (a string's without its quotes)
    int kind
    bint ascii          # a string value of ASCII bytes only


cdef bytes _TRACEBACK_B = TRACEBACK.encode()
cdef object _loads = _json.loads
cdef object _cont_match = _CONT_RE.match
cdef tuple _PRI = tuple(_PRI_LEVEL)
cdef long long _NS = NS_PER_S
#: microseconds below this are nanoseconds in a long long
cdef long long _NO_OVERFLOW_US = 9000000000000000
#: normalize_level of the texts seen, a cache
cdef dict _LEVEL_OF_TEXT = {}


cdef inline bint _is_ws(char c) nogil:
    return c == c' ' or c == c'\t'


cdef inline bint _is_hex(char c) nogil:
    return (c'0' <= c <= c'9') or (c'a' <= c <= c'f') or (c'A' <= c <= c'F')


cdef inline bint _is_digit(char c) nogil:
    return c'0' <= c <= c'9'


cdef Py_ssize_t _string(const char* s, Py_ssize_t i, Py_ssize_t end, Pair* p) nogil:
    """Scan the string whose opening quote is at ``i - 1``: fill ``vs, ve, kind, ascii``
    of ``p``; the position after the closing quote, -1 when it is no JSON string."""
    cdef unsigned char c
    cdef bint esc = False, ascii = True
    p.vs = i
    while i < end:
        c = <unsigned char>s[i]
        if c == c'"':
            p.ve = i
            p.kind = K_ESC if esc else K_STR
            p.ascii = ascii
            return i + 1
        if c == c'\\':
            esc = True
            if i + 1 >= end:
                return -1
            c = <unsigned char>s[i + 1]
            if c == c'u':
                if (i + 5 >= end or not _is_hex(s[i + 2]) or not _is_hex(s[i + 3])
                        or not _is_hex(s[i + 4]) or not _is_hex(s[i + 5])):
                    return -1
                i += 6
                continue
            if not (c == c'"' or c == c'\\' or c == c'/' or c == c'b' or c == c'f'
                    or c == c'n' or c == c'r' or c == c't'):
                return -1
            i += 2
            continue
        if c < 0x20 or c == 0x7f:
            return -1
        if c >= 0x80:
            ascii = False
        i += 1
    return -1


cdef Py_ssize_t _value(const char* s, Py_ssize_t i, Py_ssize_t end, Pair* p) nogil:
    """Scan the scalar value at ``i``; the position after it, -1 for anything else."""
    cdef char c = s[i]
    cdef Py_ssize_t j
    if c == c'"':
        return _string(s, i + 1, end, p)
    p.vs = i
    p.ascii = True
    if c == c'-' or _is_digit(c):
        j = i + 1 if c == c'-' else i
        if j >= end or not _is_digit(s[j]):
            return -1
        if s[j] == c'0':
            j += 1
        else:
            while j < end and _is_digit(s[j]):
                j += 1
        p.kind = K_INT
        if j < end and s[j] == c'.':
            j += 1
            if j >= end or not _is_digit(s[j]):
                return -1
            while j < end and _is_digit(s[j]):
                j += 1
            p.kind = K_FLOAT
        if j < end and (s[j] == c'e' or s[j] == c'E'):
            j += 1
            if j < end and (s[j] == c'+' or s[j] == c'-'):
                j += 1
            if j >= end or not _is_digit(s[j]):
                return -1
            while j < end and _is_digit(s[j]):
                j += 1
            p.kind = K_FLOAT
        p.ve = j
        return j
    if c == c't' and end - i >= 4 and memcmp(s + i, b"true", 4) == 0:
        p.kind = K_TRUE
        p.ve = i + 4
    elif c == c'f' and end - i >= 5 and memcmp(s + i, b"false", 5) == 0:
        p.kind = K_FALSE
        p.ve = i + 5
    elif c == c'n' and end - i >= 4 and memcmp(s + i, b"null", 4) == 0:
        p.kind = K_NULL
        p.ve = i + 4
    else:
        return -1  # a nested object or array, NaN, Infinity, or no JSON
    return p.ve


cdef int _object(const char* s, Py_ssize_t i, Py_ssize_t end, Pair* pairs) nogil:
    """Scan the line ``s[i:end]`` as one flat JSON object: the number of its pairs,
    -1 when it is something else (or more than this scanner reads)."""
    cdef int n = 0
    cdef Pair* p
    cdef unsigned char c
    if i >= end or s[i] != c'{':
        return -1
    i += 1
    while i < end and _is_ws(s[i]):
        i += 1
    if i < end and s[i] == c'}':
        i += 1
    else:
        while True:
            if n == MAXPAIRS or i >= end or s[i] != c'"':
                return -1
            p = &pairs[n]
            p.ks = i + 1
            i += 1
            while i < end:
                c = <unsigned char>s[i]
                if c == c'"':
                    break
                if c == c'\\' or c < 0x20 or c >= 0x80:
                    return -1  # a key with escapes or non-ASCII: left to the line loop
                i += 1
            if i >= end:
                return -1
            p.ke = i
            i += 1
            while i < end and _is_ws(s[i]):
                i += 1
            if i >= end or s[i] != c':':
                return -1
            i += 1
            while i < end and _is_ws(s[i]):
                i += 1
            if i >= end:
                return -1
            i = _value(s, i, end, p)
            if i < 0:
                return -1
            n += 1
            while i < end and _is_ws(s[i]):
                i += 1
            if i >= end:
                return -1
            if s[i] == c',':
                i += 1
                while i < end and _is_ws(s[i]):
                    i += 1
                continue
            if s[i] == c'}':
                i += 1
                break
            return -1
    while i < end and _is_ws(s[i]):
        i += 1
    return n if i == end else -1


cdef class _Keys:
    """The keys a chunk function reads, for matching the scanned pairs."""
    cdef int n
    cdef Py_ssize_t lens[MAXKEYS]
    cdef const char* ptrs[MAXKEYS]
    cdef list owned

    def __cinit__(self, keys):
        self.owned = [k.encode() for k in keys]
        self.n = len(self.owned)
        assert self.n <= MAXKEYS
        cdef int j
        for j in range(self.n):
            self.ptrs[j] = PyBytes_AS_STRING(self.owned[j])
            self.lens[j] = PyBytes_GET_SIZE(self.owned[j])

    cdef void match(self, const char* s, Pair* pairs, int npairs, int* slot) nogil:
        """``slot[j]``: the index of the pair of key ``j``, the last one of a key given
        twice (as ``json.loads`` keeps it); -1 when absent."""
        cdef int i, j
        cdef Py_ssize_t klen
        for j in range(self.n):
            slot[j] = -1
        for i in range(npairs):
            klen = pairs[i].ke - pairs[i].ks
            for j in range(self.n):
                if self.lens[j] == klen and memcmp(self.ptrs[j], s + pairs[i].ks, klen) == 0:
                    slot[j] = i
                    break


cdef object _text(const char* s, Pair* p):
    """A string value as str."""
    if p.kind == K_STR:
        return PyUnicode_DecodeUTF8(s + p.vs, p.ve - p.vs, NULL)
    return _loads(s[p.vs - 1:p.ve + 1])


cdef object _pyvalue(const char* s, Pair* p):
    """A scalar value as ``json.loads`` gives it."""
    cdef int k = p.kind
    if k == K_STR or k == K_ESC:
        return _text(s, p)
    if k == K_INT:
        return int(s[p.vs:p.ve])
    if k == K_FLOAT:
        return float(s[p.vs:p.ve])
    if k == K_TRUE:
        return True
    if k == K_FALSE:
        return False
    return None


cdef bint _clean(bytes data) except -1:
    """Whether the chunk may be read: valid UTF-8 without a Python traceback.  (Control
    bytes, CR and DEL, which the line loop's clean text refuses, fail the grammar of
    the scanner: outside strings only spaces and tabs are whitespace, inside them
    bytes below 0x20 and DEL are refused.)"""
    if _TRACEBACK_B in data:
        return False
    if not data.isascii():
        try:
            data.decode()
        except UnicodeDecodeError:
            return False
    return True


# -- format json ------------------------------------------------------------------------
cdef _Keys _JSON_KEYS = _Keys(JSON_TIME + JSON_LEVEL + JSON_MSG + JSON_HOST + JSON_NAME
                              + JSON_EXTRA)
cdef int _J_TIME = 0
cdef int _J_LEVEL = _J_TIME + len(JSON_TIME)
cdef int _J_MSG = _J_LEVEL + len(JSON_LEVEL)
cdef int _J_HOST = _J_MSG + len(JSON_MSG)
cdef int _J_NAME = _J_HOST + len(JSON_HOST)
cdef int _J_EXTRA = _J_NAME + len(JSON_NAME)
cdef int _J_END = _J_EXTRA + len(JSON_EXTRA)


cdef object _first_text(const char* s, Pair* pairs, int* slot, int a, int b):
    """The first non-empty string value among keys ``a`` to ``b``."""
    cdef int j
    cdef Pair* p
    for j in range(a, b):
        if slot[j] >= 0:
            p = &pairs[slot[j]]
            if (p.kind == K_STR or p.kind == K_ESC) and p.ve > p.vs:
                v = _text(s, p)
                if v:
                    return v
    return None


cdef bint _may_continue(str msg):
    """False when ``_grammar._CONT_RE`` cannot match ``msg``: it starts with an ASCII
    character that opens none of its branches, or with an ASCII word not followed by a
    dot; True when it may (the regex decides)."""
    cdef Py_ssize_t i, n = len(msg)
    cdef Py_UCS4 c
    if n == 0:
        return False
    c = msg[0]
    if c >= 128 or c == c' ' or c == c'\t' or c == c'.':
        return True
    if not ((c'a' <= c <= c'z') or (c'A' <= c <= c'Z') or c == c'_' or c == c'$'):
        return False
    if c == c'C' or c == c'S' or c == c'T' or c == c'D':
        return True
    for i in range(1, n):
        c = msg[i]
        if c >= 128:
            return True
        if not ((c'a' <= c <= c'z') or (c'A' <= c <= c'Z') or (c'0' <= c <= c'9')
                or c == c'_' or c == c'$'):
            return c == c'.'
    return False


cdef object _int_ns(const char* s, Pair* p):
    """formats.number_ns of an integer of up to 18 characters."""
    cdef Py_ssize_t i = p.vs
    cdef long long v = 0, scale
    cdef bint neg = s[i] == c'-'
    if neg:
        i += 1
    while i < p.ve:
        v = v * 10 + (<int>s[i] - 48)
        i += 1
    scale = (1 if v >= 100000000000000000 else 1000 if v >= 100000000000000
             else 1000000 if v >= 100000000000 else 1000000000)
    if v < 9000000000000000000 // scale:
        return -v * scale if neg else v * scale
    return <object>(-v if neg else v) * scale


cdef object _level_value(object v):
    """normalize_level of a value, texts cached."""
    if type(v) is str:
        lv = _LEVEL_OF_TEXT.get(v, 0)
        if lv is 0:
            if len(_LEVEL_OF_TEXT) > 4096:
                _LEVEL_OF_TEXT.clear()
            lv = _LEVEL_OF_TEXT[v] = normalize_level(v)
        return lv
    return normalize_level(v)


def json_chunk(bytes data, str name, str hostname, othertags, clock, level_of):
    """The rows of ``data`` (whole lines, no final newline) in format ``json``, or None."""
    if not _clean(data):
        return None
    cdef const char* s = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data), pos = 0, end
    cdef Pair pairs[MAXPAIRS]
    cdef int slot[MAXKEYS]
    cdef int npairs, j
    cdef Pair* p
    cdef const char* nl
    cdef bint explicit = False, extras, msg_esc
    cdef list rows = []
    cdef Py_ssize_t no_host = 0
    while True:
        nl = <const char*>memchr(s + pos, c'\n', n - pos)
        end = n if nl == NULL else nl - s
        npairs = _object(s, pos, end, pairs)
        if npairs < 0:
            return None
        _JSON_KEYS.match(s, pairs, npairs, slot)
        t = None
        for j in range(_J_TIME, _J_LEVEL):
            if slot[j] >= 0:
                p = &pairs[slot[j]]
                if p.kind == K_NULL:
                    continue
                if p.kind == K_INT and p.ve - p.vs <= 18:
                    t = _int_ns(s, p)
                    break
                t = json_time(_pyvalue(s, p), clock)
                if t is not None:
                    break
        if t is None:
            return None
        level = None
        for j in range(_J_LEVEL, _J_MSG):
            if slot[j] >= 0:
                p = &pairs[slot[j]]
                if p.kind == K_NULL:
                    continue
                level = _level_value(_pyvalue(s, p))
                if level is not None:
                    break
        msg = None
        msg_esc = False
        for j in range(_J_MSG, _J_HOST):
            if slot[j] >= 0:
                p = &pairs[slot[j]]
                if p.kind == K_STR or p.kind == K_ESC:
                    msg = _text(s, p)
                    msg_esc = p.kind == K_ESC
                    break
        extras = False
        for j in range(_J_EXTRA, _J_END):
            if slot[j] >= 0:
                extras = True
        if not msg or msg_esc or extras:
            line = PyUnicode_DecodeUTF8(s + pos, end - pos, NULL)
            msg = json_message(line, msg, [
                None if slot[j] < 0 else _pyvalue(s, &pairs[slot[j]])
                for j in range(_J_EXTRA, _J_END)])
        else:
            line = None
        if _may_continue(msg) and _cont_match(msg) is not None:
            return None  # it may continue the entry before it: the line loop decides
        if level is None:
            level = level_of(msg)
            if level is None:
                if line is None:
                    line = PyUnicode_DecodeUTF8(s + pos, end - pos, NULL)
                if line.endswith(msg):
                    return None  # the line loop reads the level words of the whole line
        explicit = level is not None
        lv = level or "info"
        host = _first_text(s, pairs, slot, _J_HOST, _J_NAME)
        if host is None:
            host = hostname
            no_host += 1
        nm = _first_text(s, pairs, slot, _J_NAME, _J_EXTRA)
        rows.append((t, t // _NS, nm or name, host, "node", "0", None, None, othertags[lv],
                     msg, lv))
        if nl == NULL:
            break
        pos = end + 1
    return rows, explicit, None, no_host


# -- format journal_json ----------------------------------------------------------------
cdef _Keys _JOURNAL_KEYS = _Keys(("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP",
                                  "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "_COMM", "_PID",
                                  "_SYSTEMD_UNIT", "_HOSTNAME", "__CURSOR"))
cdef enum:
    JK_SOURCE = 0
    JK_REALTIME = 1
    JK_MSG = 2
    JK_PRIO = 3
    JK_IDENT = 4
    JK_COMM = 5
    JK_PID = 6
    JK_UNIT = 7
    JK_HOST = 8
    JK_CURSOR = 9
    JK_READ = 9  # the keys whose values are read


cdef object _jtext(const char* s, Pair* p):
    """A journald text value (NUL dropped)."""
    v = _text(s, p)
    if p.kind == K_ESC and "\x00" in v:
        v = v.replace("\x00", "")
    return v


cdef object _tag_json(const char* s, Pair* pairs, int i):
    """The JSON text of a tag's value (pair ``i``), None when absent or empty."""
    cdef Pair* p
    if i < 0:
        return None
    p = &pairs[i]
    if p.kind == K_STR:  # no quote, backslash or control character: its bytes as they are
        return PyUnicode_DecodeUTF8(s + p.vs - 1, p.ve - p.vs + 2, NULL) if p.ve > p.vs else None
    v = _jtext(s, p)
    return _json_str(v) if v else None


cdef object _epoch_us_ns(const char* s, Pair* p):
    """Nanoseconds of a timestamp of digits (microseconds); None for other text; the
    int 0 for what this scanner leaves to the line loop."""
    cdef Py_ssize_t i, n = p.ve - p.vs
    cdef long long v = 0
    if p.kind != K_STR or not p.ascii:
        return 0
    if n == 0:
        return None
    for i in range(p.vs, p.ve):
        if not _is_digit(s[i]):
            return None
    if n > 18:
        return int(s[p.vs:p.ve]) * 1000
    for i in range(p.vs, p.ve):
        v = v * 10 + (<int>s[i] - 48)
    return v * 1000 if v < _NO_OVERFLOW_US else <object>v * 1000


def journal_json_chunk(bytes data, str name, str hostname, base_tags, othertags, level_of):
    """The rows of ``data`` (whole lines, no final newline) in format ``journal_json``,
    or None."""
    if not _clean(data):
        return None
    cdef const char* s = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data), pos = 0, end
    cdef Pair pairs[MAXPAIRS]
    cdef int slot[MAXKEYS]
    cdef int npairs, j, k
    cdef Pair* p
    cdef const char* nl
    cdef bint explicit = False, last
    cdef list rows = []
    cdef Py_ssize_t no_host = 0
    # the tags JSON of a row is its level's with pid and unit inserted before the end,
    # as long as no tag of every row sorts after theirs
    cdef bint splice = all(k < "loglevel" for k in base_tags)
    tags = None
    while True:
        nl = <const char*>memchr(s + pos, c'\n', n - pos)
        end = n if nl == NULL else nl - s
        npairs = _object(s, pos, end, pairs)
        if npairs < 0:
            return None
        _JOURNAL_KEYS.match(s, pairs, npairs, slot)
        if slot[JK_REALTIME] < 0 and slot[JK_CURSOR] < 0:
            return None  # the line loop looks for them in the whole line
        for j in range(JK_READ):
            if slot[j] >= 0 and pairs[slot[j]].kind != K_STR and pairs[slot[j]].kind != K_ESC:
                return None
        t = None
        for j in (JK_SOURCE, JK_REALTIME):
            if slot[j] >= 0:
                t = _epoch_us_ns(s, &pairs[slot[j]])
                if t is 0:
                    return None
                if t is not None:
                    break
        if t is None:
            return None
        if slot[JK_MSG] >= 0:
            p = &pairs[slot[JK_MSG]]
            msg = _jtext(s, p)
            if p.kind == K_ESC:
                msg = msg.rstrip("\n")
        else:
            msg = ""
        level = None
        if slot[JK_PRIO] >= 0:
            p = &pairs[slot[JK_PRIO]]
            if p.kind == K_STR:
                if p.ve - p.vs == 1 and c'0' <= s[p.vs] <= c'7':
                    level = _PRI[<int>s[p.vs] - 48]
            else:
                v = _text(s, p)
                if len(v) == 1 and "0" <= v <= "7":
                    level = _PRI[ord(v) - 48]
        if level is None:
            level = level_of(msg)
        explicit = level is not None
        lv = level or "info"
        nm = _jtext(s, &pairs[slot[JK_IDENT]]) if slot[JK_IDENT] >= 0 else None
        if not nm and slot[JK_COMM] >= 0:
            nm = _jtext(s, &pairs[slot[JK_COMM]])
        host = _jtext(s, &pairs[slot[JK_HOST]]) if slot[JK_HOST] >= 0 else None
        if not host:
            host = hostname
            no_host += 1
        last = nl == NULL
        if splice and not last:  # the tags are only written: from the values' JSON
            pid = _tag_json(s, pairs, slot[JK_PID])
            unit = _tag_json(s, pairs, slot[JK_UNIT])
            ot = othertags[lv]
            if pid is not None or unit is not None:
                ot = "".join([ot[:len(ot) - 1],
                              "" if pid is None else ',"pid":', pid or "",
                              "" if unit is None else ',"unit":', unit or "", "}"])
        else:  # the last row's tags stay with its pending entry
            pid = _jtext(s, &pairs[slot[JK_PID]]) if slot[JK_PID] >= 0 else None
            unit = _jtext(s, &pairs[slot[JK_UNIT]]) if slot[JK_UNIT] >= 0 else None
            tags = None
            ot = othertags[lv]
            if pid or unit:
                tags = {}
                if pid:
                    tags["pid"] = pid
                if unit:
                    tags["unit"] = unit
                ot = othertags_json({**base_tags, **tags, "loglevel": lv})
        rows.append((t, t // _NS, nm or name, host, "node", "0", None, None, ot, msg, lv))
        if nl == NULL:
            break
        pos = end + 1
    return rows, explicit, tags, no_host


# -- format journal_export --------------------------------------------------------------
cdef _Keys _EXPORT_KEYS = _Keys(("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP",
                                 "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "_COMM", "_PID",
                                 "_SYSTEMD_UNIT", "_HOSTNAME"))


cdef inline bint _key_ok(const char* s, Py_ssize_t a, Py_ssize_t b) nogil:
    """Whether ``s[a:b]`` is a field name of the export format: ``[A-Za-z0-9_]+``."""
    cdef char c
    if a == b:
        return False
    while a < b:
        c = s[a]
        if not (_is_digit(c) or (c'a' <= c <= c'z') or (c'A' <= c <= c'Z') or c == c'_'):
            return False
        a += 1
    return True


cdef object _btext(const char* s, Py_ssize_t a, Py_ssize_t b):
    """A field value as text: undecodable bytes become U+FFFD, NUL bytes are dropped."""
    v = PyUnicode_DecodeUTF8(s + a, b - a, "replace")
    if memchr(s + a, 0, b - a) != NULL:
        v = v.replace("\x00", "")
    return v


cdef object _digits_us_ns(const char* s, Py_ssize_t a, Py_ssize_t b):
    """Nanoseconds of microseconds in ASCII digits, None for anything else."""
    cdef Py_ssize_t i
    cdef long long v = 0
    if a == b:
        return None
    for i in range(a, b):
        if not _is_digit(s[i]):
            return None
    if b - a > 18:
        return int(s[a:b]) * 1000
    for i in range(a, b):
        v = v * 10 + (<int>s[i] - 48)
    return v * 1000 if v < _NO_OVERFLOW_US else <object>v * 1000


def export_chunk(bytes buf, Py_ssize_t max_field, str name, str hostname, base_tags,
                 othertags, level_of, last_time, reference_ns):
    """The rows of the whole entries at the start of ``buf`` in ``journalctl -o export``:
    ``(rows, end, entries, no_host, last_time)``."""
    cdef const char* s = PyBytes_AS_STRING(buf)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(buf), pos = 0, p, nlp = 0, ka, kb, va, vb, end
    cdef Py_ssize_t fs[16]
    cdef Py_ssize_t fe[16]
    cdef const char* nl
    cdef const char* eq
    cdef unsigned long long size
    cdef bint binary, keys_ok, stop, cut = False
    cdef int j, k, nkeys = _EXPORT_KEYS.n
    cdef list rows = []
    cdef Py_ssize_t no_host = 0, entries = 0
    cdef bint splice = all(key < "loglevel" for key in base_tags)
    while True:
        p = pos
        binary = False
        keys_ok = True
        stop = False
        for j in range(nkeys):
            fs[j] = -1
        while True:
            nl = <const char*>memchr(s + p, c'\n', n - p)
            if nl == NULL:
                stop = cut = True
                break
            nlp = nl - s
            if nlp == pos:  # an empty line where an entry should start
                stop = True
                break
            if nlp == p:  # the empty line that ends the entry
                break
            eq = <const char*>memchr(s + p, c'=', nlp - p)
            ka = p
            if eq != NULL:
                kb = eq - s
                va = kb + 1
                vb = nlp
                end = nlp + 1
                if nlp - p > max_field:
                    stop = True
                    break
            else:
                kb = nlp
                if nlp + 9 > n:
                    stop = cut = True
                    break
                size = 0
                for k in range(8):
                    size |= (<unsigned long long>(<unsigned char>s[nlp + 1 + k])) << (8 * k)
                if size > <unsigned long long>max_field:
                    stop = True
                    break
                end = nlp + 9 + <Py_ssize_t>size + 1
                if end > n:
                    stop = cut = True
                    break
                if s[end - 1] != c'\n':
                    stop = True
                    break
                va = nlp + 9
                vb = end - 1
                binary = True
            if keys_ok and not _key_ok(s, ka, kb):
                keys_ok = False
            for j in range(nkeys):  # the first of a key given twice counts
                if (_EXPORT_KEYS.lens[j] == kb - ka
                        and memcmp(_EXPORT_KEYS.ptrs[j], s + ka, kb - ka) == 0):
                    if fs[j] < 0:
                        fs[j] = va
                        fe[j] = vb
                    break
            p = end
        if stop or (binary and not keys_ok) or (not binary and nlp - 1 - pos > max_field):
            cut = cut and keys_ok  # the reader drops an entry with a bad key at once
            break
        # the header of the entry (formats.journal_header) and its row
        t = None
        for j in (JK_SOURCE, JK_REALTIME):
            if fs[j] >= 0:
                t = _digits_us_ns(s, fs[j], fe[j])
                if t is not None:
                    break
        if fs[JK_MSG] >= 0:
            msg = _btext(s, fs[JK_MSG], fe[JK_MSG])
            if msg.endswith("\n"):
                msg = msg.rstrip("\n")
        else:
            msg = ""
        level = None
        if fs[JK_PRIO] >= 0 and fe[JK_PRIO] - fs[JK_PRIO] == 1 and c'0' <= s[fs[JK_PRIO]] <= c'7':
            level = _PRI[<int>s[fs[JK_PRIO]] - 48]
        nm = _btext(s, fs[JK_IDENT], fe[JK_IDENT]) if fs[JK_IDENT] >= 0 else None
        if not nm and fs[JK_COMM] >= 0:
            nm = _btext(s, fs[JK_COMM], fe[JK_COMM])
        host = _btext(s, fs[JK_HOST], fe[JK_HOST]) if fs[JK_HOST] >= 0 else None
        pid = _btext(s, fs[JK_PID], fe[JK_PID]) if fs[JK_PID] >= 0 else None
        unit = _btext(s, fs[JK_UNIT], fe[JK_UNIT]) if fs[JK_UNIT] >= 0 else None
        if level is None:
            level = level_of(msg) or "info"
        if t is None:
            t = last_time if last_time is not None else reference_ns
        else:
            last_time = t
        if not host:
            host = hostname
            no_host += 1
        ot = othertags[level]
        if pid or unit:
            if splice:  # their keys sort after the level's
                ot = "".join([ot[:len(ot) - 1],
                              ',"pid":' if pid else "", _json_str(pid) if pid else "",
                              ',"unit":' if unit else "", _json_str(unit) if unit else "", "}"])
            else:
                tags = {}
                if pid:
                    tags["pid"] = pid
                if unit:
                    tags["unit"] = unit
                ot = othertags_json({**base_tags, **tags, "loglevel": level})
        rows.append((t, t // _NS, nm or name, host, "node", "0", None, None, ot, msg, level))
        entries += 1
        pos = nlp + 1
    return rows, pos, entries, no_host, last_time, cut
