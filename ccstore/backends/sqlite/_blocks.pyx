# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Block layouts of compacted SQLite segments: the compiled twin of ``_pyblocks``.

The same functions with the same results (see there and :mod:`.blocks`): the
columns are read straight from the row tuples and written into one growing
buffer, integers byte plane by byte plane and indexes without the GIL; rows are
made as tuples filled column by column.  Columns kept as JSON and dictionaries
over values of other types go through the Python code both twins share.

Built with zlib (``CCSTORE_ZLIB``, see ``setup.py``), :func:`compress_layouts`
compresses the blocks of a segment in one stretch without the GIL, as the
standard library's zlib would one by one (which takes and gives back the GIL at
every call: a thread that waits for it behind a busy one waits each time).
"""
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy

from ccstore.backends.sqlite._blockspec import (
    COLUMNS, DICT, FIELD, HOST, ID, NS, TIME, TS, json_section, json_values, typed_distinct)

__all__ = ["HAVE_ZLIB", "block_layout", "block_spans", "compress_layouts", "rows_of_layout",
           "time_range"]


cdef extern from *:
    """
    #ifdef CCSTORE_ZLIB
    #include <string.h>
    #include <zlib.h>
    #define CCB_HAVE_ZLIB 1
    static size_t ccb_bound(size_t n) { return (size_t)compressBound((uLong)n) + 64; }
    /* deflate src into dst (room *out bytes) as zlib.compressobj(level, DEFLATED, 15, 9,
       Z_DEFAULT_STRATEGY, zdict) would; 0, or a zlib error */
    static int ccb_deflate(const unsigned char* src, size_t n, const unsigned char* dict,
                           size_t dn, int level, unsigned char* dst, size_t* out) {
        z_stream s;
        int rc;
        memset(&s, 0, sizeof s);
        rc = deflateInit2(&s, level, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) return rc;
        if (dict != NULL) {
            rc = deflateSetDictionary(&s, dict, (uInt)dn);
            if (rc != Z_OK) { deflateEnd(&s); return rc; }
        }
        s.next_in = (Bytef*)src;
        s.avail_in = (uInt)n;
        s.next_out = dst;
        s.avail_out = (uInt)*out;
        rc = deflate(&s, Z_FINISH);
        *out = (size_t)s.total_out;
        deflateEnd(&s);
        return rc == Z_STREAM_END ? 0 : (rc == Z_OK ? Z_BUF_ERROR : rc);
    }
    #else
    #define CCB_HAVE_ZLIB 0
    static size_t ccb_bound(size_t n) { return n; }
    static int ccb_deflate(const unsigned char* src, size_t n, const unsigned char* dict,
                           size_t dn, int level, unsigned char* dst, size_t* out) {
        return -100;
    }
    #endif
    """
    int CCB_HAVE_ZLIB
    size_t ccb_bound(size_t n) nogil
    int ccb_deflate(const unsigned char* src, size_t n, const unsigned char* dict, size_t dn,
                    int level, unsigned char* dst, size_t* out) nogil

#: whether :func:`compress_layouts` is there to use (the module was built with zlib)
HAVE_ZLIB = bool(CCB_HAVE_ZLIB)


cdef extern from "Python.h":
    bint PyLong_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    bint PyList_CheckExact(object o)
    bint PyLong_Check(object o)
    int PyObject_RichCompareBool(object a, object b, int op) except -1
    int Py_NE
    int Py_LT
    int Py_GT
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    object PyLong_FromLongLong(long long v)
    Py_ssize_t PyLong_AsSsize_t(object o) except? -1
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    object PyUnicode_AsEncodedString(object o, const char* encoding, const char* errors)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t n)
    object PyList_New(Py_ssize_t n)
    PyObject* PyList_GET_ITEM(object l, Py_ssize_t i)
    void PyList_SET_ITEM(object l, Py_ssize_t i, PyObject* o)
    object PyTuple_New(Py_ssize_t n)
    PyObject* PyTuple_GET_ITEM(object t, Py_ssize_t i)
    Py_ssize_t PyTuple_GET_SIZE(object t)
    void PyTuple_SET_ITEM(object t, Py_ssize_t i, PyObject* o)
    PyObject* PyDict_GetItem(object d, object k)
    int PyDict_SetItem(object d, object k, object v) except -1


cdef Py_ssize_t _NCOL = len(COLUMNS)
cdef Py_ssize_t _ID = ID, _TS = TS, _FIELD = FIELD, _TIME = TIME, _HOST = HOST
cdef tuple _OTHER_DICT = tuple(i for i in DICT if i != HOST)
cdef int64_t _NS = NS
cdef object _PY_NS = NS
cdef long long _I64_MAX = 0x7FFFFFFFFFFFFFFF
cdef long long _I64_MIN = -_I64_MAX - 1


# ---------------------------------------------------------------------- output buffer
cdef struct Out:
    char* buf
    Py_ssize_t size
    Py_ssize_t cap


cdef int _reserve(Out* o, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap = o.cap
    cdef char* grown
    if o.size + more <= cap:
        return 0
    while cap < o.size + more:
        cap = 2 * cap + 4096
    grown = <char*>realloc(o.buf, cap)
    if grown == NULL:
        raise MemoryError()
    o.buf = grown
    o.cap = cap
    return 0


cdef inline void _put_u32(char* p, uint32_t v) noexcept nogil:
    p[0] = <char>(v & 0xFF)
    p[1] = <char>((v >> 8) & 0xFF)
    p[2] = <char>((v >> 16) & 0xFF)
    p[3] = <char>((v >> 24) & 0xFF)


cdef inline uint32_t _get_u32(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef int _write(Out* o, const char* data, Py_ssize_t n) except -1:
    _reserve(o, n)
    memcpy(o.buf + o.size, data, n)
    o.size += n
    return 0


cdef Py_ssize_t _open_section(Out* o, char kind) except -1:
    """Write a section's kind and room for its length; return where the length goes."""
    _reserve(o, 5)
    o.buf[o.size] = kind
    o.size += 5
    return o.size - 4


