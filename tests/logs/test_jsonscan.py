"""Chunks of JSON lines (formats ``json`` and ``journal_json``) and the entries of
``journalctl -o export`` read at once, both implementations (:mod:`ccstore.logs.jsonscan`).

The reference is the line loop (and, for ``journal_json``, the chunk of headers; for the
export stream, the export reader alone): a parser that reads at once gives the same
rows, counters and offsets as one that does not, on every input; where the compiled
scanner gives rows, the pure-Python twin gives the same.
"""
from __future__ import annotations

import json
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twins import PYTHON_ONLY

from ccstore.logs import LogParser
from ccstore.logs import jsonscan as jsonscan_module
from ccstore.logs._grammar import _LEVEL_WINDOW
from ccstore.logs.clock import Clock
from ccstore.logs.formats import JSON_EXTRA, JSON_HOST, JSON_LEVEL, JSON_MSG, JSON_NAME, JSON_TIME
from ccstore.logs.parse import _level_of as level_of

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
T0 = 1764756000
PROGRAMS = ("crond", "kernel", "sshd", "crond(pam_unix)", "sl\u00fcrmd")
MESSAGES = ("session opened for user root", "error: bad key", "LustreError: 11-0: rc = -5",
            "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.", "WARNING low disk",
            "h\u00e9llo w\u00f6rld \u2603", 'quote " and back\\slash', "tab\there",
            "line\nbreak\n", "nul\x00byte", "\tat org.Foo.bar(Foo.java:1)",
            "Caused by: java.io.IOException", "", "   ", "Traceback (most recent call last):",
            "x" * 100 + " ERROR late", "level=warn in logfmt", "\u2028sep", "/path/\u00e9",
            "org.example.FooException: boom", "java.lang.OutOfMemoryError", "a.b",
            "\u00dcber.FooError: x", "ab$_9.c.DError", "x.y z", "Suppressed: x",
            "During handling of the above exception", "...", "$x.YError")


def journal_line(i: int, rng: random.Random) -> str:
    obj = {"__CURSOR": f"s=0123;i={i:x}",
           "__REALTIME_TIMESTAMP": str((T0 + i) * 10**6 + rng.randrange(10**6))}
    if rng.random() < 0.9:
        obj["_HOSTNAME"] = rng.choice(("n0001", "n0002", "", "h\u00f6st"))
    if rng.random() < 0.8:
        obj["PRIORITY"] = rng.choice(("3", "4", "6", "7", "6", "8", "x", ""))
    for key in ("SYSLOG_IDENTIFIER", "_COMM", "_PID", "_SYSTEMD_UNIT",
                "_SOURCE_REALTIME_TIMESTAMP"):
        if rng.random() < 0.6:
            obj[key] = (str((T0 + i) * 10**6) if key == "_SOURCE_REALTIME_TIMESTAMP"
                        else str(rng.randrange(99999)) if key == "_PID"
                        else rng.choice(PROGRAMS + ("",)))
    obj["MESSAGE"] = rng.choice(MESSAGES)
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


def json_line(i: int, rng: random.Random) -> str:
    obj = {}
    r = rng.random()
    obj[rng.choice(JSON_TIME)] = (
        T0 + i if r < 0.4 else (T0 + i) * 1000 + 0.5 if r < 0.5 else str(T0 + i) if r < 0.6
        else "2026-12-03T10:00:%02dZ" % (i % 60) if r < 0.9 else None)
    if rng.random() < 0.8:
        obj[rng.choice(JSON_LEVEL)] = rng.choice(("info", "warn", "ERROR", 3, 50, "bogus", None,
                                                  True))
    if rng.random() < 0.9:
        obj[rng.choice(JSON_MSG)] = rng.choice(MESSAGES + (5,))
    if rng.random() < 0.5:
        obj[rng.choice(JSON_HOST)] = rng.choice(("n0001", "", "h\u00f6st", 7))
    if rng.random() < 0.5:
        obj[rng.choice(JSON_NAME)] = rng.choice(PROGRAMS + ("",))
    if rng.random() < 0.05:
        obj[rng.choice(JSON_EXTRA)] = rng.choice(("at x\n", "", "trace"))
    if rng.random() < 0.3:
        obj["other"] = rng.choice((1, 2.5e3, "v", False, None))
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


