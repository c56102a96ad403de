"""The compiled core and the pure-Python twin give identical results on every input.

Compared: points (name, tags, fields with their types, time), errors (line,
column, message, text), rows, one group's rows as binary COPY data, dropped
counts, consumed bytes, line counts and raised exceptions; for arbitrary bytes,
for valid ClusterCockpit lines with a few mutations, for events and logs, and
for streams cut into chunks decoded with ``final=False``.
``benchmarks/fuzz_differential.py`` runs the same comparison on millions of
inputs.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------ comparison
def call(f: Callable[..., Any], *a: Any, **k: Any) -> Tuple[str, Any]:
    try:
        return "ok", f(*a, **k)
    except Exception as exc:  # compared between the implementations
        return "raise", (type(exc).__name__, str(exc))


def canon_decode(res: Tuple[str, Any]) -> Any:
    tag, v = res
    if tag != "ok":
        return res
    points, errors = v
    return ([(p.name, list(p.tags.items()),
              [(k, type(x).__name__, repr(x)) for k, x in p.fields.items()], p.time)
             for p in points],
            [(e.lineno, e.column, e.message, e.text) for e in errors])


def canon_rows(res: Tuple[str, Any]) -> Any:
    tag, v = res
    if tag != "ok":
        return res
    return ([(key, [[(type(x).__name__, x) for x in row] for row in rows])
             for key, rows in v.groups.items()],
            sorted(v.dropped.items()),
            [(e.lineno, e.column, e.message, e.text) for e in v.errors],
            v.consumed, v.lines)


def assert_decode_agrees(impls: Tuple[Any, Any], data: Any, **kw: Any) -> None:
    py, cy = impls
    assert canon_decode(call(cy.decode, data, **kw)) == canon_decode(call(py.decode, data, **kw))


def assert_rows_agree(impls: Tuple[Any, Any], data: Any, **kw: Any) -> None:
    py, cy = impls
    assert canon_rows(call(cy.decode_rows, data, **kw)) == canon_rows(
        call(py.decode_rows, data, **kw))


# ------------------------------------------------------------------ strategies
# bytes that steer the scanner: separators, escapes, quotes, line ends,
# control bytes, and the starts of valid and invalid UTF-8 sequences
SCANNER_BYTES = list(b'm=, \\"\n\r\t#-.0123456789eEiutTfFx') + [0, 1, 0x7F, 0x80, 0xBF, 0xC3,
                                                                 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
FRAGMENTS = [
    b"m", b"log", b"event", b"value", b"control", b"cluster", b"hostname", b"type-id",
    b"loglevel", b"function", b",", b"=", b" ", b"  ", b"\\", b'"', b"\n", b"\r", b"\r\n", b"#",
    b"\t", b"\x00", b"\x7f", b"1", b"-", b".", b"e", b"i", b"u", b"t", b"true", b"\xff",
    b"\xc3\xa9", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\\n", b'\\"', b"\\\\",
    b"1740027951", b"1740027951000000000", b"9223372036854775807", b"9223372036854775808",
    b"18446744073709551616", b"-9223372036854775808", b"1e308", b"1e309", b"cluster=a",
    b'log="', b'event="', b"value=1",
]
arbitrary = st.one_of(
    st.binary(max_size=80),
    st.lists(st.sampled_from(SCANNER_BYTES), max_size=80).map(bytes),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(b"".join),
)

_word = st.sampled_from(["alex", "h1", "node", "0", "info", "stop_job", "a b", "x,y", "k=v",
                         "\\", "\\\\x", '"q"', "é", "\U0001f600", "#", "-"])
_value = st.one_of(
    st.sampled_from(["1", "1.", ".5", "-0", "1e5", "-1.5E-3", "1e308", "1e309", "5e-324", "0.1",
                     "t", "TRUE", "False", "0i", "-9223372036854775808i", "9223372036854775807i",
                     "9223372036854775808i", "18446744073709551615u", "18446744073709551616u",
                     "123456789012345678901234567890"]),
    st.integers(-2**70, 2**70).map(lambda v: f"{v}i"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.lists(st.sampled_from(["x", " ", ",", "=", "\\\\", '\\"', "\\n", "\\t", "\\q", "\n",
                              "\r\n", "é", "{\\\"jobId\\\": 1}"]), max_size=8)
    .map(lambda parts: '"' + "".join(parts) + '"'),
)


def _esc(s: str, specials: str) -> str:
    for c in specials:
        s = s.replace(c, "\\" + c)
    return s + ("x" if s.endswith("\\") else "")


@st.composite
def cc_lines(draw: Any) -> bytes:
    """A valid-looking ClusterCockpit line: escapes, every field type, edge values."""
    name = draw(st.sampled_from(["ccb", "job", "m", "c pu", "a,b", "é", "x\\y"]))
    line = _esc(name, ", ")
    keys = draw(st.lists(st.sampled_from(["cluster", "hostname", "type", "type-id", "stype",
                                          "stype-id", "loglevel", "function", "k=1", "a b"]),
                         unique=True, max_size=6))
    for k in keys:
        line += "," + _esc(k, ",= ") + "=" + _esc(draw(_word), ",= ")
    fields = draw(st.lists(st.tuples(st.sampled_from(["log", "event", "value", "control", "v",
                                                      "x y"]), _value),
                           min_size=1, max_size=3))
    line += " " * draw(st.integers(1, 2)) + ",".join(_esc(k, ",= ") + "=" + v for k, v in fields)
    ts = draw(st.sampled_from([None, "1740027951", "1740027951000", "1740027951000000",
                               "1740027951000000000", "-5", "0", "9223372036854775807",
                               "9223372036854775808", "99999999999"]))
    if ts is not None:
        line += " " * draw(st.integers(1, 2)) + ts
    return (line + " " * draw(st.integers(0, 2))).encode()


_insert = st.sampled_from([b"\\", b'"', b" ", b",", b"=", b"\n", b"\r", b"\r\n", b"\t", b"\x00",
                           b"\x7f", b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"#", b"-", b".",
                           b"e", b"i", b"u", b"99999999999999999999", b"1e400", b'\\"',
                           b"\\\\", b"  ", b",,", b"==", b'""'])


@st.composite
def mutated(draw: Any) -> bytes:
    """A valid line with a few bytes inserted, deleted or replaced."""
    b = bytearray(draw(cc_lines()))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.integers(0, 2))
        pos = draw(st.integers(0, len(b)))
        if op == 0:
            b[pos:pos] = draw(_insert)
        elif op == 1 and b:
            del b[min(pos, len(b) - 1)]
        elif b:
            b[min(pos, len(b) - 1)] = draw(st.sampled_from(SCANNER_BYTES))
    return bytes(b)


near_valid = st.lists(st.one_of(cc_lines(), mutated(), mutated(),
                                st.sampled_from([b"", b"  ", b"# c", b"#\x01", b"\r"])),
                      min_size=1, max_size=5).flatmap(
    lambda lines: st.sampled_from([b"\n", b"\r\n"]).flatmap(
        lambda sep: st.booleans().map(lambda end: sep.join(lines) + (sep if end else b""))))

precisions = st.sampled_from(["ns", "us", "ms", "s", "auto"])
default_times = st.sampled_from([0, -1, 1740027951000000000])


# ------------------------------------------------------------------ decode()
@SETTINGS
@given(data=arbitrary, precision=precisions, default_time=default_times)
def test_decode_agrees_on_arbitrary_bytes(impls, data, precision, default_time):
    assert_decode_agrees(impls, data, precision=precision, default_time=default_time)


@SETTINGS
@given(data=near_valid, precision=precisions, default_time=default_times)
def test_decode_agrees_on_near_valid_lines(impls, data, precision, default_time):
    assert_decode_agrees(impls, data, precision=precision, default_time=default_time)


# ------------------------------------------------------------------ decode_rows()
@SETTINGS
@given(data=st.one_of(arbitrary, near_valid), precision=precisions,
       cluster=st.sampled_from([None, "", "c"]), final=st.booleans(),
       lineno=st.sampled_from([1, 5]))
def test_decode_rows_agrees(impls, data, precision, cluster, final, lineno):
    assert_rows_agree(impls, data, precision=precision, default_time=0, cluster=cluster,
                      final=final, lineno=lineno)


_string = st.lists(st.sampled_from(["x", " ", ",", "=", "\\\\", '\\"', "\\n", "\\t", "\\q",
                                    "\n", "\u00e9", "\\"]), max_size=8).map(
    lambda parts: '"' + "".join(parts) + '"')


@st.composite
def cc_messages(draw: Any) -> bytes:
    """A line protocol event or log, with or without a cluster, identity tags, other
    tags (escaped), a time (maybe another day) and more fields."""
    name = draw(st.sampled_from(["ccb", "job", "c pu", "a,b", "\u00e9", "x\\y"]))
    line = _esc(name, ", ")
    keys = draw(st.lists(st.sampled_from(["cluster", "cluster", "hostname", "type", "type-id",
                                          "stype", "stype-id", "loglevel", "function", "k=1",
                                          "a b", "z"]), unique=True, max_size=7))
    for k in keys:
        v = draw(st.sampled_from(["alex", "c"])) if k == "cluster" else draw(_word)
        line += "," + _esc(k, ",= ") + "=" + _esc(v, ",= ")
    kind = draw(st.sampled_from(["log", "event"]))
    fields = [(kind, draw(_string))] + draw(st.lists(st.tuples(
        st.sampled_from(["v", "log", "x y"]), _value), max_size=2))
    line += " " + ",".join(_esc(k, ",= ") + "=" + v for k, v in fields)
    ts = draw(st.sampled_from([None, "1740027951", "1739900000", "1740027951000000000", "-5",
                               "0"]))
    return (line + ("" if ts is None else " " + ts)).encode()


messages_ = st.lists(st.one_of(cc_messages(), cc_messages(), mutated()), min_size=1,
                     max_size=8).map(b"\n".join)


def canon_copy(res: Tuple[str, Any]) -> Any:
    tag, v = res
    if tag != "ok":
        return res
    return canon_rows(res), v.copy, v.copied, v.copy_min, v.copy_max


@SETTINGS
@given(data=st.one_of(messages_, messages_, near_valid, arbitrary), precision=precisions,
       cluster=st.sampled_from([None, "c", "alex", "\u00e9"]), final=st.booleans(),
       spec=st.tuples(st.sampled_from(["alex", "c", "\u00e9", "a b", "x,y"]),
                      st.sampled_from(["log", "event"]),
                      st.sampled_from([None, 0, -1, 20139, 1740027951]),
                      st.sampled_from([None, 0, 1, -(1 << 63), (1 << 63) - 2])))
def test_decode_rows_copy_group_agrees(impls, data, precision, cluster, final, spec):
    """The rows of one group as binary COPY data: the same bytes, ids, rows left
    in groups (keys in the same order), errors and exceptions."""
    py, cy = impls
    kw = dict(precision=precision, default_time=1740027951000000000, cluster=cluster,
              final=final, copy_group=spec)
    assert canon_copy(call(cy.decode_rows, data, **kw)) == canon_copy(
        call(py.decode_rows, data, **kw))


@SETTINGS
@given(data=st.one_of(near_valid, arbitrary), cuts=st.lists(st.integers(0, 300), max_size=5),
       precision=precisions)
def test_streamed_chunks_agree(impls, data, cuts, precision):
    """Each call of a receiver-like loop (final=False until the end) agrees."""
    py, cy = impls
    state = {"python": [b"", 1], "cython": [b"", 1]}
    start = 0
    for cut in sorted(c for c in set(cuts) if c < len(data)) + [len(data)]:
        piece, start = data[start:cut], cut
        results = {}
        for impl in (py, cy):
            st_ = state[impl.name]
            st_[0] += piece
            results[impl.name] = call(impl.decode_rows, st_[0], final=cut == len(data),
                                      lineno=st_[1], default_time=0, cluster="c",
                                      precision=precision)
        assert canon_rows(results["cython"]) == canon_rows(results["python"])
        for name, (tag, batch) in results.items():
            state[name][0] = state[name][0][batch.consumed:]
            state[name][1] += batch.lines


@st.composite
def many_tags(draw: Any) -> bytes:
    """Lines with many tags (the scanner indexes keys past 16), some duplicated."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(10, 70))
        keys = [f"t{i}" for i in range(n)]
        if draw(st.booleans()):
            keys.insert(draw(st.integers(0, n)), keys[draw(st.integers(0, n - 1))])
        if draw(st.booleans()):
            keys[draw(st.integers(0, len(keys) - 1))] = "t\\=1"
        lines.append(("m," + ",".join(k + "=v" for k in keys) + ' log="x" 1').encode())
    return b"\n".join(lines)


