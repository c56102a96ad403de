# Byte scanning: finding the bytes that end or complicate a token (SSE2, else
# eight bytes at a time), UTF-8 checks, digit runs, token ends, string ends and
# the framing of a bad line (included by _lineproto.pyx).
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