ODD_JSON = [
    '{"time": 1764756000, "msg": "a", "msg": "duplicate key: the last wins"}',
    '{"time": 1764756000, "msg": "nested", "ctx": {"a": [1, 2]}}',
    '{"time": NaN, "msg": "not JSON for the scanner"}',
    '{"time": 1764756000, "msg": "trailing"} x',
    '{"time": 1764756000, "msg": "spaces"}   ',
    '{ "time" : 1764756000 , "msg" : "spaced" }',
    '{"time": 1764756000, "m\\u0073g": "escaped key"}',
    '{"time": 1764756000, "msg": "bad escape \\x"}',
    '{"time": 01764756000, "msg": "leading zero"}',
    '{"time": 1764756000, "msg": "surrogate \\ud83d\\ude00 ok"}',
    '{"time": 1764756000, "msg": "tab\tinside"}',
    '{"time": -1.5e3, "msg": "negative float"}',
    '{"time": 1764756000}',
    '{}',
    '{"msg": "no time"}',
    '[1, 2]',
    'not json at all',
    '',
    '{"time": 1764756000, "level": "warn", "msg": "after a blank line"}',
    '{"time": 1764756000, "msg": "' + "y" * (_LEVEL_WINDOW - 3) + ' ERROR"}',
    '{"time": "  1764756000  ", "msg": "digits with spaces"}',
    '{"time": true, "ts": 1764756001, "msg": "bool time skipped"}',
    '{"time": "\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", '
    '"ts": 1764756001, "level": "\u00b2", "msg": "superscript digits are no number"}',
]
ODD_JOURNAL = [
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "MESSAGE": [104, 105]}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": 1764756000000000, "MESSAGE": "number time"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "17647560000000x0", "MESSAGE": "bad time"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "", "_SOURCE_REALTIME_TIMESTAMP": "1", '
    '"MESSAGE": "source wins"}',
    '{"__CURSOR": "c", "MESSAGE": "no time"}',
    '{"x": "mentions \\"__CURSOR\\" only in a value", "__REALTIME_TIMESTAMP": "1"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "MESSAGE": null}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "PRIORITY": 3, '
    '"MESSAGE": "number priority"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "PRIORITY": "\\u0033", '
    '"_PID": "\\u0000", "_SYSTEMD_UNIT": "u\\"nit", "_HOSTNAME": "\\u00e9", "MESSAGE": "esc"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "MESSAGE": "a\\u0000b\\n"}',
    '{"__REALTIME_TIMESTAMP": "1764756000000000", "MESSAGE": "x", "MESSAGE": "dup"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "\\u0031764756000000000", "MESSAGE": "esc t"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "12345678901234567890", "MESSAGE": "big"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1764756000000000", "_PID": "", '
    '"_SYSTEMD_UNIT": "", "MESSAGE": "empty tags"}',
    '{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "\u00b9", "MESSAGE": "superscript time"}',
]


def run(impl, fmt: str, data: bytes, step: int, on: bool = True, location="/var/log/x.json",
        max_field=None):
    """Rows, counters and offsets of a parser fed ``data`` in pieces of ``step`` bytes."""
    p = LogParser(fmt, hostname="me", tz="UTC", location=location, reference_time=T0)
    if max_field is not None:
        p._journal.max_field = max_field
    p._json_chunks = impl
    p._json_lines = on
    out = []
    for i in range(0, len(data), step):
        out.extend(p.feed(data[i:i + step]))
        out.append(("offsets", p.offset, p.safe_offset, p.pending))
    out.extend(p.finish())
    return out, (p.lines, p.entries, p.unparsed, p.no_host, p.skipped, p.offset)


def same_as_loop(impl, fmt: str, lines, steps=(1 << 20, 4096, 333, 97)):
    data = ("\n".join(lines) + "\n").encode()
    for step in steps:
        assert run(impl, fmt, data, step) == run(impl, fmt, data, step, on=False), step
    crlf = data.replace(b"\n", b"\r\n")
    assert run(impl, fmt, crlf, 4096) == run(impl, fmt, crlf, 4096, on=False)


@pytest.mark.parametrize("seed", range(4))
def test_json_rows_as_the_line_loop(jsonscan, seed):
    rng = random.Random(seed)
    same_as_loop(jsonscan, "json", [json_line(i, rng) for i in range(400)])


@pytest.mark.parametrize("seed", range(4))
def test_journal_json_rows_as_the_line_loop(jsonscan, seed):
    rng = random.Random(seed)
    same_as_loop(jsonscan, "journal_json", [journal_line(i, rng) for i in range(400)])


@pytest.mark.parametrize("odd", range(len(ODD_JSON)))
def test_json_odd_lines(jsonscan, odd):
    rng = random.Random(odd)
    lines = [json_line(i, rng) for i in range(20)]
    same_as_loop(jsonscan, "json", lines[:10] + [ODD_JSON[odd]] + lines[10:], steps=(1 << 20, 64))
    same_as_loop(jsonscan, "json", [ODD_JSON[odd]], steps=(1 << 20,))


