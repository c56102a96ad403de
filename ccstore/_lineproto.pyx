# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Compiled line-protocol core.

The pure-Python module ``ccstore._pylineproto`` is the reference: this module
implements the same functions with the same results on every input (points,
errors with line, column, message and text, storage rows, consumed bytes and
line counts), only faster.  ``tests/lineproto/test_codec_differential.py`` and
``benchmarks/fuzz_differential.py`` compare the two.

How a line is decoded:

- one *optimistic* pass parses the line, taking the first newline outside a
  string value as its end.  Nearly every line passes it.  A line that fails
  it is *framed* exactly as the twin does (``_frame``: byte level, independent
  of validity), parsed again up to the end of its content, and the twin's
  UTF-8 rule applied (the first invalid byte wins when it comes no later than
  the syntax error), so the error (position and message) is the twin's;
- scanning uses a ``const unsigned char *`` and SSE2 (else 8 bytes at a time)
  to find the bytes that matter; UTF-8 is validated only when a byte >= 0x80
  occurs; numbers are parsed in place (eight digits at a time; floats through
  Clinger's exact fast path, else Python's own correctly rounded conversion).

Why it is fast:

- each token position (measurement, i-th tag key/value, field key) remembers
  the previous line's bytes and str, and ASCII tokens go through a small
  4-way cache (hash -> str, verified against the str's bytes), so the few
  distinct names of a stream are decoded once;
- :func:`decode_rows` builds the storage row tuples straight from the scanned
  spans: no :class:`Point`, no per-line dict.  ``othertags`` JSON strings are
  cached too (by the identities of the key and value strs when a line has
  one such tag, else by the JSON bytes);
- rows and the :class:`Point` objects made by :func:`decode` hold only
  str/int/float/bool (and dicts of them), which cannot form reference cycles,
  so they are untracked by the cyclic garbage collector, and the result lists
  are untracked while they are filled: a large batch costs the collector
  nothing.  The lists are tracked again before they are returned.

The caches are module globals; they are only touched with the GIL held and
never hand out references that a nested call could invalidate.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.string cimport memcpy, memcmp, memchr, memset
from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, int8_t, uint8_t
from libc.math cimport isinf

import re as _re
import time as _time
from operator import index as _index

from ccstore.rows import LineError, RowBatch
from ccstore import rows as _rows
from ccstore import _pylineproto
from ccstore._lpspec import I64_MAX, I64_MIN, MESSAGES, NAME_LIMIT, PRECISIONS, TEXT_LIMIT, U64_MAX
from ccstore._pylineproto import _COPY_SIGNATURE as _COPY_HEADER

__all__ = ["Point", "LineError", "RowBatch", "decode", "decode_rows", "encode", "group_by_host",
           "copy_binary", "syslog_chunk", "PRECISIONS", "MESSAGES"]

cdef dict _MESSAGES = MESSAGES
cdef dict _PRECISIONS = PRECISIONS
cdef Py_ssize_t _NAME_LIMIT = NAME_LIMIT
cdef Py_ssize_t _TEXT_LIMIT = TEXT_LIMIT
cdef str _MSG_UTF8 = MESSAGES["utf8"]
cdef object _I64_MIN = I64_MIN
cdef object _I64_MAX = I64_MAX
cdef object _U64_MAX = U64_MAX
cdef int64_t DAY_NS = 86400 * <int64_t>1000000000
_KEY_UNESC = _re.compile(rb"\\([ ,=])")

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
    PyObject* _PyLong_FromLL "PyLong_FromLongLong"(long long v)
    object PyLong_FromUnsignedLongLong(unsigned long long v)
    object PyFloat_FromDouble(double v)
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t n)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)
    object PyTuple_New(Py_ssize_t n)
    void PyTuple_SET_ITEM(object t, Py_ssize_t i, PyObject* o)
    object PyList_New(Py_ssize_t n)
    PyObject* PyList_GET_ITEM(object l, Py_ssize_t i)
    void PyList_SET_ITEM(object l, Py_ssize_t i, PyObject* o)
    Py_ssize_t PyLong_AsSsize_t(object o) except? -1
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    Py_ssize_t PyTuple_GET_SIZE(object t)
    PyObject* PyTuple_GET_ITEM(object t, Py_ssize_t i)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    bint PyLong_Check(object o)
    bint PyUnicode_Check(object o)
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
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif

    #define LP_ONES  0x0101010101010101ULL
    #define LP_HIGHS 0x8080808080808080ULL

    static inline uint64_t lp_has_byte(uint64_t x, unsigned c) {
        uint64_t y = x ^ (LP_ONES * (uint64_t)c);
        return (y - LP_ONES) & ~y & LP_HIGHS;
    }

    /* First byte in [p, e) that is '"', '\\\\', '\\n' or >= 0x80 (else e). */
    static inline const unsigned char *lp_scan_str(const unsigned char *p, const unsigned char *e) {
    #if defined(__SSE2__)
        const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8(0x5C), nl = _mm_set1_epi8(0x0A);
        while (e - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i t = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                                     _mm_cmpeq_epi8(x, nl));
            unsigned m = (unsigned)(_mm_movemask_epi8(t) | _mm_movemask_epi8(x));
            if (m) return p + __builtin_ctz(m);
            p += 16;
        }
    #endif
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

    /* First byte in [p, e) that is '"', '\\\\' or '\\n' (else e). */
    static inline const unsigned char *lp_scan_str_lo(const unsigned char *p, const unsigned char *e) {
    #if defined(__SSE2__)
        const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8(0x5C), nl = _mm_set1_epi8(0x0A);
        while (e - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i t = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                                     _mm_cmpeq_epi8(x, nl));
            unsigned m = (unsigned)_mm_movemask_epi8(t);
            if (m) return p + __builtin_ctz(m);
            p += 16;
        }
    #endif
        while (p < e) {
            unsigned char c = *p;
            if (c == '"' || c == 0x5C || c == 0x0A) return p;
            p++;
        }
        return e;
    }

    /* First byte in [p, e) that is >= 0x80 (else e). */
    static inline const unsigned char *lp_scan_high(const unsigned char *p, const unsigned char *e) {
    #if defined(__SSE2__)
        while (e - p >= 16) {
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p));
            if (m) return p + __builtin_ctz(m);
            p += 16;
        }
    #endif
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

    /* Hash of n bytes; only loads inside [p, p+n), no byte-wise stack copies. */
    static inline uint64_t lp_hash(const unsigned char *p, Py_ssize_t n) {
        uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0x2545F4914F6CDD1DULL);
        uint64_t a;
        if (n >= 8) {
            const unsigned char *e = p + n;
            while (e - p > 8) {
                memcpy(&a, p, 8);
                h = (h ^ a) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
                p += 8;
            }
            memcpy(&a, e - 8, 8);
            h = (h ^ a) * 0xc4ceb9fe1a85ec53ULL;
        } else if (n >= 4) {
            uint32_t x, y;
            memcpy(&x, p, 4);
            memcpy(&y, p + n - 4, 4);
            h = (h ^ (((uint64_t)x << 32) | y)) * 0xc4ceb9fe1a85ec53ULL;
        } else if (n > 0) {
            a = (uint64_t)p[0] | ((uint64_t)p[n >> 1] << 8) | ((uint64_t)p[n - 1] << 16);
            h = (h ^ a) * 0xc4ceb9fe1a85ec53ULL;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
        return h;
    }

    /* a[0:n] == b[0:n] without a library call for short keys. */
    static inline int lp_eq(const unsigned char *a, const unsigned char *b, Py_ssize_t n) {
        uint64_t x, y, u, v;
        if (n >= 8) {
            if (n > 16) return memcmp(a, b, (size_t)n) == 0;
            memcpy(&x, a, 8); memcpy(&y, b, 8);
            memcpy(&u, a + n - 8, 8); memcpy(&v, b + n - 8, 8);
            return ((x ^ y) | (u ^ v)) == 0;
        }
        if (n >= 4) {
            uint32_t p, q, r, s;
            memcpy(&p, a, 4); memcpy(&q, b, 4);
            memcpy(&r, a + n - 4, 4); memcpy(&s, b + n - 4, 4);
            return ((p ^ q) | (r ^ s)) == 0;
        }
        if (n == 0) return 1;
        return a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1];
    }

    /* First byte in [p, e) that can end or complicate a key token: control
       bytes, DEL, bytes >= 0x80, ',', ' ', '\\' and (tags only) '='. */
    static inline const unsigned char *lp_scan_key(const unsigned char *p, const unsigned char *e, int tag) {
    #if defined(__SSE2__)
        const __m128i sp = _mm_set1_epi8(' '), cm = _mm_set1_epi8(','), bs = _mm_set1_epi8(0x5C);
        const __m128i eq = _mm_set1_epi8(tag ? '=' : ','), del = _mm_set1_epi8(0x7F), lo = _mm_set1_epi8(0x20);
        while (e - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            /* signed compare: bytes < 0x20 and bytes >= 0x80 */
            __m128i t = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, lo), _mm_cmpeq_epi8(x, del)),
                                     _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, cm)),
                                                  _mm_or_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(x, eq))));
            unsigned m = (unsigned)_mm_movemask_epi8(t);
            if (m) return p + __builtin_ctz(m);
            p += 16;
        }
    #endif
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        while (e - p >= 8) {
            uint64_t x, m;
            memcpy(&x, p, 8);
            m = ((x - LP_ONES * 0x20) & ~x & LP_HIGHS) | (x & LP_HIGHS)
                | lp_has_byte(x, ',') | lp_has_byte(x, ' ') | lp_has_byte(x, '\\\\')
                | lp_has_byte(x, 0x7F);
            if (tag) m |= lp_has_byte(x, '=');
            if (m) return p + (__builtin_ctzll(m) >> 3);
            p += 8;
        }
    #endif
        while (p < e) {
            unsigned char c = *p;
            if (c < 0x20 || c >= 0x7F || c == ',' || c == ' ' || c == '\\\\' || (tag && c == '=')) return p;
            p++;
        }
        return e;
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

    /* Decimal digits from p: returns the first non-digit (or e); *out gets the
       value, *ovf is set when it does not fit in 64 bits. */
    static inline const unsigned char *lp_digits(const unsigned char *p, const unsigned char *e,
                                                 uint64_t *out, int *ovf) {
        uint64_t v = 0, t;
        int of = 0;
        while (e - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            if (((x & 0xF0F0F0F0F0F0F0F0ULL) | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))
                    != 0x3333333333333333ULL)
                break;
            x = (x & 0x0F0F0F0F0F0F0F0FULL) * 2561 >> 8;
            x = (x & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;
            t = (x & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32;
            if (__builtin_mul_overflow(v, (uint64_t)100000000, &v) || __builtin_add_overflow(v, t, &v))
                of = 1;
            p += 8;
    #else
            break;
    #endif
        }
        while (p < e) {
            unsigned d = (unsigned)p[0] - 48u;
            if (d > 9) break;
            if (__builtin_mul_overflow(v, (uint64_t)10, &v) || __builtin_add_overflow(v, (uint64_t)d, &v))
                of = 1;
            p++;
        }
        *out = v;
        *ovf = of;
        return p;
    }

    /* First byte in [p, e) where strict UTF-8 decoding fails (else e). */
    static inline const unsigned char *lp_utf8_invalid(const unsigned char *p, const unsigned char *e) {
        for (;;) {
            int k;
            p = lp_scan_high(p, e);
            if (p >= e) return e;
            k = lp_utf8_seq(p, e);
            if (!k) return p;
            p += k;
        }
    }

    static inline void lp_prefetch(const unsigned char *p) {
    #if defined(__GNUC__)
        __builtin_prefetch(p, 0, 0);
    #endif
    }

    static inline int lp_mul_overflow(int64_t a, int64_t b, int64_t *r) {
        return __builtin_mul_overflow(a, b, r);
    }
    """
    const unsigned char* lp_scan_str(const unsigned char* p, const unsigned char* e)
    const unsigned char* lp_scan_high(const unsigned char* p, const unsigned char* e)
    const unsigned char* lp_scan_str_lo(const unsigned char* p, const unsigned char* e)
    const unsigned char* lp_utf8_invalid(const unsigned char* p, const unsigned char* e)
    uint64_t lp_hash(const unsigned char* p, Py_ssize_t n)
    bint lp_eq(const unsigned char* a, const unsigned char* b, Py_ssize_t n)
    const unsigned char* lp_scan_key(const unsigned char* p, const unsigned char* e, int tag)
    int lp_utf8_seq(const unsigned char* p, const unsigned char* e)
    int lp_mul_overflow(int64_t a, int64_t b, int64_t* r)
    void lp_prefetch(const unsigned char* p)
    const unsigned char* lp_digits(const unsigned char* p, const unsigned char* e, uint64_t* out, int* ovf)

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
    Py_ssize_t nesc             # escape pairs in a string value
    int64_t ival
    uint64_t uval
    double dval

cdef struct PState:
    cbuf b
    Py_ssize_t n
    int64_t mult            # nanoseconds per timestamp unit, 0 for "auto"
    # the line being parsed
    Py_ssize_t e            # bound: end of the line's content, or n when optimistic
    int opt                 # optimistic: the line ends at the first newline outside strings
    int hi                  # a byte >= 0x80 occurred in the line
    Py_ssize_t nl           # newlines inside string values
    Py_ssize_t ms, me
    int mflags
    TagTok* tags
    Py_ssize_t ntags, ctags
    FieldTok* fields
    Py_ssize_t nfields, cfields
    int has_time
    int64_t time
    Py_ssize_t cend         # where the content of a parsed line ended
    # error
    int err
    Py_ssize_t err_pos
    Py_ssize_t ea, eb       # the key named in the message (raw span)
    int eflags
    int ebyte               # the byte of a non-printable error
    int epart               # the part of a non-printable error
    # scratch for unescaped keys (duplicate detection)
    unsigned char* arena
    Py_ssize_t arena_len, arena_cap
    # hash index of tag keys for lines with many tags
    int32_t* hidx
    Py_ssize_t hcap
    int hline               # the index holds the current line's tags

# error codes (keys of the twin's MESSAGES)
cdef enum:
    E_OK = 0
    E_NONPRINT
    E_UTF8
    E_NO_MEAS
    E_EMPTY_TAG_KEY
    E_DUP_TAG
    E_TAG_EQ
    E_TAG_VALUE_EQ
    E_EMPTY_TAG_VALUE
    E_NO_FIELDS
    E_EMPTY_FIELD_KEY
    E_FIELD_EQ
    E_NO_VALUE
    E_UNTERM
    E_AFTER_STRING
    E_BAD_INT
    E_INT_RANGE
    E_BAD_UINT
    E_UINT_RANGE
    E_BAD_FLOAT
    E_FLOAT_RANGE
    E_BAD_VALUE
    E_BAD_TIME
    E_TIME_RANGE
    E_AFTER_TIME
    E_NOMEM

# parts named by "non-printable character" errors
cdef enum:
    PART_MEAS = 0
    PART_TKEY
    PART_TVAL
    PART_FKEY
    PART_COMMENT
    PART_FVAL
    PART_TIME

_PARTS = ("measurement", "tag key", "tag value", "field key", "comment", "field value",
          "timestamp")
_ERROR_KEYS = (None, "nonprintable", "utf8", "no_measurement", "empty_tag_key", "dup_tag",
               "tag_eq", "tag_value_eq", "empty_tag_value", "no_fields", "empty_field_key",
               "field_eq", "no_value", "unterminated", "after_string", "bad_int", "int_range",
               "bad_uint", "uint_range", "bad_float", "float_range", "bad_value", "bad_time",
               "time_range", "after_time")


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


cdef inline int _error_key(PState* S, int code, Py_ssize_t pos, Py_ssize_t a, Py_ssize_t b,
                           int flags) noexcept:
    S.err = code
    S.err_pos = pos
    S.ea = a
    S.eb = b
    S.eflags = flags
    return -1


cdef inline bint _end(PState* S, Py_ssize_t p) noexcept:
    """Is p at the end of the line's content?

    Precise mode: p reached the bound.  Optimistic mode (bound = end of input):
    also a newline, or a carriage return before a newline or the end.
    """
    cdef cbuf b
    if p >= S.e:
        return True
    if S.opt:
        b = S.b
        if b[p] == b'\n':
            return True
        if b[p] == b'\r' and (p + 1 >= S.n or b[p + 1] == b'\n'):
            return True
    return False


cdef inline Py_ssize_t _scan_tok(PState* S, Py_ssize_t p, int* flags, int tag) noexcept:
    """End of a measurement (tag=0) or tag key/value/field key token (tag=1).

    The token stops at an unescaped delimiter (',' ' ', and '=' for tag=1), a
    control byte or DEL, or the bound.  A backslash before an escapable byte
    is an escape, any other backslash is literal.
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t e = S.e
    cdef unsigned char c, d
    while True:
        p = lp_scan_key(b + p, b + e, tag) - b
        if p >= e:
            return p
        c = b[p]
        if c == b'\\':
            if p + 1 < e:
                d = b[p + 1]
                if d == b',' or d == b' ' or (tag and d == b'='):
                    flags[0] |= TK_ESC
                    p += 2
                    continue
            p += 1
            continue
        if c >= 0x80:
            flags[0] |= TK_HIGH
            p += 1
            while p < e and b[p] >= 0x80:
                p += 1
            continue
        return p


cdef inline int _check_ctrl(PState* S, Py_ssize_t j, int part) noexcept:
    """A token stopped at j: a control byte there (not the line end) is an error."""
    cdef unsigned char c
    if j >= S.e:
        return 0
    c = S.b[j]
    if (c < 0x20 or c == 0x7F) and not _end(S, j):
        S.err = E_NONPRINT
        S.err_pos = j
        S.ebyte = c
        S.epart = part
        return -1
    return 0


cdef inline int _no_ctrl(PState* S, Py_ssize_t i, Py_ssize_t j, int part) noexcept:
    """A control byte or DEL in [i, j) is an error at the first one."""
    cdef cbuf b = S.b
    cdef unsigned char c
    while i < j:
        c = b[i]
        if c < 0x20 or c == 0x7F:
            S.err = E_NONPRINT
            S.err_pos = i
            S.ebyte = c
            S.epart = part
            return -1
        i += 1
    return 0


cdef inline Py_ssize_t _str_close(PState* S, Py_ssize_t p, Py_ssize_t e, int* flags,
                                 Py_ssize_t* nesc) noexcept:
    """Index of the quote closing a string whose body starts at p, or -1.

    A backslash always pairs with the byte after it (so ``\\"`` never closes);
    newlines inside are counted in S.nl.
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t q
    cdef unsigned char c, d
    while True:
        if flags[0] & TK_HIGH:
            q = lp_scan_str_lo(b + p, b + e) - b
        else:
            q = lp_scan_str(b + p, b + e) - b
        if q >= e:
            return -1
        c = b[q]
        if c == b'"':
            return q
        if c == b'\\':
            if q + 1 >= e:
                return -1
            d = b[q + 1]
            if d == b'"' or d == b'\\' or d == b'n' or d == b'r' or d == b't':
                flags[0] |= TK_ESC
                nesc[0] += 1
            elif d == b'\n':
                S.nl += 1
            elif d >= 0x80:
                flags[0] |= TK_HIGH
            p = q + 2
            continue
        if c == b'\n':
            S.nl += 1
            p = q + 1
            continue
        flags[0] |= TK_HIGH
        p = q + 1


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
        if on == kn and lp_eq(op, kp, kn):
            return j
        slot = (slot + 1) & mask


cdef int _hidx_rebuild(PState* S, Py_ssize_t need) noexcept:
    """(Re)build the hash index of the current line's tags 0..ntags-2 with a
    power-of-two capacity of at least ``need``."""
    cdef Py_ssize_t i, cap = 64
    while cap < need:
        cap *= 2
    if cap != S.hcap:
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
    S.hline = 1
    return 0


cdef int _check_dup_tag(PState* S) noexcept:
    """Does the last tag's key (escapes removed) equal an earlier one?
    1 yes, 0 no, -1 no memory."""
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
        t.ckn = t.ke - t.ks
    if i < 16:
        kn = t.ckn
        kp = S.b + t.ks if t.cko < 0 else S.arena + t.cko
        for j in range(i):
            if S.tags[j].ckn == kn:
                _tag_ckey(S, &S.tags[j], &op, &on)
                if lp_eq(op, kp, kn):
                    return 1
        return 0
    if not S.hline or S.hcap < 2 * (i + 1):
        # first use on this line, or half full: rebuild (sized to this line)
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


cdef double _POW10[23]


cdef void _init_pow10() noexcept:
    cdef int i
    _POW10[0] = 1.0
    for i in range(1, 23):
        _POW10[i] = _POW10[i - 1] * 10.0   # exact up to 1e22


_init_pow10()


cdef int _parse_float(PState* S, FieldTok* f, Py_ssize_t s, Py_ssize_t e) noexcept:
    """-?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)? into f.dval.

    0 ok, -1 not that syntax, -2 out of range (infinite), -3 no memory.
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t p = s
    cdef Py_ssize_t nd = 0, nf = 0, ne = 0
    cdef bint neg = False, eneg = False
    cdef uint64_t w = 0
    cdef int64_t ex = 0
    cdef int sig = 0
    cdef unsigned d
    cdef char tmp[80]
    cdef char* buf
    cdef char* endp
    cdef Py_ssize_t n = e - s
    cdef double v
    if p < e and b[p] == b'-':
        neg = True
        p += 1
    while p < e:
        d = <unsigned>b[p] - 48u
        if d > 9:
            break
        if w or d:
            sig += 1
        if sig <= 19:
            w = w * 10 + d
        else:
            ex += 1
        p += 1
        nd += 1
    if p < e and b[p] == b'.':
        p += 1
        while p < e:
            d = <unsigned>b[p] - 48u
            if d > 9:
                break
            if w or d:
                sig += 1
            if sig <= 19:
                w = w * 10 + d
                ex -= 1
            p += 1
            nf += 1
    if nd == 0 and nf == 0:
        return -1
    if p < e and (b[p] == b'e' or b[p] == b'E'):
        p += 1
        if p < e and (b[p] == b'+' or b[p] == b'-'):
            eneg = b[p] == b'-'
            p += 1
        while p < e:
            d = <unsigned>b[p] - 48u
            if d > 9:
                break
            if ne < 100000:
                ne = ne * 10 + d
            p += 1
            nd = -1
        if nd != -1:
            return -1
        ex += -ne if eneg else ne
    if p != e:
        return -1
    # Clinger's fast path: an exact integer times/over an exact power of ten
    # is correctly rounded by one IEEE operation
    if sig <= 19 and w <= 9007199254740992ULL and -22 <= ex <= 22:
        v = <double>w
        if ex >= 0:
            v = v * _POW10[ex]
        else:
            v = v / _POW10[-ex]
        f.dval = -v if neg else v
        return 0
    # the general case: Python's own correctly rounded conversion
    if n < 80:
        memcpy(tmp, b + s, n)
        tmp[n] = 0
        buf = tmp
    else:
        buf = <char*>malloc(n + 1)
        if buf == NULL:
            return -3
        memcpy(buf, b + s, n)
        buf[n] = 0
    v = PyOS_string_to_double(buf, &endp, NULL)
    if buf != tmp:
        free(buf)
    if v == -1.0 and PyErr_Occurred() != NULL:
        PyErr_Clear()
        return -3
    if isinf(v):
        return -2
    f.dval = v
    return 0