cdef int _close_section(Out* o, Py_ssize_t at) except -1:
    cdef Py_ssize_t n = o.size - at - 4
    if n > 0xFFFFFFFF:
        raise OverflowError("a block section longer than 4 GiB")
    _put_u32(o.buf + at, <uint32_t>n)
    return 0


# ---------------------------------------------------------------------------- writing
cdef list _column(list rows, Py_ssize_t col):
    cdef Py_ssize_t n = len(rows), i
    cdef list out = PyList_New(n)
    cdef PyObject* item
    for i in range(n):
        item = PyTuple_GET_ITEM(<object>PyList_GET_ITEM(rows, i), col)
        Py_INCREF(<object>item)
        PyList_SET_ITEM(out, i, item)
    return out


cdef int _text_section(Out* o, list values) except -1:
    cdef Py_ssize_t n = len(values), i, at, k
    cdef object v, enc
    at = _open_section(o, b"S")
    _reserve(o, 4 * n)
    for i in range(n):
        v = <object>PyList_GET_ITEM(values, i)
        k = -1 if v is None else PyUnicode_GET_LENGTH(v)
        if k > 0x7FFFFFFF:
            raise OverflowError("a text longer than 2**31 characters")
        _put_u32(o.buf + o.size, <uint32_t><int32_t>k)
        o.size += 4
    for i in range(n):
        v = <object>PyList_GET_ITEM(values, i)
        if v is None:
            continue
        if PyUnicode_IS_ASCII(v):
            _write(o, <const char*>PyUnicode_DATA(v), PyUnicode_GET_LENGTH(v))
        else:
            enc = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass")
            _write(o, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc))
    _close_section(o, at)
    return 0