@pytest.mark.parametrize("odd", range(len(ODD_JOURNAL)))
def test_journal_json_odd_lines(jsonscan, odd):
    rng = random.Random(odd)
    lines = [journal_line(i, rng) for i in range(20)]
    same_as_loop(jsonscan, "journal_json", lines[:10] + [ODD_JOURNAL[odd]] + lines[10:],
                 steps=(1 << 20, 64))
    same_as_loop(jsonscan, "journal_json", [ODD_JOURNAL[odd]], steps=(1 << 20,))


def test_journal_json_tags_after_other_tags(jsonscan):
    # no location: the level is the only other tag; and a location that sorts first
    rng = random.Random(7)
    data = ("\n".join(journal_line(i, rng) for i in range(200)) + "\n").encode()
    for loc in (None, "/a\u00e9/\"q\".json"):
        assert (run(jsonscan, "journal_json", data, 1000, location=loc)
                == run(jsonscan, "journal_json", data, 1000, on=False, location=loc))


def test_twins_agree_where_the_compiled_one_reads(jsonscan_impls):
    py, cy = jsonscan_impls
    clock = Clock("UTC", T0)
    oth = {lv: json.dumps({"location": "/x", "loglevel": lv}, separators=(",", ":"))
           for lv in ("debug", "info", "warn", "error")}
    base = {"location": "/x"}
    rng = random.Random(1)
    read = 0
    for n in range(300):
        jl = "\n".join(json_line(i, rng) for i in range(rng.randrange(1, 6))).encode()
        kl = "\n".join(journal_line(i, rng) for i in range(rng.randrange(1, 6))).encode()
        got = cy.json_chunk(jl, "app", "me", oth, clock, level_of)
        if got is not None:
            read += 1
            assert got == py.json_chunk(jl, "app", "me", oth, clock, level_of)
        got = cy.journal_json_chunk(kl, "app", "me", base, oth, level_of)
        if got is not None:
            read += 1
            assert got == py.journal_json_chunk(kl, "app", "me", base, oth, level_of)
    assert read > 100


@pytest.mark.parametrize("fmt", ["json", "journal_json"])
def test_plain_chunks_are_read_at_once(jsonscan, fmt):
    """The usual lines take the chunk path, not the line loop."""
    lines = [json.dumps({"time": T0 + i, "level": "info", "host": "n1", "msg": f"m {i}"})
             if fmt == "json" else
             json.dumps({"__CURSOR": "c", "__REALTIME_TIMESTAMP": str(T0 * 10**6 + i),
                         "_HOSTNAME": "n1", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "crond",
                         "_PID": str(i), "_SYSTEMD_UNIT": "a.service", "MESSAGE": f"m {i}"})
             for i in range(50)]
    p = LogParser(fmt, hostname="me", location="/x")
    p._json_chunks = jsonscan
    calls = []

    def loop(*args):  # the line loop and the chunk of headers must not be needed
        calls.append(args)
        return None
    p._header = loop
    p._chunk_headers = loop
    rows = p.feed(("\n".join(lines) + "\n").encode()) + p.finish()
    assert len(rows) == 50 and not calls
    assert rows[-1][9] == "m 49" and rows[0][3] == "n1"


def test_compiled_scanner_in_use():
    if PYTHON_ONLY:
        pytest.skip("CCSTORE_IMPL=python")
    assert jsonscan_module.IMPLEMENTATION == "cython"
    assert LogParser("json")._json_chunks is jsonscan_module.get_implementation("cython")


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=12), st.sampled_from(["info", "WARN", "3", " 42 ",
                                                            "2026-12-03T10:00:00Z"]))
_KEYS = st.sampled_from(JSON_TIME + JSON_LEVEL + JSON_MSG + JSON_HOST + JSON_NAME + JSON_EXTRA
                        + ("_PID", "_SYSTEMD_UNIT", "__CURSOR", "x", "\u00e9"))


@SETTINGS
@given(objs=st.lists(st.dictionaries(_KEYS, _SCALARS, max_size=8), min_size=1, max_size=6),
       ascii_=st.booleans())
def test_any_flat_objects(jsonscan, objs, ascii_):
    lines = [json.dumps(o, ensure_ascii=ascii_) for o in objs]
    data = ("\n".join(lines) + "\n").encode()
    for fmt in ("json", "journal_json"):
        assert run(jsonscan, fmt, data, 1 << 20) == run(jsonscan, fmt, data, 1 << 20, on=False)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_bytes(jsonscan, raw):
    data = b'{"time": 1764756000, "__CURSOR": "c", "msg": "a"}\n' + raw + b"\n"
    for fmt in ("json", "journal_json"):
        assert run(jsonscan, fmt, data, 1 << 20) == run(jsonscan, fmt, data, 1 << 20, on=False)


