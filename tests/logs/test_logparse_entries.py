"""Multi-line entries, offsets, chunking and binary garbage in the log parser."""
from __future__ import annotations

import calendar
import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccstore.logs import LogParser

REF = calendar.timegm((2024, 11, 23, 0, 0, 0))

JAVA = (
    "2024-11-22 08:40:01,123 ERROR [main] c.f.App - request failed\n"
    "java.lang.IllegalStateException: boom\n"
    "\tat com.foo.Bar.baz(Bar.java:10)\n"
    "\tat com.foo.App.main(App.java:5)\n"
    "Caused by: java.lang.NullPointerException: null\n"
    "\tat com.foo.Bar.qux(Bar.java:20)\n"
    "\t... 1 more\n"
    "2024-11-22 08:40:02,000 INFO  [main] c.f.App - next\n"
)
PYTHON = (
    "2024-11-22 08:40:05,000 - myapp - ERROR - handler crashed\n"
    "Traceback (most recent call last):\n"
    '  File "app.py", line 3, in <module>\n'
    "    main()\n"
    "ValueError: bad value\n"
    "\n"
    "During handling of the above exception, another exception occurred:\n"
    "\n"
    "Traceback (most recent call last):\n"
    '  File "app.py", line 5, in <module>\n'
    "ZeroDivisionError: division by zero\n"
    "2024-11-22 08:40:06,000 - myapp - INFO - recovered\n"
)


def parse_all(data: bytes, fmt: str = "auto", **kw):
    p = LogParser(fmt, hostname="me", tz="UTC", reference_time=REF, **kw)
    return p.feed(data) + p.finish(), p


def messages(rows):
    return [r[9] for r in rows]


def test_java_stack_trace_is_one_message():
    rows, _ = parse_all(JAVA.encode())
    assert messages(rows) == [
        "ERROR [main] c.f.App - request failed\n" + JAVA.split("\n", 1)[1].rsplit(
            "2024-11-22 08:40:02", 1)[0].rstrip("\n"),
        "INFO  [main] c.f.App - next"]
    assert [r[10] for r in rows] == ["error", "info"]


def test_python_traceback_with_a_chained_exception_is_one_message():
    rows, _ = parse_all(PYTHON.encode())
    assert len(rows) == 2
    first = rows[0][9].split("\n")
    assert first[0] == "myapp - ERROR - handler crashed"
    assert first[-1] == "ZeroDivisionError: division by zero"
    assert "During handling of the above exception, another exception occurred:" in first
    assert first.count("") == 2  # the blank lines inside the chain are kept
    assert rows[1][9] == "myapp - INFO - recovered"


def test_a_stack_trace_makes_an_entry_without_a_level_an_error():
    rows, _ = parse_all(b"2024-11-22 08:40:01 request failed\n\tat a.b(C.java:1)\n"
                        b"2024-11-22 08:40:02 fine\n")
    assert [r[10] for r in rows] == ["error", "info"]


def test_a_bare_traceback_is_an_error():
    rows, _ = parse_all(b"Traceback (most recent call last):\n  File \"x\", line 1\n"
                        b"KeyError: 'k'\n")
    assert len(rows) == 1 and rows[0][10] == "error"
    assert rows[0][9].endswith("KeyError: 'k'")


def test_traceback_lines_through_syslog_join_per_program():
    text = ("Nov 22 08:40:09 a1 app[1]: Traceback (most recent call last):\n"
            "Nov 22 08:40:09 a1 app[1]:   File \"x.py\", line 3, in <module>\n"
            "Nov 22 08:40:09 a1 other[2]: unrelated\n"
            "Nov 22 08:40:09 a1 app[1]: ValueError: bad\n")
    rows, _ = parse_all(text.encode(), "syslog")
    # the other program's line ends the entry: its lines are never merged
    assert [(r[2], r[9]) for r in rows] == [
        ("app", "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>"),
        ("other", "unrelated"), ("app", "ValueError: bad")]


def test_java_frames_through_syslog_join_with_the_same_host_and_program():
    text = ("Nov 22 08:40:09 a1 java[1]: Exception in thread main\n"
            "Nov 22 08:40:09 a1 java[1]: \tat a.b(C.java:1)\n"
            "Nov 22 08:40:09 a2 java[1]: \tat other.host(C.java:1)\n")
    rows, _ = parse_all(text.encode(), "syslog")
    assert messages(rows) == ["Exception in thread main\n\tat a.b(C.java:1)",
                              "\tat other.host(C.java:1)"]


def test_indented_lines_continue_plain_entries_only():
    rows, _ = parse_all(b"2024-11-22 08:40:01 head\n  indented detail\n", "plain")
    assert messages(rows) == ["head\n  indented detail"]
    rows, _ = parse_all(b"Nov 22 08:40:01 a1 p: head\n  indented detail\n", "syslog")
    assert messages(rows) == ["head", "  indented detail"]