cdef bint _delta_section(Out* o, list values) except -1:
    """The integers ``values`` (not empty) as differences, if they and their
    differences fit 64 bits: True, else False with nothing written."""
    cdef Py_ssize_t n = len(values), i, at, p
    cdef int overflow = 0
    cdef long long a, b
    cdef int64_t* d = <int64_t*>malloc(n * sizeof(int64_t))
    cdef uint64_t u
    cdef char* dst
    if d == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            d[i] = PyLong_AsLongLongAndOverflow(<object>PyList_GET_ITEM(values, i), &overflow)
            if overflow:
                return False
        with nogil:
            b = d[0]
            for i in range(1, n):
                a = d[i]
                if (b < 0 and a > _I64_MAX + b) or (b > 0 and a < _I64_MIN + b):
                    overflow = 1
                    break
                d[i] = a - b
                b = a
        if overflow:
            return False
        at = _open_section(o, b"D")
        _reserve(o, 8 * n)
        dst = o.buf + o.size
        with nogil:
            for p in range(8):
                for i in range(n):
                    u = <uint64_t>d[i]
                    dst[p * n + i] = <char>((u >> (8 * p)) & 0xFF)
        o.size += 8 * n
        _close_section(o, at)
        return True
    finally:
        free(d)


cdef int _values_section(Out* o, list values) except -1:
    """A column of SQLite values."""
    cdef Py_ssize_t n = len(values), i
    cdef bint text = True, ints = True
    cdef object v
    cdef bytes doc
    for i in range(n):
        v = <object>PyList_GET_ITEM(values, i)
        if v is None:
            ints = False
        elif PyUnicode_CheckExact(v):
            ints = False
        elif PyLong_CheckExact(v):
            text = False
        else:
            text = ints = False
            break
    if text:
        return _text_section(o, values)
    if ints and _delta_section(o, values):
        return 0
    doc = json_section(values)
    _write(o, PyBytes_AS_STRING(doc), PyBytes_GET_SIZE(doc))
    return 0


cdef int _dictionary_section(Out* o, list values) except -1:
    cdef Py_ssize_t n = len(values), i, j = -1, at, count
    cdef bint plain = True
    cdef object v, prev = None
    cdef PyObject* found
    cdef dict number
    cdef list distinct, index_list
    cdef uint32_t* index = <uint32_t*>malloc((n + 1) * sizeof(uint32_t))
    cdef char code
    cdef char* dst
    cdef uint32_t x
    if index == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            v = <object>PyList_GET_ITEM(values, i)
            if not (v is None or PyUnicode_CheckExact(v) or PyLong_CheckExact(v)):
                plain = False
                break
        if plain:
            number = {}
            distinct = []
            for i in range(n):
                v = <object>PyList_GET_ITEM(values, i)
                if i == 0 or v is not prev:
                    found = PyDict_GetItem(number, v)
                    if found == NULL:
                        j = len(distinct)
                        PyDict_SetItem(number, v, j)
                        distinct.append(v)
                    else:
                        j = PyLong_AsSsize_t(<object>found)
                    prev = v
                index[i] = <uint32_t>j
        else:
            distinct, index_list = typed_distinct(values)
            for i in range(n):
                index[i] = <uint32_t>PyLong_AsSsize_t(<object>PyList_GET_ITEM(index_list, i))
        count = len(distinct)
        if count > 0xFFFFFFFF:
            raise OverflowError("more than 2**32 distinct values in a block")
        code = b"B" if count <= 0x100 else b"H" if count <= 0x10000 else b"I"
        at = _open_section(o, b"K")
        _reserve(o, 4)
        _put_u32(o.buf + o.size, <uint32_t>count)
        o.size += 4
        _values_section(o, distinct)
        _reserve(o, 1 + 4 * n)
        o.buf[o.size] = code
        o.size += 1
        dst = o.buf + o.size
        with nogil:
            if code == b"B":
                for i in range(n):
                    dst[i] = <char>index[i]
                o.size += n
            elif code == b"H":
                for i in range(n):
                    x = index[i]
                    dst[2 * i] = <char>(x & 0xFF)
                    dst[2 * i + 1] = <char>((x >> 8) & 0xFF)
                o.size += 2 * n
            else:
                for i in range(n):
                    _put_u32(dst + 4 * i, index[i])
                o.size += 4 * n
        _close_section(o, at)
        return 0
    finally:
        free(index)


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef bint _timestamp_is_second(list rows) except -1:
    """Whether every row's ``timestamp`` is the second of its ``time``, both integers."""
    cdef Py_ssize_t n = len(rows), i
    cdef object row, t, s
    cdef int of1 = 0, of2 = 0
    cdef long long tv, sv
    for i in range(n):
        row = <object>PyList_GET_ITEM(rows, i)
        t = <object>PyTuple_GET_ITEM(row, _TIME)
        s = <object>PyTuple_GET_ITEM(row, _TS)
        if not (PyLong_CheckExact(t) and PyLong_CheckExact(s)):
            return False
        tv = PyLong_AsLongLongAndOverflow(t, &of1)
        sv = PyLong_AsLongLongAndOverflow(s, &of2)
        if of1 or of2:
            if t // _PY_NS != s:
                return False
        elif _floordiv(tv, _NS) != sv:
            return False
    return True


