# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Compiled line-protocol core.

The pure-Python module ``ccstore._pylineproto`` is the reference: this module
implements the same functions with the same results on every input (points,
errors with line, column, message and text, storage rows), only faster.

How it is fast:

- the input is scanned once through a ``const unsigned char *``; string field
  values are searched eight bytes at a time for the few bytes that matter
  (quote, backslash, newline, bytes >= 0x80); UTF-8 is validated only where a
  byte >= 0x80 occurs;
- measurements, tag keys, tag values and field keys go through small
  fixed-size caches (hash of the raw bytes -> ``str``), so the few distinct
  names of a stream are decoded once; so do whole ``othertags`` JSON strings;
- :func:`decode_rows` builds the storage row tuples straight from the scanned
  spans: no :class:`Point`, no per-line dict;
- :class:`Point` objects made by :func:`decode`, and row tuples, are not
  tracked by the cyclic garbage collector (see :class:`Point`).
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.string cimport memcpy, memcmp, memchr, memset
from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t
from libc.math cimport isinf

import json as _json
import time as _time

from ccstore._types import LineError, RowBatch
from ccstore import messages as _messages

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_KIND(object o)
    void PyObject_GC_UnTrack(void* op)
    void PyObject_GC_Track(void* op)
    int PyObject_GC_IsTracked(object op)
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()
    object PyLong_FromLongLong(long long v)
    object PyLong_FromUnsignedLongLong(unsigned long long v)
    object PyFloat_FromDouble(double v)
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t n)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)
    object PyTuple_New(Py_ssize_t n)
    void PyTuple_SET_ITEM(object t, Py_ssize_t i, PyObject* o)
    object PyDict_New()
    int PyDict_SetItem(object d, object k, object v) except -1
    Py_ssize_t PyDict_GET_SIZE(object d)
    PyObject* PyDict_GetItem(object d, object k)
    int PyList_Append(object l, object x) except -1
    PyObject* Py_None
    PyObject* Py_True
    PyObject* Py_False

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    #define LP_ONES  0x0101010101010101ULL
    #define LP_HIGHS 0x8080808080808080ULL

    static inline uint64_t lp_has_byte(uint64_t x, unsigned c) {
        uint64_t y = x ^ (LP_ONES * (uint64_t)c);
        return (y - LP_ONES) & ~y & LP_HIGHS;
    }

    /* First byte in [p, e) that is '"', '\\\\', '\\n' or >= 0x80 (else e). */
    static inline const unsigned char *lp_scan_str(const unsigned char *p, const unsigned char *e) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        while (e - p >= 8) {
            uint64_t x, m;
            memcpy(&x, p, 8);
            m = lp_has_byte(x, '"') | lp_has_byte(x, '\\\\') | lp_has_byte(x, '\\n') | (x & LP_HIGHS);
            if (m) return p + (__builtin_ctzll(m) >> 3);
            p += 8;
        }
    #endif
        while (p < e) {
            unsigned char c = *p;
            if (c == '"' || c == '\\\\' || c == '\\n' || c >= 0x80) return p;
            p++;
        }
        return e;
    }

    /* First byte in [p, e) that is >= 0x80 (else e). */
    static inline const unsigned char *lp_scan_high(const unsigned char *p, const unsigned char *e) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        while (e - p >= 8) {
            uint64_t x, m;
            memcpy(&x, p, 8);
            m = x & LP_HIGHS;
            if (m) return p + (__builtin_ctzll(m) >> 3);
            p += 8;
        }
    #endif
        while (p < e) {
            if (*p >= 0x80) return p;
            p++;
        }
        return e;
    }

    static inline uint64_t lp_hash(const unsigned char *p, Py_ssize_t n) {
        uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
        while (n >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            h = (h ^ x) * 0xff51afd7ed558ccdULL;
            h ^= h >> 32;
            p += 8;
            n -= 8;
        }
        if (n > 0) {
            uint64_t x = 0;
            memcpy(&x, p, (size_t)n);
            h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
        return h;
    }

    /* Length (2-4) of the well-formed UTF-8 sequence at p, or 0 when the bytes
       there are not one (same rules as Python's strict UTF-8 decoder). */
    static inline int lp_utf8_seq(const unsigned char *p, const unsigned char *e) {
        unsigned c = p[0], c1;
        if (c < 0xC2) return 0;
        if (e - p < 2) return 0;
        c1 = p[1];
        if ((c1 & 0xC0) != 0x80) return 0;
        if (c < 0xE0) return 2;
        if (c < 0xF0) {
            if (c == 0xE0 && c1 < 0xA0) return 0;
            if (c == 0xED && c1 >= 0xA0) return 0;
            if (e - p < 3 || (p[2] & 0xC0) != 0x80) return 0;
            return 3;
        }
        if (c > 0xF4) return 0;
        if (c == 0xF0 && c1 < 0x90) return 0;
        if (c == 0xF4 && c1 >= 0x90) return 0;
        if (e - p < 3 || (p[2] & 0xC0) != 0x80) return 0;
        if (e - p < 4 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }

    static inline int lp_mul_overflow(int64_t a, int64_t b, int64_t *r) {
        return __builtin_mul_overflow(a, b, r);
    }
    """
    const unsigned char* lp_scan_str(const unsigned char* p, const unsigned char* e)
    const unsigned char* lp_scan_high(const unsigned char* p, const unsigned char* e)
    uint64_t lp_hash(const unsigned char* p, Py_ssize_t n)
    int lp_utf8_seq(const unsigned char* p, const unsigned char* e)
    int lp_mul_overflow(int64_t a, int64_t b, int64_t* r)

ctypedef const unsigned char* cbuf

# ---------------------------------------------------------------------------
# character classes
# ---------------------------------------------------------------------------
cdef enum:
    C_CTRL = 1      # 0x00-0x1F, 0x7F
    C_HIGH = 2      # >= 0x80
    C_TAGSTOP = 4   # stops a tag key / tag value / field key token
    C_MEASSTOP = 8  # stops a measurement token
    C_VALSTOP = 16  # stops an unquoted field value / timestamp token

cdef unsigned char CLS[256]


cdef void _init_classes():
    cdef int c
    for c in range(256):
        CLS[c] = 0
        if c < 0x20 or c == 0x7F:
            CLS[c] |= C_CTRL | C_TAGSTOP | C_MEASSTOP
        if c >= 0x80:
            CLS[c] |= C_HIGH | C_TAGSTOP | C_MEASSTOP
    for c in (ord(','), ord('='), ord(' '), ord('\\')):
        CLS[c] |= C_TAGSTOP
    for c in (ord(','), ord(' '), ord('\\')):
        CLS[c] |= C_MEASSTOP
    for c in (ord(','), ord(' '), ord('\n'), ord('\r')):
        CLS[c] |= C_VALSTOP


_init_classes()

# ---------------------------------------------------------------------------
# precision, kinds, identity tags
# ---------------------------------------------------------------------------
cdef enum:
    P_NS = 0
    P_US = 1
    P_MS = 2
    P_S = 3
    P_AUTO = 4

cdef enum:
    K_NONE = 0
    K_EVENT = 1
    K_LOG = 2
    K_METRIC = 3
    K_CONTROL = 4

cdef enum:
    T_OTHER = 0
    T_CLUSTER = 1
    T_HOSTNAME = 2
    T_TYPE = 3
    T_TYPEID = 4
    T_STYPE = 5
    T_STYPEID = 6
    T_LOGLEVEL = 7
    T_FUNCTION = 8

cdef enum:
    F_FLOAT = 1
    F_INT = 2
    F_UINT = 3
    F_BOOL = 4
    F_STR = 5

# flags of a token
cdef enum:
    TK_ESC = 1     # contains a backslash escape that is removed
    TK_HIGH = 2    # contains bytes >= 0x80


cdef int _precision_code(object precision) except -1:
    if precision == "ns":
        return P_NS
    if precision == "us":
        return P_US
    if precision == "ms":
        return P_MS
    if precision == "s":
        return P_S
    if precision == "auto":
        return P_AUTO
    raise ValueError(f"unknown precision {precision!r}: expected one of 'ns', 'us', 'ms', 's', 'auto'")


cdef inline int _tag_ident(cbuf p, Py_ssize_t n) noexcept:
    if n == 4:
        if memcmp(p, b"type", 4) == 0:
            return T_TYPE
    elif n == 5:
        if memcmp(p, b"stype", 5) == 0:
            return T_STYPE
    elif n == 7:
        if memcmp(p, b"cluster", 7) == 0:
            return T_CLUSTER
        if memcmp(p, b"type-id", 7) == 0:
            return T_TYPEID
    elif n == 8:
        if memcmp(p, b"hostname", 8) == 0:
            return T_HOSTNAME
        if memcmp(p, b"stype-id", 8) == 0:
            return T_STYPEID
        if memcmp(p, b"loglevel", 8) == 0:
            return T_LOGLEVEL
        if memcmp(p, b"function", 8) == 0:
            return T_FUNCTION
    return T_OTHER


cdef inline int _field_kind(cbuf p, Py_ssize_t n) noexcept:
    if n == 3:
        if memcmp(p, b"log", 3) == 0:
            return K_LOG
    elif n == 5:
        if memcmp(p, b"event", 5) == 0:
            return K_EVENT
        if memcmp(p, b"value", 5) == 0:
            return K_METRIC
    elif n == 7:
        if memcmp(p, b"control", 7) == 0:
            return K_CONTROL
    return K_NONE

# ---------------------------------------------------------------------------
# scanner state
# ---------------------------------------------------------------------------
cdef struct TagTok:
    Py_ssize_t ks, ke, vs, ve
    int kflags, vflags
    int ident
    Py_ssize_t cko      # offset of the unescaped key in the arena, or -1
    Py_ssize_t ckn      # its length

cdef struct FieldTok:
    Py_ssize_t ks, ke, vs, ve   # key span; value span (inside the quotes for strings)
    int kflags, vflags
    int ftype
    int kind
    int64_t ival
    uint64_t uval
    double dval

cdef struct PState:
    cbuf b
    Py_ssize_t n
    int precision
    # current logical line
    Py_ssize_t ms, me
    int mflags
    TagTok* tags
    Py_ssize_t ntags, ctags
    FieldTok* fields
    Py_ssize_t nfields, cfields
    int has_time
    int64_t time
    Py_ssize_t end          # first byte after the line (after its newline)
    Py_ssize_t nl           # physical lines ended inside the logical line (newlines consumed)
    int terminated          # the line ended with a newline
    # error
    int err
    Py_ssize_t err_pos
    Py_ssize_t ea, eb       # span argument of the message
    int eflags
    # scratch for unescaped keys (duplicate detection)
    unsigned char* arena
    Py_ssize_t arena_len, arena_cap
    # hash index of tag keys for lines with many tags
    int32_t* hidx
    Py_ssize_t hcap

# error codes
cdef enum:
    E_OK = 0
    E_MEAS_EMPTY
    E_MEAS_CHAR
    E_TAGKEY_EMPTY
    E_TAG_EQ
    E_TAGVAL_EMPTY
    E_TAG_CHAR
    E_TAG_DUP
    E_NO_FIELDS
    E_FKEY_EMPTY
    E_FIELD_EQ
    E_FVAL_EMPTY
    E_STR_UNTERM
    E_FVAL_TYPE
    E_BAD_FLOAT
    E_FLOAT_RANGE
    E_BAD_INT
    E_INT_RANGE
    E_BAD_UINT
    E_UINT_RANGE
    E_BAD_BOOL
    E_AFTER_FIELD
    E_BAD_TIME
    E_TIME_RANGE
    E_AFTER_TIME
    E_UTF8
    E_COMMENT_CHAR
    E_NOMEM


cdef int _state_init(PState* S) noexcept:
    memset(S, 0, sizeof(PState))
    S.ctags = 16
    S.tags = <TagTok*>malloc(S.ctags * sizeof(TagTok))
    S.cfields = 8
    S.fields = <FieldTok*>malloc(S.cfields * sizeof(FieldTok))
    S.arena_cap = 256
    S.arena = <unsigned char*>malloc(S.arena_cap)
    if S.tags == NULL or S.fields == NULL or S.arena == NULL:
        return -1
    return 0


cdef void _state_free(PState* S) noexcept:
    free(S.tags)
    free(S.fields)
    free(S.arena)
    free(S.hidx)
    S.tags = NULL
    S.fields = NULL
    S.arena = NULL
    S.hidx = NULL


cdef inline int _error(PState* S, int code, Py_ssize_t pos) noexcept:
    S.err = code
    S.err_pos = pos
    return -1


cdef inline int _error_arg(PState* S, int code, Py_ssize_t pos, Py_ssize_t a, Py_ssize_t b,
                           int flags) noexcept:
    S.err = code
    S.err_pos = pos
    S.ea = a
    S.eb = b
    S.eflags = flags
    return -1


cdef inline bint _at_eol(PState* S, Py_ssize_t p) noexcept:
    """True when p is at the end of the line: newline, CR+LF, CR at the end, end."""
    cdef cbuf b = S.b
    if p >= S.n:
        return True
    if b[p] == b'\n':
        return True
    if b[p] == b'\r' and (p + 1 == S.n or b[p + 1] == b'\n'):
        return True
    return False


cdef inline void _finish_line(PState* S, Py_ssize_t p) noexcept:
    """p is at an end of line (see _at_eol): record where the line ends."""
    cdef cbuf b = S.b
    if p < S.n and b[p] == b'\r':
        p += 1
    if p < S.n:
        # b[p] == '\n'
        S.end = p + 1
        S.nl += 1
        S.terminated = 1
    else:
        S.end = S.n
        S.terminated = 0


cdef inline Py_ssize_t _scan_key(PState* S, Py_ssize_t p, int* flags, unsigned char cls) noexcept:
    """Scan a measurement (cls C_MEASSTOP) or tag key/value/field key (C_TAGSTOP).

    Returns the end of the token; stops at an unescaped delimiter, a control
    character, the end of input, or (with ``S.err`` set) invalid UTF-8.
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef unsigned char c, d
    cdef int k
    while True:
        while p < n and not (CLS[b[p]] & cls):
            p += 1
        if p >= n:
            return p
        c = b[p]
        if c == b'\\':
            if p + 1 < n:
                d = b[p + 1]
                if d == b',' or d == b' ' or (d == b'=' and cls == C_TAGSTOP):
                    flags[0] |= TK_ESC
                    p += 2
                    continue
            p += 1
            continue
        if c >= 0x80:
            k = lp_utf8_seq(b + p, b + n)
            if k == 0:
                _error(S, E_UTF8, p)
                return p
            flags[0] |= TK_HIGH
            p += k
            continue
        return p


cdef Py_ssize_t _unescape_key(cbuf src, Py_ssize_t n, unsigned char* dst, bint meas) noexcept:
    """Copy a key token without its escaping backslashes; returns the new length."""
    cdef Py_ssize_t i = 0, j = 0
    cdef unsigned char c, d
    while i < n:
        c = src[i]
        if c == b'\\' and i + 1 < n:
            d = src[i + 1]
            if d == b',' or d == b' ' or (d == b'=' and not meas):
                dst[j] = d
                j += 1
                i += 2
                continue
        dst[j] = c
        j += 1
        i += 1
    return j


cdef int _arena_reserve(PState* S, Py_ssize_t more) noexcept:
    cdef Py_ssize_t cap
    cdef unsigned char* a
    if S.arena_len + more <= S.arena_cap:
        return 0
    cap = S.arena_cap * 2
    while cap < S.arena_len + more:
        cap *= 2
    a = <unsigned char*>realloc(S.arena, cap)
    if a == NULL:
        return -1
    S.arena = a
    S.arena_cap = cap
    return 0


cdef inline void _tag_ckey(PState* S, TagTok* t, cbuf* p, Py_ssize_t* n) noexcept:
    if t.cko < 0:
        p[0] = S.b + t.ks
        n[0] = t.ke - t.ks
    else:
        p[0] = S.arena + t.cko
        n[0] = t.ckn


cdef int _hidx_insert(PState* S, Py_ssize_t i) noexcept:
    """Insert tag i into the hash index; returns the index of an equal key or -1."""
    cdef cbuf kp
    cdef cbuf op
    cdef Py_ssize_t kn, on
    cdef uint64_t h
    cdef Py_ssize_t mask = S.hcap - 1
    cdef Py_ssize_t slot
    cdef int32_t j
    _tag_ckey(S, &S.tags[i], &kp, &kn)
    h = lp_hash(kp, kn)
    slot = <Py_ssize_t>(h & <uint64_t>mask)
    while True:
        j = S.hidx[slot]
        if j < 0:
            S.hidx[slot] = <int32_t>i
            return -1
        _tag_ckey(S, &S.tags[j], &op, &on)
        if on == kn and memcmp(op, kp, kn) == 0:
            return j
        slot = (slot + 1) & mask


cdef int _hidx_rebuild(PState* S, Py_ssize_t cap) noexcept:
    cdef Py_ssize_t i
    free(S.hidx)
    S.hidx = <int32_t*>malloc(cap * sizeof(int32_t))
    if S.hidx == NULL:
        S.hcap = 0
        return -1
    S.hcap = cap
    for i in range(cap):
        S.hidx[i] = -1
    for i in range(S.ntags - 1):
        _hidx_insert(S, i)
    return 0


cdef int _check_dup_tag(PState* S) noexcept:
    """Is the last tag's key equal to an earlier one? 1 yes, 0 no, -1 no memory."""
    cdef Py_ssize_t i = S.ntags - 1, j
    cdef TagTok* t = &S.tags[i]
    cdef cbuf kp
    cdef cbuf op
    cdef Py_ssize_t kn, on
    if t.kflags & TK_ESC:
        if _arena_reserve(S, t.ke - t.ks) < 0:
            return -1
        t.cko = S.arena_len
        t.ckn = _unescape_key(S.b + t.ks, t.ke - t.ks, S.arena + S.arena_len, False)
        S.arena_len += t.ckn
    else:
        t.cko = -1
    if i < 16:
        _tag_ckey(S, t, &kp, &kn)
        for j in range(i):
            _tag_ckey(S, &S.tags[j], &op, &on)
            if on == kn and memcmp(op, kp, kn) == 0:
                return 1
        return 0
    if S.hcap < 2 * (i + 1):
        if _hidx_rebuild(S, 4 * (i + 1)) < 0:
            return -1
    return 1 if _hidx_insert(S, i) >= 0 else 0


cdef int _grow_tags(PState* S) noexcept:
    cdef TagTok* t = <TagTok*>realloc(S.tags, 2 * S.ctags * sizeof(TagTok))
    if t == NULL:
        return -1
    S.tags = t
    S.ctags *= 2
    return 0


cdef int _grow_fields(PState* S) noexcept:
    cdef FieldTok* f = <FieldTok*>realloc(S.fields, 2 * S.cfields * sizeof(FieldTok))
    if f == NULL:
        return -1
    S.fields = f
    S.cfields *= 2
    return 0


cdef int _parse_float(PState* S, FieldTok* f, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Validate [-]digits[.[digits]][e[+-]digits] | [-].digits[...]; 0 ok, -1 bad syntax, -2 range."""
    cdef cbuf b = S.b
    cdef Py_ssize_t p = s
    cdef Py_ssize_t nd = 0, nf = 0
    cdef char tmp[64]
    cdef char* buf
    cdef double v
    if p < e and b[p] == b'-':
        p += 1
    while p < e and b[p] >= b'0' and b[p] <= b'9':
        p += 1
        nd += 1
    if p < e and b[p] == b'.':
        p += 1
        while p < e and b[p] >= b'0' and b[p] <= b'9':
            p += 1
            nf += 1
    if nd == 0 and nf == 0:
        return -1
    if p < e and (b[p] == b'e' or b[p] == b'E'):
        p += 1
        if p < e and (b[p] == b'+' or b[p] == b'-'):
            p += 1
        nd = 0
        while p < e and b[p] >= b'0' and b[p] <= b'9':
            p += 1
            nd += 1
        if nd == 0:
            return -1
    if p != e:
        return -1
    return 0


cdef inline int _parse_digits(cbuf p, cbuf e, uint64_t* out) noexcept:
    """Decimal digits [p, e) into out; 0 ok, -1 not all digits / empty, -2 overflow."""
    cdef uint64_t v = 0
    cdef unsigned d
    if p >= e:
        return -1
    while p < e:
        d = p[0] - 48
        if d > 9:
            return -1
        if v > 1844674407370955161ULL or (v == 1844674407370955161ULL and d > 5):
            # keep checking the syntax: a non-digit later is a syntax error
            p += 1
            while p < e:
                if <unsigned>(p[0] - 48) > 9:
                    return -1
                p += 1
            return -2
        v = v * 10 + d
        p += 1
    out[0] = v
    return 0


cdef int _parse_time(PState* S, Py_ssize_t s, Py_ssize_t e) noexcept:
    cdef cbuf b = S.b
    cdef bint neg = False
    cdef uint64_t mag
    cdef int r
    cdef int64_t v, mult, res
    cdef int prec = S.precision
    if s < e and b[s] == b'-':
        neg = True
        r = _parse_digits(b + s + 1, b + e, &mag)
    else:
        r = _parse_digits(b + s, b + e, &mag)
    if r == -1:
        return _error_arg(S, E_BAD_TIME, s, s, e, 0)
    if r == -2 or mag > (9223372036854775808ULL if neg else 9223372036854775807ULL):
        return _error_arg(S, E_TIME_RANGE, s, s, e, 0)
    if prec == P_AUTO:
        if mag < 100000000000ULL:
            prec = P_S
        elif mag < 100000000000000ULL:
            prec = P_MS
        elif mag < 100000000000000000ULL:
            prec = P_US
        else:
            prec = P_NS
    if neg:
        v = <int64_t>(0 - mag)
    else:
        v = <int64_t>mag
    if prec == P_NS:
        S.time = v
    else:
        if prec == P_US:
            mult = 1000
        elif prec == P_MS:
            mult = 1000000
        else:
            mult = 1000000000
        if lp_mul_overflow(v, mult, &res):
            return _error_arg(S, E_TIME_RANGE, s, s, e, 0)
        S.time = res
    S.has_time = 1
    return 0


cdef int _parse_value(PState* S, FieldTok* f, Py_ssize_t s, Py_ssize_t e) noexcept:
    """An unquoted field value [s, e): number or boolean."""
    cdef cbuf b = S.b
    cdef Py_ssize_t n = e - s
    cdef unsigned char c = b[s]
    cdef unsigned char last
    cdef uint64_t mag
    cdef int r
    cdef char tmp[80]
    cdef char* buf
    cdef char* endp
    if c == b't' or c == b'T' or c == b'f' or c == b'F':
        f.ftype = F_BOOL
        if n == 1:
            f.ival = c == b't' or c == b'T'
            return 0
        if n == 4 and (memcmp(b + s, b"true", 4) == 0 or memcmp(b + s, b"True", 4) == 0
                       or memcmp(b + s, b"TRUE", 4) == 0):
            f.ival = 1
            return 0
        if n == 5 and (memcmp(b + s, b"false", 5) == 0 or memcmp(b + s, b"False", 5) == 0
                       or memcmp(b + s, b"FALSE", 5) == 0):
            f.ival = 0
            return 0
        return _error_arg(S, E_BAD_BOOL, s, s, e, 0)
    if not (c == b'-' or c == b'.' or (c >= b'0' and c <= b'9')):
        return _error_arg(S, E_FVAL_TYPE, s, s, e, 0)
    last = b[e - 1]
    if last == b'i':
        f.ftype = F_INT
        if c == b'-':
            r = _parse_digits(b + s + 1, b + e - 1, &mag)
        else:
            r = _parse_digits(b + s, b + e - 1, &mag)
        if r == -1:
            return _error_arg(S, E_BAD_INT, s, s, e, 0)
        if r == -2 or mag > (9223372036854775808ULL if c == b'-' else 9223372036854775807ULL):
            return _error_arg(S, E_INT_RANGE, s, s, e, 0)
        f.ival = <int64_t>(0 - mag) if c == b'-' else <int64_t>mag
        return 0
    if last == b'u':
        f.ftype = F_UINT
        r = _parse_digits(b + s, b + e - 1, &mag)
        if r == -1:
            return _error_arg(S, E_BAD_UINT, s, s, e, 0)
        if r == -2:
            return _error_arg(S, E_UINT_RANGE, s, s, e, 0)
        f.uval = mag
        return 0
    f.ftype = F_FLOAT
    if _parse_float(S, f, s, e) < 0:
        return _error_arg(S, E_BAD_FLOAT, s, s, e, 0)
    # exact conversion through the C library (correctly rounded)
    if n < 80:
        memcpy(tmp, b + s, n)
        tmp[n] = 0
        buf = tmp
    else:
        buf = <char*>malloc(n + 1)
        if buf == NULL:
            return _error(S, E_NOMEM, s)
        memcpy(buf, b + s, n)
        buf[n] = 0
    f.dval = PyOS_string_to_double(buf, &endp, NULL)
    if buf != tmp:
        free(buf)
    if f.dval == -1.0 and PyErr_Occurred() != NULL:
        PyErr_Clear()
        return _error(S, E_NOMEM, s)
    if isinf(f.dval):
        # the number is out of range
        return _error_arg(S, E_FLOAT_RANGE, s, s, e, 0)
    return 0


cdef int _parse_point(PState* S, Py_ssize_t p) noexcept:
    """Parse one logical line starting at p (its first non-space byte).

    Returns 0 and fills S, or -1 with S.err/S.err_pos set.  On success S.end
    is the first byte after the line.
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef Py_ssize_t s, q
    cdef unsigned char c
    cdef int fl, r, k
    cdef TagTok* t
    cdef FieldTok* f
    cdef cbuf sp
    S.ntags = 0
    S.nfields = 0
    S.has_time = 0
    S.nl = 0
    S.arena_len = 0
    S.err = E_OK

    # measurement
    fl = 0
    s = p
    p = _scan_key(S, p, &fl, C_MEASSTOP)
    if S.err:
        return -1
    S.ms = s
    S.me = p
    S.mflags = fl
    if p == s:
        return _error(S, E_MEAS_EMPTY, p)
    if p < n and CLS[b[p]] & C_CTRL and not _at_eol(S, p):
        return _error(S, E_MEAS_CHAR, p)

    # tags
    while p < n and b[p] == b',':
        p += 1
        if S.ntags == S.ctags and _grow_tags(S) < 0:
            return _error(S, E_NOMEM, p)
        t = &S.tags[S.ntags]
        fl = 0
        s = p
        p = _scan_key(S, p, &fl, C_TAGSTOP)
        if S.err:
            return -1
        t.ks = s
        t.ke = p
        t.kflags = fl
        if p == s:
            return _error(S, E_TAGKEY_EMPTY, p)
        if p >= n or b[p] != b'=':
            return _error_arg(S, E_TAG_EQ, p, s, p, fl)
        p += 1
        fl = 0
        s = p
        p = _scan_key(S, p, &fl, C_TAGSTOP)
        if S.err:
            return -1
        t.vs = s
        t.ve = p
        t.vflags = fl
        if p == s:
            return _error_arg(S, E_TAGVAL_EMPTY, p, t.ks, t.ke, t.kflags)
        t.ident = _tag_ident(b + t.ks, t.ke - t.ks) if not (t.kflags & TK_ESC) else T_OTHER
        S.ntags += 1
        r = _check_dup_tag(S)
        if r < 0:
            return _error(S, E_NOMEM, p)
        if r:
            return _error_arg(S, E_TAG_DUP, t.ks, t.ks, t.ke, t.kflags)
        if p < n and b[p] != b',' and b[p] != b' ' and not _at_eol(S, p):
            return _error(S, E_TAG_CHAR, p)

    # fields
    if p >= n or b[p] != b' ':
        if _at_eol(S, p):
            return _error(S, E_NO_FIELDS, p)
        return _error(S, E_MEAS_CHAR, p)
    while p < n and b[p] == b' ':
        p += 1
    if _at_eol(S, p):
        return _error(S, E_NO_FIELDS, p)
    while True:
        if S.nfields == S.cfields and _grow_fields(S) < 0:
            return _error(S, E_NOMEM, p)
        f = &S.fields[S.nfields]
        fl = 0
        s = p
        p = _scan_key(S, p, &fl, C_TAGSTOP)
        if S.err:
            return -1
        f.ks = s
        f.ke = p
        f.kflags = fl
        if p == s:
            return _error(S, E_FKEY_EMPTY, p)
        if p >= n or b[p] != b'=':
            return _error_arg(S, E_FIELD_EQ, p, s, p, fl)
        f.kind = _field_kind(b + s, p - s) if not (fl & TK_ESC) else K_NONE
        p += 1
        if p < n and b[p] == b'"':
            # string value: any byte but an unescaped quote
            p += 1
            s = p
            fl = 0
            while True:
                sp = lp_scan_str(b + p, b + n)
                p = sp - b
                if p >= n:
                    return _error_arg(S, E_STR_UNTERM, s - 1, f.ks, f.ke, f.kflags)
                c = b[p]
                if c == b'"':
                    break
                if c == b'\\':
                    if p + 1 < n:
                        c = b[p + 1]
                        if c == b'"' or c == b'\\' or c == b'n' or c == b'r' or c == b't':
                            fl |= TK_ESC
                            p += 2
                            continue
                    p += 1
                    continue
                if c == b'\n':
                    S.nl += 1
                    p += 1
                    continue
                k = lp_utf8_seq(b + p, b + n)
                if k == 0:
                    return _error(S, E_UTF8, p)
                fl |= TK_HIGH
                p += k
            f.vs = s
            f.ve = p
            f.vflags = fl
            f.ftype = F_STR
            p += 1
        else:
            s = p
            while p < n and not (CLS[b[p]] & C_VALSTOP):
                p += 1
            if p == s:
                return _error_arg(S, E_FVAL_EMPTY, p, f.ks, f.ke, f.kflags)
            f.vs = s
            f.ve = p
            # non-ASCII or control bytes make the value invalid anyway
            if _parse_value(S, f, s, p) < 0:
                return -1
        S.nfields += 1
        if p >= n:
            break
        c = b[p]
        if c == b',':
            p += 1
            continue
        if c == b' ':
            break
        if _at_eol(S, p):
            break
        return _error(S, E_AFTER_FIELD, p)

    # timestamp
    while p < n and b[p] == b' ':
        p += 1
    if not _at_eol(S, p):
        s = p
        while p < n and not (CLS[b[p]] & C_VALSTOP):
            p += 1
        if p < n and b[p] == b',':
            return _error(S, E_BAD_TIME, s)
        if _parse_time(S, s, p) < 0:
            return -1
        while p < n and b[p] == b' ':
            p += 1
        if not _at_eol(S, p):
            return _error_arg(S, E_AFTER_TIME, p, p, p, 0)
    _finish_line(S, p)
    return 0


# ---------------------------------------------------------------------------
# intern caches: raw token bytes -> str
# ---------------------------------------------------------------------------
DEF CACHE_RAW = 48
DEF JSON_RAW = 240

cdef struct CEntry:
    uint64_t h
    PyObject* obj
    Py_ssize_t n
    unsigned char raw[CACHE_RAW]

cdef struct JEntry:
    uint64_t h
    PyObject* obj
    Py_ssize_t n
    unsigned char raw[JSON_RAW]

DEF MEAS_SIZE = 512
DEF KEY_SIZE = 4096
DEF JSON_SIZE = 1024

cdef CEntry _meas_cache[MEAS_SIZE]
cdef CEntry _key_cache[KEY_SIZE]
cdef JEntry* _json_cache = <JEntry*>malloc(JSON_SIZE * sizeof(JEntry))
memset(_meas_cache, 0, sizeof(_meas_cache))
memset(_key_cache, 0, sizeof(_key_cache))
if _json_cache == NULL:
    raise MemoryError()
memset(_json_cache, 0, JSON_SIZE * sizeof(JEntry))


cdef inline object _make_str(cbuf p, Py_ssize_t n, int flags):
    """str from n bytes already validated as UTF-8 (TK_HIGH: not all ASCII)."""
    cdef object s
    if flags & TK_HIGH:
        return PyUnicode_DecodeUTF8(<const char*>p, n, NULL)
    s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, n)
    return s


cdef object _key_str(cbuf p, Py_ssize_t n, int flags, bint meas):
    """str of a measurement / key / tag value token (escapes removed)."""
    cdef unsigned char small[256]
    cdef unsigned char* tmp
    cdef Py_ssize_t m
    if not (flags & TK_ESC):
        return _make_str(p, n, flags)
    if n <= 256:
        m = _unescape_key(p, n, small, meas)
        return _make_str(small, m, flags)
    tmp = <unsigned char*>malloc(n)
    if tmp == NULL:
        raise MemoryError()
    try:
        m = _unescape_key(p, n, tmp, meas)
        return _make_str(tmp, m, flags)
    finally:
        free(tmp)


cdef inline object _cached_key(CEntry* cache, Py_ssize_t size, cbuf p, Py_ssize_t n, int flags,
                               bint meas):
    """The str of a key token, through a direct-mapped cache of raw bytes."""
    cdef uint64_t h
    cdef CEntry* e
    cdef object s
    if n > CACHE_RAW:
        return _key_str(p, n, flags, meas)
    h = lp_hash(p, n)
    e = &cache[h & <uint64_t>(size - 1)]
    if e.obj != NULL and e.h == h and e.n == n and memcmp(e.raw, p, n) == 0:
        return <object>e.obj
    s = _key_str(p, n, flags, meas)
    if e.obj != NULL:
        Py_DECREF(<object>e.obj)
    Py_INCREF(s)
    e.obj = <PyObject*>s
    e.h = h
    e.n = n
    memcpy(e.raw, p, n)
    return s


cdef inline object _meas_str(PState* S):
    return _cached_key(_meas_cache, MEAS_SIZE, S.b + S.ms, S.me - S.ms, S.mflags, True)


cdef inline object _tok_str(cbuf b, Py_ssize_t s, Py_ssize_t e, int flags):
    return _cached_key(_key_cache, KEY_SIZE, b + s, e - s, flags, False)


cdef object _cached_json(cbuf p, Py_ssize_t n, int flags):
    cdef uint64_t h
    cdef JEntry* e
    cdef object s
    if n > JSON_RAW:
        return _make_str(p, n, flags)
    h = lp_hash(p, n)
    e = &_json_cache[h & <uint64_t>(JSON_SIZE - 1)]
    if e.obj != NULL and e.h == h and e.n == n and memcmp(e.raw, p, n) == 0:
        return <object>e.obj
    s = _make_str(p, n, flags)
    if e.obj != NULL:
        Py_DECREF(<object>e.obj)
    Py_INCREF(s)
    e.obj = <PyObject*>s
    e.h = h
    e.n = n
    memcpy(e.raw, p, n)
    return s


# ---------------------------------------------------------------------------
# growable byte buffer
# ---------------------------------------------------------------------------
cdef struct Buf:
    unsigned char* p
    Py_ssize_t n, cap


cdef int _buf_reserve(Buf* B, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap
    cdef unsigned char* q
    if B.n + more <= B.cap:
        return 0
    cap = B.cap * 2 if B.cap else 256
    while cap < B.n + more:
        cap *= 2
    q = <unsigned char*>realloc(B.p, cap)
    if q == NULL:
        raise MemoryError()
    B.p = q
    B.cap = cap
    return 0


cdef object _str_value(PState* S, FieldTok* f, Buf* B):
    """The str of a quoted field value."""
    cdef cbuf p = S.b + f.vs
    cdef Py_ssize_t n = f.ve - f.vs
    cdef Py_ssize_t i = 0, k, j
    cdef cbuf q
    cdef unsigned char d
    cdef unsigned char* dst
    if not (f.vflags & TK_ESC):
        return _make_str(p, n, f.vflags)
    B.n = 0
    _buf_reserve(B, n)
    dst = B.p
    j = 0
    while True:
        q = <cbuf>memchr(p + i, b'\\', n - i)
        if q == NULL:
            memcpy(dst + j, p + i, n - i)
            j += n - i
            break
        k = q - p
        memcpy(dst + j, p + i, k - i)
        j += k - i
        i = k
        if i + 1 < n:
            d = p[i + 1]
            if d == b'"' or d == b'\\':
                dst[j] = d
                j += 1
                i += 2
                continue
            if d == b'n':
                dst[j] = b'\n'
                j += 1
                i += 2
                continue
            if d == b'r':
                dst[j] = b'\r'
                j += 1
                i += 2
                continue
            if d == b't':
                dst[j] = b'\t'
                j += 1
                i += 2
                continue
        dst[j] = b'\\'
        j += 1
        i += 1
    return _make_str(dst, j, f.vflags)


cdef object _field_value(PState* S, FieldTok* f, Buf* B):
    cdef int t = f.ftype
    if t == F_STR:
        return _str_value(S, f, B)
    if t == F_FLOAT:
        return PyFloat_FromDouble(f.dval)
    if t == F_INT:
        return PyLong_FromLongLong(f.ival)
    if t == F_UINT:
        return PyLong_FromUnsignedLongLong(f.uval)
    return True if f.ival else False


# ---------------------------------------------------------------------------
# Point
# ---------------------------------------------------------------------------
@cython.freelist(1024)
@cython.final
cdef class Point:
    """One decoded line: ``name``, ``tags``, ``fields`` (both dicts in input
    order) and ``time`` (nanoseconds since the epoch).

    Points made by :func:`decode` hold only dicts of str keys and
    str/int/float/bool values, which cannot form a reference cycle, so they
    are not tracked by the cyclic garbage collector (a stream of points then
    costs the collector nothing).  Setting an attribute tracks the point
    again.  A cycle made by putting a point *into its own dicts* (``p.tags[k]
    = p``) is not collected for such a point; it is only leaked, never unsafe.
    Points built by calling ``Point(...)`` are tracked as usual.
    """
    cdef object _name
    cdef object _tags
    cdef object _fields
    cdef object _time

    def __init__(self, name, tags, fields, time):
        self._name = name
        self._tags = tags
        self._fields = fields
        self._time = time

    cdef inline void _track(self):
        if not PyObject_GC_IsTracked(self):
            PyObject_GC_Track(<void*>self)

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._track()
        self._name = value

    @property
    def tags(self):
        return self._tags

    @tags.setter
    def tags(self, value):
        self._track()
        self._tags = value

    @property
    def fields(self):
        return self._fields

    @fields.setter
    def fields(self, value):
        self._track()
        self._fields = value

    @property
    def time(self):
        return self._time

    @time.setter
    def time(self, value):
        self._track()
        self._time = value

    def __eq__(self, other):
        cdef Point o
        if isinstance(other, Point):
            o = <Point>other
            return (self._name == o._name and self._tags == o._tags
                    and self._fields == o._fields and self._time == o._time)
        try:
            return (self._name == other.name and self._tags == other.tags
                    and self._fields == other.fields and self._time == other.time)
        except AttributeError:
            return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        if r is NotImplemented:
            return r
        return not r

    __hash__ = None

    def __repr__(self):
        return (f"Point(name={self._name!r}, tags={self._tags!r}, "
                f"fields={self._fields!r}, time={self._time!r})")

    def __reduce__(self):
        return (Point, (self._name, self._tags, self._fields, self._time))


# ---------------------------------------------------------------------------
# comments, skipping bad lines, error reports
# ---------------------------------------------------------------------------
cdef int _parse_comment(PState* S, Py_ssize_t p) noexcept:
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef unsigned char c
    cdef int k
    S.nl = 0
    S.err = E_OK
    while p < n:
        c = b[p]
        if c == b'\n':
            S.end = p + 1
            S.nl = 1
            S.terminated = 1
            return 0
        if c >= 0x80:
            k = lp_utf8_seq(b + p, b + n)
            if k == 0:
                return _error(S, E_UTF8, p)
            p += k
            continue
        if c == b'\r' and (p + 1 == n or b[p + 1] == b'\n'):
            p += 1
            continue
        if (c < 0x20 and c != b'\t') or c == 0x7F:
            return _error(S, E_COMMENT_CHAR, p)
        p += 1
    S.end = n
    S.terminated = 0
    return 0


cdef Py_ssize_t _count_nl(cbuf b, Py_ssize_t s, Py_ssize_t e) noexcept:
    cdef Py_ssize_t c = 0
    cdef cbuf q
    while s < e:
        q = <cbuf>memchr(b + s, b'\n', e - s)
        if q == NULL:
            break
        c += 1
        s = (q - b) + 1
    return c


cdef void _skip_bad_line(PState* S, Py_ssize_t ls) noexcept:
    """After an error: find the end of the bad line (S.end, S.nl, S.terminated)."""
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef cbuf q
    cdef Py_ssize_t p = S.err_pos
    if S.err == E_STR_UNTERM:
        S.end = n
        S.terminated = 0
    else:
        if p < ls:
            p = ls
        q = <cbuf>memchr(b + p, b'\n', n - p) if p < n else NULL
        if q == NULL:
            S.end = n
            S.terminated = 0
        else:
            S.end = (q - b) + 1
            S.terminated = 1
    S.nl = _count_nl(b, ls, S.end)


cdef str _q(PState* S, Py_ssize_t a, Py_ssize_t e, int flags, bint meas=False):
    """A token for a message, in double quotes."""
    cdef object s
    if e - a > 64:
        e = a + 64
    s = PyBytes_FromStringAndSize(<const char*>S.b + a, e - a).decode("utf-8", "replace")
    return '"' + s + '"'


cdef str _ch(PState* S, Py_ssize_t p):
    if p >= S.n:
        return "end of input"
    return repr(chr(S.b[p]))


cdef str _message(PState* S):
    cdef int e = S.err
    cdef Py_ssize_t p = S.err_pos
    if e == E_MEAS_EMPTY:
        return "missing measurement"
    if e == E_MEAS_CHAR:
        return f"invalid character {_ch(S, p)} in measurement"
    if e == E_TAGKEY_EMPTY:
        return "empty tag key"
    if e == E_TAG_EQ:
        return f"expected '=' after tag key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_TAGVAL_EMPTY:
        return f"expected tag value after tag key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_TAG_CHAR:
        return f"invalid character {_ch(S, p)} after tag value"
    if e == E_TAG_DUP:
        return f"duplicate tag key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_NO_FIELDS:
        return "missing fields"
    if e == E_FKEY_EMPTY:
        return "empty field key"
    if e == E_FIELD_EQ:
        return f"expected '=' after field key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_FVAL_EMPTY:
        return f"missing value for field key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_STR_UNTERM:
        return f"unterminated string value for field key {_q(S, S.ea, S.eb, S.eflags)}"
    if e == E_FVAL_TYPE:
        return f"invalid field value {_q(S, S.ea, S.eb, 0)}"
    if e == E_BAD_FLOAT:
        return f"invalid float {_q(S, S.ea, S.eb, 0)}"
    if e == E_FLOAT_RANGE:
        return f"float out of range {_q(S, S.ea, S.eb, 0)}"
    if e == E_BAD_INT:
        return f"invalid integer {_q(S, S.ea, S.eb, 0)}"
    if e == E_INT_RANGE:
        return f"integer out of range {_q(S, S.ea, S.eb, 0)}"
    if e == E_BAD_UINT:
        return f"invalid unsigned integer {_q(S, S.ea, S.eb, 0)}"
    if e == E_UINT_RANGE:
        return f"unsigned integer out of range {_q(S, S.ea, S.eb, 0)}"
    if e == E_BAD_BOOL:
        return f"invalid boolean {_q(S, S.ea, S.eb, 0)}"
    if e == E_AFTER_FIELD:
        return f"unexpected character {_ch(S, p)} after field value"
    if e == E_BAD_TIME:
        return f"invalid timestamp"
    if e == E_TIME_RANGE:
        return f"timestamp out of range {_q(S, S.ea, S.eb, 0)}"
    if e == E_AFTER_TIME:
        return "unexpected text after timestamp"
    if e == E_UTF8:
        return "invalid UTF-8"
    if e == E_COMMENT_CHAR:
        return f"invalid character {_ch(S, p)} in comment"
    return "syntax error"


cdef object _line_error(PState* S, Py_ssize_t ls, Py_ssize_t lineno, Py_ssize_t pos, str message):
    """LineError for position pos of the logical line that starts at ls."""
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef Py_ssize_t ps = ls, q, e
    cdef cbuf r
    if pos > n:
        pos = n
    # physical line of pos
    q = ls
    while q < pos:
        r = <cbuf>memchr(b + q, b'\n', pos - q)
        if r == NULL:
            break
        lineno += 1
        q = (r - b) + 1
        ps = q
    r = <cbuf>memchr(b + ps, b'\n', n - ps) if ps < n else NULL
    e = (r - b) if r != NULL else n
    if e > ps and b[e - 1] == b'\r':
        e -= 1
    if e - ps > 200:
        e = ps + 200
    text = PyBytes_FromStringAndSize(<const char*>b + ps, e - ps).decode("utf-8", "replace")
    return LineError(lineno, pos - ps + 1, message, text)


# ---------------------------------------------------------------------------
# the decoding loop
# ---------------------------------------------------------------------------
cdef bytes _as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    if isinstance(data, str):
        return (<str>data).encode("utf-8", "surrogatepass")
    return bytes(data)


cdef object _default_time(object default_time):
    if default_time is None:
        return _time.time_ns()
    return default_time


cdef struct OTag:
    cbuf kp
    cbuf vp
    Py_ssize_t kn, vn
    Py_ssize_t ko, vo   # offsets into the scratch buffer (-1: points into the input)


cdef int _otag_cmp(const void* a, const void* b) noexcept nogil:
    cdef const OTag* x = <const OTag*>a
    cdef const OTag* y = <const OTag*>b
    cdef Py_ssize_t m = x.kn if x.kn < y.kn else y.kn
    cdef int r = memcmp(x.kp, y.kp, m)
    if r:
        return r
    return (x.kn > y.kn) - (x.kn < y.kn)


cdef extern from "stdlib.h":
    void qsort(void* base, size_t nmemb, size_t size, int (*compar)(const void*, const void*) noexcept nogil)


cdef inline void _json_put(Buf* O, cbuf p, Py_ssize_t n) noexcept:
    """Append a JSON string body (only '"' and '\\' can need escaping here)."""
    cdef Py_ssize_t i
    cdef unsigned char c
    cdef unsigned char* d = O.p + O.n
    for i in range(n):
        c = p[i]
        if c == b'"' or c == b'\\':
            d[0] = b'\\'
            d += 1
        d[0] = c
        d += 1
    O.n = d - O.p


cdef class _Decoder:
    """One decode call: the scanner state and its outputs."""
    cdef PState S
    cdef Buf sbuf     # unescaped string values
    cdef Buf jbuf     # unescaped other-tag keys/values
    cdef Buf obuf     # othertags JSON
    cdef OTag* otags
    cdef Py_ssize_t cotags
    cdef bytes data
    cdef list errors
    cdef Py_ssize_t lineno, lineno0
    cdef Py_ssize_t consumed
    cdef object default_time
    # decode_rows
    cdef object cluster
    cdef dict groups
    cdef Py_ssize_t n_metric, n_control
    cdef object last_cluster
    cdef int last_kind
    cdef list last_list
    cdef int64_t last_sec
    cdef object last_sec_obj

    def __cinit__(self):
        if _state_init(&self.S) < 0:
            raise MemoryError()
        self.cotags = 8
        self.otags = <OTag*>malloc(self.cotags * sizeof(OTag))
        if self.otags == NULL:
            raise MemoryError()

    def __dealloc__(self):
        _state_free(&self.S)
        free(self.sbuf.p)
        free(self.jbuf.p)
        free(self.obuf.p)
        free(self.otags)

    cdef int run(self, object data, int precision, object default_time, bint rows, object cluster,
                 bint final, Py_ssize_t lineno, list out) except -1:
        cdef PState* S = &self.S
        cdef cbuf b
        cdef Py_ssize_t n, pos, ls, p
        cdef unsigned char c
        cdef int r
        self.data = _as_bytes(data)
        b = <cbuf>PyBytes_AS_STRING(self.data)
        n = PyBytes_GET_SIZE(self.data)
        S.b = b
        S.n = n
        S.precision = precision
        self.errors = []
        self.lineno0 = lineno
        self.default_time = default_time
        self.cluster = cluster
        self.groups = {}
        self.last_kind = K_NONE
        self.last_sec = 0
        self.last_sec_obj = None
        pos = 0
        while pos < n:
            ls = pos
            p = pos
            while p < n and b[p] == b' ':
                p += 1
            if p >= n:
                if not final:
                    break
                pos = n
                break
            c = b[p]
            if c == b'\n':
                pos = p + 1
                lineno += 1
                continue
            if c == b'\r':
                if p + 1 < n and b[p + 1] == b'\n':
                    pos = p + 2
                    lineno += 1
                    continue
                if p + 1 == n:
                    if not final:
                        break
                    pos = n
                    break
            if c == b'#':
                r = _parse_comment(S, p)
            else:
                r = _parse_point(S, p)
            if r == 0:
                if not S.terminated and not final:
                    break
                if c != b'#':
                    if rows:
                        self.emit_row(ls, lineno, out)
                    else:
                        self.emit_point(out)
                pos = S.end
                lineno += S.nl
                continue
            if S.err == E_NOMEM:
                raise MemoryError()
            if S.err == E_STR_UNTERM and not final:
                break
            _skip_bad_line(S, ls)
            if not S.terminated and not final:
                break
            self.errors.append(_line_error(S, ls, lineno, S.err_pos, _message(S)))
            pos = S.end
            lineno += S.nl
        self.consumed = pos
        if pos > 0 and b[pos - 1] != b'\n':
            lineno += 1
        self.lineno = lineno
        return 0

    cdef int emit_point(self, list out) except -1:
        cdef PState* S = &self.S
        cdef cbuf b = S.b
        cdef Py_ssize_t i
        cdef TagTok* t
        cdef FieldTok* f
        cdef Point pt
        cdef object tags = PyDict_New()
        cdef object fields = PyDict_New()
        for i in range(S.ntags):
            t = &S.tags[i]
            PyDict_SetItem(tags, _tok_str(b, t.ks, t.ke, t.kflags), _tok_str(b, t.vs, t.ve, t.vflags))
        for i in range(S.nfields):
            f = &S.fields[i]
            PyDict_SetItem(fields, _tok_str(b, f.ks, f.ke, f.kflags), _field_value(S, f, &self.sbuf))
        pt = Point.__new__(Point)
        pt._name = _meas_str(S)
        pt._tags = tags
        pt._fields = fields
        if S.has_time:
            pt._time = PyLong_FromLongLong(S.time)
        else:
            pt._time = self.default_time
        PyObject_GC_UnTrack(<void*>pt)
        PyList_Append(out, pt)
        return 0

    cdef object othertags(self):
        """JSON of the tags without a column of their own (sorted, compact)."""
        cdef PState* S = &self.S
        cdef cbuf b = S.b
        cdef Py_ssize_t i, k = 0, j, need = 2
        cdef TagTok* t
        cdef OTag* o
        cdef OTag tmp
        cdef int flags = 0
        cdef Buf* J = &self.jbuf
        cdef Buf* O = &self.obuf
        J.n = 0
        if S.ntags > self.cotags:
            o = <OTag*>realloc(self.otags, S.ntags * sizeof(OTag))
            if o == NULL:
                raise MemoryError()
            self.otags = o
            self.cotags = S.ntags
        for i in range(S.ntags):
            t = &S.tags[i]
            if T_CLUSTER <= t.ident <= T_STYPEID:
                continue
            o = &self.otags[k]
            k += 1
            flags |= t.kflags | t.vflags
            if t.kflags & TK_ESC:
                _buf_reserve(J, t.ke - t.ks)
                o.ko = J.n
                o.kn = _unescape_key(b + t.ks, t.ke - t.ks, J.p + J.n, False)
                J.n += o.kn
            else:
                o.ko = -1
                o.kp = b + t.ks
                o.kn = t.ke - t.ks
            if t.vflags & TK_ESC:
                _buf_reserve(J, t.ve - t.vs)
                o.vo = J.n
                o.vn = _unescape_key(b + t.vs, t.ve - t.vs, J.p + J.n, False)
                J.n += o.vn
            else:
                o.vo = -1
                o.vp = b + t.vs
                o.vn = t.ve - t.vs
            need += 2 * (o.kn + o.vn) + 6
        for i in range(k):
            o = &self.otags[i]
            if o.ko >= 0:
                o.kp = J.p + o.ko
            if o.vo >= 0:
                o.vp = J.p + o.vo
        if k > 1:
            if k <= 8:
                for i in range(1, k):
                    tmp = self.otags[i]
                    j = i - 1
                    while j >= 0 and _otag_cmp(&self.otags[j], &tmp) > 0:
                        self.otags[j + 1] = self.otags[j]
                        j -= 1
                    self.otags[j + 1] = tmp
            else:
                qsort(self.otags, k, sizeof(OTag), _otag_cmp)
        O.n = 0
        _buf_reserve(O, need)
        O.p[O.n] = b'{'
        O.n += 1
        for i in range(k):
            o = &self.otags[i]
            if i:
                O.p[O.n] = b','
                O.n += 1
            O.p[O.n] = b'"'
            O.n += 1
            _json_put(O, o.kp, o.kn)
            memcpy(O.p + O.n, b'":"', 3)
            O.n += 3
            _json_put(O, o.vp, o.vn)
            O.p[O.n] = b'"'
            O.n += 1
        O.p[O.n] = b'}'
        O.n += 1
        return _cached_json(O.p, O.n, flags)

    cdef int emit_row(self, Py_ssize_t ls, Py_ssize_t lineno, list out) except -1:
        cdef PState* S = &self.S
        cdef cbuf b = S.b
        cdef Py_ssize_t i
        cdef int kind = K_NONE
        cdef FieldTok* f = NULL
        cdef TagTok* t
        cdef Py_ssize_t idx[9]
        cdef object cl, row, v, key
        cdef list lst
        cdef int64_t sec
        for i in range(S.nfields):
            if S.fields[i].kind:
                kind = S.fields[i].kind
                break
        if kind == K_NONE:
            self.errors.append(_line_error(S, ls, lineno, S.ms, _MSG_NOT_CC))
            return 0
        i = S.nfields - 1
        while S.fields[i].kind != kind:
            i -= 1
        f = &S.fields[i]
        if kind == K_METRIC:
            self.n_metric += 1
            return 0
        if kind == K_CONTROL:
            self.n_control += 1
            return 0
        if f.ftype != F_STR:
            self.errors.append(_line_error(S, ls, lineno, S.ms,
                                           _MSG_EVENT_STR if kind == K_EVENT else _MSG_LOG_STR))
            return 0
        for i in range(9):
            idx[i] = -1
        for i in range(S.ntags):
            idx[S.tags[i].ident] = i
        if idx[T_CLUSTER] >= 0:
            t = &S.tags[idx[T_CLUSTER]]
            cl = _tok_str(b, t.vs, t.ve, t.vflags)
        else:
            cl = self.cluster
            if not cl:
                self.errors.append(_line_error(S, ls, lineno, S.ms, _MSG_NO_CLUSTER))
                return 0
        row = PyTuple_New(11)
        v = PyLong_FromLongLong(S.time) if S.has_time else self.default_time
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 0, <PyObject*>v)
        if S.has_time:
            sec = S.time // 1000000000
            if S.time % 1000000000 < 0:
                sec -= 1
            if sec != self.last_sec or self.last_sec_obj is None:
                self.last_sec = sec
                self.last_sec_obj = PyLong_FromLongLong(sec)
            v = self.last_sec_obj
        else:
            v = self.default_time // 1000000000
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 1, <PyObject*>v)
        v = _meas_str(S)
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 2, <PyObject*>v)
        for i in range(T_HOSTNAME, T_STYPEID + 1):
            if idx[i] >= 0:
                t = &S.tags[idx[i]]
                v = _tok_str(b, t.vs, t.ve, t.vflags)
            else:
                v = None
            Py_INCREF(v)
            PyTuple_SET_ITEM(row, i + 1, <PyObject*>v)
        v = self.othertags()
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 8, <PyObject*>v)
        v = _str_value(S, f, &self.sbuf)
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 9, <PyObject*>v)
        i = idx[T_LOGLEVEL] if kind == K_LOG else idx[T_FUNCTION]
        if i >= 0:
            t = &S.tags[i]
            v = _tok_str(b, t.vs, t.ve, t.vflags)
        else:
            v = None
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 10, <PyObject*>v)
        PyObject_GC_UnTrack(<void*>row)
        if kind == self.last_kind and cl is self.last_cluster:
            lst = self.last_list
        else:
            key = (cl, "event" if kind == K_EVENT else "log")
            lst = self.groups.get(key)
            if lst is None:
                lst = []
                self.groups[key] = lst
            self.last_kind = kind
            self.last_cluster = cl
            self.last_list = lst
        PyList_Append(lst, row)
        return 0