def test_entries_are_bounded():
    text = b"2024-11-22 08:40:01 head\n" + b"\tat x.y(Z.java:1)\n" * 25
    rows, _ = parse_all(text, max_entry_lines=10)
    assert [m.count("\n") + 1 for m in messages(rows)] == [10, 10, 6]
    assert sum(m.count("\tat") for m in messages(rows)) == 25


def test_the_last_entry_waits_for_flush():
    p = LogParser("plain", tz="UTC", reference_time=REF)
    assert p.feed(b"2024-11-22 08:40:01 one\n") == []
    assert p.pending
    assert messages(p.flush()) == ["one"]
    assert not p.pending


def test_a_partial_line_waits_for_its_newline():
    p = LogParser("plain", tz="UTC", reference_time=REF)
    assert p.feed(b"2024-11-22 08:40:01 one\n2024-11-22 08:40:02 tw") == []
    assert messages(p.flush()) == ["one"]
    assert p.flush() == [] and p.pending  # the partial line stays
    assert messages(p.feed(b"o\n") + p.flush()) == ["two"]


def test_finish_takes_the_partial_line():
    p = LogParser("plain", tz="UTC", reference_time=REF)
    p.feed(b"2024-11-22 08:40:01 one\nlast without newline")
    assert messages(p.finish()) == ["one", "last without newline"]


def test_offsets_point_at_the_pending_entry():
    data = "2024-11-22 08:40:01 ä one\n2024-11-22 08:40:02 two\n\tat x.y(Z.java:1)\npart"
    raw = data.encode()
    p = LogParser("plain", tz="UTC", reference_time=REF, offset=1000)
    rows = p.feed(raw)
    assert messages(rows) == ["ä one"]
    second = raw.index(b"2024-11-22 08:40:02")
    assert p.safe_offset == 1000 + second
    assert p.offset == 1000 + raw.rindex(b"\n") + 1
    p.flush()
    assert p.safe_offset == p.offset


def test_resuming_at_the_safe_offset_repeats_nothing():
    raw = JAVA.encode() + PYTHON.encode()
    whole, _ = parse_all(raw)
    for cut in range(0, len(raw), 37):
        first = LogParser("auto", hostname="me", tz="UTC", reference_time=REF)
        rows = first.feed(raw[:cut])  # then the process dies: the pending entry is lost
        resume = first.safe_offset
        second = LogParser("auto", hostname="me", tz="UTC", reference_time=REF,
                           offset=resume, last_time=first.last_time)
        rows += second.feed(raw[resume:]) + second.finish()
        assert messages(rows) == messages(whole), cut


def test_crlf_line_ends():
    rows, _ = parse_all(b"2024-11-22 08:40:01 one\r\n2024-11-22 08:40:02 two\r\n")
    assert messages(rows) == ["one", "two"]


# ------------------------------------------------------------------------- garbage
def test_binary_garbage_is_skipped_and_counted():
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(3000)).replace(b"\n", b"\x00")
    data = (b"Nov 22 08:40:01 a1 p: before\n" + garbage + b"\n"
            + b"\x01\x02\x03\x04\x05\x06\n" + b"Nov 22 08:40:02 a1 p: after\n")
    rows, p = parse_all(data)
    assert messages(rows) == ["before", "after"]
    assert p.skipped == 2
    assert p.lines == 4


def test_nul_padding_before_a_line_is_dropped():
    # what a log file looks like after a crash: a block of zeros, then new lines
    rows, p = parse_all(b"\x00" * 4096 + b"Nov 22 08:40:01 a1 p: after the crash\n")
    assert messages(rows) == ["after the crash"] and p.skipped == 0


def test_latin1_text_is_kept():
    rows, p = parse_all("Nov 22 08:40:01 a1 p: Grüße aus Köln\n".encode("latin-1"))
    assert messages(rows) == ["Gr\ufffd\ufffde aus K\ufffdln"] and p.skipped == 0


def test_an_overlong_line_is_cut_into_lines():
    p = LogParser("plain", tz="UTC", reference_time=REF, max_line=1000)
    rows = p.feed(b"x" * 2500)
    rows += p.finish()
    assert "".join(messages(rows)) == "x" * 2500


def test_garbage_keeps_offsets_right():
    raw = b"2024-11-22 08:40:01 one\n\xff\xfe\x00\x01\n2024-11-22 08:40:02 two\n"
    p = LogParser("plain", tz="UTC", reference_time=REF)
    assert messages(p.feed(raw)) == ["one"]
    assert p.safe_offset == raw.index(b"2024-11-22 08:40:02")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["auto", "syslog", "rfc5424", "json",
                                                 "plain"]))