def block_layout(rows) -> bytes:
    """Rows shaped as ``COLUMNS`` (values past those ignored) -> a block's layout,
    uncompressed (see the twin)."""
    cdef Py_ssize_t n, i, c
    cdef list rs
    cdef object row
    cdef Out o
    if PyList_CheckExact(rows):
        rs = <list>rows
    else:
        rs = list(rows)
    n = len(rs)
    for i in range(n):
        row = <object>PyList_GET_ITEM(rs, i)
        if not PyTuple_CheckExact(row):
            if rs is rows:
                rs = list(rs)
            row = tuple(row)
            rs[i] = row
        if PyTuple_GET_SIZE(row) < _NCOL:
            raise IndexError(f"a block's row has {len(row)} values, not {_NCOL}")
    if n > 0xFFFFFFFF:
        raise OverflowError("more than 2**32 rows in a block")
    o.buf = NULL
    o.size = o.cap = 0
    try:
        _reserve(&o, 64 + 16 * n)
        memcpy(o.buf, b"CB2", 3)
        _put_u32(o.buf + 3, <uint32_t>n)
        o.size = 7
        _dictionary_section(&o, _column(rs, _HOST))
        _values_section(&o, _column(rs, _ID))
        _values_section(&o, _column(rs, _TIME))
        if _timestamp_is_second(rs):
            _close_section(&o, _open_section(&o, b"T"))
        else:
            _values_section(&o, _column(rs, _TS))
        for c in _OTHER_DICT:
            _dictionary_section(&o, _column(rs, c))
        _values_section(&o, _column(rs, _FIELD))
        return PyBytes_FromStringAndSize(o.buf, o.size)
    finally:
        free(o.buf)


cdef inline object _item(object row, Py_ssize_t col):
    if PyTuple_CheckExact(row) and col < PyTuple_GET_SIZE(row):
        return <object>PyTuple_GET_ITEM(row, col)
    return row[col]


def block_spans(rows, Py_ssize_t host_rows, Py_ssize_t max_rows) -> list:
    """(start, end) of each block of ``rows`` (sorted by host), in order (see the
    twin)."""
    cdef list rs = rows if PyList_CheckExact(rows) else list(rows)
    cdef Py_ssize_t n = len(rs), i, start = 0, k
    cdef list spans = []
    cdef object host, prev
    if n == 0:
        return spans
    prev = _item(<object>PyList_GET_ITEM(rs, 0), _HOST)
    for i in range(1, n):
        host = _item(<object>PyList_GET_ITEM(rs, i), _HOST)
        k = i - start
        if k >= max_rows or (k >= host_rows and PyObject_RichCompareBool(host, prev, Py_NE)):
            spans.append((start, i))
            start = i
        prev = host
    spans.append((start, n))
    return spans


def time_range(rows) -> tuple:
    """The least and greatest ``time`` of ``rows`` when every one that is not NULL is
    an integer and there is one, else (None, None) (see the twin)."""
    cdef list rs = rows if PyList_CheckExact(rows) else list(rows)
    cdef Py_ssize_t n = len(rs), i
    cdef object t, lo = None, hi = None
    for i in range(n):
        t = _item(<object>PyList_GET_ITEM(rs, i), _TIME)
        if t is None:
            continue
        if not PyLong_Check(t):
            return None, None
        if lo is None:
            lo = hi = t
        elif PyObject_RichCompareBool(t, lo, Py_LT):
            lo = t
        elif PyObject_RichCompareBool(t, hi, Py_GT):
            hi = t
    return lo, hi