def test_bench_lines(jsonscan):
    """The lines of benchmarks/bench_logs.py."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import bench_logs

    for fmt in ("json", "journal_json"):
        lines = bench_logs.FORMATS[fmt][0](2000, random.Random(0))
        same_as_loop(jsonscan, fmt, lines, steps=(1 << 16,))


# -- journalctl -o export ------------------------------------------------------------------
def export_entry(i: int, rng: random.Random) -> bytes:
    obj = json.loads(journal_line(i, rng))
    if rng.random() < 0.2:
        del obj["__REALTIME_TIMESTAMP"]
    out = []
    for k, v in obj.items():
        v = v.encode()
        if rng.random() < 0.15 or b"\n" in v:
            v = v + rng.choice((b"", b"\x00", b"\xff\xfe", b"\n\n"))
            out.append(k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n")
        else:
            out.append(k.encode() + b"=" + v + b"\n")
    if rng.random() < 0.1:
        out.append(b"MESSAGE=the first of a key given twice wins\n")
    return b"".join(out) + b"\n"


ODD_EXPORT = [
    b"bad key=x\nMESSAGE=a text entry takes any key\n\n",
    b"bad key=x\nMESSAGE\n" + struct.pack("<Q", 3) + b"bin\n\n",
    b"MESSAGE\n" + struct.pack("<Q", 10**6) + b"short\n\n",
    b"MESSAGE\n" + struct.pack("<Q", 3) + b"binX\n\n",
    b"\n\nMESSAGE=after empty lines\n\n",
    b"MESSAGE=" + b"y" * 100 + b"\n\n",
    b"__REALTIME_TIMESTAMP=12x\nMESSAGE=bad time\n\n",
    b"__REALTIME_TIMESTAMP=123456789012345678901\nMESSAGE=big time\n\n",
    b"PRIORITY=3\n_PID=\xff\n_SYSTEMD_UNIT=a\"b\nMESSAGE=error words\n\n",
    b"=no key\nMESSAGE=x\n\n",
    b"MESSAGE=no final empty line\n",
    b"MESSAGE=no final newline",
    b"MESSAGE\n" + struct.pack("<Q", 5) + b"cut",
]


def same_export(impl, data: bytes, steps=(1 << 20, 4096, 333, 97, 7), max_field=None):
    for step in steps:
        assert (run(impl, "journal_export", data, step, max_field=max_field)
                == run(impl, "journal_export", data, step, on=False, max_field=max_field)), step


@pytest.mark.parametrize("seed", range(4))
def test_export_rows_as_the_reader(jsonscan, seed):
    rng = random.Random(seed)
    same_export(jsonscan, b"".join(export_entry(i, rng) for i in range(300)))


@pytest.mark.parametrize("odd", range(len(ODD_EXPORT)))
def test_export_odd_entries(jsonscan, odd):
    rng = random.Random(odd)
    entries = [export_entry(i, rng) for i in range(20)]
    data = b"".join(entries[:10]) + ODD_EXPORT[odd] + b"".join(entries[10:])
    same_export(jsonscan, data, steps=(1 << 20, 64, 5))
    same_export(jsonscan, data, steps=(1 << 20, 64), max_field=64)
    same_export(jsonscan, ODD_EXPORT[odd], steps=(1 << 20, 3))


def test_export_twins_agree(jsonscan_impls):
    py, cy = jsonscan_impls
    oth = {lv: json.dumps({"location": "/x", "loglevel": lv}, separators=(",", ":"))
           for lv in ("debug", "info", "warn", "error")}
    rng = random.Random(3)
    for n in range(100):
        data = b"".join(export_entry(i, rng) for i in range(rng.randrange(1, 5)))
        data = data[:rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data
        args = (data, 1 << 20, "app", "me", {"location": "/x"}, oth, level_of, None, 5)
        assert cy.export_chunk(*args) == py.export_chunk(*args)


@SETTINGS
@given(raw=st.binary(max_size=300), cut=st.integers(1, 50))
def test_export_any_bytes(jsonscan, raw, cut):
    data = b"__CURSOR=c\nMESSAGE=a\n\n" + raw
    same_export(jsonscan, data, steps=(1 << 20, cut), max_field=40)


def test_export_bench_entries(jsonscan):
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import bench_logs

    same_export(jsonscan, bench_logs.gen_journal_export(1000, random.Random(0)),
                steps=(1 << 16, 1000))
