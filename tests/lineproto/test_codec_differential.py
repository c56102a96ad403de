"""The compiled core and the pure-Python twin give identical results on every input.

Compared: points (name, tags, fields with their types, time), errors (line,
column, message, text), rows, dropped counts, consumed bytes, line counts and
raised exceptions; for arbitrary bytes,
for valid ClusterCockpit lines with a few mutations, for events and logs, and
for streams cut into chunks decoded with ``final=False``.
``benchmarks/fuzz_differential.py`` runs the same comparison on millions of
inputs.
"""
from __future__ import annotations

import math
from typing import Any, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lpinputs import (arbitrary, call, canon_decode, canon_rows, default_times, near_valid,
                      precisions)

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def assert_decode_agrees(impls: Tuple[Any, Any], data: Any, **kw: Any) -> None:
    py, cy = impls
    assert canon_decode(call(cy.decode, data, **kw)) == canon_decode(call(py.decode, data, **kw))


def assert_rows_agree(impls: Tuple[Any, Any], data: Any, **kw: Any) -> None:
    py, cy = impls
    assert canon_rows(call(cy.decode_rows, data, **kw)) == canon_rows(
        call(py.decode_rows, data, **kw))


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
def test_encode_takes_the_points_of_either_implementation(impls, name, tags, fields, time,
                                                         precision):
    """encode() (one implementation) gives the same for a compiled and a pure Point."""
    py, cy = impls
    assert py.encode is cy.encode
    a = call(py.encode, [py.Point(name, tags, fields, time)], precision=precision)
    b = call(cy.encode, [cy.Point(name, tags, fields, time)], precision=precision)
    assert a == b


def test_encoded_floats_decode_alike(impls):
    py, cy = impls
    values = [0.0, -0.0, 5e-324, 1e16, 1e-7, 0.1, math.pi, 1.7976931348623157e308]
    data = py.encode([py.Point("m", {}, {"v": v}, 0) for v in values])
    assert canon_decode(call(cy.decode, data)) == canon_decode(call(py.decode, data))
    assert [p.fields["v"] for p in cy.decode(data)[0]] == values
