# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""The headers and rows of a chunk of lines of one format, compiled: the twin of
``_pyheaderscan``.

A hand scanner of the usual shape of each line of the Sandia/LANL syslog exports,
BlueGene/L RAS records and LANL HPC event logs (single spaces, ASCII, times that
fit 64 bits), of the flat objects of ``journalctl -o json`` (ASCII string values
without escapes), of Slurm's lines (ISO time without a zone), of RFC 5424 lines
(an ISO time with a zone, structured data) and of plain lines that open with an ISO
time.  A line of any other shape (bytes >= 0x80, extra spaces, an odd date, a line
that is not in the format) is given to the format's header function, which decides
it exactly; so is a whole chunk with control characters, tabs or CR LF line ends.

``chunk_rows`` goes on to the rows: the level words of each message are looked for
in the bytes (``_grammar``'s rules: a word that starts within the first characters
of the message, ``level=``), a message that may continue an entry is given to
``_grammar``'s regex, and the othertags JSON is made once per level and tags object
of the chunk, by the parser's own function.
"""
from libc.stdint cimport int64_t
from libc.string cimport memchr, memcmp, memcpy

from ccstore._lineproto cimport _floordiv, cbuf, intern_ascii

from ccstore.logs import _grammar as _g
from ccstore.logs import formats as _f
from ccstore.logs._pyheaderscan import SCANNED_FORMATS, hpc_error, message_level
from ccstore.logs._pyheaderscan import chunk_headers as _twin_chunk_headers
from ccstore.logs._pyheaderscan import chunk_rows as _twin_chunk_rows

__all__ = ["SCANNED_FORMATS", "chunk_headers", "chunk_rows"]


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)

cdef enum:
    A_EXPORT = 0
    A_BGL = 1
    A_LANL = 2
    A_JOURNAL = 3
    A_SLURM = 4
    A_RFC5424 = 5
    A_PLAIN = 6

cdef dict _KIND = {"syslog_export": A_EXPORT, "bgl": A_BGL, "lanl": A_LANL,
                   "journal_json": A_JOURNAL, "slurm": A_SLURM, "rfc5424": A_RFC5424,
                   "plain": A_PLAIN}
cdef tuple _HEADERS = (_f.header_syslog_export, _f.header_bgl, _f.header_lanl,
                       _f.header_journal_json, None, None, None)
cdef dict _SLURM_STEPS = _f._SLURM_STEPS
cdef dict _LEVELS = _f._LEVELS
# the formats' caches of shared tags (cleared in place when full, never replaced)
cdef dict _ALERT_TAGS = _f._ALERT_TAGS
cdef dict _BGL_KINDS = _f._BGL_KINDS
cdef dict _LANL_TAGS = _f._LANL_TAGS
cdef object _bgl_kind = _f._bgl_kind
cdef object _remember = _f._remember
cdef int64_t _NS = 1000000000
cdef int64_t _MAX_ZONE = _f._MAX_ZONE
# epochs (s) whose nanoseconds fit 64 bits with room
cdef int64_t _EPOCH_MAX = 9000000000
cdef str _ERROR = "error"
cdef tuple _PRI_LEVEL = _g._PRI_LEVEL
cdef dict _START_WORDS = _g._START_WORDS
cdef object _sd_tags = _f.structured_data_tags
cdef str _EMPTY = ""


cdef inline bint _digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint _upper(unsigned char c) noexcept nogil:
    return 65 <= c <= 90


cdef inline bint _lower(unsigned char c) noexcept nogil:
    return 97 <= c <= 122


cdef inline bint _digits(cbuf b, Py_ssize_t p, Py_ssize_t n, Py_ssize_t e) noexcept nogil:
    """Whether b[p:p+n] (within e) are n ASCII digits."""
    cdef Py_ssize_t i
    if p + n > e:
        return False
    for i in range(n):
        if not _digit(b[p + i]):
            return False
    return True


cdef inline int64_t _num(cbuf b, Py_ssize_t p, Py_ssize_t n) noexcept nogil:
    cdef int64_t v = 0
    cdef Py_ssize_t i
    for i in range(n):
        v = v * 10 + (b[p + i] - 48)
    return v


cdef inline Py_ssize_t _token(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """The end of the run of non-space bytes at b[p] (the lines scanned are ASCII
    without control characters: a space is the only white space)."""
    while p < e and b[p] != 32:
        p += 1
    return p


cdef inline object _ascii(cbuf p, Py_ssize_t n):
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, n)
    return s


cdef inline Py_ssize_t _alert(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """``(-|[A-Z][A-Z0-9_]*) ``: the end of the field (-1: none)."""
    if p < e and b[p] == 45:
        p += 1
    elif p < e and _upper(b[p]):
        p += 1
        while p < e and (_upper(b[p]) or _digit(b[p]) or b[p] == 95):
            p += 1
    else:
        return -1
    return p if p < e and b[p] == 32 else -1


cdef inline Py_ssize_t _prefix(cbuf b, Py_ssize_t s, Py_ssize_t e, Py_ssize_t* a1,
                               int64_t* epoch, Py_ssize_t* h0, Py_ssize_t* h1) noexcept nogil:
    """The prefix the archives share, ``ALERT EPOCH YYYY.MM.DD HOST ``: the position
    after it (-1: not this shape)."""
    cdef Py_ssize_t p = _alert(b, s, e)
    if p < 0:
        return -1
    a1[0] = p
    p += 1
    if not (_digits(b, p, 10, e) and p + 10 < e and b[p + 10] == 32):
        return -1
    epoch[0] = _num(b, p, 10)
    p += 11
    if not (_digits(b, p, 4, e) and p + 10 < e and b[p + 4] == 46 and _digit(b[p + 5])
            and _digit(b[p + 6]) and b[p + 7] == 46 and _digit(b[p + 8]) and _digit(b[p + 9])
            and b[p + 10] == 32):
        return -1
    p += 11
    h0[0] = p
    p = _token(b, p, e)
    if p == h0[0] or p >= e:
        return -1
    h1[0] = p
    return p + 1


cdef object _export(cbuf b, Py_ssize_t s, Py_ssize_t e):
    """The header of a syslog export line of the usual shape, None: any other."""
    cdef Py_ssize_t a1, h0, h1, p, q, k, t0, t1, tag0, tag1
    cdef int64_t epoch
    cdef object tags, alert
    p = _prefix(b, s, e, &a1, &epoch, &h0, &h1)
    if p < 0 or epoch >= _EPOCH_MAX:
        return None
    # Mmm +d{1,2} HH:MM:SS
    if not (p + 3 < e and _upper(b[p]) and _lower(b[p + 1]) and _lower(b[p + 2])
            and b[p + 3] == 32):
        return None
    p += 4
    while p < e and b[p] == 32:
        p += 1
    if p < e and _digit(b[p]):
        p += 1
    else:
        return None
    if p < e and _digit(b[p]):
        p += 1
    if not (p + 9 <= e and b[p] == 32 and _digit(b[p + 1]) and _digit(b[p + 2])
            and b[p + 3] == 58 and _digit(b[p + 4]) and _digit(b[p + 5]) and b[p + 6] == 58
            and _digit(b[p + 7]) and _digit(b[p + 8])):
        return None
    p += 9
    if p < e and b[p] != 32:
        return None
    # the repeated host field: a token with '/' or '@', no ':' after the first of them
    if p < e:
        t0 = p + 1
        t1 = _token(b, t0, e)
        k = t0
        while k < t1 and b[k] != 47 and b[k] != 64:
            k += 1
        if k < t1:
            q = k + 1
            while q < t1 and b[q] != 58:
                q += 1
            if q == t1:
                p = t1
    # " TAG[PID]:" followed by a space or the end
    tag0 = tag1 = 0
    if p < e and b[p] == 32:
        q = p + 1
        while q < e and b[q] != 32 and b[q] != 91 and b[q] != 93 and b[q] != 58:
            q += 1
        if q > p + 1:
            t1 = q
            if q < e and b[q] == 91:
                q += 1
                while q < e and b[q] != 93 and b[q] != 32:
                    q += 1
                q = q + 1 if q < e and b[q] == 93 else -1
            if 0 <= q < e and b[q] == 58 and (q + 1 == e or b[q + 1] == 32):
                tag0 = p + 1
                tag1 = t1
                p = q + 1
    if p < e and b[p] == 32:
        p += 1
    host = intern_ascii(b + h0, h1 - h0)
    tag = intern_ascii(b + tag0, tag1 - tag0) if tag1 > tag0 else None
    body = _ascii(b + p, e - p)
    if a1 == s + 1 and b[s] == 45:
        return (epoch * _NS, tag, host, None, body, False, None)
    alert = intern_ascii(b + s, a1 - s)
    tags = _ALERT_TAGS.get(alert)
    if tags is None:
        tags = _remember(_ALERT_TAGS, alert, {"alert": alert})
    return (epoch * _NS, tag, host, _ERROR, body, False, tags)


cdef inline bint _leap(int64_t y) noexcept nogil:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


cdef int64_t _days(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days from 1970-01-01 to the date (y >= 1970)."""
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef int _DIM[13]
_DIM[:] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cdef object _bgl(cbuf b, Py_ssize_t s, Py_ssize_t e):
    """The header of a BlueGene/L RAS record of the usual shape, None: any other."""
    cdef Py_ssize_t a1, h0, h1, p, c0, c1, v0, v1
    cdef int64_t epoch, y, mo, d, hh, mi, sec, usec, wall, offset, t, dim
    p = _prefix(b, s, e, &a1, &epoch, &h0, &h1)
    if p < 0 or epoch >= _EPOCH_MAX:
        return None
    # YYYY-MM-DD-HH.MM.SS.uuuuuu
    if not (p + 26 < e and _digits(b, p, 4, e) and b[p + 4] == 45 and _digits(b, p + 5, 2, e)
            and b[p + 7] == 45 and _digits(b, p + 8, 2, e) and b[p + 10] == 45
            and _digits(b, p + 11, 2, e) and b[p + 13] == 46 and _digits(b, p + 14, 2, e)
            and b[p + 16] == 46 and _digits(b, p + 17, 2, e) and b[p + 19] == 46
            and _digits(b, p + 20, 6, e) and b[p + 26] == 32):
        return None
    y = _num(b, p, 4)
    mo = _num(b, p + 5, 2)
    d = _num(b, p + 8, 2)
    hh = _num(b, p + 11, 2)
    mi = _num(b, p + 14, 2)
    sec = _num(b, p + 17, 2)
    usec = _num(b, p + 20, 6)
    if y < 1970 or y > 2200 or mo < 1 or mo > 12 or d < 1 or hh > 23 or mi > 59:
        return None
    dim = _DIM[mo] + (1 if mo == 2 and _leap(y) else 0)
    if d > dim:
        return None
    p += 27
    # two fields (the location again, "RAS"), the component, the severity
    p = _token(b, p, e)
    if p >= e or b[p - 1] == 32:
        return None
    p += 1
    c0 = p
    p = _token(b, p, e)
    if p >= e or p == c0:
        return None
    p += 1
    c0 = p
    p = _token(b, p, e)
    if p >= e or p == c0:
        return None
    c1 = p
    p += 1
    v0 = p
    while p < e and _upper(b[p]):
        p += 1
    v1 = p
    if v1 == v0 or (p < e and b[p] != 32):
        return None
    if p < e:
        p += 1
    wall = _days(y, mo, d) * 86400 + hh * 3600 + mi * 60 + sec
    offset = _floordiv(wall - epoch + 450, 900) * 900
    if -_MAX_ZONE <= offset <= _MAX_ZONE:
        t = (wall - offset) * _NS + usec * 1000
    else:
        t = epoch * _NS
    component = intern_ascii(b + c0, c1 - c0)
    key = (component, intern_ascii(b + v0, v1 - v0), intern_ascii(b + s, a1 - s))
    kind = _BGL_KINDS.get(key)
    if kind is None:
        kind = _bgl_kind(key)
    return (t, component, intern_ascii(b + h0, h1 - h0), (<tuple>kind)[1],
            _ascii(b + p, e - p), False, (<tuple>kind)[0])