cdef inline int _parse_digits(cbuf p, cbuf e, uint64_t* out) noexcept:
    """Decimal digits [p, e) into out; 0 ok, -1 not all digits / empty, -2 overflow."""
    cdef int ovf
    if p >= e:
        return -1
    if lp_digits(p, e, out, &ovf) != e:
        return -1
    return -2 if ovf else 0


cdef int _parse_time(PState* S, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Timestamp token [s, e): -?[0-9]+, scaled to nanoseconds."""
    cdef cbuf b = S.b
    cdef bint neg = False
    cdef uint64_t mag
    cdef int r
    cdef int64_t v, mult, res
    if s < e and b[s] == b'-':
        neg = True
        r = _parse_digits(b + s + 1, b + e, &mag)
    else:
        r = _parse_digits(b + s, b + e, &mag)
    if r == -1:
        return _error(S, E_BAD_TIME, s)
    if r == -2 or mag > (9223372036854775808ULL if neg else 9223372036854775807ULL):
        return _error(S, E_TIME_RANGE, s)
    mult = S.mult
    if mult == 0:
        if mag < 100000000000ULL:
            mult = 1000000000
        elif mag < 100000000000000ULL:
            mult = 1000000
        elif mag < 100000000000000000ULL:
            mult = 1000
        else:
            mult = 1
    if neg:
        v = <int64_t>(0 - mag)
    else:
        v = <int64_t>mag
    if mult == 1:
        S.time = v
    else:
        if lp_mul_overflow(v, mult, &res):
            return _error(S, E_TIME_RANGE, s)
        S.time = res
    S.has_time = 1
    return 0


cdef int _parse_bare(PState* S, FieldTok* f, Py_ssize_t s, Py_ssize_t e) noexcept:
    """An unquoted field value [s, e): number or boolean; errors at s."""
    cdef cbuf b = S.b
    cdef Py_ssize_t n = e - s
    cdef unsigned char c = b[s]
    cdef unsigned char last
    cdef uint64_t mag
    cdef int r
    if not (c == b'-' or c == b'.' or (c >= b'0' and c <= b'9')):
        f.ftype = F_BOOL
        if n == 1:
            if c == b't' or c == b'T':
                f.ival = 1
                return 0
            if c == b'f' or c == b'F':
                f.ival = 0
                return 0
        elif n == 4:
            if (memcmp(b + s, b"true", 4) == 0 or memcmp(b + s, b"True", 4) == 0
                    or memcmp(b + s, b"TRUE", 4) == 0):
                f.ival = 1
                return 0
        elif n == 5:
            if (memcmp(b + s, b"false", 5) == 0 or memcmp(b + s, b"False", 5) == 0
                    or memcmp(b + s, b"FALSE", 5) == 0):
                f.ival = 0
                return 0
        return _error_key(S, E_BAD_VALUE, s, f.ks, f.ke, f.kflags)
    last = b[e - 1]
    if last == b'i':
        f.ftype = F_INT
        if c == b'-':
            r = _parse_digits(b + s + 1, b + e - 1, &mag)
        else:
            r = _parse_digits(b + s, b + e - 1, &mag)
        if r == -1:
            return _error_key(S, E_BAD_INT, s, f.ks, f.ke, f.kflags)
        if r == -2 or mag > (9223372036854775808ULL if c == b'-' else 9223372036854775807ULL):
            return _error_key(S, E_INT_RANGE, s, f.ks, f.ke, f.kflags)
        f.ival = <int64_t>(0 - mag) if c == b'-' else <int64_t>mag
        return 0
    if last == b'u':
        f.ftype = F_UINT
        r = _parse_digits(b + s, b + e - 1, &mag)
        if r == -1:
            return _error_key(S, E_BAD_UINT, s, f.ks, f.ke, f.kflags)
        if r == -2:
            return _error_key(S, E_UINT_RANGE, s, f.ks, f.ke, f.kflags)
        f.uval = mag
        return 0
    f.ftype = F_FLOAT
    r = _parse_float(S, f, s, e)
    if r == 0:
        return 0
    if r == -1:
        return _error_key(S, E_BAD_FLOAT, s, f.ks, f.ke, f.kflags)
    if r == -2:
        return _error_key(S, E_FLOAT_RANGE, s, f.ks, f.ke, f.kflags)
    return _error(S, E_NOMEM, s)


cdef int _parse(PState* S, Py_ssize_t s) noexcept:
    """Parse one point whose measurement starts at s (mirrors the twin's _parse).

    The bound is S.e; in optimistic mode (S.opt) the line also ends at a
    newline outside string values.  Returns 0 (S filled, S.cend = end of the
    content) or -1 (S.err, S.err_pos).
    """
    cdef cbuf b = S.b
    cdef Py_ssize_t e = S.e
    cdef Py_ssize_t i, j, q
    cdef int fl, r, ovf
    cdef uint64_t mag
    cdef TagTok* t
    cdef FieldTok* f
    lp_prefetch(b + s + 256)
    S.ntags = 0
    S.nfields = 0
    S.has_time = 0
    S.arena_len = 0
    S.err = E_OK
    S.hi = 0
    S.nl = 0
    S.hline = 0

    # measurement
    fl = 0
    j = _scan_tok(S, s, &fl, 0)
    if _check_ctrl(S, j, PART_MEAS) < 0:
        return -1
    if j == s:
        return _error(S, E_NO_MEAS, s)
    S.ms = s
    S.me = j
    S.mflags = fl
    S.hi |= fl
    i = j

    # tags
    while i < e and b[i] == b',':
        i += 1
        if S.ntags == S.ctags and _grow_tags(S) < 0:
            return _error(S, E_NOMEM, i)
        t = &S.tags[S.ntags]
        fl = 0
        j = _scan_tok(S, i, &fl, 1)
        if _check_ctrl(S, j, PART_TKEY) < 0:
            return -1
        if j == i:
            return _error(S, E_EMPTY_TAG_KEY, i)
        t.ks = i
        t.ke = j
        t.kflags = fl
        S.hi |= fl
        S.ntags += 1
        r = _check_dup_tag(S)
        if r < 0:
            return _error(S, E_NOMEM, i)
        if r:
            return _error_key(S, E_DUP_TAG, i, i, j, fl)
        if j >= e or b[j] != b'=':
            return _error_key(S, E_TAG_EQ, j, i, j, fl)
        i = j + 1
        fl = 0
        j = _scan_tok(S, i, &fl, 1)
        if _check_ctrl(S, j, PART_TVAL) < 0:
            return -1
        if j < e and b[j] == b'=':
            return _error_key(S, E_TAG_VALUE_EQ, j, t.ks, t.ke, t.kflags)
        if j == i:
            return _error_key(S, E_EMPTY_TAG_VALUE, i, t.ks, t.ke, t.kflags)
        t.vs = i
        t.ve = j
        t.vflags = fl
        S.hi |= fl
        t.ident = T_OTHER if t.kflags & TK_ESC else _tag_ident(b + t.ks, t.ke - t.ks)
        i = j

    # here i is at a space or the end
    while i < e and b[i] == b' ':
        i += 1
    if _end(S, i):
        return _error(S, E_NO_FIELDS, i)

    # fields
    while True:
        if S.nfields == S.cfields and _grow_fields(S) < 0:
            return _error(S, E_NOMEM, i)
        f = &S.fields[S.nfields]
        fl = 0
        j = _scan_tok(S, i, &fl, 1)
        if _check_ctrl(S, j, PART_FKEY) < 0:
            return -1
        if j == i:
            return _error(S, E_EMPTY_FIELD_KEY, i)
        f.ks = i
        f.ke = j
        f.kflags = fl
        S.hi |= fl
        if j >= e or b[j] != b'=':
            return _error_key(S, E_FIELD_EQ, j, i, j, fl)
        f.kind = K_NONE if fl & TK_ESC else _field_kind(b + i, j - i)
        i = j + 1
        if i < e and b[i] == b'"':
            fl = 0
            f.nesc = 0
            q = _str_close(S, i + 1, e, &fl, &f.nesc)
            if q < 0:
                return _error_key(S, E_UNTERM, i, f.ks, f.ke, f.kflags)
            f.vs = i + 1
            f.ve = q
            f.vflags = fl
            f.ftype = F_STR
            S.hi |= fl
            i = q + 1
            if not _end(S, i) and b[i] != b',' and b[i] != b' ':
                return _error_key(S, E_AFTER_STRING, i, f.ks, f.ke, f.kflags)
        else:
            j = i
            while not _end(S, j) and b[j] != b',' and b[j] != b' ':
                j += 1
            if j == i:
                return _error_key(S, E_NO_VALUE, i, f.ks, f.ke, f.kflags)
            if _no_ctrl(S, i, j, PART_FVAL) < 0:
                return -1
            f.vs = i
            f.ve = j
            if _parse_bare(S, f, i, j) < 0:
                return -1
            i = j
        S.nfields += 1
        if i < e and b[i] == b',':
            i += 1
            continue
        break

    # timestamp
    while i < e and b[i] == b' ':
        i += 1
    if not _end(S, i):
        # skip the digits quickly, then find the token's end
        j = i + 1 if b[i] == b'-' else i
        j = lp_digits(b + j, b + e, &mag, &ovf) - b
        while not _end(S, j) and b[j] != b' ':
            j += 1
        if _no_ctrl(S, i, j, PART_TIME) < 0:
            return -1
        if _parse_time(S, i, j) < 0:
            return -1
        i = j
        while i < e and b[i] == b' ':
            i += 1
        if not _end(S, i):
            return _error(S, E_AFTER_TIME, i)
    S.cend = i
    return 0


cdef inline Py_ssize_t _unescaped_stop(cbuf b, Py_ssize_t i, Py_ssize_t n, bint fkey) noexcept:
    """First ' ' (and for field keys '=' ','), not directly after a backslash,
    or '\\n', at or after i; n if none."""
    cdef unsigned char c
    while i < n:
        c = b[i]
        if c == b'\n':
            return i
        if c == b' ' or (fkey and (c == b'=' or c == b',')):
            if i == 0 or b[i - 1] != b'\\':
                return i
        i += 1
    return n


cdef Py_ssize_t _frame(PState* S, Py_ssize_t s) noexcept:
    """Index of the newline that ends the logical line whose measurement starts
    at s, or -1 (the twin's _frame: byte level, independent of validity)."""
    cdef cbuf b = S.b
    cdef Py_ssize_t n = S.n
    cdef Py_ssize_t i, j, q
    cdef unsigned char c
    cdef int fl = 0
    cdef Py_ssize_t nesc = 0
    cdef cbuf r
    j = _unescaped_stop(b, s, n, False)
    if j >= n:
        return -1
    if b[j] == b'\n':
        return j
    i = j
    while i < n and b[i] == b' ':
        i += 1
    while i < n:
        j = _unescaped_stop(b, i, n, True)
        if j >= n:
            return -1
        c = b[j]
        if c == b',':
            i = j + 1
            continue
        if c != b'=':
            break
        i = j + 1
        if i < n and b[i] == b'"':
            q = _str_close(S, i + 1, n, &fl, &nesc)
            if q < 0:
                return -1
            i = q + 1
            if i < n and b[i] == b',':
                i += 1
                continue
            break
        while i < n and b[i] != b',' and b[i] != b' ' and b[i] != b'\n':
            i += 1
        if i >= n:
            return -1
        if b[i] == b',':
            i += 1
            continue
        break
    if i >= n:
        return -1
    r = <cbuf>memchr(b + i, b'\n', n - i)
    return -1 if r == NULL else r - b


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

DEF KEY_SIZE = 1024
DEF JSON_SIZE = 1024

cdef CEntry _key_cache[KEY_SIZE]
cdef JEntry* _json_cache = <JEntry*>malloc(JSON_SIZE * sizeof(JEntry))
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
    """The str of a key token with escapes or non-ASCII bytes, through a cache
    of raw bytes (direct-mapped)."""
    cdef uint64_t h
    cdef CEntry* e
    cdef object s
    if n > CACHE_RAW:
        return _key_str(p, n, flags, meas)
    h = lp_hash(p, n) ^ (<uint64_t>meas)
    e = &cache[h & <uint64_t>(size - 1)]
    if e.obj != NULL and e.h == h and e.n == n and lp_eq(e.raw, p, n):
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


# Plain tokens (ASCII, no escapes: nearly all of them) use a compact 4-way
# set-associative cache of (hash, str) pairs, one 64-byte line per set, whose
# hits are verified against the str's own bytes (the str is touched anyway).
cdef extern from *:
    """
    typedef struct { uint64_t h; PyObject *obj; } lp_fentry;
    #define LP_PLAIN_SETS 512
    static lp_fentry lp_plain[LP_PLAIN_SETS * 4] __attribute__((aligned(64)));

    /* Borrowed reference to the cached str of the ASCII token p[0:n], or NULL. */
    static inline PyObject *lp_plain_get(const unsigned char *p, Py_ssize_t n, uint64_t h) {
        lp_fentry *set = &lp_plain[(h & (LP_PLAIN_SETS - 1)) * 4];
        int w;
        for (w = 0; w < 4; w++) {
            PyObject *o = set[w].obj;
            if (set[w].h == h && o != NULL && PyUnicode_GET_LENGTH(o) == n
                    && lp_eq(PyUnicode_1BYTE_DATA(o), p, n)) {
                if (w) {  /* most recently used first */
                    lp_fentry t = set[w];
                    memmove(&set[1], &set[0], (size_t)w * sizeof(lp_fentry));
                    set[0] = t;
                }
                return o;
            }
        }
        return NULL;
    }

    /* Insert (steals the reference); the least recently used entry goes. */
    static inline void lp_plain_put(uint64_t h, PyObject *o) {
        lp_fentry *set = &lp_plain[(h & (LP_PLAIN_SETS - 1)) * 4];
        PyObject *old = set[3].obj;
        memmove(&set[1], &set[0], 3 * sizeof(lp_fentry));
        set[0].h = h;
        set[0].obj = o;
        Py_XDECREF(old);
    }
    """
    PyObject* lp_plain_get(const unsigned char* p, Py_ssize_t n, uint64_t h)
    void lp_plain_put(uint64_t h, PyObject* o)


cdef inline object _cached_plain(cbuf p, Py_ssize_t n):
    cdef uint64_t h = lp_hash(p, n)
    cdef PyObject* o = lp_plain_get(p, n, h)
    cdef object s
    if o != NULL:
        return <object>o
    s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, n)
    Py_INCREF(s)
    lp_plain_put(h, <PyObject*>s)
    return s


cdef inline object _meas_str(PState* S):
    if S.mflags == 0:
        return _cached_plain(S.b + S.ms, S.me - S.ms)
    return _cached_key(_key_cache, KEY_SIZE, S.b + S.ms, S.me - S.ms, S.mflags, True)


cdef inline object _tok_str(cbuf b, Py_ssize_t s, Py_ssize_t e, int flags):
    if flags == 0:
        return _cached_plain(b + s, e - s)
    return _cached_key(_key_cache, KEY_SIZE, b + s, e - s, flags, False)


# Per decode call, each token position (measurement, i-th tag key, i-th tag
# value, i-th field key) remembers the previous line's raw bytes and str: in a
# stream most tokens repeat the line before (cluster, type, tag keys, ...),
# which then costs one short compare against bytes still in L1.
cdef struct Memo:
    cbuf p
    Py_ssize_t n
    PyObject* obj

DEF MEMO_TAGS = 16
DEF MEMO_FIELDS = 8
DEF M_MEAS = 0
DEF M_TKEY = 1
DEF M_TVAL = 1 + MEMO_TAGS
DEF M_FKEY = 1 + 2 * MEMO_TAGS
DEF MEMO_N = 1 + 2 * MEMO_TAGS + MEMO_FIELDS


cdef inline PyObject* _memo_get(Memo* m, cbuf p, Py_ssize_t n, int flags, bint meas) except NULL:
    """Borrowed reference (owned by the memo slot) to the str of a token."""
    cdef object s
    cdef PyObject* old
    if m.obj != NULL and m.n == n and lp_eq(m.p, p, n):
        return m.obj
    if flags == 0:
        s = _cached_plain(p, n)
    else:
        s = _cached_key(_key_cache, KEY_SIZE, p, n, flags, meas)
    Py_INCREF(s)
    old = m.obj
    m.obj = <PyObject*>s
    m.p = p
    m.n = n
    if old != NULL:
        Py_DECREF(<object>old)
    return m.obj


cdef struct OEntry:
    PyObject* k
    PyObject* v
    PyObject* json

DEF OT_SIZE = 256
cdef OEntry _ot_cache[OT_SIZE]
memset(_ot_cache, 0, sizeof(_ot_cache))
_EMPTY_JSON = "{}"


cdef object _cached_json(cbuf p, Py_ssize_t n, int flags):
    cdef uint64_t h
    cdef JEntry* e
    cdef object s
    if n > JSON_RAW:
        return _make_str(p, n, flags)
    h = lp_hash(p, n)
    e = &_json_cache[h & <uint64_t>(JSON_SIZE - 1)]
    if e.obj != NULL and e.h == h and e.n == n and lp_eq(e.raw, p, n):
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


cdef Py_ssize_t _unescape_str(cbuf p, Py_ssize_t n, unsigned char* dst) noexcept:
    """Copy a string value's body, decoding \\" \\\\ \\n \\r \\t pairwise from the left
    (any other backslash stays); returns the new length."""
    cdef Py_ssize_t i = 0, j = 0, k
    cdef cbuf q
    cdef unsigned char d
    while True:
        q = <cbuf>memchr(p + i, b'\\', n - i)
        if q == NULL:
            memcpy(dst + j, p + i, n - i)
            return j + n - i
        k = q - p
        memcpy(dst + j, p + i, k - i)
        j += k - i
        i = k
        if i + 1 < n:
            d = p[i + 1]
            if d == b'"' or d == b'\\':
                dst[j] = d
            elif d == b'n':
                dst[j] = b'\n'
            elif d == b'r':
                dst[j] = b'\r'
            elif d == b't':
                dst[j] = b'\t'
            else:
                d = 0
            if d:
                j += 1
                i += 2
                continue
        dst[j] = b'\\'
        j += 1
        i += 1


cdef object _str_value(PState* S, FieldTok* f, Buf* B):
    """The str of a quoted field value."""
    cdef cbuf p = S.b + f.vs
    cdef Py_ssize_t n = f.ve - f.vs
    cdef Py_ssize_t j
    cdef object s
    if not (f.vflags & TK_ESC):
        return _make_str(p, n, f.vflags)
    if not (f.vflags & TK_HIGH):
        # ASCII: decode the escapes straight into the new str
        s = PyUnicode_New(n - f.nesc, 127)
        j = _unescape_str(p, n, <unsigned char*>PyUnicode_DATA(s))
        if j == n - f.nesc:
            return s
    B.n = 0
    _buf_reserve(B, n)
    j = _unescape_str(p, n, B.p)
    return _make_str(B.p, j, f.vflags)


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
cdef inline int _value_class(object v):
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, float):
        return 2
    return 3


@cython.freelist(1024)
@cython.final
cdef class Point:
    """One line-protocol point: ``name``, ``tags``, ``fields`` (both dicts in
    input order) and ``time`` (nanoseconds since the epoch).

    Equality compares the four attributes (with points of the twin too) and a
    field's type counts (``1`` != ``1.0``).

    Points made by :func:`decode` hold a str name, an int time and two dicts
    of str keys and str/int/float/bool values: nothing that can lead back to
    the point, so they start untracked by the cyclic garbage collector (a
    large decode then costs the collector nothing).  The dicts can only be
    reached through ``tags``/``fields`` (or pickling), and reaching them, like
    setting any attribute, tracks the point first, so a cycle a program builds
    later (``p.tags["me"] = p``) is collected as usual.  Points built by calling
    ``Point(...)`` are tracked from the start.
    """
    cdef object _name
    cdef object _tags
    cdef object _fields
    cdef object _time

    def __init__(self, name, tags=None, fields=None, time=0):
        self._name = name
        self._tags = {} if tags is None else tags
        self._fields = {} if fields is None else fields
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
        self._track()
        return self._tags

    @tags.setter
    def tags(self, value):
        self._track()
        self._tags = value

    @property
    def fields(self):
        self._track()
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
        """Equal name, tags, time and fields; a field's type counts (``1`` != ``1.0``)."""
        cdef Point o
        if isinstance(other, Point):
            o = <Point>other
            oname, otags, ofields, otime = o._name, o._tags, o._fields, o._time
        else:
            try:
                oname, otags, ofields, otime = other.name, other.tags, other.fields, other.time
            except AttributeError:
                return NotImplemented
        if self._name != oname or self._time != otime or self._tags != otags:
            return False
        if self._fields != ofields:
            return False
        for k, v in self._fields.items():
            if _value_class(v) != _value_class(ofields[k]):
                return False
        return True

    __hash__ = None

    def __repr__(self):
        return (f"Point(name={self._name!r}, tags={self._tags!r}, "
                f"fields={self._fields!r}, time={self._time!r})")

    def __reduce__(self):
        self._track()
        return (Point, (self._name, self._tags, self._fields, self._time))


# ---------------------------------------------------------------------------
# error reports
# ---------------------------------------------------------------------------
cdef str _quote_key(PState* S, Py_ssize_t a, Py_ssize_t e, int flags):
    """A key for a message: escapes removed, decoded, cut to 64 characters."""
    cdef bytes raw = PyBytes_FromStringAndSize(<const char*>S.b + a, e - a)
    cdef str s
    if flags & TK_ESC:
        raw = _KEY_UNESC.sub(rb"\1", raw)
    s = raw.decode("utf-8", "replace")
    if len(s) > _NAME_LIMIT:
        s = s[:_NAME_LIMIT] + "..."
    return '"' + s + '"'


cdef str _message(PState* S):
    cdef int e = S.err
    cdef str template = _MESSAGES[_ERROR_KEYS[e]]
    if e == E_NONPRINT:
        return template.format(byte=f"{S.ebyte:02X}", part=_PARTS[S.epart])
    if "{k}" in template:
        return template.format(k=_quote_key(S, S.ea, S.eb, S.eflags))
    return template


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


# ---------------------------------------------------------------------------
# the decoding loop
# ---------------------------------------------------------------------------
cdef bytes _as_bytes(object data):
    if isinstance(data, bytes):
        return <bytes>data
    if isinstance(data, str):
        return (<str>data).encode("utf-8", "surrogatepass")
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"data must be bytes or str, not {type(data).__name__}")


