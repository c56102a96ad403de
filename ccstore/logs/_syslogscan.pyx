# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""The syslog fast path of the log parser, compiled: the twin of ``_pysyslogscan``.

A hand scanner of the grammar the twin's regexes define (``_grammar``), in two
passes: the bytes are scanned into one SLine per line with the GIL released,
then the row objects are made.  Headers are scanned as ASCII: a chunk with a
byte >= 0x80 in a header (where the regexes' Unicode \\d and \\s could decide
differently) goes to the twin, which is rare and exact.
"""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcmp, memcpy

from ccstore._lineproto cimport _track, cbuf, intern_ascii

from ccstore.logs import _grammar as _g
from ccstore.logs._pysyslogscan import syslog_chunk as _twin_syslog_chunk
from ccstore.rows import NS_PER_S

__all__ = ["syslog_chunk"]


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    void PyObject_GC_UnTrack(void* op)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    object PyLong_FromLongLong(long long v)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)
    object PyTuple_New(Py_ssize_t n)
    void PyTuple_SET_ITEM(object t, Py_ssize_t i, PyObject* o)
    object PyList_New(Py_ssize_t n)
    void PyList_SET_ITEM(object l, Py_ssize_t i, PyObject* o)

cdef extern from "Python.h":
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil

cdef extern from *:
    """
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif

    /* First byte in [p, e) below 0x20, 0x7F or >= 0x80 (else e). */
    static inline const unsigned char *sl_scan_special(const unsigned char *p,
                                                       const unsigned char *e) {
    #if defined(__SSE2__)
        const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7F);
        while (e - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            /* signed: bytes >= 0x80 are below 0x20 too */
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmplt_epi8(x, sp), _mm_cmpeq_epi8(x, del)));
            if (m) return p + __builtin_ctz(m);
            p += 16;
        }
    #endif
        while (p < e && *p >= 0x20 && *p < 0x7F) p++;
        return p;
    }

    /* Bit i: p[i] is an upper-case ASCII letter or 'l' (i < 16; 16 readable bytes). */
    static inline unsigned sl_letters16(const unsigned char *p) {
    #if defined(__SSE2__)
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i up = _mm_cmplt_epi8(_mm_sub_epi8(x, _mm_set1_epi8((char)(65 + 128))),
                                    _mm_set1_epi8((char)(-128 + 26)));
        return (unsigned)_mm_movemask_epi8(_mm_or_si128(up, _mm_cmpeq_epi8(x, _mm_set1_epi8(108))));
    #else
        unsigned m = 0;
        int i;
        for (i = 0; i < 16; i++)
            if ((p[i] >= 65 && p[i] <= 90) || p[i] == 108) m |= 1u << i;
        return m;
    #endif
    }

    /* Index of the lowest set bit of m != 0. */
    static inline int sl_ctz(unsigned m) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctz(m);
    #else
        int i = 0;
        while (!(m & 1u)) { m >>= 1; i++; }
        return i;
    #endif
    }
    """
    const unsigned char* sl_scan_special(const unsigned char* p, const unsigned char* e) nogil
    unsigned sl_letters16(const unsigned char* p) nogil
    int sl_ctz(unsigned m) nogil

cdef struct SLine:
    Py_ssize_t ts       # the 15 bytes "Mmm dd HH:MM:SS"
    Py_ssize_t host
    Py_ssize_t host_n
    Py_ssize_t tag
    Py_ssize_t tag_n    # 0: no tag
    Py_ssize_t body
    Py_ssize_t end      # end of the line's content (without a CR before its LF)
    int32_t frac        # fraction of the second, ns
    int8_t level        # index in LOGLEVELS, -1: the line states none
    uint8_t high        # bytes >= 0x80 in the line
    uint8_t cont        # the body may continue an entry: checked with _CONT_RE

cdef enum:
    SC_OK = 0
    SC_NONE = 1     # not all lines are single-line RFC 3164 entries of clean text
    SC_TWIN = 2     # a header byte >= 0x80: the twin decides

DEF SW_MAX = 16

cdef struct LWord:
    unsigned char w[SW_MAX]
    int n
    int level

cdef LWord _sl_start[64]        # _START_WORDS (lower case): "error:", "[WARN]"...
cdef LWord _sl_any[64]          # _LEVELS (lower case): level=/lvl= values
cdef LWord _sl_hit[32]          # _HIT_WORDS (upper case)
cdef int _n_start = 0
cdef int _n_any = 0
cdef int _n_hit = 0
cdef int8_t _sl_pri[8]          # syslog severity -> level
cdef unsigned char _sl_cls[256]  # 0 text, 1 LF, 2 control (not clean text), 3 >= 0x80
cdef unsigned char _sl_first[256]  # first bytes of hit words, and 'l' of level=/lvl=
cdef int _sl_hit_from[257]      # _sl_hit[_sl_hit_from[c]:_sl_hit_from[c + 1]]: words starting with c
cdef Py_ssize_t _SL_WINDOW = _g._LEVEL_WINDOW
cdef int _SL_INFO = _g.LOGLEVELS.index("info")
cdef tuple _SL_LEVELS = tuple(_g.LOGLEVELS)
cdef object _SL_CONT_MATCH = _g._CONT_RE.match
cdef object _SL_NS = NS_PER_S
cdef str _SL_NODE = "node"
cdef str _SL_ZERO = "0"


cdef int _sl_fill(LWord* table, int cap, list items) except -1:
    cdef int k = 0
    cdef bytes raw
    for word, level in items:
        raw = word.encode("ascii")
        if len(raw) >= SW_MAX or k >= cap:
            raise ValueError(f"level word table: {word!r} does not fit")
        memcpy(table[k].w, <const char*>raw, len(raw))
        table[k].n = len(raw)
        table[k].level = _SL_LEVELS.index(level)
        k += 1
    return k


cdef void _sl_init() except *:
    global _n_start, _n_any, _n_hit
    cdef int c
    _n_start = _sl_fill(_sl_start, 64, list(_g._START_WORDS.items()))
    _n_any = _sl_fill(_sl_any, 64, list(_g._LEVELS.items()))
    # by first letter, in the order of the alternatives within a letter
    _n_hit = _sl_fill(_sl_hit, 32, sorted([(w, lvl) for words, lvl in _g._HIT_WORDS
                                           for w in words], key=lambda item: item[0][0]))
    for c in range(8):
        _sl_pri[c] = _SL_LEVELS.index(_g._PRI_LEVEL[c])
    for c in range(256):
        _sl_cls[c] = 3 if c >= 0x80 else 0
        _sl_first[c] = 0
    for c in _g._CTRL_BYTES:
        _sl_cls[c] = 2
    _sl_cls[10] = 1
    for c in range(_n_hit):
        _sl_first[_sl_hit[c].w[0]] = 1
    _sl_first[ord("l")] = 1
    for c in range(257):
        _sl_hit_from[c] = 0
    for c in range(_n_hit):
        _sl_hit_from[_sl_hit[c].w[0] + 1] += 1
    for c in range(256):
        _sl_hit_from[c + 1] += _sl_hit_from[c]


_sl_init()


cdef inline bint _sl_digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint _sl_alpha(unsigned char c) noexcept nogil:
    return 65 <= (c & 0xDF) <= 90


cdef inline bint _sl_space(unsigned char c) noexcept nogil:
    """ASCII \\s of a str regex."""
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


cdef inline bint _sl_ascii_word(unsigned char c) noexcept nogil:
    """An ASCII character of \\w, '.' or '-' (what may not touch a level word)."""
    return _sl_digit(c) or _sl_alpha(c) or c == 95 or c == 46 or c == 45


cdef inline Py_UCS4 _sl_char(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """Code point of the UTF-8 sequence at b[p] ending by e (0 when it is none;
    such a chunk is not clean text, and its result None, anyway)."""
    cdef unsigned char c = b[p]
    if c < 0x80:
        return c
    if c < 0xC2:
        return 0
    if c < 0xE0:
        if p + 1 < e and (b[p + 1] & 0xC0) == 0x80:
            return ((c & 0x1F) << 6) | (b[p + 1] & 0x3F)
        return 0
    if c < 0xF0:
        if p + 2 < e and (b[p + 1] & 0xC0) == 0x80 and (b[p + 2] & 0xC0) == 0x80:
            return ((c & 0x0F) << 12) | ((b[p + 1] & 0x3F) << 6) | (b[p + 2] & 0x3F)
        return 0
    if c < 0xF5:
        if (p + 3 < e and (b[p + 1] & 0xC0) == 0x80 and (b[p + 2] & 0xC0) == 0x80
                and (b[p + 3] & 0xC0) == 0x80):
            return (((c & 0x07) << 18) | ((b[p + 1] & 0x3F) << 12) | ((b[p + 2] & 0x3F) << 6)
                    | (b[p + 3] & 0x3F))
    return 0


cdef inline bint _sl_word_at(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """Whether the character at b[p] (p < e) is \\w, '.' or '-'."""
    cdef unsigned char c = b[p]
    if c < 0x80:
        return _sl_ascii_word(c)
    return Py_UNICODE_ISALNUM(_sl_char(b, p, e))


cdef inline bint _sl_word_before(cbuf b, Py_ssize_t s, Py_ssize_t p) noexcept nogil:
    """Whether the character before b[p] (the line starts at s) is alphanumeric
    or one of '_', '.', '-'."""
    cdef Py_ssize_t q
    if p <= s:
        return False
    if b[p - 1] < 0x80:
        return _sl_ascii_word(b[p - 1])
    q = p - 1
    while q > s and (b[q] & 0xC0) == 0x80 and p - q < 4:
        q -= 1
    return Py_UNICODE_ISALNUM(_sl_char(b, q, p))


cdef inline int _sl_lookup(const LWord* table, int count, cbuf p, Py_ssize_t n) noexcept nogil:
    """Level of the word p[0:n] (any case) in ``table``, -1 if it is not there."""
    cdef unsigned char low[SW_MAX]
    cdef Py_ssize_t i
    cdef int k
    if n >= SW_MAX:
        return -1
    for i in range(n):
        low[i] = p[i] | 0x20 if 65 <= p[i] <= 90 else p[i]
    for k in range(count):
        if table[k].n == n and memcmp(table[k].w, low, n) == 0:
            return table[k].level
    return -1


cdef inline Py_ssize_t _sl_digits(cbuf b, Py_ssize_t p, Py_ssize_t e, Py_ssize_t most,
                                  int64_t* value) noexcept nogil:
    """The number of ASCII digits at b[p:e], reading ``most`` + 1 at the most (enough
    to tell a run that is too long), and their value."""
    cdef Py_ssize_t q = p
    cdef int64_t v = 0
    while q < e and q - p <= most and _sl_digit(b[q]):
        v = v * 10 + (b[q] - 48)
        q += 1
    value[0] = v
    return q - p


cdef int _sl_header(cbuf b, Py_ssize_t s, Py_ssize_t e, SLine* L, int* pri) noexcept nogil:
    """``[<PRI>]Mmm dd HH:MM:SS[.frac] HOST[ TAG[[PID]]:] `` of the line b[s:e]
    as _FAST_SYSLOG_RE matches it: SC_OK, SC_NONE (no match) or SC_TWIN."""
    cdef Py_ssize_t p = s
    cdef Py_ssize_t q, t0, t1, nd
    cdef int64_t v
    pri[0] = -1
    if p < e and b[p] == 60:  # <PRI>
        nd = _sl_digits(b, p + 1, e, 3, &v)
        q = p + 1 + nd
        if nd < 1 or nd > 3 or q >= e or b[q] != 62:
            return SC_NONE
        pri[0] = <int>v
        p = q + 1
    if e - p < 15:
        return SC_NONE
    if not (65 <= b[p] <= 90 and 97 <= b[p + 1] <= 122 and 97 <= b[p + 2] <= 122
            and b[p + 3] == 32 and (b[p + 4] == 32 or _sl_digit(b[p + 4]))
            and _sl_digit(b[p + 5]) and b[p + 6] == 32 and _sl_digit(b[p + 7])
            and _sl_digit(b[p + 8]) and b[p + 9] == 58 and _sl_digit(b[p + 10])
            and _sl_digit(b[p + 11]) and b[p + 12] == 58 and _sl_digit(b[p + 13])
            and _sl_digit(b[p + 14])):
        return SC_NONE
    L.ts = p
    p += 15
    L.frac = 0
    if p < e and b[p] == 46:  # .fraction (then spaces, or no match at all)
        nd = _sl_digits(b, p + 1, e, 9, &v)
        if nd < 1 or nd > 9:
            return SC_NONE
        p += 1 + nd
        while nd < 9:
            v *= 10
            nd += 1
        L.frac = <int32_t>v
    if p >= e or b[p] != 32:
        return SC_NONE
    while p < e and b[p] == 32:
        p += 1
    L.host = p
    while p < e and not _sl_space(b[p]):
        if b[p] >= 0x80:
            return SC_TWIN
        p += 1
    if p == L.host:
        return SC_NONE
    L.host_n = p - L.host
    L.tag_n = 0
    if p < e and b[p] == 32:  # " TAG[PID]:" followed by a space or the end
        q = p + 1
        t0 = q
        while q < e and not _sl_space(b[q]) and b[q] != 91 and b[q] != 93 and b[q] != 58:
            if b[q] >= 0x80:
                return SC_TWIN
            q += 1
        if q > t0:
            t1 = q
            if q < e and b[q] == 91:
                q += 1
                while q < e and b[q] != 93 and not _sl_space(b[q]):
                    if b[q] >= 0x80:
                        return SC_TWIN
                    q += 1
                q = q + 1 if q < e and b[q] == 93 else -1
            if 0 <= q < e and b[q] == 58 and (q + 1 == e or b[q + 1] == 32):
                L.tag = t0
                L.tag_n = t1 - t0
                p = q + 1
    if p < e and b[p] == 32:
        p += 1
    L.body = p
    return SC_OK


cdef int _sl_token_level(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """Level of a _LEVEL_START word opening the body b[p:e] (-1: none)."""
    cdef bint bracket = False
    cdef Py_ssize_t w0, n, q
    while p < e and (b[p] == 32 or b[p] == 9):
        p += 1
    if p < e and (b[p] == 91 or b[p] == 60 or b[p] == 40):
        bracket = True
        p += 1
        while p < e and (b[p] == 32 or b[p] == 9):
            p += 1
    w0 = p
    while p < e and _sl_alpha(b[p]):
        p += 1
    n = p - w0
    if n < 3 or n > 13:
        return -1
    if p < e and _sl_digit(b[p]):
        p += 1
    q = p
    while q < e and (b[q] == 32 or b[q] == 9):
        q += 1
    if q >= e:
        return -1
    if bracket:
        if b[q] != 93 and b[q] != 62 and b[q] != 41:
            return -1
    elif b[q] != 58:
        return -1
    return _sl_lookup(_sl_start, _n_start, b + w0, p - w0)


cdef int _sl_kv(cbuf b, Py_ssize_t p, Py_ssize_t e, Py_ssize_t* end) noexcept nogil:
    """``level=``/``lvl=`` (_KV_RE) at b[p] == 'l': its level (-1: none); a match
    moves ``end`` to its end (matches do not overlap)."""
    cdef Py_ssize_t q
    if e - p >= 6 and memcmp(b + p + 1, b"evel=", 5) == 0:
        q = p + 6
    elif e - p >= 4 and memcmp(b + p + 1, b"vl=", 3) == 0:
        q = p + 4
    else:
        return -1
    if q + 1 < e and (b[q] == 34 or b[q] == 39) and _sl_alpha(b[q + 1]):
        q += 1
    p = q
    while q < e and _sl_alpha(b[q]):
        q += 1
    if q == p:
        return -1
    if q < e and 49 <= b[q] <= 53:
        q += 1
    end[0] = q
    return _sl_lookup(_sl_any, _n_any, b + p, q - p)


cdef int _sl_hit_at(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """Level of an upper-case level word (_HIT_RES) at b[p], -1: none."""
    cdef int k
    cdef Py_ssize_t n
    for k in range(_sl_hit_from[b[p]], _sl_hit_from[b[p] + 1]):
        n = _sl_hit[k].n
        if (e - p >= n and memcmp(_sl_hit[k].w, b + p, n) == 0
                and (p + n == e or not _sl_word_at(b, p + n, e))):
            return _sl_hit[k].level
    return -1


cdef inline int _sl_hit_check(cbuf b, Py_ssize_t s, Py_ssize_t p, Py_ssize_t e,
                              Py_ssize_t* kv_end) noexcept nogil:
    """Level of a hit (level word or level=/lvl=) at b[p], a byte of _sl_first; -1: none."""
    if b[p] == 108:  # 'l'
        if p >= kv_end[0]:
            return _sl_kv(b, p, e, kv_end)
        return -1
    if _sl_word_before(b, s, p):
        return -1
    return _sl_hit_at(b, p, e)


cdef int _sl_hit_level(cbuf b, Py_ssize_t s, Py_ssize_t p, Py_ssize_t e, bint high) noexcept nogil:
    """Level of the first level word or level=/lvl= starting within the first
    _LEVEL_WINDOW characters of the body b[p:e] (the line starts at s; ``high``:
    it has bytes >= 0x80); -1: none."""
    cdef Py_ssize_t kv_end = p
    cdef Py_ssize_t chars = 0
    cdef Py_ssize_t stop, q
    cdef unsigned char c
    cdef unsigned m
    cdef int lv
    if high:
        while p < e:
            c = b[p]
            if (c & 0xC0) != 0x80:
                if chars >= _SL_WINDOW:
                    break
                chars += 1
            if _sl_first[c]:
                lv = _sl_hit_check(b, s, p, e, &kv_end)
                if lv >= 0:
                    return lv
            p += 1
        return -1
    # ASCII: characters are bytes; candidates found 16 bytes at a time
    stop = p + _SL_WINDOW if e - p > _SL_WINDOW else e
    while stop - p >= 16:
        m = sl_letters16(b + p)
        while m:
            q = p + sl_ctz(m)
            if _sl_first[b[q]]:
                lv = _sl_hit_check(b, s, q, e, &kv_end)
                if lv >= 0:
                    return lv
            m &= m - 1
        p += 16
    while p < stop:
        if _sl_first[b[p]]:
            lv = _sl_hit_check(b, s, p, e, &kv_end)
            if lv >= 0:
                return lv
        p += 1
    return -1


cdef inline bint _sl_starts(cbuf b, Py_ssize_t p, Py_ssize_t e, const char* lit,
                            Py_ssize_t n) noexcept nogil:
    return e - p >= n and memcmp(b + p, lit, n) == 0


cdef bint _sl_cont_hint(cbuf b, Py_ssize_t p, Py_ssize_t e) noexcept nogil:
    """Whether _CONT_RE may match the body b[p:e] (never False when it does)."""
    cdef unsigned char c
    cdef Py_ssize_t q
    cdef bint dot = False
    if p >= e:
        return False
    c = b[p]
    if c == 32 or c == 9:
        return True
    if (_sl_starts(b, p, e, b"...", 3) or _sl_starts(b, p, e, b"Caused by: ", 11)
            or _sl_starts(b, p, e, b"Suppressed: ", 12)
            or _sl_starts(b, p, e, b"Traceback (", 11)
            or _sl_starts(b, p, e, b"During handling", 15)
            or _sl_starts(b, p, e, b"The above exception", 19)):
        return True
    if not (_sl_alpha(c) or c == 95 or c == 36):
        return False
    # a dotted Java name ending in Exception, Error or Throwable: within the run
    # of [\w$.] characters (bytes >= 0x80 taken for \w) that opens the body
    q = p
    while q < e and (_sl_digit(b[q]) or _sl_alpha(b[q]) or b[q] == 95 or b[q] == 36
                     or b[q] == 46 or b[q] >= 0x80):
        if b[q] == 46:
            dot = True
        q += 1
    if not dot:
        return False
    while p < q:
        if ((b[p] == 69 and (_sl_starts(b, p, q, b"Exception", 9)
                             or _sl_starts(b, p, q, b"Error", 5)))
                or (b[p] == 84 and _sl_starts(b, p, q, b"Throwable", 9))):
            return True
        p += 1
    return False


cdef int _sl_scan(cbuf b, Py_ssize_t n, SLine* lines, Py_ssize_t nlines) noexcept nogil:
    """Scan the nlines lines of b[0:n] into ``lines``: SC_OK, SC_NONE or SC_TWIN."""
    cdef Py_ssize_t s = 0
    cdef Py_ssize_t p, e, i
    cdef unsigned char k
    cdef bint high
    cdef int r, pri, lv
    cdef SLine* L
    for i in range(nlines):
        p = s
        high = False
        while True:
            p = sl_scan_special(b + p, b + n) - b
            if p >= n:
                break
            k = _sl_cls[b[p]]
            if k == 1:
                break
            if k == 2:
                return SC_NONE
            if k == 3:
                high = True
            p += 1
        e = p
        if e > s and b[e - 1] == 13:
            e -= 1
        L = &lines[i]
        r = _sl_header(b, s, e, L, &pri)
        if r != SC_OK:
            return SC_TWIN if high else r
        L.end = e
        L.high = high
        L.cont = _sl_cont_hint(b, L.body, e)
        if pri >= 0:
            lv = _sl_pri[pri & 7]
        else:
            lv = _sl_token_level(b, L.body, e)
            if lv < 0:
                lv = _sl_hit_level(b, s, L.body, e, high)
        L.level = <int8_t>lv
        s = p + 1
    return SC_OK


cdef inline object _sl_ascii(cbuf p, Py_ssize_t n):
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, n)
    return s


cdef inline void _sl_set(object row, Py_ssize_t i, object v):
    Py_INCREF(v)
    PyTuple_SET_ITEM(row, i, <PyObject*>v)


cdef object _sl_rows(cbuf b, SLine* lines, Py_ssize_t nlines, object name, object othertags,
                     object bsd):
    """(rows, last_explicit) of scanned lines, or None (see syslog_chunk)."""
    cdef list rows = PyList_New(nlines)
    cdef list ots = [None, None, None, None]
    cdef object sec = None
    cdef object t = None
    cdef object host, tag, body, row, ot, lvname
    cdef SLine* L
    cdef Py_ssize_t i
    cdef Py_ssize_t prev_ts = -1
    cdef int32_t prev_frac = 0
    cdef int overflow, lv
    cdef long long sec_c = 0
    cdef bint sec_fast = False
    PyObject_GC_UnTrack(<void*>rows)
    for i in range(nlines):
        L = &lines[i]
        if prev_ts < 0 or memcmp(b + L.ts, b + prev_ts, 15) != 0:
            sec = bsd[_sl_ascii(b + L.ts, 15)]
            if sec is None:
                return None
            sec_fast = False
            if type(sec) is int:
                sec_c = PyLong_AsLongLongAndOverflow(sec, &overflow)
                sec_fast = overflow == 0 and -9000000000 < sec_c < 9000000000
            prev_ts = L.ts
            t = None
        if t is None or L.frac != prev_frac:
            if sec_fast:
                t = PyLong_FromLongLong(sec_c * 1000000000 + L.frac)
            else:
                t = sec * _SL_NS + L.frac
            prev_frac = L.frac
        host = intern_ascii(b + L.host, L.host_n)
        tag = intern_ascii(b + L.tag, L.tag_n) if L.tag_n else name
        if L.high:
            try:
                body = PyUnicode_DecodeUTF8(<const char*>(b + L.body), L.end - L.body, NULL)
            except UnicodeDecodeError:
                return None
        else:
            body = _sl_ascii(b + L.body, L.end - L.body)
        if L.cont and _SL_CONT_MATCH(body) is not None:
            return None
        lv = L.level if L.level >= 0 else _SL_INFO
        lvname = _SL_LEVELS[lv]
        ot = ots[lv]
        if ot is None:
            ot = othertags[lvname]
            ots[lv] = ot
        row = PyTuple_New(11)
        _sl_set(row, 0, t)
        _sl_set(row, 1, sec)
        _sl_set(row, 2, tag)
        _sl_set(row, 3, host)
        _sl_set(row, 4, _SL_NODE)
        _sl_set(row, 5, _SL_ZERO)
        _sl_set(row, 6, None)
        _sl_set(row, 7, None)
        _sl_set(row, 8, ot)
        _sl_set(row, 9, body)
        _sl_set(row, 10, lvname)
        PyObject_GC_UnTrack(<void*>row)
        Py_INCREF(row)
        PyList_SET_ITEM(rows, i, <PyObject*>row)
    _track(rows)
    return rows, lines[nlines - 1].level >= 0


def syslog_chunk(data, name, othertags, bsd):
    """Log rows of a chunk that is nothing but single-line RFC 3164 entries.

    The compiled twin of :func:`ccstore.logs._pysyslogscan.syslog_chunk` (see
    there): ``(rows, last_explicit)`` or None, the same on every input.
    """
    cdef bytes buf
    cdef cbuf b
    cdef cbuf q
    cdef Py_ssize_t n, nlines
    cdef SLine* lines
    cdef int r
    if not isinstance(data, bytes):
        raise TypeError(f"syslog_chunk: bytes expected, not {type(data).__name__}")
    buf = data
    b = <cbuf>PyBytes_AS_STRING(buf)
    n = PyBytes_GET_SIZE(buf)
    nlines = 1
    q = b
    while True:
        q = <cbuf>memchr(q, 10, n - (q - b))
        if q == NULL:
            break
        nlines += 1
        q += 1
    # a header takes 17 characters at least (timestamp, space, host): a chunk
    # with a shorter line is for the line loop (this also bounds ``lines``)
    if n + 1 < nlines * 18:
        return None
    lines = <SLine*>malloc(nlines * sizeof(SLine))
    if lines == NULL:
        raise MemoryError()
    try:
        with nogil:
            r = _sl_scan(b, n, lines, nlines)
        if r == SC_TWIN:
            return _twin_syslog_chunk(data, name, othertags, bsd)
        if r == SC_NONE:
            return None
        return _sl_rows(b, lines, nlines, name, othertags, bsd)
    finally:
        free(lines)