_MSG_NOT_CC = str(_messages.MessageError(
    "not a ClusterCockpit message: expected a field named event, log, value or control"))
_MSG_EVENT_STR = 'field "event" must be a string'
_MSG_LOG_STR = 'field "log" must be a string'
_MSG_NO_CLUSTER = "no cluster: the line has no cluster tag and none was given"


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------
def decode(data, *, precision="ns", default_time=None):
    """Decode line protocol into ``(points, errors)``."""
    cdef int prec = _precision_code(precision)
    cdef _Decoder d = _Decoder()
    cdef list points = []
    d.run(data, prec, _default_time(default_time), False, None, True, 1, points)
    return points, d.errors


def decode_rows(data, *, precision="auto", default_time=None, cluster=None, final=True, lineno=1):
    """Decode line protocol straight into storage rows (a :class:`RowBatch`)."""
    cdef int prec = _precision_code(precision)
    cdef _Decoder d = _Decoder()
    cdef dict dropped = {}
    d.run(data, prec, _default_time(default_time), True, cluster, bool(final), lineno, None)
    if d.n_metric:
        dropped["metric"] = d.n_metric
    if d.n_control:
        dropped["control"] = d.n_control
    return RowBatch(d.groups, d.errors, dropped, d.consumed, d.lineno - d.lineno0)
