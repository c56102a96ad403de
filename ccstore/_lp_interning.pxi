# Python objects from spans: str caches keyed by raw bytes (a 4-way cache of
# ASCII tokens, a direct-mapped one of escaped or non-ASCII tokens, per-decode
# memos of the previous line's tokens, othertags JSON), string and other field
# values (included by _lineproto.pyx).
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


cdef object intern_ascii(cbuf p, Py_ssize_t n):
    """The str of n ASCII bytes through the cache of plain tokens (for other
    compiled modules: _cached_plain is inline)."""
    return _cached_plain(p, n)


cdef inline object _tok_str(cbuf b, Py_ssize_t s, Py_ssize_t e, int flags):
    if flags == 0:
        return _cached_plain(b + s, e - s)
    return _cached_key(_key_cache, KEY_SIZE, b + s, e - s, flags, False)


# Per decode call, each token position (measurement, i-th tag key, i-th tag
# value, i-th field key) remembers the previous line's raw bytes and str: in a
# stream most tokens repeat the line before (cluster, type, tag keys, ...),
# which then costs one short compare against bytes still in L1.
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