cdef object _default_time(object default_time):
    if default_time is None:
        return _time.time_ns()
    t = _index(default_time)
    if not _I64_MIN <= t <= _I64_MAX:
        raise ValueError("default_time must fit in signed 64-bit nanoseconds")
    return t


cdef int64_t _multiplier(object precision) except -1:
    try:
        return _PRECISIONS[precision]
    except (KeyError, TypeError):
        raise ValueError(f"invalid precision {precision!r}: use one of "
                         + ", ".join(_PRECISIONS)) from None


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


@cython.final
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
    cdef object lineno0
    cdef Py_ssize_t consumed, lines
    cdef object default_time
    # decode_rows
    cdef object cluster
    cdef dict groups
    cdef Py_ssize_t n_metric, n_control
    cdef bint metric_first
    cdef object last_cluster
    cdef int last_kind
    cdef list last_list
    cdef int64_t last_sec
    cdef object last_sec_obj
    cdef Memo memo[MEMO_N]
    # decode_rows(copy_group=...): the rows of one group go into cbuf as binary
    # COPY tuples instead of becoming tuples
    cdef bint cp_on, cp_day_on, cp_ids, cp_ids_out
    cdef int cp_kind
    cdef object cp_cluster
    cdef int64_t cp_day, cp_min, cp_max, dt64
    cdef long long cp_next_id
    cdef Py_ssize_t cp_n
    cdef Buf cbuf

    def __cinit__(self):
        memset(self.memo, 0, sizeof(self.memo))
        if _state_init(&self.S) < 0:
            raise MemoryError()
        self.cotags = 8
        self.otags = <OTag*>malloc(self.cotags * sizeof(OTag))
        if self.otags == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef int i
        for i in range(MEMO_N):
            if self.memo[i].obj != NULL:
                Py_DECREF(<object>self.memo[i].obj)
                self.memo[i].obj = NULL
        _state_free(&self.S)
        free(self.sbuf.p)
        free(self.jbuf.p)
        free(self.obuf.p)
        free(self.cbuf.p)
        free(self.otags)

    cdef int run(self, bytes data, int64_t mult, object default_time, bint rows, object cluster,
                 bint final, object lineno, list out) except -1:
        cdef PState* S = &self.S
        cdef cbuf b
        cdef Py_ssize_t n, pos, ls, s, nl, e, u
        cdef Py_ssize_t lno = 0     # newlines before pos
        cdef unsigned char c
        cdef int r
        cdef cbuf q
        self.data = data
        b = <cbuf>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        S.b = b
        S.n = n
        S.mult = mult
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
            s = pos
            while s < n and b[s] == b' ':
                s += 1
            if s >= n:
                if not final:
                    break
                pos = n
                break
            c = b[s]
            if c == b'\n':
                pos = s + 1
                lno += 1
                continue
            if c == b'\r' and (s + 1 >= n or b[s + 1] == b'\n'):
                if s + 1 >= n:
                    if not final:
                        break
                    pos = n
                    break
                pos = s + 2
                lno += 1
                continue
            if c == b'#':
                q = <cbuf>memchr(b + s, b'\n', n - s)
                nl = (q - b) if q != NULL else -1
                if nl < 0 and not final:
                    break
                e = nl if nl >= 0 else n
                if b[e - 1] == b'\r':
                    e -= 1
                for u in range(s, e):
                    c = b[u]
                    if (c < 0x20 and c != b'\t') or c == 0x7F:
                        S.err = E_NONPRINT
                        S.ebyte = c
                        S.epart = PART_COMMENT
                        self.add_error(ls, lno, u, _message(S))
                        break
                if nl < 0:
                    pos = n
                    break
                pos = nl + 1
                lno += 1
                continue

            # a point: one optimistic pass, which nearly every line passes
            S.opt = 1
            S.e = n
            r = _parse(S, s)
            if r == 0:
                e = S.cend
                nl = e
                if nl < n and b[nl] == b'\r':
                    nl += 1
                if nl >= n:
                    if not final:
                        break
                    nl = -1
                if S.hi:
                    u = lp_utf8_invalid(b + s, b + e) - b
                    if u < e:
                        self.add_error(ls, lno, u, _MSG_UTF8)
                        r = 1
                if r == 0:
                    if rows:
                        self.emit_row(ls, lno, s)
                    else:
                        self.emit_point(out)
                if nl < 0:
                    lno += S.nl
                    pos = n
                    break
                pos = nl + 1
                lno += S.nl + 1
                continue
            if S.err == E_NOMEM:
                raise MemoryError()

            # a bad line: frame it as the twin does, parse it precisely up to
            # the end of its content, then apply the UTF-8 rule
            nl = _frame(S, s)
            if nl < 0 and not final:
                break
            e = nl if nl >= 0 else n
            if b[e - 1] == b'\r':
                e -= 1
            if e > s:
                S.opt = 0
                S.e = e
                r = _parse(S, s)
                if r < 0 and S.err == E_NOMEM:
                    raise MemoryError()
                u = lp_utf8_invalid(b + s, b + e) - b
                if u < e and (r == 0 or u <= S.err_pos):
                    self.add_error(ls, lno, u, _MSG_UTF8)
                elif r < 0:
                    self.add_error(ls, lno, S.err_pos, _message(S))
                elif rows:
                    self.emit_row(ls, lno, s)
                else:
                    self.emit_point(out)
            if nl < 0:
                lno += _count_nl(b, ls, n)
                pos = n
                break
            pos = nl + 1
            lno += _count_nl(b, ls, pos)
        self.consumed = pos
        if final and pos > 0 and b[pos - 1] != b'\n':
            lno += 1
        self.lines = lno
        return 0

    cdef int add_error(self, Py_ssize_t ls, Py_ssize_t lno, Py_ssize_t pos, str message) except -1:
        """A LineError at byte pos of the logical line starting at ls (after lno newlines)."""
        cdef cbuf b = self.S.b
        cdef Py_ssize_t n = self.S.n
        cdef Py_ssize_t ps = ls, q, e
        cdef cbuf r
        q = ls
        while q < pos:
            r = <cbuf>memchr(b + q, b'\n', pos - q)
            if r == NULL:
                break
            lno += 1
            q = (r - b) + 1
            ps = q
        r = <cbuf>memchr(b + ps, b'\n', n - ps) if ps < n else NULL
        e = (r - b) if r != NULL else n
        if e > ps and b[e - 1] == b'\r':
            e -= 1
        if e - ps > _TEXT_LIMIT:
            e = ps + _TEXT_LIMIT
        text = PyBytes_FromStringAndSize(<const char*>b + ps, e - ps).decode("utf-8", "replace")
        self.errors.append(LineError(self.lineno0 + lno, pos - ps + 1, message, text))
        return 0

    cdef inline object meas_str(self):
        cdef PState* S = &self.S
        return <object>_memo_get(&self.memo[M_MEAS], S.b + S.ms, S.me - S.ms, S.mflags, True)

    cdef inline object tkey_str(self, Py_ssize_t i):
        cdef TagTok* t = &self.S.tags[i]
        if i < MEMO_TAGS:
            return <object>_memo_get(&self.memo[M_TKEY + i], self.S.b + t.ks, t.ke - t.ks,
                                     t.kflags, False)
        return _tok_str(self.S.b, t.ks, t.ke, t.kflags)

    cdef inline object tval_str(self, Py_ssize_t i):
        cdef TagTok* t = &self.S.tags[i]
        if i < MEMO_TAGS:
            return <object>_memo_get(&self.memo[M_TVAL + i], self.S.b + t.vs, t.ve - t.vs,
                                     t.vflags, False)
        return _tok_str(self.S.b, t.vs, t.ve, t.vflags)

    cdef inline object fkey_str(self, Py_ssize_t i):
        cdef FieldTok* f = &self.S.fields[i]
        if i < MEMO_FIELDS:
            return <object>_memo_get(&self.memo[M_FKEY + i], self.S.b + f.ks, f.ke - f.ks,
                                     f.kflags, False)
        return _tok_str(self.S.b, f.ks, f.ke, f.kflags)

    cdef inline int set_tval(self, object row, Py_ssize_t pos, Py_ssize_t i) except -1:
        """row[pos] = value of tag i (None when i < 0), one reference taken."""
        cdef TagTok* t
        cdef PyObject* o
        cdef object v
        if i < 0:
            o = Py_None
        elif i < MEMO_TAGS:
            t = &self.S.tags[i]
            o = _memo_get(&self.memo[M_TVAL + i], self.S.b + t.vs, t.ve - t.vs, t.vflags, False)
        else:
            v = self.tval_str(i)
            o = <PyObject*>v
            Py_INCREF(v)
            PyTuple_SET_ITEM(row, pos, o)
            return 0
        Py_INCREF(<object>o)
        PyTuple_SET_ITEM(row, pos, o)
        return 0

    cdef object othertags_for(self, Py_ssize_t j, Py_ssize_t nother):
        """othertags JSON; with exactly one other tag (j), through a cache keyed by
        the identities of its key and value strs (held by the cache, so the
        identities stay valid)."""
        cdef PyObject* ko
        cdef PyObject* vo
        cdef OEntry* e
        cdef uint64_t h
        cdef object js
        cdef TagTok* t
        if nother == 0:
            return _EMPTY_JSON
        if nother > 1 or j >= MEMO_TAGS:
            return self.othertags()
        t = &self.S.tags[j]
        ko = _memo_get(&self.memo[M_TKEY + j], self.S.b + t.ks, t.ke - t.ks, t.kflags, False)
        vo = _memo_get(&self.memo[M_TVAL + j], self.S.b + t.vs, t.ve - t.vs, t.vflags, False)
        h = (<uint64_t><size_t>ko) * 0x9E3779B97F4A7C15ULL ^ (<uint64_t><size_t>vo) * 0xC2B2AE3D27D4EB4FULL
        e = &_ot_cache[(h >> 40) & (OT_SIZE - 1)]
        if e.k == ko and e.v == vo:
            return <object>e.json
        js = self.othertags()
        Py_INCREF(<object>ko)
        Py_INCREF(<object>vo)
        Py_INCREF(js)
        if e.k != NULL:
            Py_DECREF(<object>e.k)
            Py_DECREF(<object>e.v)
            Py_DECREF(<object>e.json)
        e.k = ko
        e.v = vo
        e.json = <PyObject*>js
        return js

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
            PyDict_SetItem(tags, self.tkey_str(i), self.tval_str(i))
        for i in range(S.nfields):
            PyDict_SetItem(fields, self.fkey_str(i), _field_value(S, &S.fields[i], &self.sbuf))
        pt = Point.__new__(Point)
        pt._name = self.meas_str()
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
        cdef int flags = self.othertags_fill()
        return _cached_json(self.obuf.p, self.obuf.n, flags)

    cdef int othertags_fill(self) except -1:
        """That JSON as UTF-8 in ``obuf``; returns the tokens' flags."""
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
        return flags

    cdef int emit_row(self, Py_ssize_t ls, Py_ssize_t lno, Py_ssize_t s) except -1:
        cdef PState* S = &self.S
        cdef cbuf b = S.b
        cdef Py_ssize_t i
        cdef int kind = K_NONE
        cdef FieldTok* f = NULL
        cdef TagTok* t
        cdef Py_ssize_t idx[9]
        cdef Py_ssize_t nother, jother
        cdef int k
        cdef PyObject* o
        cdef object cl, row, v, key
        cdef list lst
        cdef int64_t sec
        for i in range(S.nfields):
            if S.fields[i].kind:
                kind = S.fields[i].kind
                break
        if kind == K_NONE:
            self.add_error(ls, lno, s, _MSG_NOT_CC)
            return 0
        i = S.nfields - 1
        while S.fields[i].kind != kind:
            i -= 1
        f = &S.fields[i]
        if kind == K_METRIC:
            if self.n_metric == 0 and self.n_control == 0:
                self.metric_first = True
            self.n_metric += 1
            return 0
        if kind == K_CONTROL:
            self.n_control += 1
            return 0
        if f.ftype != F_STR:
            self.add_error(ls, lno, s, _MSG_EVENT_STR if kind == K_EVENT else _MSG_LOG_STR)
            return 0
        nother = 0
        jother = -1
        for i in range(9):
            idx[i] = -1
        for i in range(S.ntags):
            k = S.tags[i].ident
            idx[k] = i
            if k == T_OTHER or k >= T_LOGLEVEL:
                nother += 1
                jother = i
        if idx[T_CLUSTER] >= 0:
            cl = self.tval_str(idx[T_CLUSTER])
        else:
            cl = self.cluster
            if not cl:
                self.add_error(ls, lno, s, _MSG_NO_CLUSTER)
                return 0
        if self.cp_on and kind == self.cp_kind and (cl is self.cp_cluster or cl == self.cp_cluster):
            self.cp_cluster = cl  # the same text: later lines match by identity
            if self.copy_row(kind, idx, nother, f):
                return 0
        row = PyTuple_New(11)
        if S.has_time:
            o = _PyLong_FromLL(S.time)
            if o == NULL:
                raise MemoryError()
            PyTuple_SET_ITEM(row, 0, o)
            sec = _floordiv(S.time, 1000000000)
            if sec != self.last_sec or self.last_sec_obj is None:
                self.last_sec = sec
                self.last_sec_obj = PyLong_FromLongLong(sec)
            v = self.last_sec_obj
        else:
            v = self.default_time
            Py_INCREF(v)
            PyTuple_SET_ITEM(row, 0, <PyObject*>v)
            v = self.default_time // 1000000000
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 1, <PyObject*>v)
        o = _memo_get(&self.memo[M_MEAS], S.b + S.ms, S.me - S.ms, S.mflags, True)
        Py_INCREF(<object>o)
        PyTuple_SET_ITEM(row, 2, o)
        for i in range(T_HOSTNAME, T_STYPEID + 1):
            self.set_tval(row, i + 1, idx[i])
        v = self.othertags_for(jother, nother)
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 8, <PyObject*>v)
        v = _str_value(S, f, &self.sbuf)
        Py_INCREF(v)
        PyTuple_SET_ITEM(row, 9, <PyObject*>v)
        self.set_tval(row, 10, idx[T_LOGLEVEL] if kind == K_LOG else idx[T_FUNCTION])
        PyObject_GC_UnTrack(<void*>row)
        if kind == self.last_kind and cl is self.last_cluster:
            lst = self.last_list
        else:
            key = (cl, "event" if kind == K_EVENT else "log")
            lst = self.groups.get(key)
            if lst is None:
                lst = []
                # untracked while it only holds our untracked rows (so that
                # collections during the call do not walk it); tracked again
                # before the batch is returned
                PyObject_GC_UnTrack(<void*>lst)
                self.groups[key] = lst
            self.last_kind = kind
            self.last_cluster = cl
            self.last_list = lst
        PyList_Append(lst, row)
        return 0

    cdef bint copy_row(self, int kind, Py_ssize_t* idx, Py_ssize_t nother,
                       FieldTok* f) except -1:
        """The row of the line just parsed as a binary COPY tuple in ``cbuf``, the
        bytes :func:`copy_binary` gives for the row ``emit_row`` makes (ids
        from ``cp_next_id`` when ``cp_ids``, the two times as int8).  False: the
        row is not of ``cp_day``, and goes to the groups instead."""
        cdef PState* S = &self.S
        cdef Buf* B = &self.cbuf
        cdef int64_t t, sec
        cdef Py_ssize_t i, n, m
        t = S.time if S.has_time else self.dt64
        if self.cp_day_on and _floordiv(t, DAY_NS) != self.cp_day:
            return False
        sec = _floordiv(t, 1000000000)
        _buf_reserve(B, 2)
        B.p[B.n] = 0
        B.p[B.n + 1] = <unsigned char>(12 if self.cp_ids else 11)
        B.n += 2
        if self.cp_ids:
            _copy_id(B, &self.cp_next_id, &self.cp_ids_out)
        _copy_i64(B, t)
        _copy_i64(B, sec)
        _copy_token(B, S.b + S.ms, S.me - S.ms, S.mflags, True)
        for i in range(T_HOSTNAME, T_STYPEID + 1):
            self.copy_tval(idx[i])
        if nother == 0:
            _copy_text(B, <cbuf>b"{}", 2)
        else:
            self.othertags_fill()
            _copy_text(B, self.obuf.p, self.obuf.n)
        n = f.ve - f.vs
        _buf_reserve(B, 4 + n)
        if f.vflags & TK_ESC:
            m = _unescape_str(S.b + f.vs, n, B.p + B.n + 4)
        else:
            memcpy(B.p + B.n + 4, S.b + f.vs, n)
            m = n
        _put_be32(B.p + B.n, <uint32_t>m)
        B.n += 4 + m
        self.copy_tval(idx[T_LOGLEVEL] if kind == K_LOG else idx[T_FUNCTION])
        if self.cp_n == 0 or t < self.cp_min:
            self.cp_min = t
        if self.cp_n == 0 or t > self.cp_max:
            self.cp_max = t
        self.cp_n += 1
        return True

    cdef inline int copy_tval(self, Py_ssize_t i) except -1:
        """The value of tag i (NULL when i < 0) as a COPY text field in ``cbuf``."""
        cdef TagTok* t
        if i < 0:
            return _copy_null(&self.cbuf)
        t = &self.S.tags[i]
        return _copy_token(&self.cbuf, self.S.b + t.vs, t.ve - t.vs, t.vflags, False)


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept:
    """a // b rounded towards minus infinity (b > 0), as Python's."""
    cdef int64_t q = a // b
    if a % b < 0:
        q -= 1
    return q