cdef object _lanl(cbuf b, Py_ssize_t s, Py_ssize_t e):
    """The header of a LANL HPC event line of the usual shape, None: any other."""
    cdef Py_ssize_t p = s
    cdef Py_ssize_t h0, h1, c0, c1, s0, s1
    cdef int64_t epoch
    while p < e and _digit(b[p]):
        p += 1
    if p == s or p >= e or b[p] != 32:
        return None
    h0 = p + 1
    h1 = _token(b, h0, e)
    if h1 == h0 or h1 >= e:
        return None
    c0 = h1 + 1
    c1 = _token(b, c0, e)
    if c1 == c0 or c1 >= e:
        return None
    s0 = c1 + 1
    s1 = _token(b, s0, e)
    if s1 == s0 or s1 >= e:
        return None
    p = s1 + 1
    if not (_digits(b, p, 10, e) and p + 10 < e and b[p + 10] == 32):
        return None
    epoch = _num(b, p, 10)
    if epoch >= _EPOCH_MAX:
        return None
    p += 11
    if p >= e or not _digit(b[p]):
        return None
    while p < e and _digit(b[p]):
        p += 1
    if p < e:
        if b[p] != 32:
            return None
        p += 1
    component = intern_ascii(b + c0, c1 - c0)
    state = intern_ascii(b + s0, s1 - s0)
    key = (component, state)
    tags = _LANL_TAGS.get(key)
    if tags is None:
        tags = _remember(_LANL_TAGS, key, {"component": component, "state": state})
    return (epoch * _NS, component, intern_ascii(b + h0, h1 - h0), None,
            _ascii(b + p, e - p), False, tags)


