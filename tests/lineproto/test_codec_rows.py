"""decode_rows(): bytes straight to storage rows, equal to decode() + point_to_row()."""
from __future__ import annotations

import json
import random

import pytest

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
    assert (batch.errors, batch.dropped, batch.consumed, batch.lines) == (
        [], {}, len(LOG + EVENT), 2)
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
