"""``syslog_chunk``: the RFC 3164 fast path of the log parser, both implementations.

The pure-Python twin (regexes of ``ccstore.logs._grammar``) defines the result;
the compiled scanner must give the same rows, and None, for every input.
"""
from __future__ import annotations

import calendar
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ccstore.logs import LOGLEVELS, LogParser

REF = calendar.timegm((2024, 11, 23, 0, 0, 0))
T0 = calendar.timegm((2024, 11, 22, 8, 40, 1))
NS = 1_000_000_000
SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def run(impl: Any, data: bytes, name: str = "prog") -> Any:
    """``impl.syslog_chunk`` with the othertags and year-inferring cache of a parser."""
    p = LogParser("syslog", location="/var/log/syslog", tz="UTC", reference_time=REF)
    return impl.syslog_chunk(data, name, p._othertags, p.clock.bsd)


def row(t: int, name: str, host: str, body: str, level: str) -> tuple:
    other = '{"location":"/var/log/syslog","loglevel":"%s"}' % level
    return (t, t // NS, name, host, "node", "0", None, None, other, body, level)


# ------------------------------------------------------------------------- examples
@pytest.mark.parametrize("line, expected", [
    (b"Nov 22 08:40:01 a1 sshd[42]: error: bad key",
     row(T0 * NS, "sshd", "a1", "error: bad key", "error")),
    (b"<12>Nov 22 08:40:01.25 a1 kernel: info: x",
     row(T0 * NS + 250_000_000, "kernel", "a1", "info: x", "warn")),
    (b"Nov 22 08:40:01 a1 no tag here",
     row(T0 * NS, "prog", "a1", "no tag here", "info")),
    (b"Nov 22 08:40:01 a1 app[1]: [ WARN ] x", row(T0 * NS, "app", "a1", "[ WARN ] x", "warn")),
    (b"Nov 22 08:40:01 a1 app: x=1 DEBUG y", row(T0 * NS, "app", "a1", "x=1 DEBUG y", "debug")),
    (b"Nov 22 08:40:01 a1 app: xDEBUG ERROR_ INFO. lvl=E",
     row(T0 * NS, "app", "a1", "xDEBUG ERROR_ INFO. lvl=E", "error")),
    (b"Nov 22 08:40:01 a1 app: " + b"x" * 80 + b" ERROR",
     row(T0 * NS, "app", "a1", "x" * 80 + " ERROR", "info")),
    (b"Nov 22 08:40:01 a1 app: " + "\u00e9".encode() * 78 + b" ERROR",   # at character 79
     row(T0 * NS, "app", "a1", "\u00e9" * 78 + " ERROR", "error")),
    (b"Nov 22 08:40:01 a1 app: " + "\u00e9".encode() * 79 + b" ERROR",   # at character 80
     row(T0 * NS, "app", "a1", "\u00e9" * 79 + " ERROR", "info")),
    (b"Nov 22 08:40:01 a1 app: level=level=warn", row(T0 * NS, "app", "a1", "level=level=warn",
                                                      "info")),
    ("Nov 22 08:40:01 a1 app: \u00e9ERROR \u00b2ERROR ERROR\u0662".encode(),
     row(T0 * NS, "app", "a1", "\u00e9ERROR \u00b2ERROR ERROR\u0662", "info")),
    (b"Nov 22 08:40:01 h\xc3\xa9 app: x", row(T0 * NS, "app", "h\u00e9", "x", "info")),
    # the regexes' \d is Unicode's, and so is int()
    ("Nov 22 08:40:0\u0661 a1 app: x".encode(), row(T0 * NS, "app", "a1", "x", "info")),
    (b"Nov 22 08:40:01 a1 app: job failed: java.lang.IllegalStateException",
     row(T0 * NS, "app", "a1", "job failed: java.lang.IllegalStateException", "info")),
])
def test_lines(syslog, line, expected):
    rows, explicit = run(syslog, line)
    assert rows == [expected]
    assert explicit == (expected[10] != "info")


@pytest.mark.parametrize("data", [
    b"",                                                    # a blank line
    b"Nov 22 08:40:01 a1 app: x\n",                         # ... at the end
    b"Nov 22 08:40:01 a1 app: x\n\tat a.b(C.java:1)",       # a continuation
    b"Nov 22 08:40:01 a1 app: java.lang.IllegalStateException: boom",
    b"Nov 22 08:40:01 a1 app: Traceback (most recent call last):",
    b"Nov 22 08:40:01 a1 app:  ... 3 more",
    b"Feb 30 08:40:01 a1 app: impossible date",
    b"Nov 22 25:40:01 a1 app: impossible hour",
    b"Nov 22 08:40:01.1234567890 a1 app: ten digits",
    b"<1234>Nov 22 08:40:01 a1 app: PRI too long",
    b"2024-11-22T08:40:01Z a1 app: ISO",
    b"Nov 22 08:40:01 a1 app: x\x07",                       # a control character
    b"Nov 22 08:40:01 a1 app: \xff",                        # not UTF-8
    b"Nov 22 08:40:01\ta1 app: x",
])
def test_chunks_for_the_line_loop(syslog, data):
    assert run(syslog, b"Nov 22 08:40:01 a1 app: first\n" + data) is None


def test_shortest_lines(syslog):
    rows, _ = run(syslog, b"Nov 22 08:40:01 a\nNov 22 08:40:01 b\nNov 22 08:40:01 c")
    assert rows == [row(T0 * NS, "prog", h, "", "info") for h in "abc"]
    assert run(syslog, b"Nov 22 08:40:01 a\nNov 22 08:40:01 b\nNov 22 08:40:01 ") is None


def test_crlf(syslog):
    data = b"Nov 22 08:40:01 a1 app[1]: one\r\nNov 22 08:40:01 a1 app[2]: two\r\r"
    rows, explicit = run(syslog, data)
    assert [r[9] for r in rows] == ["one", "two\r"] and not explicit


def test_the_compiled_rows_share_their_strings(syslog_impls):
    py, cy = syslog_impls
    data = b"Nov 22 08:40:01 a1 app[1]: one\nNov 22 08:40:01 a1 app[2]: two"
    rows, _ = run(cy, data)
    assert (rows, False) == run(py, data)
    assert rows[0][3] is rows[1][3] and rows[0][2] is rows[1][2] and rows[0][8] is rows[1][8]


def test_bytes_only(syslog):
    with pytest.raises(TypeError):
        run(syslog, "Nov 22 08:40:01 a1 app: x")


# ------------------------------------------------------------------------- differential
# header parts: well-formed ones, and odd ones (other formats, Unicode digits and
# spaces, non-ASCII, lengths just beyond the limits)
_PRI = (["", "<0>", "<13>", "<191>"], ["<999>", "<1234>", "<>", "<a>", "<\u0663>"])
_TS = (["Nov 22 08:40:01", "Nov  2 23:59:60", "Dec 31 23:59:59", "Jan  1 00:00:00",
        "Feb 29 12:00:00"],
       ["Feb 30 08:40:01", "Xyz 22 08:40:01", "nov 22 08:40:01", "Nov 22 25:40:01",
        "Nov 22 08:40:61", "Nov 2 08:40:01", "Nov 22 08:40:0\u0661", "Nov 22 08:4:01"])
_FRAC = (["", ".5", ".123456789"], [".1234567890", ".", ".1x", ".\u0661"])
_GAP = ([" ", "  "], ["\t", "", " \t", "\u00a0"])
_HOST = (["a0001", "a0002", "x:y", "[h]", "lvl=warn", "ERROR"], ["h\u00e9", "h\u00a0x", "", "h\r"])
_TAG = (["sshd", "sshd[42]", "sshd[]", "postfix/smtpd[1]", "a:b", "sshd[4 2]", "sshd[42]x", ""],
        ["pr\u00f6c", "p[\u00e9]", "\u00e9", "p\u00a0q"])
_COLON = ([": ", ":"], [":x", ":  ", ":\t", " ", ""])


def _part(draw, pools, odd) -> str:
    return draw(st.sampled_from(pools[0] + pools[1] if odd else pools[0]))


_WORDS = st.sampled_from([
    "ERROR", "ERR", "WARN", "WARNING", "INFO", "DEBUG", "CRIT", "CRITICAL", "EMERG", "EMERGENCY",
    "ALERT", "PANIC", "SEVERE", "NOTICE", "TRACE", "FATAL", "level=warn", "lvl=E", "level='debug2'",
    "level=\"INFO\"", "level=level=warn", "level=\"x", "level=debug12", "level=", "error:",
    "[WARN]", "<info>", "(debug3)", "ERROR:root:", "debug2:", "Warning :", "[ crit ]", "xERROR",
    "ERROR_", "ERROR.", "ERROR-", "\u00e9ERROR", "ERROR\u00e9", "ERROR\u0662", "\u00b2ERROR",
    "debug\u0662:", "informational:", "abcdefghijklmn:", "  at a.b(C.java:1)", "\tat x",
    "... 3 more", "...3 more", "Caused by: x", "Suppressed: y", "java.lang.NullPointerException",
    "java.lang.NullPointerException: boom", "a.b.CError", "Traceback (most recent call last):",
    "During handling of the above exception", "The above exception was the direct cause",
    '  File "x.py"', "x" * 75, "\u00e9" * 70, "\u2028", "\u00a0", "\x1b[0m", "\t", " ", "", ":",
    "\u0661\u0662", "$x.yError",
])
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x3000),
                max_size=6)
