"""decode_rows(): bytes straight to storage rows, equal to decode() + point_to_row()."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccstore.rows import ROW_COLUMNS

NS = 1_000_000_000
LOG = (b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info,extra=x "
       b'log="archiving finished" 1740027951\n')
EVENT = (b"job,cluster=alex,hostname=mngmt02,type=node,type-id=0,function=stop_job "
         b'event="{\\"jobId\\": 69}" 1740027951000000000\n')


def test_row_shape(lp, check_rows):
    batch = lp.decode_rows(LOG + EVENT)
    assert batch.groups == {
        ("alex", "log"): [(1740027951 * NS, 1740027951, "ccb", "h1", "node", "0", None, None,
                           '{"extra":"x","loglevel":"info"}', "archiving finished", "info")],
        ("alex", "event"): [(1740027951 * NS, 1740027951, "job", "mngmt02", "node", "0", None,
                             None, '{"function":"stop_job"}', '{"jobId": 69}', "stop_job")],
    }
    assert (batch.errors, batch.dropped, batch.consumed, batch.lines) == ([], {}, len(LOG + EVENT), 2)
    assert batch.rows == 2
    check_rows(lp, LOG + EVENT)


def test_identity_and_other_tags(lp, check_rows):
    data = ('ccmc,stype-id=/homes,zz=1,cluster=c1,stype=filesystem,hostname=n1,type=socket,'
            'type-id=3,aa=é,loglevel=warn log="x" 5\n').encode()
    (row,) = lp.decode_rows(data).groups[("c1", "log")]
    assert row == (5 * NS, 5, "ccmc", "n1", "socket", "3", "filesystem", "/homes",
                   json.dumps({"aa": "é", "loglevel": "warn", "zz": "1"}, ensure_ascii=False,
                              separators=(",", ":")), "x", "warn")
    check_rows(lp, data)


def test_grouping_order(lp, check_rows):
    data = (b'l,cluster=b log="1" 1\ne,cluster=a event="2" 2\nl,cluster=a log="3" 3\n'
            b'l,cluster=b log="4" 4\ne,cluster=a event="5" 5\n')
    batch = check_rows(lp, data)
    assert [(k, [r[9] for r in v]) for k, v in batch.groups.items()] == [
        (("b", "log"), ["1", "4"]), (("a", "event"), ["2", "5"]), (("a", "log"), ["3"])]


def test_cluster_rules(lp, check_rows):
    data = (b'l log="no tag" 1\nl,cluster=x log="tag" 2\nm value=1 3\nc control="GET" 4\n'
            b'l,cluster=x log="tag2" 5\n')
    assert lp.decode_rows(data, cluster="arg").groups == {
        ("arg", "log"): [lp.decode_rows(b'l log="no tag" 1', cluster="arg").groups[
            ("arg", "log")][0]],
        ("x", "log"): lp.decode_rows(b'l,cluster=x log="tag" 2\nl,cluster=x log="tag2" 5\n'
                                     ).groups[("x", "log")],
    }
    batch = check_rows(lp, data)
    assert batch.dropped == {"metric": 1, "control": 1}
    assert [(e.lineno, e.column, e.message, e.text) for e in batch.errors] == [
        (1, 1, "no cluster: the line has no cluster tag and none was given", 'l log="no tag" 1')]
    check_rows(lp, data, cluster="arg")


def test_message_errors_and_positions(lp, check_rows):
    data = (b'ok,cluster=c log="a" 1\n'
            b'  nokind,cluster=c x=1 2\n'
            b'\n'
            b'bad,cluster=c log=5i 3\n'
            b'  multi,cluster=c x="a\nb" 4\n'
            b'ev,cluster=c event=true 5\n'
            b'syntax,cluster=c log= 6\n')
    batch = check_rows(lp, data)
    assert [(e.lineno, e.column, e.message) for e in batch.errors] == [
        (2, 3, "not a ClusterCockpit message: expected a field named event, log, value or control"),
        (4, 1, 'field "log" must be a string'),
        (5, 3, "not a ClusterCockpit message: expected a field named event, log, value or control"),
        (7, 1, 'field "event" must be a string'),
        (8, 22, 'missing value for field "log"'),
    ]
    assert batch.errors[2].text == "  multi,cluster=c x=\"a"
    assert batch.rows == 1 and batch.lines == 8


@pytest.mark.parametrize("fields, kind", [
    (b'x=1,log="a",event="b"', "log"), (b'value=1,log="a"', "metric"),
    (b'event="e",log="l"', "event"), (b'control="c",log="l"', "control"),
    (b'log="a",log="b"', "log"), (b'x=1i,value="s"', "metric"),
])
def test_first_kind_field_decides(lp, fields, kind, check_rows):
    data = b"m,cluster=c " + fields + b" 1\n"
    batch = check_rows(lp, data)
    assert list(batch.groups) + list(batch.dropped) in ([("c", kind)], [kind])


def test_precision_default_auto(lp):
    for ts in (b"1740027951", b"1740027951000", b"1740027951000000", b"1740027951000000000"):
        (row,) = lp.decode_rows(b'l,cluster=c log="x" ' + ts).groups[("c", "log")]
        assert row[:2] == (1740027951 * NS, 1740027951)
    (row,) = lp.decode_rows(b'l,cluster=c log="x" 5', precision="ns").groups[("c", "log")]
    assert row[:2] == (5, 0)
    (row,) = lp.decode_rows(b'l,cluster=c log="x" -1', precision="ns").groups[("c", "log")]
    assert row[:2] == (-1, -1)
    (row,) = lp.decode_rows(b'l,cluster=c log="x"', default_time=7 * NS + 1).groups[("c", "log")]
    assert row[:2] == (7 * NS + 1, 7)
    with pytest.raises(ValueError):
        lp.decode_rows(b"", precision="minutes")


def test_lineno_offset(lp):
    batch = lp.decode_rows(b'ok,cluster=c log="x"\nbad\n', lineno=41)
    assert [(e.lineno, e.column) for e in batch.errors] == [(42, 4)]


@pytest.mark.parametrize("data, consumed, lines", [
    (b"", 0, 0), (b"\n", 1, 1), (b"a v=1", 0, 0), (b"a v=1\n", 6, 1), (b"a v=1\nb v", 6, 1),
    (b"a v=1\r", 0, 0), (b"a v=1\r\nb", 7, 1), (b'a v="x\ny', 0, 0),
    (b'a v="x\ny"\n', 10, 2), (b'a v="x\ny" 1\nz', 12, 2), (b"# c", 0, 0), (b"# c\n\n", 5, 2),
    (b"bad\nb", 4, 1), (b'm,t="q v=1\nn', 11, 1),
])
def test_final_false(lp, data, consumed, lines):
    batch = lp.decode_rows(data, final=False, cluster="c")
    assert (batch.consumed, batch.lines) == (consumed, lines)
    whole = lp.decode_rows(data[:consumed], cluster="c")
    assert (batch.groups, batch.dropped, batch.errors) == (whole.groups, whole.dropped,
                                                            whole.errors)


@pytest.mark.parametrize("data, lines", [(b"", 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2),
                                         (b'a v="\n\n', 2)])
def test_final_lines(lp, data, lines):
    batch = lp.decode_rows(data)
    assert (batch.consumed, batch.lines) == (len(data), lines)


STREAM = (LOG + EVENT + b'bad line\n\r\nl,cluster=c log="multi\nline\r\nstring" 1\r\n'
          b"m,cluster=c value=1.5 2\n# comment\nl log=\"x\" 3\nl,cluster=c log=\"\xff\" 4\n"
          b'l,cluster=c log="a\\"b\\\\" 5\n   l,cluster=d   log="sp"   6   \n' + EVENT + LOG[:-1])


@pytest.mark.parametrize("seed", range(20))
def test_stream_in_random_chunks(lp, seed, stream_rows):
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(STREAM)), rnd.randint(1, 40)))
    whole = lp.decode_rows(STREAM, default_time=0)
    assert stream_rows(lp, STREAM, cuts, default_time=0) == (
        whole.groups, whole.dropped, whole.errors, whole.lines)


def test_stream_byte_by_byte(lp, stream_rows):
    whole = lp.decode_rows(STREAM, default_time=0, cluster="z")
    assert stream_rows(lp, STREAM, range(1, len(STREAM)), default_time=0, cluster="z") == (
        whole.groups, whole.dropped, whole.errors, whole.lines)


def test_workload_sample_matches_reference(lp, workload, check_rows):
    data = workload.generate(3000, seed=7)
    batch = check_rows(lp, data)
    assert batch.errors == [] and batch.rows == 3000 and batch.lines == 3000
    assert set(batch.groups) == {("alex", "log"), ("alex", "event")}


def test_rows_match_reference_on_spec_examples(lp, check_rows):
    check_rows(lp, STREAM)
    check_rows(lp, STREAM, cluster="fallback")
    check_rows(lp, STREAM, precision="ns", cluster="fallback")


# --- grouping rows by host for storage -----------------------------------------
HOST_AT = ROW_COLUMNS.index("hostname")
TIME_AT = ROW_COLUMNS.index("time")


def test_group_by_host_keeps_arrival_order_per_host(lp):
    data = "".join(f'ccb,cluster=c,hostname={h} log="{i}" {t}\n' for i, (h, t) in enumerate(
        [("n2", 5), ("n1", 9), ("n2", 1), ("n10", 7), ("n1", 3), ("n2", 8)]))
    rows = lp.decode_rows(data, precision="ns").groups[("c", "log")]
    out, runs, mn, mx = lp.group_by_host(rows, HOST_AT, TIME_AT)
    assert [r[HOST_AT] for r in out] == ["n2", "n2", "n2", "n1", "n1", "n10"]
    assert [r[TIME_AT] for r in out] == [5, 1, 8, 9, 3, 7]  # arrival order within a host
    assert runs == [("n2", 3), ("n1", 2), ("n10", 1)]
    assert (mn, mx) == (1, 9)
    assert sorted(out) == sorted(rows) and rows[0][TIME_AT] == 5  # input left as it was


def test_group_by_host_hosts_in_order_of_first_appearance(lp):
    rows = [("", 2), (None, 4), ("a", 3), (None, 1), ("", 6)]
    assert lp.group_by_host(rows, 0, 1) == (
        [("", 2), ("", 6), (None, 4), (None, 1), ("a", 3)],
        [("", 2), (None, 2), ("a", 1)], 1, 6)
    assert lp.group_by_host([], 0, 1) == ([], [], None, None)


@given(st.lists(st.tuples(st.sampled_from([None, "a", "b", "ab", "é"]),
                          st.integers(-2**70, 2**70)), max_size=60))
def test_group_by_host_implementations_agree(impls, rows):
    py, cy = impls
    out, runs, mn, mx = cy.group_by_host(rows, 0, 1)
    assert (out, runs, mn, mx) == py.group_by_host(rows, 0, 1)
    assert sum(n for _, n in runs) == len(rows) == len(out)
    assert (mn, mx) == ((min(t for _, t in rows), max(t for _, t in rows)) if rows
                        else (None, None))


# --- rows as PostgreSQL binary COPY data ----------------------------------------
COPY_HEAD = b"PGCOPY\n\xff\r\n\x00" + bytes(8)


def test_copy_binary_layout(lp):
    data = lp.copy_binary([(5, None, "é", None)], 7, 2)
    assert data == (COPY_HEAD + b"\x00\x05"                   # 5 fields: id + 4
                    + b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
                    + b"\x00\x00\x00\x08" + (5).to_bytes(8, "big")
                    + b"\xff\xff\xff\xff"                       # NULL int
                    + b"\x00\x00\x00\x02" + "é".encode()        # text as UTF-8
                    + b"\xff\xff\xff\xff"                       # NULL text
                    + b"\xff\xff")                              # trailer
    assert lp.copy_binary([], None, 0) == COPY_HEAD + b"\xff\xff"
    two = lp.copy_binary([(-1,), (2,)], (1 << 63) - 2, 1)
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
def test_copy_binary_rejects_what_copy_cannot_take(lp, args, exc, message):
    with pytest.raises(exc, match=message.replace("(", r"\(")):
        lp.copy_binary(*args)


_copy_rows = st.integers(0, 4).flatmap(lambda n: st.lists(st.tuples(
    st.one_of(st.none(), st.integers(-(1 << 63), (1 << 63) - 1)),
    *[st.one_of(st.none(), st.text())] * n), max_size=20))


@given(_copy_rows, st.one_of(st.none(), st.integers(-(1 << 63), (1 << 62))))
def test_copy_binary_implementations_agree(impls, rows, first_id):
    py, cy = impls
    assert cy.copy_binary(rows, first_id, 1) == py.copy_binary(rows, first_id, 1)


def test_group_by_host_refuses_rows_changed_while_it_runs(lp):
    rows: list = []

    class Meddling(int):
        def __lt__(self, other):
            rows.pop()  # Python code run by a comparison, shortening the list
            return int(self) < int(other)

    rows.extend([("a", Meddling(2)), ("b", Meddling(1)), ("a", Meddling(3))])
    with pytest.raises(RuntimeError, match="rows changed while they were grouped"):
        lp.group_by_host(rows, 0, 1)


def test_group_by_host_indexes_like_python(lp):
    rows = [("a", 1), ("b", 2)]
    assert lp.group_by_host(rows, -2, -1) == (rows, [("a", 1), ("b", 1)], 1, 2)
    with pytest.raises(IndexError):
        lp.group_by_host(rows, 2, 1)


# --- one group straight to binary COPY data (copy_group) ------------------------
DAY = 86400 * NS
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
def test_copy_group_takes_the_group_rows_of_the_day(lp, spec, copied):
    batch = check_copy_group(lp, COPY_LINES, spec, cluster="fallback")
    assert batch.copied == copied
    assert len(batch.errors) == 1 and batch.dropped == {"metric": 1}


def test_copy_group_on_the_workload_and_in_chunks(lp, workload):
    data = workload.generate(3000, seed=3)
    day = lp.decode_rows(data).groups[("alex", "log")][0][0] // DAY
    for kind in ("log", "event"):
        check_copy_group(lp, data, ("alex", kind, day, 77))
    # streamed: the ids go on from one chunk to the next; the COPY data joined is
    # that of the whole group
    whole = lp.decode_rows(data, default_time=0).groups[("alex", "log")]
    parts, n, pending, lineno = [], 0, b"", 1
    for i in range(0, len(data), 7000):
        pending += data[i:i + 7000]
        batch = lp.decode_rows(pending, final=i + 7000 >= len(data), lineno=lineno,
                               default_time=0, copy_group=("alex", "log", None, 100 + n))
        parts.append(batch.copy)
        n += batch.copied
        pending, lineno = pending[batch.consumed:], lineno + batch.lines
    assert b"".join(parts) == lp_copy(lp, whole, 100)


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
def test_copy_group_is_checked(lp, spec, exc, message):
    with pytest.raises(exc, match=message):
        lp.decode_rows(LOG, copy_group=spec)


def test_copy_group_ids_stop_at_the_last_int64(lp):
    two = LOG + LOG
    batch = lp.decode_rows(two, copy_group=("alex", "log", None, (1 << 63) - 2))
    assert batch.copied == 2
    with pytest.raises(OverflowError, match="ids beyond the int64 range"):
        lp.decode_rows(two, copy_group=("alex", "log", None, (1 << 63) - 1))