# the journald fields a header reads, in the order of formats._JOURNAL_KEYS
cdef enum:
    J_SOURCE = 0
    J_REALTIME = 1
    J_MESSAGE = 2
    J_PRIORITY = 3
    J_IDENT = 4
    J_COMM = 5
    J_PID = 6
    J_UNIT = 7
    J_HOST = 8
    J_N = 9

cdef bytes _JKEYS = b"\0".join(k.encode() for k in _f._JOURNAL_KEYS)
cdef const unsigned char* _jkey[J_N]
cdef Py_ssize_t _jlen[J_N]
cdef tuple _PRI = tuple(_f._PRIORITY_LEVEL[str(i)] for i in range(8))


cdef void _jinit():
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(_JKEYS)
    cdef Py_ssize_t i = 0
    for k in _f._JOURNAL_KEYS:
        _jkey[i] = p
        _jlen[i] = len(k)
        p += len(k) + 1
        i += 1


_jinit()
assert len(_f._JOURNAL_KEYS) == J_N


cdef inline Py_ssize_t _jspaces(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    while p < e and b[p] == 32:
        p += 1
    return p


cdef inline Py_ssize_t _jstring(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """The position of the closing quote of the string whose text starts at b[p]; -1
    for one with an escape or without its end."""
    while p < e and b[p] != 34:
        if b[p] == 92:
            return -1
        p += 1
    return p if p < e else -1


cdef inline bint _jdigits(cbuf b, Py_ssize_t p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not _digit(b[p + i]):
            return False
    return True


cdef object _journal(cbuf b, Py_ssize_t s, Py_ssize_t e):
    """The header of a ``journalctl -o json`` line of the usual shape (a flat object of
    ASCII strings without escapes), None: any other."""
    cdef Py_ssize_t vs[J_N]
    cdef Py_ssize_t vn[J_N]
    cdef Py_ssize_t p, k0, k1, v0, v1, n
    cdef int i
    cdef object t = None
    cdef object tags = None
    if e - s < 2 or b[s] != 123:
        return None
    for i in range(J_N):
        vs[i] = -1
        vn[i] = 0
    p = _jspaces(b, s + 1, e)
    if p >= e or b[p] != 34:
        return None
    while True:
        # "key" : "value"
        k0 = p + 1
        k1 = _jstring(b, k0, e)
        if k1 < 0:
            return None
        p = _jspaces(b, k1 + 1, e)
        if p >= e or b[p] != 58:
            return None
        p = _jspaces(b, p + 1, e)
        if p >= e or b[p] != 34:
            return None
        v0 = p + 1
        v1 = _jstring(b, v0, e)
        if v1 < 0:
            return None
        n = k1 - k0
        for i in range(J_N):
            if _jlen[i] == n and memcmp(_jkey[i], b + k0, n) == 0:
                vs[i] = v0  # the last of a key given twice, as json.loads
                vn[i] = v1 - v0
                break
        p = _jspaces(b, v1 + 1, e)
        if p >= e:
            return None
        if b[p] == 44:
            p = _jspaces(b, p + 1, e)
            if p >= e or b[p] != 34:
                return None
            continue
        if b[p] != 125:
            return None
        if _jspaces(b, p + 1, e) != e:
            return None
        break
    if vs[J_REALTIME] < 0:
        # a line is in the format when it names __REALTIME_TIMESTAMP or __CURSOR
        # anywhere (header_journal_json): one without that key goes to the twin
        return None
    for i in (J_SOURCE, J_REALTIME):
        n = vn[i]
        if vs[i] >= 0 and n > 0 and _jdigits(b, vs[i], n):
            if n > 16 or _num(b, vs[i], n) > 9000000000000000:
                return None  # beyond 64 bits in ns: to the twin
            t = _num(b, vs[i], n) * 1000
            break
    if vs[J_PID] >= 0 and vn[J_PID] > 0:
        tags = {"pid": _ascii(b + vs[J_PID], vn[J_PID])}
    if vs[J_UNIT] >= 0 and vn[J_UNIT] > 0:
        if tags is None:
            tags = {}
        tags["unit"] = intern_ascii(b + vs[J_UNIT], vn[J_UNIT])
    if vs[J_IDENT] >= 0 and vn[J_IDENT] > 0:
        name = intern_ascii(b + vs[J_IDENT], vn[J_IDENT])
    elif vs[J_COMM] >= 0:  # "" too: `ident or comm` of the header function
        name = intern_ascii(b + vs[J_COMM], vn[J_COMM]) if vn[J_COMM] else _EMPTY
    else:
        name = None
    level = None
    if vn[J_PRIORITY] == 1 and 48 <= b[vs[J_PRIORITY]] <= 55:
        level = _PRI[b[vs[J_PRIORITY]] - 48]
    host = None
    if vs[J_HOST] >= 0 and vn[J_HOST] > 0:
        host = intern_ascii(b + vs[J_HOST], vn[J_HOST])
    msg = _ascii(b + vs[J_MESSAGE], vn[J_MESSAGE]) if vs[J_MESSAGE] >= 0 else _EMPTY
    return (t, name, host, level, msg, False, tags)


cdef class _Slurm:
    """What the Slurm scanner needs of its format: the clock's minutes, the last one."""
    cdef object fmt
    cdef object minute
    cdef unsigned char last[16]
    cdef int64_t last_v
    cdef bint have

    def __init__(self, fmt):
        self.fmt = fmt
        self.minute = fmt.clock.minute
        self.have = False


cdef object _slurm(cbuf b, Py_ssize_t s, Py_ssize_t e, _Slurm S):
    """The header of a Slurm line of the usual shape (``[YYYY-MM-DDTHH:MM:SS[.fff]]``,
    no zone), None: any other."""
    cdef Py_ssize_t p = s
    cdef Py_ssize_t w0, st0, st1, nd, q
    cdef int64_t sec, frac, v
    cdef unsigned char low[16]
    cdef object tags = None
    cdef object level = None
    if not (e - p >= 23 and b[p] == 91 and _digits(b, p + 1, 4, e) and b[p + 5] == 45
            and _digits(b, p + 6, 2, e) and b[p + 8] == 45 and _digits(b, p + 9, 2, e)
            and b[p + 11] == 84 and _digits(b, p + 12, 2, e) and b[p + 14] == 58
            and _digits(b, p + 15, 2, e) and b[p + 17] == 58 and _digits(b, p + 18, 2, e)):
        return None
    if S.have and memcmp(S.last, b + p + 1, 16) == 0:
        v = S.last_v
    else:
        try:
            pv = S.minute(_ascii(b + p + 1, 16), None)
        except ValueError:
            return None
        if not -_EPOCH_MAX < pv < _EPOCH_MAX:
            return None  # beyond 64 bits in ns: to the twin
        v = pv
        memcpy(S.last, b + p + 1, 16)
        S.last_v = v
        S.have = True
    sec = _num(b, p + 18, 2)
    p += 20
    frac = 0
    if p < e and b[p] == 46:
        q = p + 1
        while q < e and _digit(b[q]):
            q += 1
        nd = q - p - 1
        if nd < 1 or nd > 9:
            return None
        frac = _num(b, p + 1, nd)
        while nd < 9:
            frac *= 10
            nd += 1
        p = q
    if not (p + 1 < e and b[p] == 93 and b[p + 1] == 32):
        return None
    p += 2
    # [job.step]: digits, +digits, .word
    if p < e and b[p] == 91:
        q = p + 1
        while q < e and _digit(b[q]):
            q += 1
        if q == p + 1:
            return None
        if q < e and b[q] == 43:
            q += 1
            w0 = q
            while q < e and _digit(b[q]):
                q += 1
            if q == w0:
                return None
        if q < e and b[q] == 46:
            q += 1
            w0 = q
            while q < e and (_digit(b[q]) or _upper(b[q]) or _lower(b[q]) or b[q] == 95):
                q += 1
            if q == w0:
                return None
        if not (q + 1 < e and b[q] == 93 and b[q + 1] == 32):
            return None
        st0 = p + 1
        st1 = q
        step = _ascii(b + st0, st1 - st0)
        tags = _SLURM_STEPS.get(step)
        if tags is None:
            tags = _remember(_SLURM_STEPS, step, {"step": step})
        p = q + 2
    # level: a word, a digit 1-5, ':' and spaces; the message keeps it
    w0 = p
    q = p
    while q < e and (_upper(b[q]) or _lower(b[q])):
        q += 1
    if q > p:
        if q < e and 49 <= b[q] <= 53:
            q += 1
        if q + 1 < e and b[q] == 58 and b[q + 1] == 32:
            if q - p < 16:
                for nd in range(q - p):
                    low[nd] = b[p + nd] | 0x20 if _upper(b[p + nd]) else b[p + nd]
                level = _LEVELS.get(_ascii(low, q - p))
            else:
                level = _LEVELS.get(_ascii(b + p, q - p).lower())
    return ((v + sec) * _NS + frac, S.fmt.name, S.fmt.host, level, _ascii(b + w0, e - w0),
            None, tags)


# -- RFC 5424 and plain lines: an ISO 8601 time, a level word at the start ---------------
cdef class _Minutes:
    """A clock's ``minute(prefix, zone)``, the last one remembered."""
    cdef object minute
    cdef unsigned char last[24]
    cdef Py_ssize_t last_n
    cdef int64_t last_v

    def __init__(self, clock):
        self.minute = clock.minute
        self.last_n = -1


cdef Py_ssize_t _iso(cbuf b, Py_ssize_t p, Py_ssize_t e, _Minutes M, bint spaced,
                     int64_t* t):
    """``YYYY-MM-DD(T| )HH:MM:SS[.f][Z|+HH:MM|+HHMM]`` at b[p] (a space between date and
    time only when ``spaced``; then, too, no zone after a space): the position after it
    and its time in ``t``; -1 for any other shape or an impossible date (the Python
    header decides those)."""
    cdef Py_ssize_t q, z0, nd, key_n
    cdef int64_t sec, frac, v
    cdef unsigned char key[24]
    if not (p + 19 <= e and _digits(b, p, 4, e) and b[p + 4] == 45 and _digits(b, p + 5, 2, e)
            and b[p + 7] == 45 and _digits(b, p + 8, 2, e)
            and (b[p + 10] == 84 or (spaced and b[p + 10] == 32))
            and _digits(b, p + 11, 2, e) and b[p + 13] == 58 and _digits(b, p + 14, 2, e)
            and b[p + 16] == 58 and _digits(b, p + 17, 2, e)):
        return -1
    sec = _num(b, p + 17, 2)
    q = p + 19
    frac = 0
    if q + 1 < e and (b[q] == 46 or b[q] == 44) and _digit(b[q + 1]):
        q += 1
        nd = 0
        while q < e and _digit(b[q]) and nd < 9:
            frac = frac * 10 + (b[q] - 48)
            q += 1
            nd += 1
        while nd < 9:
            frac *= 10
            nd += 1
    while q < e and _digit(b[q]):
        q += 1
    z0 = q
    if q < e and b[q] == 90:
        q += 1
    elif q < e and (b[q] == 43 or b[q] == 45):
        if _digits(b, q + 1, 2, e) and q + 3 < e and b[q + 3] == 58 and _digits(b, q + 4, 2, e):
            q += 6
        elif _digits(b, q + 1, 4, e):
            q += 5
        else:
            return -1
    elif q < e and b[q] == 85:
        return -1  # UTC, or not
    elif spaced and q + 1 < e and b[q] == 32 and (b[q + 1] == 90 or b[q + 1] == 85
                                                   or b[q + 1] == 43 or b[q + 1] == 45):
        return -1  # a zone after a space, or not
    key_n = 16 + q - z0
    memcpy(key, b + p, 16)
    memcpy(key + 16, b + z0, q - z0)
    if M.last_n == key_n and memcmp(M.last, key, key_n) == 0:
        v = M.last_v
    else:
        try:
            pv = M.minute(_ascii(b + p, 16), _ascii(b + z0, q - z0) if q > z0 else None)
        except (KeyError, ValueError):
            return -1
        if not -_EPOCH_MAX < pv < _EPOCH_MAX:
            return -1  # beyond 64 bits in ns: to the Python header
        v = pv
        memcpy(M.last, key, key_n)
        M.last_n = key_n
        M.last_v = v
    t[0] = (v + sec) * _NS + frac
    return q


cdef object _start_level(cbuf b, Py_ssize_t p, Py_ssize_t e):
    """_grammar._start_level of the ASCII message b[p:e]: the level of a level word at
    its start (``error:``, ``[WARN]``...), None for none."""
    cdef Py_ssize_t w0, w1, i
    cdef bint bracket
    cdef unsigned char low[16]
    while p < e and b[p] == 32:
        p += 1
    if p >= e:
        return None
    bracket = b[p] == 91 or b[p] == 60 or b[p] == 40
    if bracket:
        p += 1
        while p < e and b[p] == 32:
            p += 1
    w0 = p
    while p < e and _alpha(b[p]):
        p += 1
    if p - w0 < 3 or p - w0 > 13:
        return None
    if p < e and _digit(b[p]):
        p += 1
    w1 = p
    while p < e and b[p] == 32:
        p += 1
    if p >= e:
        return None
    if bracket:
        if not (b[p] == 93 or b[p] == 62 or b[p] == 41):
            return None
    elif b[p] != 58:
        return None
    for i in range(w1 - w0):
        low[i] = b[w0 + i] | 0x20 if _upper(b[w0 + i]) else b[w0 + i]
    return _START_WORDS.get(_ascii(low, w1 - w0))


cdef object _rfc5424(cbuf b, Py_ssize_t s, Py_ssize_t e, _Minutes M):
    """The header of an RFC 5424 line of the usual shape (a time with a zone, the message
    at the end of the line), None: any other."""
    cdef Py_ssize_t p = s, q, h0, h1, a0, a1, sd0, sd1, m0, k
    cdef int pri = -1
    cdef int64_t t
    cdef object tags = None, level, body, sd
    if p < e and b[p] == 60:
        q = p + 1
        while q < e and _digit(b[q]) and q - p <= 3:
            q += 1
        if q == p + 1 or q - p > 4 or q >= e or b[q] != 62:
            return None
        pri = <int>_num(b, p + 1, q - p - 1)
        p = q + 1
    if not (p + 1 < e and b[p] == 49 and b[p + 1] == 32):
        return None
    q = _iso(b, p + 2, e, M, False, &t)
    if q < 0 or q >= e or b[q] != 32:
        return None
    # HOST APP PROCID MSGID
    h0 = q + 1
    h1 = _token(b, h0, e)
    a0 = h1 + 1
    a1 = _token(b, a0, e) if h1 > h0 and h1 < e else a0
    if a1 == a0 or a1 >= e:
        return None
    q = a1 + 1
    for k in range(2):
        p = _token(b, q, e)
        if p == q or p >= e:
            return None
        q = p + 1
    # STRUCTURED-DATA: - or [ID PARAM="VALUE" ...]...
    sd0 = q
    if q < e and b[q] == 45:
        q += 1
    elif q < e and b[q] == 91:
        while q < e and b[q] == 91:
            p = q + 1
            while p < e and b[p] != 93 and b[p] != 34 and b[p] != 32:
                p += 1
            if p == q + 1:
                return None
            while p < e and b[p] == 32:
                p += 1
                k = p
                while p < e and b[p] != 61 and b[p] != 32 and b[p] != 93:
                    p += 1
                if p == k or not (p + 1 < e and b[p] == 61 and b[p + 1] == 34):
                    return None
                p += 2
                while p < e and b[p] != 34:
                    p += 2 if b[p] == 92 else 1
                if p >= e:
                    return None
                p += 1
            if p >= e or b[p] != 93:
                return None
            q = p + 1
    else:
        return None
    sd1 = q
    if q < e and b[q] != 32:
        return None
    m0 = q + 1 if q < e else e
    if pri >= 0:
        level = _PRI_LEVEL[pri & 7]
    else:
        level = _start_level(b, m0, e)
    if sd1 - sd0 == 1 and b[sd0] == 45:
        body = _ascii(b + m0, e - m0)
    elif m0 < e:
        body = _ascii(b + sd0, e - sd0)
        sd = _ascii(b + sd0, sd1 - sd0)
        tags = _sd_tags(sd)
    elif sd1 == e:
        body = sd = _ascii(b + sd0, sd1 - sd0)
        tags = _sd_tags(sd)
    else:
        return None  # a space after the data and no message: not the line's end
    host = None if h1 - h0 == 1 and b[h0] == 45 else intern_ascii(b + h0, h1 - h0)
    app = None if a1 - a0 == 1 and b[a0] == 45 else intern_ascii(b + a0, a1 - a0)
    return (t, app, host, level, body, None, tags)


cdef object _plain(cbuf b, Py_ssize_t s, Py_ssize_t e, _Minutes M):
    """The header of a plain line that starts with an ISO 8601 time of the usual shape,
    None: any other."""
    cdef Py_ssize_t p = s
    cdef int64_t t
    if p < e and b[p] == 91:
        p += 1
    if p < e and b[p] == 32:
        p += 1
    p = _iso(b, p, e, M, True, &t)
    if p < 0:
        return None
    if p < e and b[p] == 93:
        p += 1
    while p < e and b[p] == 32:
        p += 1
    if p + 1 < e and (b[p] == 124 or b[p] == 58 or b[p] == 45) and b[p + 1] == 32:
        p += 2
        while p < e and b[p] == 32:
            p += 1
    if p >= e:
        p = s
    return (t, None, None, _start_level(b, p, e), _ascii(b + p, e - p), None, None)


# -- the level words of a message (_grammar._level_hits), its stack-trace lines ------------
cdef object _HIT_WORDS = [(w.encode(), lvl) for ws, lvl in _g._HIT_WORDS for w in ws]
cdef bytes _WORDS = b"".join(w for w, _ in _HIT_WORDS)
cdef int _NW = len(_HIT_WORDS)
cdef Py_ssize_t _woff[64]
cdef Py_ssize_t _wlen[64]
cdef tuple _WLEVEL = tuple(lvl for _, lvl in _HIT_WORDS)
cdef unsigned char _first[256]
cdef dict _ALL_LEVELS = _g._LEVELS
cdef object _level_of = _g._level_of
cdef object _cont_match = _g._CONT_RE.match
cdef Py_ssize_t _WINDOW = _g._LEVEL_WINDOW
cdef bytes _TRACEBACK = b"Traceback (most recent call last):"
cdef str _INFO = "info"
cdef str _NODE = "node"
cdef str _ZERO = "0"


cdef void _winit():
    cdef Py_ssize_t off = 0
    cdef int i = 0
    assert _NW <= 64
    for i in range(256):
        _first[i] = 0
    i = 0
    for w, _ in _HIT_WORDS:
        _woff[i] = off
        _wlen[i] = len(w)
        _first[w[0]] = 1
        off += len(w)
        i += 1


_winit()


cdef inline bint _wordch(unsigned char c) noexcept nogil:
    """``[\w.-]`` of an ASCII character."""
    return _digit(c) or _upper(c) or _lower(c) or c == 95 or c == 46 or c == 45


cdef inline bint _alpha(unsigned char c) noexcept nogil:
    return _upper(c) or _lower(c)


cdef object _hit_level(cbuf b, Py_ssize_t ls, Py_ssize_t bs, Py_ssize_t e):
    """:func:`~ccstore.logs._pyheaderscan.line_level` of the ASCII line b[ls:e] whose
    message starts at b[bs]: the level of its first level word or ``level=`` that starts
    within the first _WINDOW characters of the message, None for none."""
    cdef cbuf words = <cbuf>PyBytes_AS_STRING(_WORDS)
    cdef Py_ssize_t i, j, v0, L, end = bs + _WINDOW
    cdef Py_ssize_t kv_from = bs
    cdef unsigned char c, prev
    cdef unsigned char low[16]
    cdef int w
    if end > e:
        end = e
    for i in range(bs, end):
        c = b[i]
        if _first[c]:
            prev = b[i - 1] if i > ls else 10
            if not _wordch(prev):
                for w in range(_NW):
                    L = _wlen[w]
                    if (words[_woff[w]] == c and i + L <= e
                            and memcmp(words + _woff[w], b + i, L) == 0
                            and (i + L == e or not _wordch(b[i + L]))):
                        return _WLEVEL[w]
        elif c == 108 and i >= kv_from:  # l(?:evel|vl)=["']?([A-Za-z]+[1-5]?)
            j = i + 1
            if e - j >= 5 and memcmp(b + j, b"evel=", 5) == 0:
                j += 5
            elif e - j >= 3 and memcmp(b + j, b"vl=", 3) == 0:
                j += 3
            else:
                continue
            if j + 1 < e and (b[j] == 34 or b[j] == 39) and _alpha(b[j + 1]):
                j += 1
            v0 = j
            while j < e and _alpha(b[j]):
                j += 1
            if j == v0:
                continue
            if j < e and 49 <= b[j] <= 53:
                j += 1
            kv_from = j
            if j - v0 <= 16:
                for L in range(j - v0):
                    low[L] = b[v0 + L] | 0x20 if _upper(b[v0 + L]) else b[v0 + L]
                lvl = _ALL_LEVELS.get(_ascii(low, j - v0))
                if lvl is not None:
                    return lvl
    return None


cdef bint _hpc_error(cbuf b, Py_ssize_t bs, Py_ssize_t e) noexcept nogil:
    """:func:`~ccstore.logs._pyheaderscan.hpc_error` of the ASCII message b[bs:e]: an
    error report of HPC software (``_grammar._HPC_ERROR_WORDS``, not followed by
    ``[\w.-]``) within its first _WINDOW characters (the end of which counts as the
    end of the message)."""
    cdef Py_ssize_t i, j, end = bs + _WINDOW
    if end > e:
        end = e
    for i in range(bs, end):
        if b[i] == 88 and i + 3 <= end and b[i + 1] == 105 and b[i + 2] == 100:
            j = i + 3  # Xid
        elif b[i] == 76 and i + 11 <= end and memcmp(b + i, b"LustreError", 11) == 0:
            j = i + 11
        elif b[i] == 76 and i + 9 <= end and memcmp(b + i, b"LNetError", 9) == 0:
            j = i + 9
        else:
            continue
        if j >= end or not _wordch(b[j]):
            return True
    return False


assert _g._HPC_ERROR_WORDS == ("LustreError", "LNetError", "Xid")


cdef bint _may_continue(cbuf b, Py_ssize_t bs, Py_ssize_t e) noexcept nogil:
    """Whether the ASCII message b[bs:e] may be one that continues an entry
    (_grammar._CONT_RE decides those that may)."""
    cdef Py_ssize_t p = bs
    cdef unsigned char c
    if p >= e:
        return False
    c = b[p]
    if c == 32 or c == 9 or c == 46 or c == 67 or c == 83 or c == 84 or c == 68:
        return True  # white space, "... ", Caused by, Suppressed, Traceback, The, During
    while p < e:  # a dotted name: an exception's
        c = b[p]
        if c == 46:
            return True
        if not (_digit(c) or _upper(c) or _lower(c) or c == 95 or c == 36):
            return False
        p += 1
    return False


cdef list _scan(bytes data, str format, object source, bint rows, str name, str hostname,
                object othertags, object tagged, bint* last_explicit, Py_ssize_t* no_host,
                list last):
    """The headers (``rows`` false) or the rows of a chunk without control characters,
    None when a line is not in the format (rows: or the line loop must decide)."""
    cdef _Slurm S = None
    cdef _Minutes M = None
    cdef cbuf b = <cbuf>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t s = 0, e, i, bs
    cdef int kind = _KIND[format]
    cdef bint high, explicit = False
    cdef list out = []
    cdef dict shared = {}
    cdef object h, header, t, level, body, tags, host, nm, other, line, hit
    cdef object last_tags = None
    cdef cbuf q
    if kind == A_SLURM:
        S = _Slurm(source)
        header = source.header
    elif kind == A_RFC5424 or kind == A_PLAIN:
        M = _Minutes(source.clock)
        header = source.header
    else:
        header = _HEADERS[kind]
    no_host[0] = 0
    while True:
        q = <cbuf>memchr(b + s, 10, n - s)
        e = n if q == NULL else q - b
        high = False
        for i in range(s, e):
            if b[i] >= 0x80:
                high = True
                break
        h = None
        line = None
        if not high:
            if kind == A_BGL:
                h = _bgl(b, s, e)
            elif kind == A_LANL:
                h = _lanl(b, s, e)
            elif kind == A_JOURNAL:
                h = _journal(b, s, e)
            elif kind == A_SLURM:
                h = _slurm(b, s, e, S)
            elif kind == A_RFC5424:
                h = _rfc5424(b, s, e, M)
            elif kind == A_PLAIN:
                h = _plain(b, s, e, M)
            else:
                h = _export(b, s, e)
        if h is None:
            if e == s:  # a blank line is in no format
                return None
            try:
                line = PyUnicode_DecodeUTF8(<const char*>(b + s), e - s, NULL)
            except UnicodeDecodeError:
                return None
            h = header(line)
            if h is None:
                return None
        if not rows:
            out.append(h)
        else:
            t, nm, host, level, body, _, tags = <tuple>h
            if t is None:
                return None
            if kind == A_SLURM or kind == A_RFC5424 or kind == A_PLAIN:
                if line is not None or _may_continue(b, e - len(<str>body), e):
                    if _cont_match(body) is not None:
                        return None
            if level is None:
                if kind == A_JOURNAL:
                    level = _level_of(body)
                elif line is None:
                    level = _hit_level(b, s, e - len(<str>body), e)
                else:
                    level = message_level(line, body)
            explicit = level is not None
            if not explicit:
                level = _INFO
            if level != _ERROR:  # an error report of HPC software makes it an error
                if line is None and kind != A_JOURNAL:  # the message ends the line
                    if _hpc_error(b, e - len(<str>body), e):
                        level = _ERROR
                elif hpc_error(body):
                    level = _ERROR
            last_tags = tags
            if not host:
                host = hostname
                no_host[0] += 1
            if tags is None:
                other = othertags[level]
            elif kind == A_JOURNAL:
                other = tagged(level, tags)
            else:  # the formats share their tags objects between lines
                hit = shared.get(id(tags))
                if hit is None:
                    hit = shared[id(tags)] = (tags, {})
                other = (<dict>(<tuple>hit)[1]).get(level)
                if other is None:
                    other = (<dict>(<tuple>hit)[1])[level] = tagged(level, tags)
            out.append((t, t // _NS, nm or name, host, _NODE, _ZERO, None, None, other, body,
                        level))
        if q == NULL:
            break
        s = e + 1
    last_explicit[0] = explicit
    if rows:
        last.append(last_tags)
    return out


cdef bint _unclean(bytes data):
    """Whether ``data`` holds control characters, tabs or CR (the twin decides those)."""
    cdef cbuf b = <cbuf>PyBytes_AS_STRING(data)
    cdef Py_ssize_t i, n = PyBytes_GET_SIZE(data)
    cdef unsigned char c
    for i in range(n):
        c = b[i]
        if (c < 32 and c != 10) or c == 127:
            return True
    return False


def chunk_headers(data, format, source=None):
    """The header of each line of a chunk in an headers format, or None.

    The compiled twin of :func:`ccstore.logs._pyheaderscan.chunk_headers` (see
    there): the same on every input.
    """
    cdef bint explicit
    cdef Py_ssize_t no_host
    if not isinstance(data, bytes):
        raise TypeError(f"chunk_headers: bytes expected, not {type(data).__name__}")
    _KIND[format]
    if _unclean(data):
        return _twin_chunk_headers(data, format, source)
    return _scan(data, format, source, False, None, None, None, None, &explicit, &no_host,
                 None)


def chunk_rows(data, format, source, name, hostname, othertags, tagged):
    """The rows of a chunk of one-line entries, or None.

    The compiled twin of :func:`ccstore.logs._pyheaderscan.chunk_rows` (see there): the
    same on every input.
    """
    cdef bint explicit = False
    cdef Py_ssize_t no_host = 0
    cdef list rows
    if not isinstance(data, bytes):
        raise TypeError(f"chunk_rows: bytes expected, not {type(data).__name__}")
    _KIND[format]
    if _unclean(data):
        return _twin_chunk_rows(data, format, source, name, hostname, othertags, tagged)
    if _TRACEBACK in data:
        return None
    cdef list last = []
    rows = _scan(data, format, source, True, name, hostname, othertags, tagged, &explicit,
                 &no_host, last)
    if rows is None:
        return None
    return rows, explicit, last[0], no_host
