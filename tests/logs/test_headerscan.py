"""``chunk_headers`` and ``chunk_rows``: the headers and rows of a chunk of lines of one
format (Sandia/LANL syslog exports, BlueGene/L RAS, LANL HPC events, ``journalctl -o
json``, Slurm), both implementations.

The pure-Python twin (the header functions of ``ccstore.logs.formats``, the parser's
level rules) defines the result; the compiled scanner must give the same headers, rows,
and None, for every input.
"""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_formats_archives import BGL, EXPORT_CASES, LANL_CASES
from test_formats_chunks import SLURM_LINES, SLURM_ODD, WORDS
from test_formats_chunks import sample as _sample

from ccstore.logs import LogParser
from ccstore.logs.clock import Clock
from ccstore.logs.formats import SlurmFormat, header_function
from ccstore.logs.headerscan import LineSource
from ccstore.logs.parse import _hpc_errors

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
FORMATS = ("syslog_export", "bgl", "lanl", "journal_json", "slurm", "rfc5424", "plain")


def own(fmt: str) -> LineSource:
    """The source of a format the parser reads with its own header function."""
    p = LogParser(fmt, tz="Europe/Berlin", reference_time=1732300000)
    return LineSource(p._header, p.clock)


#: the source argument of each format: Slurm's clock, daemon and host; the parser's
#: header function and clock
SRC = {"slurm": SlurmFormat(Clock("Europe/Berlin"), name="slurmd", host="n01"),
       "rfc5424": own("rfc5424"), "plain": own("plain")}
RFC5424_LINES = (
    "<{pri}>1 2024-11-22T08:40:0{s}.{ms:03d}Z n{s} app{s} {ms} - - {msg}",
    '<{pri}>1 2024-11-22T08:40:0{s}+01:00 n1 - - ID47 [ex@1 a="{s}" b="x\\"]"] {msg}',
    '<{pri}>1 2024-11-22T08:40:0{s}.{ms}-05:00 h9 d - - [origin][meta sequenceId="{ms}"] {msg}',
    "1 2024-11-22T08:40:0{s}Z h app - - - {msg}")
PLAIN_LINES = ("2024-11-22T08:40:0{s}.{ms:03d}Z INFO {msg}",
               "2024-11-22 08:40:0{s},{ms:03d} [WARN] {msg}",
               "[2024-11-22T08:40:0{s}+01:00] error: {msg}", "2024-11-22T08:40:0{s} - {msg}",
               "2024-11-22 08:40:0{s}.{ms}+0100 | {msg}")


def sample(fmt: str, n: int, rng: random.Random) -> list:
    lines = {"slurm": SLURM_LINES, "rfc5424": RFC5424_LINES, "plain": PLAIN_LINES}.get(fmt)
    if lines is None:
        return _sample(fmt, n, rng)
    return [rng.choice(lines).format(s=rng.randrange(10), ms=rng.randrange(1000),
                                     pri=rng.randrange(192), msg=rng.choice(WORDS))
            for _ in range(n)]

BGL_LINES = [BGL.format(alert=a, component=c, severity=s, msg=m)
             for a, c, s, m in [("-", "KERNEL", "INFO", "cache parity error corrected"),
                                ("KERNDTLB", "KERNEL", "FATAL", "data TLB error interrupt"),
                                ("-", "APP", "FAILURE", ""), ("-", "MMCS", "ERRORx", "odd"),
                                ("-", "KERNEL", "info", "lower case")]]
