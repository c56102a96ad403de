# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Compiled line-protocol core: decode() and decode_rows() of ccstore.lineproto.

The pure-Python twin ``ccstore._pylineproto`` is the reference; this module
gives the same points, rows and errors on every input, only faster
(tests/lineproto/test_codec_differential.py and benchmarks/fuzz_differential.py
compare the two).  How and why it is fast: docs/design/codec.md.  The code is
split by subject into the included .pxi files; _lineproto.pxd is what other
compiled modules may use of it.
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

from ccstore import rows as _rows
from ccstore._lpspec import I64_MAX, I64_MIN, MESSAGES, NAME_LIMIT, PRECISIONS, TEXT_LIMIT
from ccstore.rows import LineError, RowBatch

__all__ = ["Point", "LineError", "RowBatch", "decode", "decode_rows"]

cdef dict _MESSAGES = MESSAGES
cdef dict _PRECISIONS = PRECISIONS
cdef Py_ssize_t _NAME_LIMIT = NAME_LIMIT
cdef Py_ssize_t _TEXT_LIMIT = TEXT_LIMIT
cdef str _MSG_UTF8 = MESSAGES["utf8"]
cdef object _I64_MIN = I64_MIN
cdef object _I64_MAX = I64_MAX
_KEY_UNESC = _re.compile(rb"\\([ ,=])")

include "_lp_cpython.pxi"
include "_lp_scanner.pxi"
include "_lp_parser.pxi"
include "_lp_interning.pxi"
include "_lp_point.pxi"
include "_lp_decoder.pxi"
include "_lp_api.pxi"
