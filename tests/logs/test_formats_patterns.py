"""User-defined formats: patterns with named fields, regular expressions, level maps, and the
errors of formats that do not compile."""
from __future__ import annotations

import pytest
from lfutil import NS, as_dict, utc

from ccstore.logs import LogParser
from ccstore.logs.clock import Clock
from ccstore.logs.patterns import PatternError, compile_pattern, compile_regex

REF = utc(2026, 12, 10) // NS
CLOCK = Clock("UTC", REF)
THUNDERBIRD = ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD "
               "(run-parts /etc/cron.hourly)")


def header(pattern, line, **kw):
    return as_dict(compile_pattern(pattern, clock=CLOCK, **kw).header(line))


def test_pattern_of_the_issue():
    h = header("<_> <time:epoch> <_> <host> <msg>", THUNDERBIRD)
    assert h == {"time": 1131566461 * NS, "name": None, "host": "dn228", "level": None,
                 "msg": "Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD (run-parts "
                        "/etc/cron.hourly)", "cont": None, "tags": None}


def test_pattern_all_roles_and_tags():
    fmt = compile_pattern("<time:iso> <host> <level> <program>[<pid>] <rack>: <msg>",
                          levels={"E": "error", "W": "warn"}, clock=CLOCK)
    h = as_dict(fmt.header("2026-12-03T10:00:00.250Z n001 E sshd[42] r7: disk failed"))
    assert h == {"time": utc(2026, 12, 3, 10, ns=250_000_000), "name": "sshd", "host": "n001",
                 "level": "error", "msg": "disk failed", "cont": None,
                 "tags": {"pid": "42", "rack": "r7"}}
    assert fmt.fields == ("host", "level", "msg", "name", "pid", "rack", "time")


@pytest.mark.parametrize("value,level", [
    ("E", "error"), ("W", "warn"),
    # not in the map: the usual level words and syslog severities
    ("ERROR", "error"), ("warning", "warn"), ("notice", "info"), ("6", "info"), ("7", "debug"),
    ("X", None),
])
def test_pattern_level_map(value, level):
    h = header("<level> <msg>", f"{value} something", levels={"E": "error", "W": "warn"})
    assert h["level"] == level


def test_level_map_takes_level_words_as_values():
    assert header("<level> <msg>", "F x", levels={"F": "fatal"})["level"] == "error"


def test_unknown_level_falls_back_to_hpc_words():
    assert header("<level> <msg>", "X LustreError: 11-0: x")["level"] is None
    p = LogParser(pattern="<level> <msg>", hostname="me")
    rows = p.feed(b"X LustreError: 11-0: x\n") + p.finish()
    assert rows[0][10] == "error"


@pytest.mark.parametrize("pattern,line,expected", [
    ("<time:epoch> <msg>", "1131566461.25 x", 1131566461 * NS + 250_000_000),
    ("<time:epoch_ms> <msg>", "1131566461250 x", 1131566461 * NS + 250_000_000),
    ("<time:epoch_us> <msg>", "1131566461250001 x", 1131566461 * NS + 250_001_000),
    ("<time:epoch_ns> <msg>", "1131566461250000001 x", 1131566461 * NS + 250_000_001),
    ("<time:iso> <msg>", "2026-12-03 10:00:00,5 x", utc(2026, 12, 3, 10, ns=500_000_000)),
    ("<time:iso> <msg>", "2026-12-03T10:00:00+01:00 x", utc(2026, 12, 3, 9)),
    ("<time:bsd> <msg>", "Dec  3 10:00:00 x", utc(2026, 12, 3, 10)),
    ("<time:bsd> <msg>", "Dec 3 10:00:00.5 x", utc(2026, 12, 3, 10, ns=500_000_000)),
    # auto (no type): ISO, BSD or epoch
    ("<time> <msg>", "2026-12-03T10:00:00Z x", utc(2026, 12, 3, 10)),
    ("<time> <msg>", "Dec  3 10:00:00 x", utc(2026, 12, 3, 10)),
    ("<time> <msg>", "1131566461 x", 1131566461 * NS),
    # strftime formats
    ("[<time:%d/%b/%Y:%H:%M:%S %z>] <msg>", "[03/Dec/2026:10:00:00 +0100] x",
     utc(2026, 12, 3, 9)),
    ("<time:%Y-%m-%d %H:%M:%S,%f> <msg>", "2026-12-03 10:00:00,123 x",
     utc(2026, 12, 3, 10, ns=123_000_000)),
    ("<time:%F %T> <msg>", "2026-12-03 10:00:00 x", utc(2026, 12, 3, 10)),
    ("<time:%m/%d/%y %I:%M:%S %p> <msg>", "12/03/26 01:02:03 PM x", utc(2026, 12, 3, 13, 2, 3)),
    ("<time:%m/%d/%y %I:%M:%S %p> <msg>", "12/03/26 12:02:03 AM x", utc(2026, 12, 3, 0, 2, 3)),
    ("<time:%B %d %H:%M:%S> <msg>", "December 03 10:00:00 x", utc(2026, 12, 3, 10)),
    ("<time:%b %e %H:%M:%S> <msg>", "Dec  3 10:00:00 x", utc(2026, 12, 3, 10)),
    ("<time:%s> <msg>", "1131566461 x", 1131566461 * NS),
    ("<time:%s.%f> <msg>", "1131566461.5 x", 1131566461 * NS + 500_000_000),
    ("<time:%a %b %d %H:%M:%S %Y> <msg>", "Thu Dec 03 10:00:00 2026 x", utc(2026, 12, 3, 10)),
    # a typed time needs no literal text after it
    ("<time:epoch_ms><msg>", "1131566461250x", 1131566461 * NS + 250_000_000),
])
def test_pattern_time_types(pattern, line, expected):
    h = header(pattern, line)
    assert h["time"] == expected
    assert h["msg"] == "x"