LINES = {
    "syslog_export": [c[0] for c in EXPORT_CASES] + [
        "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 k[1]x: not a tag",
        "- 1131566461 2005.11.09 dn3 Nov  9 12:01:01 a/b:c tag: host field with a colon",
        "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01x glued",
        "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3",
        "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 k[1 2]: pid with a space",
        "- 1131566461 2005.11.09 h\u00e9 Nov 9 12:01:01 h\u00e9/h\u00e9 k: unicode host",
        "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01  two spaces",
        "- 9999999999 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 k: far epoch",
        "- 1131566461 2005.11.09 dn3 Nov 123 12:01:01 dn3/dn3 k: three-digit day",
        "Nov 22 08:40:01 a0001 sshd[42]: RFC 3164",
    ],
    "bgl": BGL_LINES + [
        "- 1117838570 2005.06.03 R02 2005-02-30-15.42.50.675872 R02 RAS KERNEL INFO bad day",
        "- 1117838570 2005.06.03 R02 2005-06-03-24.42.50.675872 R02 RAS KERNEL INFO bad hour",
        "- 1117838570 2005.06.03 R02 2005-06-03-15.42.99.675872 R02 RAS KERNEL INFO sec 99",
        "- 1117838570 2005.06.03 R02 2004-02-29-15.42.50.675872 R02 RAS KERNEL INFO leap",
        "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO",
        "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO ",
        "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO:x",
        "- 1117838570 2005.06.03 R02 1905-06-03-15.42.50.675872 R02 RAS KERNEL INFO old",
        "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02  RAS KERNEL INFO 2 sp",
        "- 0000000001 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO far",
        "- 1117838570 2005.06.03 R\u00e9 2005-06-03-15.42.50.675872 R\u00e9 RAS KERNEL INFO u",
    ],
    "lanl": [c[0] for c in LANL_CASES] + [
        "1 n1 c s 1077804742 1", "1 n1 c s 1077804742 1 ", "1 n1 c s 1077804742 1x body",
        "1 n1 c s 10778047420 1 epoch too long", "x n1 c s 1077804742 1 no id",
        "1 n1  c s 1077804742 1 two spaces", "1 n\u00e9 c s 1077804742 1 unicode",
        "1 n1 c s 1077804742 12345 flag",
    ],
    "journal_json": [
        '{"__CURSOR": "s=1;i=2", "__REALTIME_TIMESTAMP": "1732264801000001", "_HOSTNAME": "n1",'
        ' "PRIORITY": "3", "SYSLOG_IDENTIFIER": "sshd", "_PID": "42", "_SYSTEMD_UNIT": "u",'
        ' "MESSAGE": "error: x"}',
        '{ "__REALTIME_TIMESTAMP" : "1732264801000001" , "MESSAGE" : "spaces" }',
        '{"__REALTIME_TIMESTAMP":"1732264801000001","_SOURCE_REALTIME_TIMESTAMP":"17322648",'
        '"_COMM":"c","SYSLOG_IDENTIFIER":"","PRIORITY":"07","_PID":"","_HOSTNAME":""}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "a", "MESSAGE": "last wins"}',
        '{"__REALTIME_TIMESTAMP": "", "_SOURCE_REALTIME_TIMESTAMP": "x1", "PRIORITY": "9"}',
        '{"__REALTIME_TIMESTAMP": "99999999999999999", "MESSAGE": "beyond 64 bits"}',
        '{"__REALTIME_TIMESTAMP": "9000000000000001", "MESSAGE": "just beyond"}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "esc \\"q\\" \\n"}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "caf\u00e9 \u2713"}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": [104, 105], "PRIORITY": 3}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": null}',
        '{"__CURSOR": "s=1", "MESSAGE": "no realtime"}',
        '{"MESSAGE": "names \\"__CURSOR\\" in a value"}',
        '{"MESSAGE": "neither"}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "x"} trailing',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "x"}  ',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "x",}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001" "MESSAGE": "x"}',
        '{"__REALTIME_TIMESTAMP": "1732264801000001", "MESSAGE": "unterminated}',
        ' {"__REALTIME_TIMESTAMP": "1732264801000001"}',
        '{}', '{', '[1, "__CURSOR"]',
    ],
    "slurm": list(SLURM_ODD) + [
        "[2026-12-03T10:00:01.123] error: Node n01 not responding",
        "[2026-12-03T10:00:01] [123.batch] debug2: x", "[2026-12-03T10:00:01] [1+2.0] x",
        "[2026-12-03T10:00:01] [1+.0] odd step", "[2026-12-03T10:00:01] [1.] odd step",
        "[2026-12-03T10:00:01] [x.batch] not a step", "[2026-12-03T10:00:01] [12] no dot",
        "[2026-12-03T10:00:01.1234567891] ten digits", "[2026-12-03T10:00:01.] no digits",
        "[2026-12-03T10:00:01.5Z] zulu", "[2026-12-03T10:00:01+01:00] zone",
        "[2026-02-30T10:00:01] impossible date", "[2026-12-03T25:00:01] impossible hour",
        "[2026-12-03T10:00:99] second 99", "[2026-12-03 10:00:01] space",
        "[2026-12-03T10:00:01]no space", "[2026-12-03T10:00:01] ",
        "[2026-12-03T10:00:01] debug5: deep", "[2026-12-03T10:00:01] debug6: too deep",
        "[2026-12-03T10:00:01] error:no space", "[2026-12-03T10:00:01] error:",
        "[2026-12-03T10:00:01] ERROR:   many spaces", "[2026-12-03T10:00:01] Fatal: x",
        "[2026-12-03T10:00:01] averyveryverylongword: x", "[Dec 03 10:00:01.250] bsd",
        "[2026-03-29T02:30:00] a time that does not exist in Berlin",
        "[2026-10-25T02:30:00] a time that exists twice in Berlin",
        "[2026-12-03T10:00:01] \u00e9t\u00e9 FATAL",
    ],
    "rfc5424": [
        '<165>1 2024-11-22T08:40:03.123Z host1 app 12 ID47 [ex@1 a="1" b="x\\"]"] hi',
        "<11>1 2024-11-22T08:40:03-05:00 h9 slurmd - - - \ufeffnode down",
        "<14>1 - - - - - - only a message", "<14>1 2024-11-22T08:40:03Z h a p m -x junk",
        "<14>1 2024-11-22T08:40:03Z h a p m [x]junk", "<14>1 2024-11-22T08:40:03Z h a p m [x] ",
        "<14>1 2024-11-22T08:40:03Z h a p m [x]",
        '<14>1 2024-11-22T08:40:03Z h a p m [x a="1"][y] m',
        '<14>1 2024-11-22T08:40:03Z h a p m [x a="1" m',
        '<14>1 2024-11-22T08:40:03Z h a p m [x a=1]',
        "<14>1 2024-11-22T08:40:03Z h  a p m - two spaces",
        "<1444>1 2024-11-22T08:40:03Z h a p m - x",
        "<>1 2024-11-22T08:40:03Z h a p m - x", "1 2024-11-22T08:40:03Z h a p m - error: x",
        "1 2024-11-22T08:40:03Z h a p m - [WARN] x", "1 2024-11-22T08:40:03Z h a p m - WARN x",
        "<14>1 2024-11-22T08:40:03.1234567891Z h a p m - long fraction",
        "<14>1 2024-11-22T08:40:03 h a p m - no zone", "<14>1 2024-11-22T08:40:03UTC h a p m - u",
        "<14>1 2024-02-30T08:40:03Z h a p m - bad date", "<14>1 2024-11-22T08:40:03+0100 h a p m -",
        "<14>1 2024-11-22T08:40:03Zjunk h a p m - junk", "<14>1 2024/11/22T08:40:03Z h a p m - x",
        "<14>1 2024-11-22T08:40:03Z - - - - -", "<14>1 2024-11-22T08:40:03Z h a p m - ",
        "<14>1 2024-11-22T08:40:03Z h a p m - java.lang.IllegalStateException: boom",
        "<14>1 2024-11-22T08:40:03Z h\u00e9 a p m - unicode", "<14>1 2024-11-22T08:40:03Z h a",
        "<14>1 9999-11-22T08:40:03Z h a p m - far", "<14>1 2024-11-22T08:40:03.Z h a p m - dot",
    ],
    "plain": [
        "2024-11-22T08:40:01Z", "2024-11-22T08:40:01Z ", "2024-11-22 08:40:01 Z zone after space",
        "2024-11-22 08:40:01 UTC x", "2024-11-22T08:40:01UTCx", "2024-11-22T08:40:01-foo",
        "2024-11-22T08:40:01 - - x", "2024-11-22T08:40:01.x", "2024-11-22T08:40:0123 digits",
        "[ 2024-11-22T08:40:01] x", "[2024-11-22T08:40:01 x", "2024-11-22T08:40:01]x",
        "1732264801 epoch", "1732264801123 ms", "Nov 22 08:40:01 bsd", "2024-13-22T08:40:01 m",
        "I1122 08:40:01.123456 1 main.go:1] klog", "2024-11-22T08:40:01 [ WARN ] x",
        "2024-11-22T08:40:01 averyveryverylongword: x", "2024-11-22T08:40:01 error1: x",
        "2024-11-22T08:40:01 |x", "2024-11-22T08:40:01 | x", "2024-11-22T08:40:01 caf\u00e9: x",
        "2024-03-31T02:30:00 a time that does not exist in Berlin", "not a time",
        "2024-11-22T08:40:01 +01:00 x", "2024-11-22T08:40:01 -x", "2024-11-22T08:40:01+01x",
        "2024/11/22 08:40:01 slashes", "2024-11-22T08:40:01.123456789123+01:00 long",
        "2024-11-22T08:40:01 (err) x", "2024-11-22T08:40:01 <Info2 > x", "9999-11-22T08:40:01 x",
        "2024-11-22T08:40:01 Traceback (most recent call last):",
    ],
}


