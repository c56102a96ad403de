# cython: language_level=3
# What other compiled modules may use of the compiled line-protocol core: the
# spans a parsed line is kept as, the decoder class with its per-row hook (a
# backend's decoder subclasses it to encode one group's rows itself), and a
# few helpers.  Everything else of the core stays private to it.
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport realloc

ctypedef const unsigned char* cbuf

# flags of a token
cdef enum:
    TK_ESC = 1     # contains a backslash escape that is removed
    TK_HIGH = 2    # contains bytes >= 0x80

# message kinds (the first field key that names one)
cdef enum:
    K_NONE = 0
    K_EVENT = 1
    K_LOG = 2
    K_METRIC = 3
    K_CONTROL = 4

# tags with a meaning of their own; T_HOSTNAME..T_STYPEID are the identity
# columns, in column order
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
    T_COUNT = 9

# field value types
cdef enum:
    F_FLOAT = 1
    F_INT = 2
    F_UINT = 3
    F_BOOL = 4
    F_STR = 5

# per-decode memo slots: the measurement, the first tag keys and values, the
# first field keys
cdef enum:
    MEMO_TAGS = 16
    MEMO_FIELDS = 8
    M_MEAS = 0
    M_TKEY = 1
    M_TVAL = 1 + MEMO_TAGS
    M_FKEY = 1 + 2 * MEMO_TAGS
    MEMO_N = 1 + 2 * MEMO_TAGS + MEMO_FIELDS

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

# a growable byte buffer
cdef struct Buf:
    unsigned char* p
    Py_ssize_t n, cap

cdef struct Memo:
    cbuf p
    Py_ssize_t n
    PyObject* obj

cdef struct OTag:
    cbuf kp
    cbuf vp
    Py_ssize_t kn, vn
    Py_ssize_t ko, vo   # offsets into the scratch buffer (-1: points into the input)


cdef inline int _buf_reserve(Buf* B, Py_ssize_t more) except -1:
    """Room for ``more`` bytes after ``B.n``."""
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


cdef extern from "Python.h":
    int PyObject_GC_IsTracked(object op)
    void PyObject_GC_Track(void* op)


cdef inline void _track(object o):
    """Track ``o`` by the cyclic garbage collector again (lists and tuples are
    untracked while they are filled with objects that cannot form cycles)."""
    if not PyObject_GC_IsTracked(o):
        PyObject_GC_Track(<void*>o)


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept:
    """a // b rounded towards minus infinity (b > 0), as Python's (C division
    whatever the including module's cdivision directive)."""
    cdef int64_t q = cython.cdiv(a, b)
    if cython.cmod(a, b) < 0:
        q -= 1
    return q


cdef Py_ssize_t _unescape_key(cbuf src, Py_ssize_t n, unsigned char* dst, bint meas) noexcept
cdef Py_ssize_t _unescape_str(cbuf p, Py_ssize_t n, unsigned char* dst) noexcept
cdef object intern_ascii(cbuf p, Py_ssize_t n)


cdef class Decoder:
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
    cdef int64_t dt64         # default_time as a C integer
    # rows
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
    # a subclass that overrides take_row sets this
    cdef bint hooked

    @cython.final
    cdef int run(self, bytes data, int64_t mult, object default_time, bint rows, object cluster,
                 bint final, object lineno, list out) except -1
    @cython.final
    cdef int add_error(self, Py_ssize_t ls, Py_ssize_t lno, Py_ssize_t pos,
                       str message) except -1
    @cython.final
    cdef inline object meas_str(self)
    @cython.final
    cdef inline object tkey_str(self, Py_ssize_t i)
    @cython.final
    cdef inline object tval_str(self, Py_ssize_t i)
    @cython.final
    cdef inline object fkey_str(self, Py_ssize_t i)
    @cython.final
    cdef inline int set_tval(self, object row, Py_ssize_t pos, Py_ssize_t i) except -1
    @cython.final
    cdef object othertags_for(self, Py_ssize_t j, Py_ssize_t nother)
    @cython.final
    cdef int emit_point(self, list out) except -1
    @cython.final
    cdef object othertags(self)
    @cython.final
    cdef int othertags_fill(self) except -1
    @cython.final
    cdef int emit_row(self, Py_ssize_t ls, Py_ssize_t lno, Py_ssize_t s) except -1
    @cython.final
    cdef object rows(self, object data, object precision, object default_time, object cluster,
                     object final, object lineno)

    cdef bint take_row(self, int kind, object cl, Py_ssize_t* idx, Py_ssize_t nother,
                       FieldTok* f) except -1