cdef inline int _copy_text(Buf* B, cbuf p, Py_ssize_t n) except -1:
    """A text field of binary COPY: length, then the UTF-8 bytes."""
    _buf_reserve(B, 4 + n)
    _put_be32(B.p + B.n, <uint32_t>n)
    memcpy(B.p + B.n + 4, p, n)
    B.n += 4 + n
    return 0


cdef int _copy_token(Buf* B, cbuf p, Py_ssize_t n, int flags, bint meas) except -1:
    """A measurement, key or tag value token, escapes removed, as a text field."""
    cdef Py_ssize_t m
    if not (flags & TK_ESC):
        return _copy_text(B, p, n)
    _buf_reserve(B, 4 + n)
    m = _unescape_key(p, n, B.p + B.n + 4, meas)
    _put_be32(B.p + B.n, <uint32_t>m)
    B.n += 4 + m
    return 0


_MSG_NOT_CC = str(_rows.MessageError(
    "not a ClusterCockpit message: expected a field named event, log, value or control"))
_MSG_EVENT_STR = 'field "event" must be a string'
_MSG_LOG_STR = 'field "log" must be a string'
_MSG_NO_CLUSTER = "no cluster: the line has no cluster tag and none was given"


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------
cdef inline void _track(object o):
    if not PyObject_GC_IsTracked(o):
        PyObject_GC_Track(<void*>o)