def same(py, cy, chunk: bytes, fmt: str) -> None:
    """Both implementations give the same headers and the same rows of ``chunk``."""
    src = SRC.get(fmt)
    assert cy.chunk_headers(chunk, fmt, src) == py.chunk_headers(chunk, fmt, src)
    assert rows_of(cy, chunk, fmt) == rows_of(py, chunk, fmt)


def rows_of(impl, chunk: bytes, fmt: str):
    """``impl.chunk_rows`` of ``chunk`` with a parser's defaults and tags."""
    p = LogParser(fmt, hostname="me", location="/var/log/x.log", tz="UTC")
    return impl.chunk_rows(chunk, fmt, SRC.get(fmt), "x", "me", p._othertags, p._tagged)


def expected(fmt: str, lines: list):
    header = SRC[fmt].header if fmt in SRC else header_function(fmt)
    hdrs = [header(line) for line in lines]
    return None if None in hdrs else hdrs


@pytest.mark.parametrize("fmt", FORMATS)
def test_example_lines(headers, fmt):
    for line in LINES[fmt]:
        got = headers.chunk_headers(line.encode(), fmt, SRC.get(fmt))
        assert got == expected(fmt, [line]), line


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunks_of_the_test_lines(headers_impls, fmt):
    py, cy = headers_impls
    rng = random.Random(fmt)
    lines = sample(fmt, 200, rng)
    for k in range(20):
        chunk = rng.sample(lines, 10)
        if k % 2:
            chunk.append(rng.choice(LINES[fmt]))
        same(py, cy, "\n".join(chunk).encode(), fmt)
    data = "\n".join(lines).encode()
    assert cy.chunk_headers(data, fmt, SRC.get(fmt)) == expected(fmt, lines) is not None