# ---------------------------------------------------------------------------- reading
cdef struct Section:
    char kind
    const uint8_t* data
    Py_ssize_t size


cdef Py_ssize_t _read_section(const uint8_t* buf, Py_ssize_t pos, Py_ssize_t end,
                              Section* s) except -1:
    """Read the section at ``pos`` into ``s``; return where the next one starts."""
    cdef uint32_t size
    if pos + 5 > end:
        raise ValueError("truncated block")
    size = _get_u32(buf + pos + 1)
    if pos + 5 + <Py_ssize_t>size > end:
        raise ValueError("truncated block")
    s.kind = <char>buf[pos]
    s.data = buf + pos + 5
    s.size = size
    return pos + 5 + size


cdef class _Column:
    """A decoded column: Python values, or 64-bit integers kept in C."""
    cdef list values  # all values, or None when ``ints`` holds them
    cdef int64_t* ints
    cdef Py_ssize_t n

    def __dealloc__(self):
        free(self.ints)

    cdef object at(self, Py_ssize_t i):
        if self.ints != NULL:
            return PyLong_FromLongLong(self.ints[i])
        return <object>PyList_GET_ITEM(self.values, i)


cdef _Column _values(Section* s, Py_ssize_t n):
    """A column of ``n`` values (a DELTA section: as many as it holds)."""
    cdef _Column col = _Column.__new__(_Column)
    cdef Py_ssize_t i, p, pos, m, nbytes
    cdef int32_t k
    cdef uint64_t u
    cdef int64_t acc = 0
    cdef object text
    cdef list out
    if s.kind == b"S":
        if 4 * n > s.size:
            raise ValueError("truncated block")
        text = PyUnicode_DecodeUTF8(<const char*>s.data + 4 * n, s.size - 4 * n,
                                    "surrogatepass")
        m = PyUnicode_GET_LENGTH(text)
        out = PyList_New(n)
        pos = 0
        for i in range(n):
            k = <int32_t>_get_u32(s.data + 4 * i)
            if k < 0:
                Py_INCREF(None)
                PyList_SET_ITEM(out, i, <PyObject*>None)
                continue
            v = PyUnicode_Substring(text, pos, min(pos + k, m)) if pos < m else ""
            Py_INCREF(v)
            PyList_SET_ITEM(out, i, <PyObject*>v)
            pos += k
        col.values = out
        col.n = n
    elif s.kind == b"D":
        m = s.size // 8
        col.ints = <int64_t*>malloc((m + 1) * sizeof(int64_t))
        if col.ints == NULL:
            raise MemoryError()
        with nogil:
            for i in range(m):
                u = 0
                for p in range(8):
                    u |= (<uint64_t>s.data[p * m + i]) << (8 * p)
                acc = <int64_t>(<uint64_t>acc + u)
                col.ints[i] = acc
        col.n = m
    elif s.kind == b"J":
        col.values = json_values(PyBytes_FromStringAndSize(<const char*>s.data, s.size))
        col.n = len(col.values)
    else:
        raise ValueError(f"unknown column kind {bytes([<uint8_t>s.kind])!r}")
    return col


cdef class _Dictionary:
    """A decoded dictionary column: its distinct values and the index of each row."""
    cdef list distinct
    cdef uint32_t* index
    cdef Py_ssize_t n

    def __dealloc__(self):
        free(self.index)


cdef list _as_list(_Column col):
    cdef Py_ssize_t i
    cdef list out
    if col.ints == NULL:
        return col.values
    out = PyList_New(col.n)
    for i in range(col.n):
        v = PyLong_FromLongLong(col.ints[i])
        Py_INCREF(v)
        PyList_SET_ITEM(out, i, <PyObject*>v)
    return out


