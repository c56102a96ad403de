# Parsing one line into spans (PState): tag and field kinds, error codes and
# their messages, duplicate tag keys, numbers and timestamps, and _parse itself
# (included by _lineproto.pyx).
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

# error codes (keys of MESSAGES)
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


# --- error messages -------------------------------------------------------------
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


