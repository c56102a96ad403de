# The public functions (included by _lineproto.pyx).
def decode(data, *, precision="ns", default_time=None):
    """Decode line protocol into ``(points, errors)``.

    ``precision``: unit of the timestamps (``ns us ms s auto``); ``default_time``
    (ns) is given to lines without a timestamp, None meaning now.  A bad line
    becomes a :class:`LineError` and never affects other lines.
    """
    cdef int64_t mult = _multiplier(precision)
    cdef bytes buf = _as_bytes(data)
    cdef object dt = _default_time(default_time)
    cdef Decoder d = Decoder()
    cdef list points = []
    # untracked while it only holds our untracked points (collections during
    # the call then do not walk it), tracked again before it is returned
    PyObject_GC_UnTrack(<void*>points)
    try:
        d.run(buf, mult, dt, False, None, True, 1, points)
    finally:
        _track(points)
    return points, d.errors


def decode_rows(data, *, precision="auto", default_time=None, cluster=None, final=True, lineno=1):
    """Decode line protocol straight into storage rows (see :class:`RowBatch`).

    Gives exactly what :func:`decode` followed by
    :func:`ccstore.rows.point_to_row` gives, without making points.  With
    ``final=False`` the input is a chunk of a stream: an unterminated last line
    is left for the next call (``consumed``); ``lineno`` numbers the first
    physical line of ``data``.
    """
    return Decoder().rows(data, precision, default_time, cluster, final, lineno)