def decode(data, *, precision="ns", default_time=None):
    """Decode line protocol into ``(points, errors)``.

    ``precision``: unit of the timestamps (``ns us ms s auto``); ``default_time``
    (ns) is given to lines without a timestamp, None meaning now.  A bad line
    becomes a :class:`LineError` and never affects other lines.
    """
    cdef int64_t mult = _multiplier(precision)
    cdef bytes buf = _as_bytes(data)
    cdef object dt = _default_time(default_time)
    cdef _Decoder d = _Decoder()
    cdef list points = []
    # untracked while it only holds our untracked points (collections during
    # the call then do not walk it), tracked again before it is returned
    PyObject_GC_UnTrack(<void*>points)
    try:
        d.run(buf, mult, dt, False, None, True, 1, points)
    finally:
        _track(points)
    return points, d.errors


def decode_rows(data, *, precision="auto", default_time=None, cluster=None, final=True, lineno=1,
                copy_group=None):
    """Decode line protocol straight into storage rows (see :class:`RowBatch`).

    Gives exactly what :func:`decode` followed by
    :func:`ccstore.rows.point_to_row` gives, without making points.  With
    ``final=False`` the input is a chunk of a stream: an unterminated last line
    is left for the next call (``consumed``); ``lineno`` numbers the first
    physical line of ``data``.  ``copy_group`` (see the twin) writes the rows of
    one group as binary COPY tuples, without making them.
    """
    cdef int64_t mult = _multiplier(precision)
    cdef bytes buf = _as_bytes(data)
    cdef object dt = _default_time(default_time)
    cdef _Decoder d = _Decoder()
    cdef dict dropped = {}
    if copy_group is not None:
        ccl, ckind, cday, cid = _pylineproto._copy_group(copy_group)
        d.cp_on = True
        d.cp_cluster = ccl
        d.cp_kind = K_LOG if ckind == "log" else K_EVENT
        d.cp_day_on = cday is not None
        d.cp_day = cday if cday is not None else 0
        d.cp_ids = cid is not None
        d.cp_next_id = cid if cid is not None else 0
        d.dt64 = dt  # in the int64 range (_default_time)
    try:
        d.run(buf, mult, dt, True, cluster, True if final else False, lineno, None)
    finally:
        for lst in d.groups.values():
            _track(lst)
    if d.metric_first:
        dropped["metric"] = d.n_metric
    if d.n_control:
        dropped["control"] = d.n_control
    if d.n_metric and not d.metric_first:
        dropped["metric"] = d.n_metric
    if not d.cp_n:
        return RowBatch(d.groups, d.errors, dropped, d.consumed, d.lines)
    return RowBatch(d.groups, d.errors, dropped, d.consumed, d.lines,
                    PyBytes_FromStringAndSize(<const char*>d.cbuf.p, d.cbuf.n), d.cp_n,
                    d.cp_min, d.cp_max)