@pytest.mark.parametrize("data", [b"", b"\n", b"a\r\nb", b"- 1 \x01", b"\xff\xfe", b"x\tb"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_chunks(headers_impls, fmt, data):
    py, cy = headers_impls
    same(py, cy, data, fmt)


def test_crlf_lines(headers_impls):
    py, cy = headers_impls
    data = "\r\n".join(c[0] for c in LANL_CASES).encode()
    assert cy.chunk_headers(data, "lanl") == py.chunk_headers(data, "lanl") is not None


# -------------------------------------------------------------------------- hypothesis
_TOKEN = st.text(st.sampled_from("abcXYZ019-_:/@[]. \u00e9"), min_size=0, max_size=6)
_ALERT = st.sampled_from(["-", "KERNDTLB", "ECC", "A_1", "a", "-x", ""])
_EPOCH = st.sampled_from(["1131566461", "113156646", "11315664610", "9999999999",
                          "0000000000", "1117838570"])
_SEV = st.sampled_from(["INFO", "WARNING", "SEVERE", "FATAL", "FAILURE", "ERROR", "Info",
                        "INFO:", ""])
_STAMP = st.builds(lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d}-{h:02d}.{mi:02d}."
                   f"{s:02d}.675872", st.sampled_from([1969, 1970, 2004, 2005, 2200, 2201]),
                   st.integers(0, 13), st.integers(0, 32), st.integers(0, 24),
                   st.integers(0, 60), st.integers(0, 99))
_SP = st.sampled_from([" ", " ", " ", "  "])


@st.composite
def archive_line(draw, fmt: str) -> str:
    if fmt == "journal_json":
        return draw(journal_line())
    if fmt in ("rfc5424", "plain"):
        return own_line(draw, fmt)
    if fmt == "slurm":
        return (draw(st.sampled_from(["[2026-12-03T10:00:01", "[2026-02-29T10:00:01",
                                      "[2028-02-29T23:59:59", "[Dec 03 10:00:01", "2026"]))
                + draw(st.sampled_from(["", ".1", ".123456789", ".1234567890", ".", "Z"]))
                + draw(st.sampled_from(["] ", "]", "]  ", "+01:00] "]))
                + draw(st.sampled_from(["", "[1.batch] ", "[1+2.x] ", "[1] ", "[.] ", "[1.b]"]))
                + draw(st.sampled_from(["", "error: ", "debug3:  ", "Error:", "x1: ", "a: "]))
                + draw(_TOKEN))
    sp = draw(_SP)
    if fmt == "lanl":
        return sp.join([draw(st.sampled_from(["134681", "1", "x"])), draw(_TOKEN),
                        draw(_TOKEN), draw(_TOKEN), draw(_EPOCH),
                        draw(st.sampled_from(["1", "0", "12", "1x", ""]))]) + draw(
            st.sampled_from(["", " ", " msg", "  msg"]))
    prefix = (f"{draw(_ALERT)} {draw(_EPOCH)} {draw(st.sampled_from(['2005.11.09', '05.11.09']))}"
              f"{sp}{draw(_TOKEN)} ")
    if fmt == "bgl":
        return (prefix + draw(_STAMP) + sp + draw(_TOKEN) + " RAS " + draw(_TOKEN) + " "
                + draw(_SEV) + draw(st.sampled_from(["", " ", " msg ERROR", ":x"])))
    day = draw(st.sampled_from(["9", " 9", "09", "123", ""]))
    return (prefix + draw(st.sampled_from(["Nov", "nov", "NOV"])) + " " + day + " 12:01:01"
            + draw(st.sampled_from(["", " ", "x", " dn3/dn3", " a/b:c", " @", " a@b"]))
            + draw(st.sampled_from(["", " k:", " k[1]:", " k[1 2]:", " k[1]x:", " [1]:",
                                    " a/b:", " k::"]))
            + draw(st.sampled_from(["", " ", " msg", "  msg", ":x"])))


_ISO_TIMES = st.sampled_from([
    "2024-11-22T08:40:03Z", "2024-11-22T08:40:03.5+01:00", "2024-11-22T08:40:03,1234567891-0130",
    "2024-11-22 08:40:03", "-", "2024-02-30T08:40:03Z", "2024-11-22T08:40:03+0100",
    "2024-11-22T08:40:03UTC", "2024-11-22T08:40:03", "2024-11-22T08:40:03.", "2024-11-22T08:40",
    "2024-11-22T08:40:03+01", "2024-11-22T08:40:03-0x:00", "2024-03-31T02:30:00"])


def own_line(draw, fmt: str) -> str:
    if fmt == "rfc5424":
        return (draw(st.sampled_from(["<14>", "<165>", "", "<1000>", "<x>", "<7>"]))
                + draw(st.sampled_from(["1 ", "2 ", "1  "])) + draw(_ISO_TIMES)
                + "".join(" " + draw(st.sampled_from(["h", "-", "", "app", "a:b"]))
                          for _ in range(4))
                + " " + draw(st.sampled_from(["-", "[x]", '[x a="1"]', '[x a="\\"]"][y@1 b=""]',
                                               "[x a=1]", "[]", "-x", '[x a="1"', "[x]y"]))
                + draw(st.sampled_from(["", " ", " msg", " error: x", " [WARN] x", " x ERROR"])))
    return (draw(st.sampled_from(["", "[", "[ ", " "])) + draw(_ISO_TIMES)
            + draw(st.sampled_from(["", "]", " Z", " +01:00", " UTC", "-x", ".", "123", "Z"]))
            + draw(st.sampled_from(["", " ", " - ", " | ", ": ", "  ", "-"]))
            + draw(_TOKEN) + draw(st.sampled_from(["", " ERROR", ": x", " level=warn"])))


_JKEYS = st.sampled_from(["__CURSOR", "__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP",
                          "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "_COMM", "_PID",
                          "_SYSTEMD_UNIT", "_HOSTNAME", "OTHER", "_BOOT_ID"])
_JVALUES = st.one_of(
    st.sampled_from(["", "0", "3", "7", "8", "06", "1732264801000001", "17322648010000012345",
                     "n001", "sshd", "x\u00e9", "a\"b", "9000000000000000"]),
    st.text(max_size=8), st.integers(-3, 9), st.none(), st.lists(st.integers(0, 255),
                                                                  max_size=3))


@st.composite
def journal_line(draw) -> str:
    items = draw(st.lists(st.tuples(_JKEYS, _JVALUES), max_size=8))
    if draw(st.booleans()):
        items.insert(0, ("__REALTIME_TIMESTAMP", "1732264801000001"))
    body = draw(st.sampled_from([", ", ",", " , "])).join(
        json.dumps(k) + draw(st.sampled_from([": ", ":", " : "])) +
        json.dumps(v, ensure_ascii=draw(st.booleans())) for k, v in items)
    return draw(st.sampled_from(["{", "{ "])) + body + draw(st.sampled_from(["}", " }"]))


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_generated_lines(headers_impls, fmt, data):
    py, cy = headers_impls
    lines = data.draw(st.lists(archive_line(fmt), min_size=1, max_size=4))
    same(py, cy, "\n".join(lines).encode(), fmt)
    for line in lines:  # alone too: a chunk is None as soon as one line is not in the format
        same(py, cy, line.encode(), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_mutated_lines(headers_impls, fmt, data):
    py, cy = headers_impls
    line = bytearray(data.draw(st.sampled_from(LINES[fmt])).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(line)))
        what = data.draw(st.sampled_from([b"", b" ", b"1", b"A", b":", b"/", b"[", b"]",
                                          b"\n", b"\xc3\xa9", b"\t", b"-"]))
        cut = data.draw(st.integers(0, 2))
        line[pos:pos + cut] = what
    same(py, cy, bytes(line), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(chunk=st.binary(max_size=200))
def test_arbitrary_bytes(headers_impls, fmt, chunk):
    py, cy = headers_impls
    same(py, cy, chunk, fmt)


def test_compiled_header_scanner_is_used():
    """CI must run the compiled scanner unless a pure-Python run was asked for."""
    from twins import PYTHON_ONLY

    from ccstore.logs import headerscan

    assert headerscan.IMPLEMENTATION == ("python" if PYTHON_ONLY else "cython")
    for fmt in FORMATS:
        p = LogParser(fmt)
        assert p._chunk_rows is headerscan.chunk_rows and p._one_line
    impl = headerscan.get_implementation(headerscan.IMPLEMENTATION)
    assert headerscan.chunk_headers is impl.chunk_headers
    assert headerscan.chunk_rows is impl.chunk_rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_parser_rows_with_either_implementation(headers_impls, fmt):
    data = ("\n".join(sample(fmt, 300, random.Random(5)) + LINES[fmt]) + "\n").encode()
    out = []
    for impl in headers_impls:
        p = LogParser(fmt, hostname="me", tz="UTC", location="/x.log")
        p._chunk_rows = impl.chunk_rows
        rows = []
        for i in range(0, len(data), 4096):
            rows.extend(p.feed(data[i:i + 4096]))
        out.append((rows + p.finish(), p.lines, p.unparsed, p.no_host))
    assert out[0] == out[1]


# ------------------------------------------------------------- the levels of the messages
#: pieces of messages: level words where they count and where they do not, ``level=``,
#: the error reports of HPC software, lines that may continue an entry (Slurm)
_PIECES = st.sampled_from([
    "ERROR", "ERR", "ERRORS", "xERROR", "_WARN", "-INFO", ".DEBUG", "ERROR.", "ERROR-x",
    "WARN:", "WARNING", "CRITICAL", "CRIT", "FATAL", "EMERG", "EMERGENCY", "ALERT", "PANIC",
    "SEVERE", "NOTICE", "TRACE", "LustreError", "LNetError:", "Xid", "Xid1", "error:",
    "level=warn", "lvl=DEBUG2", "level='info", 'level="error"', "level=debug6",
    "level=lvl=warn", "xlevel=warn", "level=", "lvl=x", "level=\u00e9", " ", "  ", "x" * 30,
    "at", "\u00e9t\u00e9", "java.lang.IllegalStateException:", "Caused by: x", "... 3 more",
    "a.b", "$x.Y", "Traceback (", "During handling", "The above exception", "File \"x\"",
])


@st.composite
def worded_line(draw, fmt: str) -> str:
    rng = random.Random(draw(st.integers(0, 1000)))
    line = sample(fmt, 1, rng)[0]
    if fmt == "journal_json":
        obj = json.loads(line)
        obj["MESSAGE"] = " ".join(draw(st.lists(_PIECES, max_size=8)))
        if draw(st.booleans()):
            obj.pop("PRIORITY", None)
        return json.dumps(obj)
    if fmt == "bgl" and draw(st.booleans()):  # a severity the format does not know
        line = line.replace(" INFO ", " ODD ").replace(" FATAL ", " ODD ")
    if fmt == "rfc5424" and draw(st.booleans()):
        line = line[line.index(">") + 1:] if line[0] == "<" else line
    if fmt == "slurm":
        line = line[:line.index("]") + 2]
        if draw(st.booleans()):
            line += draw(st.sampled_from(["[1.batch] ", "error: ", "debug: "]))
    elif fmt != "bgl" or draw(st.booleans()):
        line = line.rsplit(" ", draw(st.integers(0, 2)))[0] + " "
    return line + draw(st.sampled_from([" ", ""])).join(draw(st.lists(_PIECES, max_size=12)))


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_level_words(headers_impls, fmt, data):
    py, cy = headers_impls
    lines = data.draw(st.lists(worded_line(fmt), min_size=1, max_size=4))
    same(py, cy, "\n".join(lines).encode(), fmt)
    for line in lines:
        same(py, cy, line.encode(), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_are_the_line_loops(headers, fmt):
    """The rows of a chunk are those of the parser's line loop."""
    lines = sample(fmt, 200, random.Random(3))
    data = ("\n".join(lines) + "\n").encode()
    out = []
    for fast in (True, False):
        p = LogParser(fmt, hostname="me", tz="UTC", location="/x.log")
        p._chunk_rows = headers.chunk_rows
        p._one_line = fast
        out.append(p.feed(data) + p.finish())
    assert out[0] == out[1]
    p = LogParser(fmt, hostname="me", tz="UTC", location="/x.log")
    got = headers.chunk_rows(data[:-1], fmt, p._source, p.name, "me", p._othertags,
                             p._tagged)
    assert got is not None and _hpc_errors(got[0][:-1]) == out[0][:199]


#: the start of a line of each format whose message follows and states no level
LEVEL_FREE = {"syslog_export": "- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 k[1]: ",
              "bgl": "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL ODD ",
              "lanl": "1 n1 c s 1077804742 1 ", "slurm": "[2026-12-03T10:00:01] ",
              "rfc5424": "1 2024-11-22T08:40:03Z h a p m - ", "plain": "2024-11-22T08:40:01Z "}


@pytest.mark.parametrize("fmt", FORMATS)
def test_level_window(headers_impls, fmt):
    """A level word counts when it starts within the first characters of the message."""
    py, cy = headers_impls
    lines = []
    for word in ("ERROR", "WARN:", "level=warn", "Xid", "xERROR", "INFO\u00e9"):
        for pad in range(74, 84):
            msg = "x" * pad + " " + word
            if fmt == "journal_json":
                lines.append(json.dumps({"__REALTIME_TIMESTAMP": "1732264801000001",
                                         "MESSAGE": msg}))
            else:
                lines.append(LEVEL_FREE[fmt] + msg)
    for line in lines:
        same(py, cy, line.encode(), fmt)
    same(py, cy, "\n".join(lines).encode(), fmt)
    if fmt != "journal_json":
        rows = rows_of(py, "\n".join(lines[:10]).encode(), fmt)[0]
        assert [r[10] for r in rows] == ["error"] * 5 + ["info"] * 5
