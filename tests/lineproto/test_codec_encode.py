"""encode(): the inverse of decode(), on both implementations."""
from __future__ import annotations

import math

import pytest

I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def test_encode_basic(lp):
    p = lp.Point("cpu", {"host": "a", "region": "eu"}, {"value": 1, "f": 1.0, "b": True,
                                                         "s": "x", "n": False}, 1)
    assert lp.encode([p]) == b'cpu,host=a,region=eu value=1i,f=1.0,b=true,s="x",n=false 1\n'


def test_encode_many_and_empty(lp):
    pts = [lp.Point("m", {}, {"v": i}, i) for i in range(3)]
    assert lp.encode(pts) == b"m v=0i 0\nm v=1i 1\nm v=2i 2\n"
    assert lp.encode([]) == b""
    assert lp.encode(iter(pts[:1])) == b"m v=0i 0\n"


@pytest.mark.parametrize("name, tags, fkey, expected", [
    ("c pu", {}, "v", b"c\\ pu v=1i 0\n"),
    ("c,pu", {}, "v", b"c\\,pu v=1i 0\n"),
    ("c=pu", {}, "v", b"c=pu v=1i 0\n"),
    ("a\\b", {}, "v", b"a\\b v=1i 0\n"),
    ("a\\,b", {}, "v", b"a\\\\,b v=1i 0\n"),
    (" m", {}, "v", b"\\ m v=1i 0\n"),
    ("m", {"k=1": "v 1", "a,b": "c=d"}, "v", b"m,k\\=1=v\\ 1,a\\,b=c\\=d v=1i 0\n"),
    ("m", {}, "a b=c,d", b"m a\\ b\\=c\\,d=1i 0\n"),
    ("m", {}, '"q"', b'm "q"=1i 0\n'),
    ("é", {"ü": "ß"}, "€", "é,ü=ß €=1i 0\n".encode()),
])
def test_encode_escapes(lp, name, tags, fkey, expected):
    p = lp.Point(name, tags, {fkey: 1}, 0)
    assert lp.encode([p]) == expected
    (q,), errors = lp.decode(expected)
    assert errors == [] and q == p


@pytest.mark.parametrize("value, text", [
    ('a"b', b'"a\\"b"'), ("a\\b", b'"a\\\\b"'), ("a\nb", b'"a\\nb"'), ("a\rb", b'"a\\rb"'),
    ("a\tb", b'"a\\tb"'), ("\\n", b'"\\\\n"'), ("\x00\x01\x7f", b'"\x00\x01\x7f"'), ("", b'""'),
    ("\\", b'"\\\\"'),
])
def test_encode_strings(lp, value, text):
    p = lp.Point("m", {}, {"v": value}, 0)
    assert lp.encode([p]) == b"m v=" + text + b" 0\n"
    assert lp.decode(lp.encode([p]))[0][0].fields["v"] == value


@pytest.mark.parametrize("value, text", [
    (0, b"0i"), (-5, b"-5i"), (I64_MAX, b"9223372036854775807i"),
    (I64_MIN, b"-9223372036854775808i"), (I64_MAX + 1, b"9223372036854775808u"),
    (U64_MAX, b"18446744073709551615u"),
    (1.0, b"1.0"), (-0.0, b"-0.0"), (0.1, b"0.1"), (1e16, b"1e+16"), (5e-324, b"5e-324"),
    (1.7976931348623157e308, b"1.7976931348623157e+308"), (True, b"true"), (False, b"false"),
])
def test_encode_numbers(lp, value, text):
    p = lp.Point("m", {}, {"v": value}, 0)
    assert lp.encode([p]) == b"m v=" + text + b" 0\n"
    (q,), _ = lp.decode(lp.encode([p]))
    assert type(q.fields["v"]) is type(value) and repr(q.fields["v"]) == repr(value)


@pytest.mark.parametrize("precision, t, text", [
    ("ns", 1_500_000_000, b"1500000000"), ("us", 1_500_000_999, b"1500000"),
    ("ms", 1_500_999_999, b"1500"), ("s", 1_999_999_999, b"1"), ("s", -1, b"-1"),
    ("ns", I64_MIN, str(I64_MIN).encode()), ("ns", I64_MAX, str(I64_MAX).encode()),
])
def test_encode_precision_floors(lp, precision, t, text):
    assert lp.encode([lp.Point("m", {}, {"v": 1}, t)], precision=precision) == (
        b"m v=1i " + text + b"\n")


@pytest.mark.parametrize("point", [
    ("", {}, {"v": 1}, 0), ("#m", {}, {"v": 1}, 0), ("m\n", {}, {"v": 1}, 0),
    ("m\\", {}, {"v": 1}, 0), ("m", {"": "x"}, {"v": 1}, 0), ("m", {"k": ""}, {"v": 1}, 0),
    ("m", {"k": "a\tb"}, {"v": 1}, 0), ("m", {"k\\": "a"}, {"v": 1}, 0),
    ("m", {"k": "a\\"}, {"v": 1}, 0), ("m", {}, {}, 0), ("m", {}, {"": 1}, 0),
    ("m", {}, {"v\x7f": 1}, 0), ("m", {}, {"v": math.nan}, 0), ("m", {}, {"v": math.inf}, 0),
    ("m", {}, {"v": -math.inf}, 0), ("m", {}, {"v": U64_MAX + 1}, 0),
    ("m", {}, {"v": I64_MIN - 1}, 0), ("m", {}, {"v": 1}, I64_MAX + 1),
    ("m", {}, {"v": "\ud800"}, 0),
])
def test_encode_rejects(lp, point):
    with pytest.raises(ValueError):
        lp.encode([lp.Point(*point)])


@pytest.mark.parametrize("point", [
    (b"m", {}, {"v": 1}, 0), ("m", {}, {"v": None}, 0), ("m", {}, {"v": [1]}, 0),
    ("m", {}, {"v": 1}, 1.5), ("m", {1: "a"}, {"v": 1}, 0),
])
def test_encode_rejects_types(lp, point):
    with pytest.raises((TypeError, ValueError)):
        lp.encode([lp.Point(*point)])


@pytest.mark.parametrize("precision", ["auto", "h", ""])
def test_encode_invalid_precision(lp, precision):
    with pytest.raises(ValueError):
        lp.encode([lp.Point("m", {}, {"v": 1}, 0)], precision=precision)


def test_point_api(lp):
    p = lp.Point("m", {"t": "1"}, {"v": 1.5}, 7)
    assert (p.name, p.tags, p.fields, p.time) == ("m", {"t": "1"}, {"v": 1.5}, 7)
    assert p == lp.Point("m", {"t": "1"}, {"v": 1.5}, 7)
    assert p != lp.Point("m", {"t": "1"}, {"v": 1.5}, 8)
    assert lp.Point("m", {}, {"v": 1}, 0) != lp.Point("m", {}, {"v": 1.0}, 0)
    assert lp.Point("m", {}, {"v": True}, 0) != lp.Point("m", {}, {"v": 1}, 0)
    assert p != ("m", {"t": "1"}, {"v": 1.5}, 7)
    assert repr(p) == "Point(name='m', tags={'t': '1'}, fields={'v': 1.5}, time=7)"
