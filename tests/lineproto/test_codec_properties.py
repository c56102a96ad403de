"""Property-based tests: round trips, and agreement between every decoding path."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccstore import _pylineproto
from ccstore._lpspec import PRECISIONS

I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
CTRL = "".join(map(chr, range(32))) + "\x7f"
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# ------------------------------------------------------------------ strategies
_key_char = st.one_of(
    st.sampled_from(list(', =\\"#\'é€\u2028\U0001f600')),
    st.characters(blacklist_categories=("Cs",), blacklist_characters=CTRL))
keys = st.text(_key_char, min_size=1, max_size=12).filter(lambda s: not s.endswith("\\"))
names = keys.filter(lambda s: not s.startswith("#"))
strings = st.text(st.one_of(st.sampled_from(list('\\"\n\r\t ,=\x00\x7f')),
                            st.characters(blacklist_categories=("Cs",))), max_size=30)
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308,
                                    -1.7976931348623157e308, 2.2250738585072014e-308, 1e16,
                                    0.1, 1.0]))
ints = st.one_of(st.integers(I64_MIN, U64_MAX),
                 st.sampled_from([I64_MIN, I64_MAX, I64_MAX + 1, U64_MAX, 0, -1]))
values = st.one_of(ints, floats, st.booleans(), strings)
times = st.integers(I64_MIN, I64_MAX)


@st.composite
def points(draw, point_class):
    return point_class(draw(names), draw(st.dictionaries(keys, keys, max_size=4)),
                       draw(st.dictionaries(keys, values, min_size=1, max_size=4)), draw(times))


# line-protocol-ish bytes: fragments that exercise every rule, in any order
FRAGMENTS = [
    b"m", b"cpu", b"log", b"event", b"value", b"control", b"cluster", b"hostname", b"loglevel",
    b",", b"=", b" ", b"  ", b"\\", b'"', b"\n", b"\r", b"\r\n", b"#", b"\t", b"\x00", b"\x7f",
    b"0", b"1", b"12", b"-", b".", b"e", b"E", b"+", b"i", b"u", b"t", b"true", b"F", b"x",
    b"\xff", b"\xc3\xa9", b"\xe2\x82", b"\\n", b'\\"', b"\\\\", b"1740027951",
    b"1740027951000000000", b"9223372036854775807", b"18446744073709551615",
    b"cluster=a", b"hostname=h", b'log="', b'event="', b"value=1", b"type-id=0",
    b"0" * 4400, b"\\" * 301, b" " * 300,
]
line_bytes = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(b"".join)
documents = st.lists(
    st.one_of(line_bytes,
              st.sampled_from([b'l,cluster=c log="a b" 1', b'e,cluster=c event="x\\"y" 2',
                               b"m,cluster=c value=1 3", b'l log="no cluster"',
                               b'l,cluster=c,loglevel=info log="multi\nline" 4'])),
    max_size=8).map(b"\n".join)
any_bytes = st.one_of(documents, st.binary(max_size=60))


def canon(result):
    pts, errors = result
    return ([(p.name, list(p.tags.items()), [(k, type(v).__name__, repr(v))
                                             for k, v in p.fields.items()], p.time)
             for p in pts], [(e.lineno, e.column, e.message, e.text) for e in errors])


# -------------------------------------------------------------------- properties
@SETTINGS
@given(data=st.data())
def test_roundtrip(lp, data):
    pts = data.draw(st.lists(points(lp.Point), min_size=1, max_size=4))
    decoded, errors = lp.decode(lp.encode(pts))
    assert errors == []
    assert canon((decoded, [])) == canon((pts, []))


@SETTINGS
@given(data=st.data(), precision=st.sampled_from(["us", "ms", "s"]))
def test_roundtrip_precision(lp, data, precision):
    p = data.draw(points(lp.Point))
    decoded, errors = lp.decode(lp.encode([p], precision=precision), precision=precision)
    mult = PRECISIONS[precision]
    floor = p.time // mult * mult
    if floor < I64_MIN:  # flooring went below the int64 range
        assert [e.message for e in errors] == ["timestamp out of range"]
    else:
        assert errors == [] and decoded[0].time == floor


@SETTINGS
@given(data=any_bytes, precision=st.sampled_from(["ns", "auto"]))
def test_python_fast_path_agrees_with_precise_path(data, precision):
    fast = _pylineproto.decode(data, precision=precision, default_time=0)
    precise = _pylineproto.decode(data, precision=precision, default_time=0, _fast=False)
    assert canon(fast) == canon(precise)


@settings(SETTINGS, max_examples=400)
@given(data=any_bytes, precision=st.sampled_from(["ns", "s", "auto"]))
def test_implementations_agree(impls, data, precision):
    py, cy = impls
    assert canon(cy.decode(data, precision=precision, default_time=0)) == canon(
        py.decode(data, precision=precision, default_time=0))
    a = py.decode_rows(data, precision=precision, default_time=0, cluster="c")
    b = cy.decode_rows(data, precision=precision, default_time=0, cluster="c")
    assert (b.groups, b.dropped, b.errors, b.consumed, b.lines) == (
        a.groups, a.dropped, a.errors, a.consumed, a.lines)
    a = py.decode_rows(data, final=False, default_time=0, lineno=3)
    b = cy.decode_rows(data, final=False, default_time=0, lineno=3)
    assert (b.groups, b.dropped, b.errors, b.consumed, b.lines) == (
        a.groups, a.dropped, a.errors, a.consumed, a.lines)


@SETTINGS
@given(data=any_bytes, cluster=st.sampled_from([None, "fallback"]))
def test_rows_equal_decode_then_point_to_row(lp, check_rows, data, cluster):
    check_rows(lp, data, cluster=cluster)


@SETTINGS
@given(data=documents, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_stream_chunks_equal_one_call(lp, stream_rows, data, cuts):
    whole = lp.decode_rows(data, default_time=0, cluster="c")
    assert stream_rows(lp, data, cuts, default_time=0, cluster="c") == (
        whole.groups, whole.dropped, whole.errors, whole.lines)