@settings(SETTINGS, max_examples=30)
@given(data=many_tags())
def test_many_tags_agree(impls, data):
    assert_decode_agrees(impls, data, default_time=0)
    assert_rows_agree(impls, data, default_time=0, cluster="c")


# ------------------------------------------------------------------ API edges
@pytest.mark.parametrize("kw", [
    {"precision": "h"}, {"precision": None}, {"precision": []}, {"default_time": 1.5},
    {"default_time": 2**63}, {"default_time": -2**63 - 1}, {"default_time": True},
])
def test_bad_arguments_agree(impls, kw):
    assert_decode_agrees(impls, b"m v=1", **kw)
    assert_rows_agree(impls, b"m,cluster=c log=\"x\"", **kw)


@pytest.mark.parametrize("data", [
    "m,t=é v=\"\u20ac\"", "m v=\"\ud800\"", bytearray(b"m v=1 5"), memoryview(b"m v=1 5"),
    12, None, [b"m v=1"],
])
def test_input_types_agree(impls, data):
    assert_decode_agrees(impls, data, default_time=0)
    assert_rows_agree(impls, data, default_time=0, cluster="c")


@pytest.mark.parametrize("data", [
    b'm v="' + b"x" * 10_000_000 + b'"\n',              # a 10 MB string value
    b"\n" * 1_000_000,                                   # a million empty lines
    b"\\" * 1_000_000,                                   # a line of backslashes
    b'l,cluster=c log="' + b"\\\\\\\"" * 50_000 + b'"\n',
    b"m " + b"\\" * 100_000 + b"=1\n",
    b"m,k=" + b"\\ " * 50_000 + b" v=1\n",
    b'm v="' + b"\n" * 100_000,                          # unterminated, many lines
    b"m " + b",".join(b"f%d=%di" % (i, i) for i in range(5_000)) + b"\n",
    b"m," + b",".join(b"t%d=v" % i for i in range(5_000)) + b",t7=x v=1\n",
    b"\xff" * 100_000 + b"\n" + b"m v=1\n",
], ids=["10MB-string", "1M-empty-lines", "backslashes", "escaped-quotes", "backslash-key",
        "escaped-spaces", "unterminated", "5000-fields", "5000-tags-dup", "invalid-utf8"])
