# The decode loop: the Decoder class, which runs the scanner and parser over a
# buffer and makes points or rows (included by _lineproto.pyx).
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


cdef class Decoder:
    """One decode call: the scanner state and its outputs (attributes: see
    _lineproto.pxd).  A subclass may take rows of its own before they become
    tuples: it sets ``hooked`` and overrides :meth:`take_row`."""

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
        free(self.otags)

    @cython.final
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

    @cython.final
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

    @cython.final
    cdef inline object meas_str(self):
        cdef PState* S = &self.S
        return <object>_memo_get(&self.memo[M_MEAS], S.b + S.ms, S.me - S.ms, S.mflags, True)

    @cython.final
    cdef inline object tkey_str(self, Py_ssize_t i):
        cdef TagTok* t = &self.S.tags[i]
        if i < MEMO_TAGS:
            return <object>_memo_get(&self.memo[M_TKEY + i], self.S.b + t.ks, t.ke - t.ks,
                                     t.kflags, False)
        return _tok_str(self.S.b, t.ks, t.ke, t.kflags)

    @cython.final
    cdef inline object tval_str(self, Py_ssize_t i):
        cdef TagTok* t = &self.S.tags[i]
        if i < MEMO_TAGS:
            return <object>_memo_get(&self.memo[M_TVAL + i], self.S.b + t.vs, t.ve - t.vs,
                                     t.vflags, False)
        return _tok_str(self.S.b, t.vs, t.ve, t.vflags)

    @cython.final
    cdef inline object fkey_str(self, Py_ssize_t i):
        cdef FieldTok* f = &self.S.fields[i]
        if i < MEMO_FIELDS:
            return <object>_memo_get(&self.memo[M_FKEY + i], self.S.b + f.ks, f.ke - f.ks,
                                     f.kflags, False)
        return _tok_str(self.S.b, f.ks, f.ke, f.kflags)

    @cython.final
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

    @cython.final
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

    @cython.final
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

    @cython.final
    cdef object othertags(self):
        """JSON of the tags without a column of their own (sorted, compact)."""
        cdef int flags = self.othertags_fill()
        return _cached_json(self.obuf.p, self.obuf.n, flags)

    @cython.final
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

    @cython.final
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
        if self.hooked and self.take_row(kind, cl, idx, nother, f):
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

    cdef bint take_row(self, int kind, object cl, Py_ssize_t* idx, Py_ssize_t nother,
                       FieldTok* f) except -1:
        """Whether a subclass takes the row of the line just parsed (an event or
        log of cluster ``cl``; ``idx``: the index of each T_* tag, -1 when missing;
        ``nother``: the tags for othertags; ``f``: the message field), which then
        makes no row tuple.  Called only when ``hooked`` is set."""
        return False

    @cython.final
    cdef object rows(self, object data, object precision, object default_time, object cluster,
                     object final, object lineno):
        """decode_rows() with this decoder."""
        cdef int64_t mult = _multiplier(precision)
        cdef bytes buf = _as_bytes(data)
        cdef object dt = _default_time(default_time)
        cdef dict dropped = {}
        self.dt64 = dt  # in the int64 range (_default_time)
        try:
            self.run(buf, mult, dt, True, cluster, True if final else False, lineno, None)
        finally:
            for lst in self.groups.values():
                _track(lst)
        if self.metric_first:
            dropped["metric"] = self.n_metric
        if self.n_control:
            dropped["control"] = self.n_control
        if self.n_metric and not self.metric_first:
            dropped["metric"] = self.n_metric
        return RowBatch(self.groups, self.errors, dropped, self.consumed, self.lines)


_MSG_NOT_CC = _rows.NOT_A_MESSAGE
_MSG_EVENT_STR = _rows.NOT_A_STRING.format(key="event")
_MSG_LOG_STR = _rows.NOT_A_STRING.format(key="log")
_MSG_NO_CLUSTER = _rows.NO_CLUSTER