@cython.boundscheck(True)
@cython.wraparound(True)
def group_by_host(list rows, Py_ssize_t host_at, Py_ssize_t time_at):
    """Storage rows grouped by host, for writing: ``(rows, runs, min_time, max_time)``
    (see the twin).  A counting sort: a number per host (in order of first
    appearance) and per row, then one pass that puts each row in place."""
    cdef Py_ssize_t n = len(rows), nh = 0, cap = 0, i, h, at = 0
    cdef dict number = {}
    cdef list hosts = []
    cdef list runs = []
    cdef list out
    cdef object row, host, t, mn = None, mx = None
    cdef PyObject* found
    cdef PyObject* item
    cdef Py_ssize_t* counts = NULL
    cdef Py_ssize_t* grown
    cdef Py_ssize_t* of = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    if of == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            if len(rows) != n:  # a comparison ran Python code that changed the list
                raise RuntimeError("rows changed while they were grouped")
            row = rows[i]
            host = row[host_at]
            found = PyDict_GetItem(number, host)
            if found is NULL:
                if nh == cap:
                    cap = 2 * cap + 64
                    grown = <Py_ssize_t*>realloc(counts, cap * sizeof(Py_ssize_t))
                    if grown == NULL:
                        raise MemoryError()
                    counts = grown
                h = nh
                nh += 1
                counts[h] = 0
                hosts.append(host)
                PyDict_SetItem(number, host, h)
            else:
                h = PyLong_AsSsize_t(<object>found)
            of[i] = h
            counts[h] += 1
            t = row[time_at]
            if mn is None or t < mn:
                mn = t
            if mx is None or t > mx:
                mx = t
        for h in range(nh):  # counts become each host's next position
            runs.append((hosts[h], counts[h]))
            at += counts[h]
            counts[h] = at - counts[h]
        if len(rows) != n:
            raise RuntimeError("rows changed while they were grouped")
        out = PyList_New(n)
        for i in range(n):
            item = PyList_GET_ITEM(rows, i)
            Py_INCREF(<object>item)
            PyList_SET_ITEM(out, counts[of[i]], item)
            counts[of[i]] += 1
    finally:
        free(of)
        free(counts)
    return out, runs, mn, mx