def test_large_inputs_agree(impls, data):
    assert_decode_agrees(impls, data, default_time=0)
    assert_rows_agree(impls, data, default_time=0, cluster="c", final=False)


def test_points_compare_across_implementations(impls):
    py, cy = impls
    data = b'm,t=a v=1i,w=1.5,x=t,y="s" 5\n'
    (p,), _ = py.decode(data)
    (c,), _ = cy.decode(data)
    assert p == c and c == p and not (p != c) and repr(p) == repr(c)
    other = py.Point("m", {"t": "a"}, {"v": 1.0, "w": 1.5, "x": True, "y": "s"}, 5)
    assert c != other and other != c  # 1 (int) and 1.0 (float) differ
    assert cy.Point("m") == py.Point("m") and repr(cy.Point("m")) == repr(py.Point("m"))


# ------------------------------------------------------------------ encode()
_any_value = st.one_of(st.integers(-2**65, 2**65), st.floats(), st.booleans(),
                       st.text(max_size=8), st.none(), st.binary(max_size=3))
_any_key = st.one_of(st.text(max_size=6), st.integers(0, 3))


@SETTINGS
@given(name=_any_key, tags=st.dictionaries(_any_key, _any_key, max_size=3),
       fields=st.dictionaries(_any_key, _any_value, max_size=3),
       time=st.one_of(st.integers(-2**64, 2**64), st.floats(-10, 10)),
       precision=st.sampled_from(["ns", "us", "ms", "s", "auto", "x"]))
def test_encode_agrees(impls, name, tags, fields, time, precision):
    py, cy = impls
    points = [py.Point(name, tags, fields, time)]
    a = call(py.encode, points, precision=precision)
    b = call(cy.encode, points, precision=precision)
    if a[0] == "ok" and b[0] == "ok":
        assert a[1] == b[1]
    else:
        assert a == b


def test_encode_float_repr_agrees(impls):
    py, cy = impls
    values = [0.0, -0.0, 5e-324, 1e16, 1e-7, 0.1, math.pi, 1.7976931348623157e308]
    points = [py.Point("m", {}, {"v": v}, 0) for v in values]
    assert cy.encode(points) == py.encode(points)
