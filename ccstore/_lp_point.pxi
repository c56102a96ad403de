# The Point class (included by _lineproto.pyx).
# ---------------------------------------------------------------------------
# Point
# ---------------------------------------------------------------------------
cdef inline int _value_class(object v):
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, float):
        return 2
    return 3


@cython.freelist(1024)
@cython.final
cdef class Point:
    """One line-protocol point: ``name``, ``tags``, ``fields`` (both dicts in
    input order) and ``time`` (nanoseconds since the epoch).

    Equality compares the four attributes (with points of the twin too) and a
    field's type counts (``1`` != ``1.0``).

    Points made by :func:`decode` hold a str name, an int time and two dicts
    of str keys and str/int/float/bool values: nothing that can lead back to
    the point, so they start untracked by the cyclic garbage collector (a
    large decode then costs the collector nothing).  The dicts can only be
    reached through ``tags``/``fields`` (or pickling), and reaching them, like
    setting any attribute, tracks the point first, so a cycle a program builds
    later (``p.tags["me"] = p``) is collected as usual.  Points built by calling
    ``Point(...)`` are tracked from the start.
    """
    cdef object _name
    cdef object _tags
    cdef object _fields
    cdef object _time

    def __init__(self, name, tags=None, fields=None, time=0):
        self._name = name
        self._tags = {} if tags is None else tags
        self._fields = {} if fields is None else fields
        self._time = time

    cdef inline void _track(self):
        if not PyObject_GC_IsTracked(self):
            PyObject_GC_Track(<void*>self)

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._track()
        self._name = value

    @property
    def tags(self):
        self._track()
        return self._tags

    @tags.setter
    def tags(self, value):
        self._track()
        self._tags = value

    @property
    def fields(self):
        self._track()
        return self._fields

    @fields.setter
    def fields(self, value):
        self._track()
        self._fields = value

    @property
    def time(self):
        return self._time

    @time.setter
    def time(self, value):
        self._track()
        self._time = value

    def __eq__(self, other):
        """Equal name, tags, time and fields; a field's type counts (``1`` != ``1.0``)."""
        cdef Point o
        if isinstance(other, Point):
            o = <Point>other
            oname, otags, ofields, otime = o._name, o._tags, o._fields, o._time
        else:
            try:
                oname, otags, ofields, otime = other.name, other.tags, other.fields, other.time
            except AttributeError:
                return NotImplemented
        if self._name != oname or self._time != otime or self._tags != otags:
            return False
        if self._fields != ofields:
            return False
        for k, v in self._fields.items():
            if _value_class(v) != _value_class(ofields[k]):
                return False
        return True

    __hash__ = None

    def __repr__(self):
        return (f"Point(name={self._name!r}, tags={self._tags!r}, "
                f"fields={self._fields!r}, time={self._time!r})")

    def __reduce__(self):
        self._track()
        return (Point, (self._name, self._tags, self._fields, self._time))

