# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Rows grouped by host for writing: the compiled twin of ``_pyhostruns``."""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdlib cimport free, malloc, realloc

__all__ = ["group_by_host"]


cdef extern from "Python.h":
    object PyList_New(Py_ssize_t n)
    PyObject* PyList_GET_ITEM(object l, Py_ssize_t i)
    void PyList_SET_ITEM(object l, Py_ssize_t i, PyObject* o)
    Py_ssize_t PyLong_AsSsize_t(object o) except? -1
    int PyDict_SetItem(object d, object k, object v) except -1
    PyObject* PyDict_GetItem(object d, object k)


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

