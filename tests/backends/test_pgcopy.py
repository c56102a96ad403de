"""PostgreSQL binary COPY data (ccstore.backends.pgcopy), both implementations:
copy_binary() of row tuples, and decode_rows() with ``copy_group``, which encodes
one group's rows as it decodes them."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lpinputs import arbitrary, call, canon_copy, messages_, near_valid, precisions, workload

from ccstore.backends.pgcopy import COPY_SIGNATURE, COPY_TRAILER, DAY_NS

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
NS = 1_000_000_000
LOG = (b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info,extra=x "
       b'log="archiving finished" 1740027951\n')
EVENT = (b"job,cluster=alex,hostname=mngmt02,type=node,type-id=0,function=stop_job "
         b'event="{\\"jobId\\": 69}" 1740027951000000000\n')


def test_layout_constants():
    assert COPY_SIGNATURE == b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    assert COPY_TRAILER == b"\xff\xff" and DAY_NS == 86400 * NS


COPY_HEAD = COPY_SIGNATURE


def test_copy_binary_layout(pgcopy):
    data = pgcopy.copy_binary([(5, None, "é", None)], 7, 2)
    assert data == (COPY_HEAD + b"\x00\x05"                   # 5 fields: id + 4
                    + b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
                    + b"\x00\x00\x00\x08" + (5).to_bytes(8, "big")
                    + b"\xff\xff\xff\xff"                       # NULL int
                    + b"\x00\x00\x00\x02" + "é".encode()        # text as UTF-8
                    + b"\xff\xff\xff\xff"                       # NULL text
                    + b"\xff\xff")                              # trailer
    assert pgcopy.copy_binary([], None, 0) == COPY_HEAD + b"\xff\xff"
    two = pgcopy.copy_binary([(-1,), (2,)], (1 << 63) - 2, 1)
    assert two.count((-1).to_bytes(8, "big", signed=True)) == 1
    assert ((1 << 63) - 1).to_bytes(8, "big") in two  # ids up to the last int64


@pytest.mark.parametrize("args, exc, message", [
    (([(1, "a")], None, 2), TypeError, "column 1: expected int or None, not str"),
    (([(True,)], None, 1), TypeError, "column 0: expected int or None, not bool"),
    (([(1,)], None, 0), TypeError, "column 0: expected str or None, not int"),
    (([(1 << 63,)], None, 1), OverflowError, "column 0: 9223372036854775808 is beyond"),
    (([("a", "b"), ("c",)], None, 0), ValueError, "rows of 2 and of 1 values"),
    (([(1,), (2,)], (1 << 63) - 1, 1), OverflowError, "ids beyond the int64 range"),
    (([], -(1 << 63) - 1, 0), OverflowError, "ids beyond the int64 range"),
])
def test_copy_binary_rejects_what_copy_cannot_take(pgcopy, args, exc, message):
    with pytest.raises(exc, match=message.replace("(", r"\(")):
        pgcopy.copy_binary(*args)


_copy_rows = st.integers(0, 4).flatmap(lambda n: st.lists(st.tuples(
    st.one_of(st.none(), st.integers(-(1 << 63), (1 << 63) - 1)),
    *[st.one_of(st.none(), st.text())] * n), max_size=20))


@given(_copy_rows, st.one_of(st.none(), st.integers(-(1 << 63), (1 << 62))))
def test_copy_binary_implementations_agree(pgcopy_impls, rows, first_id):
    py, cy = pgcopy_impls
    assert cy.copy_binary(rows, first_id, 1) == py.copy_binary(rows, first_id, 1)


DAY = DAY_NS
COPY_LINES = (
    # escapes in the measurement, tag keys and values, and the string value;
    # several other tags (sorted into othertags), none, a missing identity tag
    b'c\\ pu\\,x,cluster=alex,hostname=h\\ 1,type=node,type-id=0,stype=s\\,1,stype-id=2,'
    b'loglevel=warn,zz=1,a\\=b=v\\ w log="q\\"uote\\\\d \\n \xc3\xa9 \\t\\x" 1740027951\n'
    b'ccb,cluster=alex,hostname=h2 log="" 1740027952\n'
    b'job,cluster=alex,hostname=h3,function=start_job event="{\\"jobId\\": 1}" 1740027953\n'
    # another cluster, another day, a line without time, metrics, bad lines
    b'ccb,cluster=other,hostname=h1 log="x" 1740027954\n'
    b'ccb,cluster=alex,hostname=h1 log="yesterday" 1739900000\n'
    b'ccb,cluster=alex,hostname=h4 log="no time"\n'
    b'cpu,cluster=alex,hostname=h1 value=1 1740027955\n'
    b'ccb,cluster=alex log=bad 1740027956\n'
    b'ccb,hostname=h5 log="default cluster" 1740027957\n'
    b'\xf0\x9f\x98\x80,cluster=alex,hostname=\xc3\xa9 log="\xe2\x82\xac" 1740027958\n'
) + LOG + EVENT


def check_copy_group(impl, data, spec, **kw):
    """``decode_rows(data, copy_group=spec)`` gives what decoding without it gives,
    except that the group's rows of the day are in ``copy``, as
    ``copy_binary(rows, first_id, 2)`` encodes them; return the batch."""
    kw.setdefault("default_time", 0)
    whole = impl.decode_rows(data, **kw)
    batch = impl.decode_rows(data, copy_group=spec, **kw)
    cl, kind, day, first_id = spec
    copied = [r for r in whole.groups.get((cl, kind), [])
              if day is None or r[0] // DAY == day]
    rest = {}
    for key, rows in whole.groups.items():
        for r in rows:
            if key != (cl, kind) or (day is not None and r[0] // DAY != day):
                rest.setdefault(key, []).append(r)
    assert batch.groups == rest  # (the order of keys: the differential tests)
    assert batch.copy == lp_copy(impl, copied, first_id)
    assert batch.copied == len(copied) and batch.rows == whole.rows
    times = [r[0] for r in copied]
    assert (batch.copy_min, batch.copy_max) == ((min(times), max(times)) if times
                                                 else (None, None))
    assert (batch.errors, batch.dropped, batch.consumed, batch.lines) == (
        whole.errors, whole.dropped, whole.consumed, whole.lines)
    return batch


def lp_copy(impl, rows, first_id):
    return impl.copy_binary(rows, first_id, 2)[len(COPY_HEAD):-2] if rows else b""


@pytest.mark.parametrize("spec, copied", [
    (("alex", "log", 1740027951 // 86400, 1), 4),
    (("alex", "log", 1740027951 // 86400, None), 4),
    (("alex", "log", None, 1 << 40), 6),            # every day, the default time's too
    (("alex", "log", 0, 3), 1),                     # the line without time (default 0)
    (("alex", "event", 1740027951 // 86400, 9), 2),
    (("other", "log", None, None), 1),
    (("fallback", "log", None, 5), 1),              # the cluster given for lines without
    (("nobody", "log", None, 5), 0),
])
def test_copy_group_takes_the_group_rows_of_the_day(pgcopy, spec, copied):
    batch = check_copy_group(pgcopy, COPY_LINES, spec, cluster="fallback")
    assert batch.copied == copied
    assert len(batch.errors) == 1 and batch.dropped == {"metric": 1}


def test_copy_group_on_the_workload_and_in_chunks(pgcopy):
    data = workload().generate(3000, seed=3)
    day = pgcopy.decode_rows(data).groups[("alex", "log")][0][0] // DAY
    for kind in ("log", "event"):
        check_copy_group(pgcopy, data, ("alex", kind, day, 77))
    # streamed: the ids go on from one chunk to the next; the COPY data joined is
    # that of the whole group
    whole = pgcopy.decode_rows(data, default_time=0).groups[("alex", "log")]
    parts, n, pending, lineno = [], 0, b"", 1
    for i in range(0, len(data), 7000):
        pending += data[i:i + 7000]
        batch = pgcopy.decode_rows(pending, final=i + 7000 >= len(data), lineno=lineno,
                               default_time=0, copy_group=("alex", "log", None, 100 + n))
        parts.append(batch.copy)
        n += batch.copied
        pending, lineno = pending[batch.consumed:], lineno + batch.lines
    assert b"".join(parts) == lp_copy(pgcopy, whole, 100)


@pytest.mark.parametrize("spec, exc, message", [
    (("alex", "log", None), TypeError, "copy_group must be"),
    ("alex", TypeError, "copy_group must be"),
    ((1, "log", None, None), TypeError, "cluster must be a non-empty str"),
    (("", "log", None, None), TypeError, "cluster must be a non-empty str"),
    (("alex", "metric", None, None), ValueError, "kind must be 'log' or 'event'"),
    (("alex", "log", 1 << 60, None), OverflowError, "day is beyond"),
    (("alex", "log", "1", None), TypeError, "'str' object cannot be interpreted as an integer"),
    (("alex", "log", None, 1 << 63), OverflowError, "ids beyond the int64 range"),
])
def test_copy_group_is_checked(pgcopy, spec, exc, message):
    with pytest.raises(exc, match=message):
        pgcopy.decode_rows(LOG, copy_group=spec)


def test_copy_group_ids_stop_at_the_last_int64(pgcopy):
    two = LOG + LOG
    batch = pgcopy.decode_rows(two, copy_group=("alex", "log", None, (1 << 63) - 2))
    assert batch.copied == 2
    with pytest.raises(OverflowError, match="ids beyond the int64 range"):
        pgcopy.decode_rows(two, copy_group=("alex", "log", None, (1 << 63) - 1))


@SETTINGS
@given(data=st.one_of(messages_, messages_, near_valid, arbitrary), precision=precisions,
       cluster=st.sampled_from([None, "c", "alex", "\u00e9"]), final=st.booleans(),
       spec=st.tuples(st.sampled_from(["alex", "c", "\u00e9", "a b", "x,y"]),
                      st.sampled_from(["log", "event"]),
                      st.sampled_from([None, 0, -1, 20139, 1740027951]),
                      st.sampled_from([None, 0, 1, -(1 << 63), (1 << 63) - 2])))
def test_decode_rows_copy_group_agrees(pgcopy_impls, data, precision, cluster, final, spec):
    """The rows of one group as binary COPY data: the same bytes, ids, rows left
    in groups (keys in the same order), errors and exceptions."""
    py, cy = pgcopy_impls
    kw = dict(precision=precision, default_time=1740027951000000000, cluster=cluster,
              final=final, copy_group=spec)
    assert canon_copy(call(cy.decode_rows, data, **kw)) == canon_copy(
        call(py.decode_rows, data, **kw))


@pytest.mark.parametrize("data", [b'ccb,cluster=alex log="x" -1\n', b'ccb,cluster=alex log="y"\n'])
def test_copy_group_seconds_round_down_before_1970(pgcopy, data):
    """The second of a time before 1970 that is not a whole second is the one
    before it (floor division), in the COPY data as in the rows."""
    batch = check_copy_group(pgcopy, data, ("alex", "log", None, 1), precision="ns",
                             default_time=-1)
    assert batch.copied == 1


def test_compiled_implementation_is_used():
    """CI must run the compiled module unless a pure-Python run was asked for."""
    from twins import PYTHON_ONLY

    from ccstore.backends import pgcopy

    assert pgcopy.IMPLEMENTATION == ("python" if PYTHON_ONLY else "cython")
    module = pgcopy.get_implementation(pgcopy.IMPLEMENTATION)
    assert (pgcopy.copy_binary, pgcopy.decode_rows) == (module.copy_binary, module.decode_rows)


def test_the_compiled_copy_decoder_is_the_compiled_decoder(pgcopy_impls):
    """The compiled COPY decoder extends the compiled line-protocol decoder (one
    scanner and parser), the pure one the pure decoder."""
    from ccstore import _lineproto, _pylineproto

    py, cy = pgcopy_impls
    assert issubclass(cy.CopyDecoder, _lineproto.Decoder)
    assert issubclass(py.CopyDecoder, _pylineproto.RowDecoder)
