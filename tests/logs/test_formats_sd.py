"""RFC 5424 structured data: its parameters as tags ``sd.<SD-ID>.<PARAM-NAME>``."""
from __future__ import annotations

import json

import pytest
from lfutil import NS, utc

from ccstore.logs import LogParser
from ccstore.logs.formats import structured_data_tags

SD_CASES = [
    ("-", None),
    ('[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]',
     {"sd.exampleSDID@32473.iut": "3", "sd.exampleSDID@32473.eventSource": "Application",
      "sd.exampleSDID@32473.eventID": "1011"}),
    # two elements
    ('[exampleSDID@32473 iut="3"][examplePriority@32473 class="high"]',
     {"sd.exampleSDID@32473.iut": "3", "sd.examplePriority@32473.class": "high"}),
    # the escapes of RFC 5424 6.3.3 undone; a backslash before another character stays
    (r'[x@1 q="a \"b\" c" b="c:\\d" r="[1\]" o="\n"]',
     {"sd.x@1.q": 'a "b" c', "sd.x@1.b": "c:\\d", "sd.x@1.r": "[1]", "sd.x@1.o": "\\n"}),
    # an element without parameters gives no tag; an empty value is a value
    ("[origin]", None),
    ('[origin][meta sequenceId=""]', {"sd.meta.sequenceId": ""}),
    # a parameter given twice: the first
    ('[x p="1" p="2"]', {"sd.x.p": "1"}),
    # unicode values
    ('[x@1 who="Jürgen ✓"]', {"sd.x@1.who": "Jürgen ✓"}),
]


@pytest.mark.parametrize("sd,tags", SD_CASES)
def test_structured_data_tags(sd, tags):
    assert structured_data_tags(sd) == tags


def rows(text: str, fmt: str = "rfc5424"):
    p = LogParser(fmt, hostname="me", location="/var/log/app.log", tz="UTC")
    return p.feed(text.encode() + b"\n") + p.finish()


@pytest.mark.parametrize("fmt", ["rfc5424", "auto"])
def test_rfc5424_lines_carry_their_structured_data(fmt):
    line = (r'<165>1 2024-11-22T08:40:03.123Z host1 app 12 ID47 '
            r'[ex@1 a="1" b="x\"]"][meta sequenceId="7"] hi')
    [r] = rows(line, fmt)
    assert (r[0], r[2], r[3], r[10]) == (utc(2024, 11, 22, 8, 40, 3, ns=123_000_000), "app",
                                        "host1", "info")
    # the structured data stays searchable in the message
    assert r[9] == r'[ex@1 a="1" b="x\"]"][meta sequenceId="7"] hi'
    assert json.loads(r[8]) == {"location": "/var/log/app.log", "loglevel": "info",
                                "sd.ex@1.a": "1", "sd.ex@1.b": 'x"]', "sd.meta.sequenceId": "7"}


def test_rfc5424_without_structured_data_has_no_tags():
    [r] = rows("<11>1 2024-11-22T08:40:03Z h9 slurmd - - - node down")
    assert json.loads(r[8]) == {"location": "/var/log/app.log", "loglevel": "error"}
    assert r[0] == utc(2024, 11, 22, 8, 40, 3) and r[0] % NS == 0


def test_lines_with_different_structured_data_keep_their_own_tags():
    text = "\n".join(f'<14>1 2024-11-22T08:40:0{i}Z h app - - [x n="{i}"] m{i}'
                     for i in range(5))
    got = [json.loads(r[8])["sd.x.n"] for r in rows(text)]
    assert got == ["0", "1", "2", "3", "4"]