def test_arbitrary_bytes_never_raise(data, fmt):
    p = LogParser(fmt, tz="UTC", reference_time=REF)
    rows = p.feed(data)
    assert p.safe_offset <= p.offset <= len(data)
    rows += p.finish()
    assert p.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    for r in rows:
        assert r[10] in ("debug", "info", "warn", "error")
        assert isinstance(r[9], str) and r[0] // 1_000_000_000 == r[1]


SAMPLE = (JAVA + PYTHON + "Nov 22 08:40:01 a1 sshd[2]: error: x\n"
          + '{"msg": "json", "level": "warn", "time": 1732264801}\n'
          + "<11>1 2024-11-22T08:40:03Z h app - - - five424\n").encode() + b"\xff\x00\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(SAMPLE)), max_size=8))
def test_chunking_does_not_change_the_result(cuts):
    whole, _ = parse_all(SAMPLE)
    p = LogParser("auto", hostname="me", tz="UTC", reference_time=REF)
    rows = []
    prev = 0
    for c in sorted(cuts) + [len(SAMPLE)]:
        rows += p.feed(SAMPLE[prev:c])
        prev = c
    rows += p.finish()
    assert rows == whole


def test_sample_of_a_real_mixed_file(tmp_path):
    path = tmp_path / "mixed.log"
    path.write_bytes(SAMPLE)
    rows, p = parse_all(path.read_bytes(), location=os.fspath(path))
    assert len(rows) == 7 and p.skipped == 1
    assert {r[8] for r in rows} >= {
        '{"location":"%s","loglevel":"error"}' % os.fspath(path)}


# ------------------------------------------------------------------------- fast path
_PROGS = st.sampled_from(["sshd", "kernel", "app", "CRON", "postfix/smtpd", "ccb"])
_BODIES = st.sampled_from([
    "Accepted publickey for root", "error: Node down", "[WARN] slow", "<info> fine",
    "ERROR [main] x - y", "pam_unix(cron:session): opened", "debug2: detail",
    "job failed: java.lang.NullPointerException at x", "Started Session 1.",
    "\tat a.b(C.java:1)", "Caused by: java.io.IOException: x", "... 3 more",
    "java.lang.IllegalStateException: boom", "Traceback (most recent call last):",
    "  File \"x.py\", line 1", "ValueError: bad", "level=warn msg=x", "x" * 90 + " ERROR",
    "Warning: deprecated", "INFORMATION only", "", "a line: with colon",
])


@st.composite
def syslog_text(draw):
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.integers(0, 9))
        pri = f"<{draw(st.integers(0, 191))}>" if kind == 0 else ""
        sec = draw(st.integers(0, 59))
        frac = f".{draw(st.integers(0, 999)):03d}" if kind == 1 else ""
        day = draw(st.sampled_from([" 2", "22", "31", "30"]))
        host = draw(st.sampled_from(["a0001", "a0002"]))
        tag = draw(_PROGS) + (f"[{draw(st.integers(1, 99))}]" if kind < 5 else "")
        body = draw(_BODIES)
        if kind == 9:
            lines.append(body)          # a line without a header
        elif kind == 8:
            lines.append("")            # a blank line
        else:
            lines.append(f"{pri}Nov {day} 08:40:{sec:02d}{frac} {host} {tag}: {body}")
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(syslog_text(), st.sampled_from(["syslog", "auto"]),
       st.lists(st.integers(0, 3000), max_size=3))
def test_fast_path_agrees_with_the_line_loop(syslog, data, fmt, cuts):
    """Each implementation of the fast path (``syslog.syslog_chunk``) against the line loop."""
    results = []
    for fast in (True, False):
        p = LogParser(fmt, hostname="me", tz="UTC", reference_time=REF)
        p._columnar = fast
        p._chunk_parser = syslog.syslog_chunk
        rows, offsets, prev = [], [], 0
        for c in sorted(min(c, len(data)) for c in cuts) + [len(data)]:
            rows += p.feed(data[prev:c])
            offsets.append((p.offset, p.safe_offset, p.last_time))
            prev = c
        rows += p.finish()
        results.append((rows, offsets, p.lines, p.entries))
    assert results[0] == results[1]


def test_fast_path_is_taken_for_plain_syslog(syslog):
    data = "".join(f"Nov 22 08:40:{i:02d} a1 p[1]: line {i}\n" for i in range(50)).encode()
    p = LogParser("syslog", tz="UTC", reference_time=REF)
    p._chunk_parser = syslog.syslog_chunk
    rows = p._syslog_chunk(data[:-1], len(data))
    assert rows is not None and len(rows) == 49 and p.safe_offset == data.rindex(b"Nov")