cdef inline void _put_be32(unsigned char* q, uint32_t v) noexcept:
    q[0] = <unsigned char>(v >> 24)
    q[1] = <unsigned char>(v >> 16)
    q[2] = <unsigned char>(v >> 8)
    q[3] = <unsigned char>v


cdef inline void _put_be64(unsigned char* q, uint64_t v) noexcept:
    _put_be32(q, <uint32_t>(v >> 32))
    _put_be32(q + 4, <uint32_t>v)


cdef int _copy_null(Buf* B) except -1:
    """A NULL field of binary COPY: length -1."""
    _buf_reserve(B, 4)
    _put_be32(B.p + B.n, 0xFFFFFFFF)
    B.n += 4
    return 0


cdef int _copy_i64(Buf* B, long long x) except -1:
    """An int8 field of binary COPY: length 8, then the value big-endian."""
    _buf_reserve(B, 12)
    _put_be32(B.p + B.n, 8)
    _put_be64(B.p + B.n + 4, <uint64_t>x)
    B.n += 12
    return 0


cdef inline int _copy_id(Buf* B, long long* nid, bint* out) except -1:
    """The next id as an int8 field: ``nid``, counted on; past the last int64
    (``out`` set when it was used) an OverflowError."""
    if out[0]:
        raise OverflowError("ids beyond the int64 range")
    _copy_i64(B, nid[0])
    if nid[0] == 0x7FFFFFFFFFFFFFFF:
        out[0] = True
    else:
        nid[0] += 1
    return 0