cdef Py_ssize_t _dictionary(const uint8_t* buf, Py_ssize_t pos, Py_ssize_t end,
                            _Dictionary d) except -1:
    """Read the dictionary column at ``pos`` into ``d``; return where the next section
    starts."""
    cdef Section s, inner
    cdef Py_ssize_t count, ipos, width, m, i
    cdef char code
    cdef const uint8_t* p
    pos = _read_section(buf, pos, end, &s)
    if s.kind != b"K":
        raise ValueError(f"unknown dictionary kind {bytes([<uint8_t>s.kind])!r}")
    if s.size < 4:
        raise ValueError("truncated block")
    count = _get_u32(s.data)
    ipos = _read_section(s.data, 4, s.size, &inner)
    if ipos >= s.size:
        raise ValueError("truncated block")
    d.distinct = _as_list(_values(&inner, count))
    code = <char>s.data[ipos]
    width = 1 if code == b"B" else 2 if code == b"H" else 4 if code == b"I" else 0
    if width == 0:
        raise ValueError(f"unknown index type {bytes([<uint8_t>code])!r}")
    m = (s.size - ipos - 1) // width
    p = s.data + ipos + 1
    d.index = <uint32_t*>malloc((m + 1) * sizeof(uint32_t))
    if d.index == NULL:
        raise MemoryError()
    d.n = m
    with nogil:
        if width == 1:
            for i in range(m):
                d.index[i] = p[i]
        elif width == 2:
            for i in range(m):
                d.index[i] = p[2 * i] | (<uint32_t>p[2 * i + 1] << 8)
        else:
            for i in range(m):
                d.index[i] = _get_u32(p + 4 * i)
    return pos


cdef int _fill_dictionary(list out, Py_ssize_t c, _Dictionary d, Py_ssize_t* keep,
                          Py_ssize_t m) except -1:
    cdef Py_ssize_t r, i, nd = len(d.distinct)
    cdef uint32_t j
    cdef PyObject* v
    for r in range(m):
        i = keep[r]
        if i >= d.n:
            raise IndexError("a block's index is shorter than its rows")
        j = d.index[i]
        if j >= nd:
            raise IndexError("list index out of range")
        v = PyList_GET_ITEM(d.distinct, j)
        Py_INCREF(<object>v)
        PyTuple_SET_ITEM(<object>PyList_GET_ITEM(out, r), c, v)
    return 0


cdef int _fill(list out, Py_ssize_t c, _Column col, Py_ssize_t* keep,
               Py_ssize_t m) except -1:
    cdef Py_ssize_t r, i
    cdef object v
    for r in range(m):
        i = keep[r]
        if i >= col.n:
            raise IndexError("list index out of range")
        v = col.at(i)
        Py_INCREF(v)
        PyTuple_SET_ITEM(<object>PyList_GET_ITEM(out, r), c, <PyObject*>v)
    return 0


def rows_of_layout(raw, hosts=None) -> list:
    """A block's uncompressed layout -> its rows shaped as ``COLUMNS``, in stored
    order; with ``hosts``, only those whose hostname is one of them or not text
    (see the twin)."""
    cdef bytes data = raw if type(raw) is bytes else bytes(raw)
    cdef const uint8_t* buf = <const uint8_t*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(data), n, m, i, r, pos, nd
    cdef Section s
    cdef _Dictionary hd = _Dictionary.__new__(_Dictionary)
    cdef _Dictionary d
    cdef _Column col, times
    cdef Py_ssize_t* keep = NULL
    cdef uint8_t* flags = NULL
    cdef list out
    cdef object t, h
    cdef bint all_hosts = True
    if end < 7:
        raise ValueError("truncated block")
    if buf[0] != b"C" or buf[1] != b"B" or buf[2] != b"2":
        raise ValueError(f"unknown block format {data[:3]!r}")
    n = _get_u32(buf + 3)
    pos = _dictionary(buf, 7, end, hd)
    nd = len(hd.distinct)
    try:
        keep = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        flags = <uint8_t*>malloc(nd + 1)
        if keep == NULL or flags == NULL:
            raise MemoryError()
        if hosts is not None:
            for i in range(nd):
                h = <object>PyList_GET_ITEM(hd.distinct, i)
                flags[i] = (h in hosts) or not isinstance(h, str)
                if not flags[i]:
                    all_hosts = False
        m = 0
        if all_hosts:
            for i in range(n):
                keep[i] = i
            m = n
        else:
            if hd.n < n:
                raise IndexError("list index out of range")
            for i in range(n):
                if hd.index[i] >= nd:
                    raise IndexError("list index out of range")
                if flags[hd.index[i]]:
                    keep[m] = i
                    m += 1
            if m == 0:
                return []
        if n == 0:
            return []
        out = PyList_New(m)
        for r in range(m):
            t = PyTuple_New(_NCOL)
            Py_INCREF(t)
            PyList_SET_ITEM(out, r, <PyObject*>t)
        _fill_dictionary(out, _HOST, hd, keep, m)
        pos = _read_section(buf, pos, end, &s)
        _fill(out, _ID, _values(&s, n), keep, m)
        pos = _read_section(buf, pos, end, &s)
        times = _values(&s, n)
        _fill(out, _TIME, times, keep, m)
        pos = _read_section(buf, pos, end, &s)
        if s.kind == b"T":
            for r in range(m):
                if times.ints != NULL:
                    v = PyLong_FromLongLong(_floordiv(times.ints[keep[r]], _NS))
                else:
                    v = times.at(keep[r]) // _PY_NS
                Py_INCREF(v)
                PyTuple_SET_ITEM(<object>PyList_GET_ITEM(out, r), _TS, <PyObject*>v)
        else:
            _fill(out, _TS, _values(&s, n), keep, m)
        for i in _OTHER_DICT:
            d = _Dictionary.__new__(_Dictionary)
            pos = _dictionary(buf, pos, end, d)
            _fill_dictionary(out, i, d, keep, m)
        pos = _read_section(buf, pos, end, &s)
        _fill(out, _FIELD, _values(&s, n), keep, m)
        return out
    finally:
        free(keep)
        free(flags)