def test_time_in_the_local_zone_of_the_clock():
    fmt = compile_pattern("<time:%Y-%m-%d %H:%M:%S> <msg>", clock=Clock("America/New_York"))
    assert fmt.header("2026-12-03 10:00:00 x")[0] == utc(2026, 12, 3, 15)


@pytest.mark.parametrize("pattern,line", [
    ("<time:iso> <host> <msg>", "not a time n1 x"),
    ("<time:iso> <host> <msg>", "2026-02-30T10:00:00Z n1 impossible date"),
    ("<time:%Y-%m-%d> <msg>", "2026-02-30 impossible date"),
    ("<time:epoch> <msg>", "12ab x"),
    ("<host> [<msg>]", "n1 no brackets"),
    ("app: <msg>", "other: x"),
])
def test_pattern_rejects(pattern, line):
    assert compile_pattern(pattern, clock=CLOCK).header(line) is None


def test_pattern_semantics_literals_and_skips():
    # a field ends at the first occurrence of the text after it; the last one takes the rest
    h = header("<host> - <name> - <msg>", "n1 - a b - c - d")
    assert (h["host"], h["name"], h["msg"]) == ("n1", "a b", "c - d")
    # '<' without a letter after it is literal text
    h = header("<134><host> <msg>", "<134>n1 x")
    assert (h["host"], h["msg"]) == ("n1", "x")
    # without a msg field the message is the line
    h = header("<host> <_>", "n1 rest")
    assert (h["host"], h["msg"]) == ("n1", "n1 rest")
    # an empty field is no value
    h = header("<host>|<msg>", "|x")
    assert (h["host"], h["msg"]) == (None, "x")


def test_pattern_special_characters_are_literal():
    h = header("(<host>) [<level>] *<msg>", "(n1) [warn] *x.y")
    assert (h["host"], h["level"], h["msg"]) == ("n1", "warn", "x.y")


# -- regular expressions ------------------------------------------------------------------
def test_regex_with_named_groups():
    fmt = compile_regex(r"(?P<time>\d+) (?P<host>\S+) (?P<level>[EWI]) (?P<job>\d+) (?P<msg>.*)",
                        time_format="epoch", levels={"E": "error", "W": "warn", "I": "info"},
                        clock=CLOCK)
    assert as_dict(fmt.header("1131566461 n9 W 77 slow disk")) == {
        "time": 1131566461 * NS, "name": None, "host": "n9", "level": "warn", "msg": "slow disk",
        "cont": None, "tags": {"job": "77"}}
    assert fmt.header("n9 W 77 slow disk") is None


def test_regex_strftime_and_optional_groups():
    fmt = compile_regex(r"(?P<time>\S+ \S+) (?:(?P<program>\w+): )?(?P<msg>.*)",
                        time_format="%Y-%m-%d %H:%M:%S", clock=CLOCK)
    assert as_dict(fmt.header("2026-12-03 10:00:00 sshd: x"))["name"] == "sshd"
    h = as_dict(fmt.header("2026-12-03 10:00:00 plain message"))
    assert (h["time"], h["name"], h["msg"]) == (utc(2026, 12, 3, 10), None, "plain message")


