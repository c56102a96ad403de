# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""PostgreSQL binary COPY data from rows and from line protocol: the compiled twin.

The same functions as ``ccstore.backends._pypgcopy`` (see there), with the
same results.  :class:`CopyDecoder` subclasses the compiled decoder
(``ccstore/_lineproto.pxd``) and writes the rows of the copied group straight
from the parsed spans as COPY tuples, without making row tuples or str objects.
"""
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcpy

from ccstore._lineproto cimport (
    Buf, Decoder, FieldTok, K_EVENT, K_LOG, PState, T_FUNCTION, T_HOSTNAME, T_LOGLEVEL,
    T_STYPEID, TK_ESC, TagTok, _buf_reserve, _floordiv, _unescape_key, _unescape_str, cbuf)

from operator import index as _index

from ccstore.backends._pgcopyspec import COPY_SIGNATURE, COPY_TRAILER, DAY_NS, check_copy_group

__all__ = ["CopyDecoder", "copy_binary", "decode_rows"]

cdef int64_t _DAY_NS = DAY_NS


cdef extern from "Python.h":
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t n)
    Py_ssize_t PyTuple_GET_SIZE(object t)
    PyObject* PyTuple_GET_ITEM(object t, Py_ssize_t i)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    bint PyLong_Check(object o)
    bint PyUnicode_Check(object o)


# --- COPY fields ------------------------------------------------------------------
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


cdef bytes _COPY_SIGNATURE = COPY_SIGNATURE
cdef bytes _COPY_TRAILER = COPY_TRAILER


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
        _buf_reserve(&B, len(_COPY_TRAILER))
        memcpy(B.p + B.n, <const char*>_COPY_TRAILER, len(_COPY_TRAILER))
        B.n += len(_COPY_TRAILER)
        return PyBytes_FromStringAndSize(<const char*>B.p, B.n)
    finally:
        free(B.p)


# --- one group straight from the parsed spans ---------------------------------------
cdef class CopyDecoder(Decoder):
    """decode_rows() that writes the rows of one group and day (``copy_group``)
    as COPY tuples into ``cbuf`` instead of making them."""
    cdef bint cp_day_on, cp_ids, cp_ids_out
    cdef int cp_kind
    cdef object cp_cluster
    cdef int64_t cp_day, cp_min, cp_max
    cdef long long cp_next_id
    cdef Py_ssize_t cp_n
    cdef Buf cbuf

    cdef int configure(self, object copy_group) except -1:
        ccl, ckind, cday, cid = check_copy_group(copy_group)
        self.hooked = True
        self.cp_cluster = ccl
        self.cp_kind = K_LOG if ckind == "log" else K_EVENT
        self.cp_day_on = cday is not None
        self.cp_day = cday if cday is not None else 0
        self.cp_ids = cid is not None
        self.cp_next_id = cid if cid is not None else 0
        return 0

    def __dealloc__(self):
        free(self.cbuf.p)

    cdef bint take_row(self, int kind, object cl, Py_ssize_t* idx, Py_ssize_t nother,
                       FieldTok* f) except -1:
        if kind == self.cp_kind and (cl is self.cp_cluster or cl == self.cp_cluster):
            self.cp_cluster = cl  # the same text: later lines match by identity
            return self.copy_row(kind, idx, nother, f)
        return False

    @cython.final
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
        if self.cp_day_on and _floordiv(t, _DAY_NS) != self.cp_day:
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

    @cython.final
    cdef inline int copy_tval(self, Py_ssize_t i) except -1:
        """The value of tag i (NULL when i < 0) as a COPY text field in ``cbuf``."""
        cdef TagTok* t
        if i < 0:
            return _copy_null(&self.cbuf)
        t = &self.S.tags[i]
        return _copy_token(&self.cbuf, self.S.b + t.vs, t.ve - t.vs, t.vflags, False)

    @cython.final
    cdef object batch(self, object batch):
        """``batch`` with the rows written to ``cbuf`` as its ``copy``."""
        if self.cp_n:
            batch.copy = PyBytes_FromStringAndSize(<const char*>self.cbuf.p, self.cbuf.n)
            batch.copied = self.cp_n
            batch.copy_min = self.cp_min
            batch.copy_max = self.cp_max
        return batch


def decode_rows(data, *, precision="auto", default_time=None, cluster=None, final=True, lineno=1,
                copy_group=None):
    """:func:`ccstore.lineproto.decode_rows`, and with ``copy_group`` the rows of
    one group as binary COPY tuples, without making them (see the twin)."""
    cdef CopyDecoder d
    if copy_group is None:
        return Decoder().rows(data, precision, default_time, cluster, final, lineno)
    d = CopyDecoder()
    d.configure(copy_group)
    return d.batch(d.rows(data, precision, default_time, cluster, final, lineno))