# -------------------------------------------------------------------------- compressing
def compress_layouts(list layouts, int level, zdict=None) -> list:
    """Each of ``layouts`` (bytes) compressed as one zlib stream with preset dictionary
    ``zdict`` (None: none), all of them without the GIL; ``ValueError`` when the
    module was built without zlib."""
    cdef Py_ssize_t n = len(layouts), i, total = 0
    cdef const unsigned char** src
    cdef size_t* size
    cdef size_t* room
    cdef unsigned char** dst
    cdef const unsigned char* dct = NULL
    cdef size_t dn = 0
    cdef int rc = 0
    cdef list out
    cdef bytes raw
    if not CCB_HAVE_ZLIB:
        raise ValueError("ccstore.backends.sqlite._blocks was built without zlib")
    layouts = list(layouts)  # this function's own: the layouts live while it runs
    if zdict is not None:
        dct = <const unsigned char*>PyBytes_AS_STRING(zdict)
        dn = PyBytes_GET_SIZE(zdict)
    for i in range(n):
        if type(layouts[i]) is not bytes:
            raise TypeError("layouts must be bytes")
    src = <const unsigned char**>malloc((n + 1) * sizeof(void*))
    dst = <unsigned char**>calloc(n + 1, sizeof(void*))
    size = <size_t*>malloc((n + 1) * sizeof(size_t))
    room = <size_t*>malloc((n + 1) * sizeof(size_t))
    try:
        if src == NULL or dst == NULL or size == NULL or room == NULL:
            raise MemoryError()
        for i in range(n):
            raw = <bytes>PyList_GET_ITEM(layouts, i)
            src[i] = <const unsigned char*>PyBytes_AS_STRING(raw)
            size[i] = PyBytes_GET_SIZE(raw)
            room[i] = ccb_bound(size[i])
            dst[i] = <unsigned char*>malloc(room[i])
            if dst[i] == NULL:
                raise MemoryError()
        # the layouts stay alive in ``layouts``, which the caller holds
        with nogil:
            for i in range(n):
                rc = ccb_deflate(src[i], size[i], dct, dn, level, dst[i], &room[i])
                if rc != 0:
                    break
        if rc != 0:
            raise ValueError(f"zlib failed to compress a block (error {rc})")
        out = PyList_New(n)
        for i in range(n):
            v = PyBytes_FromStringAndSize(<const char*>dst[i], room[i])
            Py_INCREF(v)
            PyList_SET_ITEM(out, i, <PyObject*>v)
        return out
    finally:
        if dst != NULL:
            for i in range(n):
                free(dst[i])
        free(dst)
        free(src)
        free(size)
        free(room)