cdef int _copy_int(Buf* B, object v, Py_ssize_t col) except -1:
    if v is None:
        return _copy_null(B)
    if not PyLong_Check(v) or v is True or v is False:
        raise TypeError(f"column {col}: expected int or None, not {type(v).__name__}")
    cdef int over = 0
    cdef long long x = PyLong_AsLongLongAndOverflow(v, &over)
    if over:
        raise OverflowError(f"column {col}: {v} is beyond the int64 range")
    return _copy_i64(B, x)


cdef bytes _COPY_SIGNATURE = _COPY_HEADER


def copy_binary(rows, first_id=None, Py_ssize_t ints=0):
    """Rows as PostgreSQL's binary ``COPY ... FROM STDIN`` data, whole (see the twin)."""
    cdef Buf B
    cdef Py_ssize_t k, n, nf = -1, size
    cdef int extra = 0 if first_id is None else 1
    cdef const char* u
    cdef object row, v
    cdef long long nid = 0
    cdef bint ids_out = False
    cdef int over = 0
    B.p = NULL
    B.n = B.cap = 0
    try:
        if extra:
            nid = PyLong_AsLongLongAndOverflow(_index(first_id), &over)
            if over:
                raise OverflowError("ids beyond the int64 range")
        _buf_reserve(&B, len(_COPY_SIGNATURE))
        memcpy(B.p, <const char*>_COPY_SIGNATURE, len(_COPY_SIGNATURE))
        B.n = len(_COPY_SIGNATURE)
        for row in rows:
            if type(row) is not tuple:
                row = tuple(row)
            n = PyTuple_GET_SIZE(row)
            if nf < 0:
                nf = n
                if nf + extra > 0x7FFF:
                    raise ValueError(f"{nf + extra} columns: more than COPY takes")
            elif n != nf:
                raise ValueError(f"rows of {nf} and of {n} values")
            _buf_reserve(&B, 2)
            B.p[B.n] = <unsigned char>((n + extra) >> 8)
            B.p[B.n + 1] = <unsigned char>(n + extra)
            B.n += 2
            if extra:
                _copy_id(&B, &nid, &ids_out)
            for k in range(n):
                v = <object>PyTuple_GET_ITEM(row, k)
                if k < ints:
                    _copy_int(&B, v, k)
                elif v is None:
                    _copy_null(&B)
                elif PyUnicode_Check(v):
                    u = PyUnicode_AsUTF8AndSize(v, &size)
                    if size > 0x7FFFFFFF:
                        raise ValueError(f"column {k}: text too long for COPY")
                    _copy_text(&B, <cbuf>u, size)
                else:
                    raise TypeError(f"column {k}: expected str or None, not {type(v).__name__}")
        _buf_reserve(&B, 2)
        B.p[B.n] = 0xFF
        B.p[B.n + 1] = 0xFF
        B.n += 2
        return PyBytes_FromStringAndSize(<const char*>B.p, B.n)
    finally:
        free(B.p)


# ---------------------------------------------------------------------------
# encoding (the same checks and messages as the twin)
# ---------------------------------------------------------------------------
_ENC_NONPRINT = _re.compile("[\x00-\x1f\x7f]")


cdef str _encode_key(object s, str what, str specials):
    """Escape a measurement, key or tag value; reject what cannot round-trip."""
    cdef str c
    if type(s) is not str:
        raise TypeError(f"{what} must be str, not {type(s).__name__}")
    if not s:
        raise ValueError(f"empty {what}")
    if _ENC_NONPRINT.search(s):
        raise ValueError(f"non-printable character in {what} {s!r}")
    if (<str>s)[len(<str>s) - 1] == "\\":
        raise ValueError(f"{what} {s!r} ends with a backslash, which line protocol cannot express")
    for c in specials:
        if c in s:
            s = (<str>s).replace(c, "\\" + c)
    return s


cdef str _encode_value(object v, object key):
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
        if _I64_MIN <= v <= _I64_MAX:
            return f"{int(v)}i"
        if 0 <= v <= _U64_MAX:
            return f"{int(v)}u"
        raise ValueError(f"integer field {key!r} out of the int64/uint64 range: {v}")
    if isinstance(v, float):
        if v - v != 0.0:
            raise ValueError(f"field {key!r}: {v} has no line-protocol form")
        return repr(float(v))
    raise TypeError(f"field {key!r}: unsupported value type {type(v).__name__}")


def encode(points, *, precision="ns"):
    """Line protocol for ``points``, one ``\\n``-terminated line each.

    Timestamps are divided by the precision (floor).  Raises ValueError for
    what line protocol cannot express (empty names, non-printable characters,
    a trailing backslash, a measurement starting with ``#``, no fields, NaN/Inf,
    integers beyond uint64, times beyond int64).
    """
    cdef int64_t div = _multiplier(precision)
    cdef list out = []
    cdef list parts
    cdef str name, sep
    if div == 0:
        raise ValueError("precision 'auto' is for decoding only")
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
        if not _I64_MIN <= t <= _I64_MAX:
            raise ValueError(f"time {t} does not fit in signed 64-bit nanoseconds")
        parts.append(f" {t // div}\n")
        out.append("".join(parts))
    return "".join(out).encode("utf-8")


# ---------------------------------------------------------------------------
# syslog chunks: the fast path of ccstore.logparse
# ---------------------------------------------------------------------------
# The twin (ccstore._pylineproto.syslog_chunk) defines the result with the
# regexes of ccstore.logparse; this is a hand scanner of the same grammar in
# two passes: the bytes are scanned into one SLine per line with the GIL
# released, then the row objects are made.  Headers are scanned as ASCII: a
# chunk with a byte >= 0x80 in a header (where the regexes' Unicode \d and \s
# could decide differently) goes to the twin, which is rare and exact.
from ccstore import logparse as _logparse
from ccstore._pylineproto import syslog_chunk as _twin_syslog_chunk

cdef extern from "Python.h":
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil

cdef extern from *:
    """
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
cdef Py_ssize_t _SL_WINDOW = _logparse._LEVEL_WINDOW
cdef int _SL_INFO = _logparse.LOGLEVELS.index("info")
cdef tuple _SL_LEVELS = tuple(_logparse.LOGLEVELS)
cdef object _SL_CONT_MATCH = _logparse._CONT_RE.match
cdef object _SL_NS = _logparse.NS_PER_S
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
    _n_start = _sl_fill(_sl_start, 64, list(_logparse._START_WORDS.items()))
    _n_any = _sl_fill(_sl_any, 64, list(_logparse._LEVELS.items()))
    # by first letter, in the order of the alternatives within a letter
    _n_hit = _sl_fill(_sl_hit, 32, sorted([(w, lvl) for words, lvl in _logparse._HIT_WORDS
                                           for w in words], key=lambda item: item[0][0]))
    for c in range(8):
        _sl_pri[c] = _SL_LEVELS.index(_logparse._PRI_LEVEL[c])
    for c in range(256):
        _sl_cls[c] = 3 if c >= 0x80 else 0
        _sl_first[c] = 0
    for c in _logparse._CTRL_BYTES:
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
        host = _cached_plain(b + L.host, L.host_n)
        tag = _cached_plain(b + L.tag, L.tag_n) if L.tag_n else name
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

    The compiled twin of :func:`ccstore._pylineproto.syslog_chunk` (see there):
    ``(rows, last_explicit)`` or None, the same on every input.
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
