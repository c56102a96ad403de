# The CPython C API functions the compiled core calls directly (included by
# _lineproto.pyx).
cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_KIND(object o)
    void PyObject_GC_UnTrack(void* op)
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