def test_regex_optional_time_group():
    fmt = compile_regex(r"(?:(?P<time>\d+) )?(?P<msg>.*)", time_format="epoch", clock=CLOCK)
    assert fmt.header("1131566461 x")[0] == 1131566461 * NS
    assert fmt.header("x y")[:5] == (None, None, None, None, "x y")


def test_regex_without_time_or_msg():
    fmt = compile_regex(r"(?P<hostname>[a-z]+\d+):", clock=CLOCK)
    h = as_dict(fmt.header("n12: hello"))
    assert (h["time"], h["host"], h["msg"]) == (None, "n12", "n12: hello")


# -- errors ------------------------------------------------------------------------------
PATTERN_ERRORS = [
    # (pattern, position, words the message must contain)
    ("<host", 5, "expected '>' or ':'"),
    ("<host x> <msg>", 5, "expected '>' or ':'"),
    ("<time:epoch <msg>", 12, "expected '>' closing the field <time: opened at column 1"),
    ("<msg> <time:epoch", 17, "expected '>' closing the field <time: opened at column 7"),
    ("<time:foo> <msg>", 6, "unknown time type 'foo'"),
    ("<time:> <msg>", 6, "expected a time type"),
    ("<time:%Y-%m-%d %Q> <msg>", 15, "unknown strftime directive %Q"),
    ("<time:%Y %Y-%m-%d> <msg>", 9, "gives %Y twice"),
    ("<time:%H:%M:%S> <msg>", 6, "expected a date"),
    ("<time:%Y-%m-%d %I:%M> <msg>", 6, "%I and %p together"),
    ("<time:%Y-%m-%d %> <msg>", 15, "expected a directive after '%'"),
    ("<host><msg>", 6, "expected literal text between the fields <host> and <msg>"),
    ("<_><msg>", 3, "expected literal text between the fields <_> and <msg>"),
    ("<host> <host>", 7, "<host> is already at column 1"),
    ("<host> <hostname>", 7, "already at column 1"),
    ("<msg> <message>", 6, "already at column 1"),
    ("<level:x> <msg>", 6, "only <time:...> takes a type"),
    ("<_> <_>", 0, "at least one named field"),
    ("no fields", 0, "at least one named field"),
    ("", 0, "at least one field"),
    ("<cluster> <msg>", 0, "other than 'cluster'"),
    ("<msg> <type-id>", 6, "other than 'type-id'"),
    ("<msg> <parse>", 6, "other than 'parse'"),
]


@pytest.mark.parametrize("pattern,position,words", PATTERN_ERRORS)
def test_pattern_errors(pattern, position, words):
    with pytest.raises(PatternError) as exc:
        compile_pattern(pattern)
    assert exc.value.position == position
    assert words in str(exc.value)
    assert str(exc.value).startswith(f"column {position + 1}: ")
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("levels,words", [
    ({"E": "fatalish"}, "level map: 'E' -> 'fatalish': expected one of debug, info, warn, error"),
    ({"E": 3}, "level map: 'E' -> 3"),
])
def test_level_map_errors(levels, words):
    for compile_ in (lambda: compile_pattern("<level> <msg>", levels=levels),
                     lambda: compile_regex(r"(?P<level>\S+) (?P<msg>.*)", levels=levels)):
        with pytest.raises(PatternError) as exc:
            compile_()
        assert exc.value.position is None
        assert str(exc.value) == words or str(exc.value).startswith(words)


REGEX_ERRORS = [
    (r"(?P<msg>.*", {}, 0, "expected a regular expression: missing ), unterminated subpattern"),
    (r"\d+ [a-z", {}, 4, "expected a regular expression: unterminated character set"),
    (r"(\d+) (.*)", {}, 0, "at least one named group"),
    (r"(?P<cluster>\S+) (?P<msg>.*)", {}, 0, "other than 'cluster'"),
    (r"(?P<host>\S+) (?P<hostname>\S+)", {}, 14, "both give the host"),
    (r"(?P<time>\S+) (?P<msg>.*)", {"time_format": "epochs"}, None,
     "time format: unknown time type 'epochs'"),
    (r"(?P<time>\S+) (?P<msg>.*)", {"time_format": "%Y %Q"}, None,
     "time format '%Y %Q': at 4: unknown strftime directive %Q"),
    (r"(?P<host>\S+) (?P<msg>.*)", {"time_format": "iso"}, 0, "no group named time"),
]


@pytest.mark.parametrize("regex,kw,position,words", REGEX_ERRORS)
def test_regex_errors(regex, kw, position, words):
    with pytest.raises(PatternError) as exc:
        compile_regex(regex, **kw)
    assert exc.value.position == position
    assert words in str(exc.value)
