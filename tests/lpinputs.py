"""Line-protocol inputs and result comparisons for the tests of the decoders.

The standard workload, Hypothesis strategies (arbitrary bytes, valid-looking ClusterCockpit lines,
mutated lines, events and logs) and canonical forms of results in which types,
float signs and raised exceptions count.  Used by tests/lineproto,
tests/backends and benchmarks/fuzz_differential.py.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any, Callable, Tuple

from hypothesis import strategies as st


@functools.lru_cache(maxsize=None)
def workload() -> Any:
    """benchmarks/workload.py (the standard workload generator) as a module."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "workload.py"
    spec = importlib.util.spec_from_file_location("ccstore_bench_workload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def canon_copy(res: Tuple[str, Any]) -> Any:
    tag, v = res
    if tag != "ok":
        return res
    return canon_rows(res), v.copy, v.copied, v.copy_min, v.copy_max


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