_BODY = st.lists(st.one_of(_WORDS, _WORDS, _TEXT), max_size=6).flatmap(
    lambda parts: st.sampled_from([" ", "", "\t"]).map(lambda sep: sep.join(parts)))


@st.composite
def syslog_line(draw) -> bytes:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=24)).replace(b"\n", b"")
    if kind == 1:
        return draw(_BODY).encode()
    odd = kind < 5
    tag = _part(draw, _TAG, odd)
    line = (_part(draw, _PRI, odd) + _part(draw, _TS, odd) + _part(draw, _FRAC, odd)
            + _part(draw, _GAP, odd) + _part(draw, _HOST, odd)
            + (" " + tag + _part(draw, _COLON, odd) if tag else _part(draw, _GAP, odd))
            + draw(_BODY))
    return line.encode()


@st.composite
def syslog_chunk_bytes(draw) -> bytes:
    lines = draw(st.lists(syslog_line(), min_size=1, max_size=6))
    seps = [draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r\r\n"])) for _ in lines]
    data = b"".join(line + sep for line, sep in zip(lines, seps))[:-1]
    return data.rstrip(b"\r\n") + draw(st.sampled_from([b"", b"", b"\r"]))


@SETTINGS
@given(syslog_chunk_bytes())
def test_implementations_agree(syslog_impls, data):
    py, cy = syslog_impls
    assert run(cy, data) == run(py, data)


_ANY = {name: st.sampled_from(pools[0] + pools[1])
        for name, pools in (("pri", _PRI), ("ts", _TS), ("frac", _FRAC), ("host", _HOST),
                            ("tag", _TAG))}


@SETTINGS
@given(st.lists(st.tuples(_ANY["pri"], _ANY["ts"], _ANY["frac"], _ANY["host"], _ANY["tag"],
                          _BODY), min_size=1, max_size=5))
def test_implementations_agree_on_headers(syslog_impls, parts):
    """Every header part, in lines of the usual shape."""
    py, cy = syslog_impls
    data = "\n".join(f"{p}{ts}{f} {h} {t}: {b}" for p, ts, f, h, t, b in parts).encode()
    assert run(cy, data) == run(py, data)


@SETTINGS
@given(st.binary(max_size=200))
def test_implementations_agree_on_arbitrary_bytes(syslog_impls, data):
    py, cy = syslog_impls
    assert run(cy, data) == run(py, data)


@SETTINGS
@given(st.lists(_BODY, min_size=1, max_size=8))
def test_levels_agree(syslog_impls, bodies):
    py, cy = syslog_impls
    data = "\n".join(f"Nov 22 08:40:01 a1 app[1]: {b}" for b in bodies).encode()
    expected = run(py, data)
    assume(expected is not None)
    assert run(cy, data) == expected
    assert {r[10] for r in expected[0]} <= set(LOGLEVELS)


_MUTATION = st.tuples(st.integers(0, 1 << 20), st.integers(0, 2),
                      st.one_of(st.binary(max_size=3),
                                st.sampled_from([b" ", b"\t", b":", b"[", b"]", b"<", b">", b".",
                                                 b"\r", b"\n", b"0", b"E", b"l", b"\xc3\xa9",
                                                 "\u00a0".encode(), "\u0661".encode()])))


@SETTINGS
@given(st.lists(syslog_line(), min_size=1, max_size=4), st.lists(_MUTATION, max_size=3))
def test_implementations_agree_on_mutated_lines(syslog_impls, lines, mutations):
    """Well-formed chunks with a few bytes replaced, inserted or deleted anywhere."""
    py, cy = syslog_impls
    data = bytearray(b"\n".join(lines))
    for pos, width, new in mutations:
        pos %= len(data) + 1
        data[pos:pos + width] = new
    data = bytes(data)
    assert run(cy, data) == run(py, data)


def test_compiled_fast_path_is_used():
    """CI must run the compiled fast path unless a pure-Python run was asked for."""
    from twins import PYTHON_ONLY

    from ccstore.logs import LogParser, syslogscan

    assert syslogscan.IMPLEMENTATION == ("python" if PYTHON_ONLY else "cython")
    assert LogParser()._chunk_parser is syslogscan.syslog_chunk
    assert syslogscan.syslog_chunk is syslogscan.get_implementation(
        syslogscan.IMPLEMENTATION).syslog_chunk
