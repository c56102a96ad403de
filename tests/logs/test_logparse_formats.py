"""Every timestamp and severity format the log parser knows, one line at a time."""
from __future__ import annotations

import calendar
import json

import pytest

from ccstore.logs import LogParser, normalize_level, parse, row_to_point
from ccstore.rows import point_to_row

NS = 1_000_000_000
#: reference time of these tests: 2024-11-23T00:00:00Z
REF = calendar.timegm((2024, 11, 23, 0, 0, 0))


def utc(*fields: int, ns: int = 0) -> int:
    """Nanoseconds of a UTC date and time."""
    return calendar.timegm(fields + (0,) * (6 - len(fields))) * NS + ns


def one(line: str, fmt: str = "auto", **kw):
    """The single row a line gives: dict of time, name, host, level, msg."""
    options = {"hostname": "me", "location": "/var/log/app.log", "tz": "UTC",
               "reference_time": REF}
    options.update(kw)
    p = LogParser(fmt, **options)
    rows = p.feed(line.encode() + b"\n") + p.finish()
    assert len(rows) == 1, rows
    r = rows[0]
    return {"time": r[0], "name": r[2], "host": r[3], "level": r[10], "msg": r[9]}


CASES = [
    # RFC 3164
    ("syslog", "Nov 22 08:40:01 a0001 sshd[42]: Accepted publickey for root",
     utc(2024, 11, 22, 8, 40, 1), "sshd", "a0001", "info", "Accepted publickey for root"),
    ("syslog", "Nov  2 08:40:01 a0001 CRON[9]: (root) CMD (x)",
     utc(2024, 11, 2, 8, 40, 1), "CRON", "a0001", "info", "(root) CMD (x)"),
    ("syslog", "Nov 22 08:40:01.250 a1 app: x", utc(2024, 11, 22, 8, 40, 1, ns=250_000_000),
     "app", "a1", "info", "x"),
    ("syslog", "Nov 22 08:40:01 a0001 message without a tag", utc(2024, 11, 22, 8, 40, 1),
     "app", "a0001", "info", "message without a tag"),
    ("syslog", "Nov 22 08:40:01 a0001 postfix/smtpd[77]: connect from x",
     utc(2024, 11, 22, 8, 40, 1), "postfix/smtpd", "a0001", "info", "connect from x"),
    # syslog PRI: severity = PRI & 7
    ("syslog", "<8>Nov 22 08:40:01 a1 k: emerg", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "error", "emerg"),
    ("syslog", "<10>Nov 22 08:40:01 a1 k: crit", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "error", "crit"),
    ("syslog", "<11>Nov 22 08:40:01 a1 k: err", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "error", "err"),
    ("syslog", "<12>Nov 22 08:40:01 a1 k: warning", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "warn", "warning"),
    ("syslog", "<13>Nov 22 08:40:01 a1 k: notice", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "info", "notice"),
    ("syslog", "<15>Nov 22 08:40:01 a1 k: debug", utc(2024, 11, 22, 8, 40, 1), "k", "a1",
     "debug", "debug"),
    # rsyslog's high-precision file format
    ("syslog", "2024-11-22T08:40:01.123456+01:00 a0002 systemd[1]: Started foo.",
     utc(2024, 11, 22, 7, 40, 1, ns=123_456_000), "systemd", "a0002", "info", "Started foo."),
    # RFC 5424
    ("rfc5424", '<165>1 2024-11-22T08:40:03.123Z host1 app 12 ID47 [ex@1 a="1" b="x\\"]"] hi',
     utc(2024, 11, 22, 8, 40, 3, ns=123_000_000), "app", "host1", "info",
     '[ex@1 a="1" b="x\\"]"] hi'),
    ("rfc5424", "<11>1 2024-11-22T08:40:03-05:00 h9 slurmd - - - \ufeffnode down",
     utc(2024, 11, 22, 13, 40, 3), "slurmd", "h9", "error", "node down"),
    ("rfc5424", "<14>1 - - - - - - only a message", REF * NS, "app", "me", "info",
     "only a message"),
    # JSON lines
    ("json", '{"time": "2024-11-22T08:40:01Z", "level": "warn", "msg": "disk", '
             '"host": "h9", "logger": "lg"}',
     utc(2024, 11, 22, 8, 40, 1), "lg", "h9", "warn", "disk"),
    ("json", '{"ts": 1732264801.5, "level": 50, "msg": "bunyan"}',
     utc(2024, 11, 22, 8, 40, 1, ns=500_000_000), "app", "me", "error", "bunyan"),
    ("json", '{"@timestamp": "2024-11-22T08:40:01.5+00:00", "log.level": "DEBUG", '
             '"message": "ecs", "host.name": "h2"}',
     utc(2024, 11, 22, 8, 40, 1, ns=500_000_000), "app", "h2", "debug", "ecs"),
    ("json", '{"__REALTIME_TIMESTAMP": "1732264801000001", "PRIORITY": "3", '
             '"MESSAGE": "journald", "_HOSTNAME": "n1", "SYSLOG_IDENTIFIER": "sshd"}',
     utc(2024, 11, 22, 8, 40, 1, ns=1000), "sshd", "n1", "error", "journald"),
    ("json", '{"timestamp": 1732264801123, "severity": "CRITICAL", "message": "boom", '
             '"stack_trace": "java.lang.X\\n\\tat a.b(C.java:1)"}',
     utc(2024, 11, 22, 8, 40, 1, ns=123_000_000), "app", "me", "error",
     "boom\njava.lang.X\n\tat a.b(C.java:1)"),
    ("json", '{"time": "2024-11-22T08:40:01Z", "message": "ERROR: no level key"}',
     utc(2024, 11, 22, 8, 40, 1), "app", "me", "error", "ERROR: no level key"),
    # plain: Java (log4j/logback), Python, Slurm, nginx, Go, klog, epochs
    ("plain", "2024-11-22 08:40:01,123 ERROR [main] c.f.Bar - failed",
     utc(2024, 11, 22, 8, 40, 1, ns=123_000_000), "app", "me", "error",
     "ERROR [main] c.f.Bar - failed"),
    ("plain", "2024-11-22 08:40:01.123 WARN  [pool-1] c.f.Bar - slow",
     utc(2024, 11, 22, 8, 40, 1, ns=123_000_000), "app", "me", "warn",
     "WARN  [pool-1] c.f.Bar - slow"),
    ("plain", "ERROR:root:python root failure", REF * NS, "app", "me", "error",
     "ERROR:root:python root failure"),
    ("plain", "2024-11-22 08:40:05,000 - myapp - WARNING - careful",
     utc(2024, 11, 22, 8, 40, 5), "app", "me", "warn", "myapp - WARNING - careful"),
    ("plain", "[2024-11-22T08:40:01.123] error: Node a0001 not responding",
     utc(2024, 11, 22, 8, 40, 1, ns=123_000_000), "app", "me", "error",
     "error: Node a0001 not responding"),
    ("plain", "[2024-11-22T08:40:01.124] debug2: _slurm_rpc_node_registration",
     utc(2024, 11, 22, 8, 40, 1, ns=124_000_000), "app", "me", "debug",
     "debug2: _slurm_rpc_node_registration"),
    ("plain", "[2024-11-22T08:40:01.125] _slurm_rpc_submit_batch_job: JobId=1",
     utc(2024, 11, 22, 8, 40, 1, ns=125_000_000), "app", "me", "info",
     "_slurm_rpc_submit_batch_job: JobId=1"),
    ("plain", "2024/11/22 08:40:01 [error] 123#0: *1 open() failed",
     utc(2024, 11, 22, 8, 40, 1), "app", "me", "error", "[error] 123#0: *1 open() failed"),
    ("plain", "2024/11/22 08:40:01 go standard logger", utc(2024, 11, 22, 8, 40, 1),
     "app", "me", "info", "go standard logger"),
    ("plain", "E1122 08:40:01.123456   12345 file.go:123] klog says no",
     utc(2024, 11, 22, 8, 40, 1, ns=123_456_000), "app", "me", "error",
     "file.go:123] klog says no"),
    ("plain", "W1122 08:40:01.000001   1 x.go:1] careful", utc(2024, 11, 22, 8, 40, 1, ns=1000),
     "app", "me", "warn", "x.go:1] careful"),
    ("plain", "1732264801 epoch seconds", utc(2024, 11, 22, 8, 40, 1), "app", "me", "info",
     "epoch seconds"),
    ("plain", "1732264801.25 epoch with fraction", utc(2024, 11, 22, 8, 40, 1, ns=250_000_000),
     "app", "me", "info", "epoch with fraction"),
    ("plain", "[1732264801123] epoch ms", utc(2024, 11, 22, 8, 40, 1, ns=123_000_000), "app",
     "me", "info", "epoch ms"),
    ("plain", "1732264801123456 epoch us", utc(2024, 11, 22, 8, 40, 1, ns=123_456_000), "app",
     "me", "info", "epoch us"),
    ("plain", "1732264801123456789 epoch ns", utc(2024, 11, 22, 8, 40, 1, ns=123_456_789),
     "app", "me", "info", "epoch ns"),
    ("plain", "2024-11-22T08:40:01Z zulu", utc(2024, 11, 22, 8, 40, 1), "app", "me", "info",
     "zulu"),
    ("plain", "2024-11-22T08:40:01+0100 compact offset", utc(2024, 11, 22, 7, 40, 1), "app",
     "me", "info", "compact offset"),
    ("plain", "2024-11-22 08:40:01 -05:00 spaced offset", utc(2024, 11, 22, 13, 40, 1),
     "app", "me", "info", "spaced offset"),
    ("plain", "2024-11-22 08:40:01 UTC named zone", utc(2024, 11, 22, 8, 40, 1), "app", "me",
     "info", "named zone"),
    ("plain", "Nov 22 08:40:01 bsd timestamp in a plain file", utc(2024, 11, 22, 8, 40, 1),
     "app", "me", "info", "bsd timestamp in a plain file"),
]


@pytest.mark.parametrize("fmt,line,time,name,host,level,msg", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_format(fmt, line, time, name, host, level, msg):
    assert one(line, fmt) == {"time": time, "name": name, "host": host, "level": level,
                              "msg": msg}


#: a BSD timestamp followed by words is syslog to ``auto`` (the first word a host)
AUTO_CASES = [c for c in CASES if not (c[0] == "plain" and c[1][:3] == "Nov")]


@pytest.mark.parametrize("fmt,line,time,name,host,level,msg", AUTO_CASES,
                         ids=[f"auto-{i}" for i in range(len(AUTO_CASES))])
def test_auto_detects_every_format(fmt, line, time, name, host, level, msg):
    got = one(line, "auto")
    assert (got["time"], got["level"], got["msg"]) == (time, level, msg)


def test_auto_reads_a_bsd_timestamp_as_syslog():
    got = one("Nov 22 08:40:01 bsd timestamp in a plain file", "auto")
    assert (got["host"], got["msg"]) == ("bsd", "timestamp in a plain file")


@pytest.mark.parametrize("body,level", [
    ("error: bad key", "error"), ("Error: Capitalised", "error"), ("[WARN] x", "warn"),
    ("<info> x", "info"), ("(debug) x", "debug"), ("FATAL: x", "error"),
    ("CRITICAL disk full", "error"), ("Warning: deprecated", "warn"),
    ("TRACE entering", "debug"), ("NOTICE: x", "info"), ("panic: runtime error", "error"),
    ("alert: x", "error"), ("emerg: x", "error"), ("SEVERE: tomcat", "error"),
    ("verbose: slurm", "info"), ("time=2024-11-22T08:40:01Z level=warn msg=x", "warn"),
    ('ts=1 lvl=error msg="x"', "error"), ("pam_unix(sshd:auth): ERROR in module", "error"),
    # not levels
    ("Errors are counted", "info"), ("user ERROR_CODE=5", "info"), ("TERROR", "info"),
    ("INFORMATIONAL text", "info"), ("error-free run", "info"),
    ("x" * 100 + " ERROR far away", "info"), ("plain text", "info"),
])
def test_severity_words(body, level):
    assert one(f"Nov 22 08:40:01 a1 app: {body}", "syslog")["level"] == level
    assert one(f"2024-11-22 08:40:01 {body}", "plain")["level"] == level


def test_level_word_of_the_next_line_does_not_leak():
    p = LogParser("plain", tz="UTC", reference_time=REF)
    rows = p.feed(b"2024-11-22 08:40:01 short\n2024-11-22 08:40:02 WARNING next\n") + p.flush()
    assert [r[10] for r in rows] == ["info", "warn"]


@pytest.mark.parametrize("value,level", [
    ("ERROR", "error"), ("warning", "warn"), ("Informational", "info"), ("trace", "debug"),
    (3, "error"), ("4", "warn"), (6, "info"), (7, "debug"), (10, "debug"), (30, "info"),
    (40, "warn"), (60, "error"), ("nonsense", None), (None, None), (True, None),
])
def test_normalize_level(value, level):
    assert normalize_level(value) == level


# ------------------------------------------------------------------------- years
@pytest.mark.parametrize("ref,line,expected", [
    # December lines read in January belong to the year before
    ((2025, 1, 1, 0, 30), "Dec 31 23:59:59", (2024, 12, 31, 23, 59, 59)),
    ((2024, 11, 23, 0, 0), "Nov 22 08:40:01", (2024, 11, 22, 8, 40, 1)),
    # a little in the future (clock skew between hosts): still this year
    ((2024, 11, 22, 8, 0), "Nov 22 10:00:00", (2024, 11, 22, 10, 0, 0)),
    # Feb 29 read in a non-leap year: the last leap year
    ((2025, 3, 1, 0, 0), "Feb 29 12:00:00", (2024, 2, 29, 12, 0, 0)),
])
def test_year_inference(ref, line, expected):
    got = one(f"{line} h p: x", "syslog", reference_time=calendar.timegm(ref + (0,)))
    assert got["time"] == utc(*expected)


def test_year_inference_across_new_year_within_a_file():
    # the file was last written just after midnight on New Year's Day
    p = LogParser("syslog", tz="UTC", reference_time=calendar.timegm((2025, 1, 1, 0, 5, 0)))
    rows = p.feed(b"Dec 31 23:59:58 h p: old year\nJan  1 00:00:01 h p: new year\n") + p.flush()
    assert [r[0] for r in rows] == [utc(2024, 12, 31, 23, 59, 58), utc(2025, 1, 1, 0, 0, 1)]


def test_impossible_date_is_not_a_header():
    got = one("Nov 31 08:40:01 h p: x", "syslog")
    assert got["msg"] == "Nov 31 08:40:01 h p: x"
    assert got["time"] == REF * NS


# ------------------------------------------------------------------------- zones
def test_timezone_option_for_naive_timestamps():
    got = one("2024-11-22 08:40:01 berlin", "plain", tz="Europe/Berlin")
    assert got["time"] == utc(2024, 11, 22, 7, 40, 1)
    got = one("Jul 22 08:40:01 h p: summer", "syslog", tz="Europe/Berlin")
    assert got["time"] == utc(2024, 7, 22, 6, 40, 1)


def test_naive_timestamps_default_to_local_time(tz_utc):
    got = one("2024-11-22 08:40:01 local", "plain", tz=None)
    assert got["time"] == utc(2024, 11, 22, 8, 40, 1)


def test_explicit_zone_wins_over_the_option():
    got = one("2024-11-22T08:40:01Z zulu", "plain", tz="Europe/Berlin")
    assert got["time"] == utc(2024, 11, 22, 8, 40, 1)


# ------------------------------------------------------------------------- odds and ends
def test_lines_without_a_timestamp_take_the_previous_entrys_time():
    p = LogParser("plain", tz="UTC", reference_time=REF)
    rows = p.feed(b"2024-11-22 08:40:01 first\nno time here\n") + p.flush()
    assert [r[0] for r in rows] == [utc(2024, 11, 22, 8, 40, 1)] * 2


def test_json_format_keeps_other_lines_as_plain_messages():
    p = LogParser("json", hostname="me", tz="UTC", reference_time=REF)
    rows = p.feed(b'{"msg": "a", "time": 1732264801}\nnot json at all\n[1, 2]\n') + p.flush()
    assert [r[9] for r in rows] == ["a", "not json at all", "[1, 2]"]


def test_default_name_comes_from_the_file():
    p = LogParser("plain", location="/var/log/slurm/slurmctld.log.1")
    assert p.name == "slurmctld"
    assert LogParser("plain").name == "log"
    assert LogParser("plain", name="mine", location="/x/y.log").name == "mine"


def test_unknown_format_is_an_error():
    with pytest.raises(ValueError, match="unknown log format"):
        LogParser("xml")


def test_rows_agree_with_the_reference_row_builder():
    text = ("Nov 22 08:40:01 a0001 sshd[42]: error: bad key\n"
            "2024-11-22 08:40:01,123 ERROR [main] x\n\tat a.b(C.java:1)\n"
            '{"msg": "j", "level": "warn", "time": 1732264801}\n')
    p = LogParser("auto", hostname="me", location="/var/log/x.log", tz="UTC",
                  reference_time=REF)
    rows = p.feed(text.encode()) + p.finish()
    assert len(rows) == 3
    for row in rows:
        pt = row_to_point(row, "alex")
        assert pt.tags["cluster"] == "alex" and pt.tags["location"] == "/var/log/x.log"
        assert point_to_row(pt.name, pt.tags, pt.fields, pt.time) == ("alex", "log", row)


def test_parse_gives_points():
    points = parse("Nov 22 08:40:01 a1 sshd: error: x\n", "syslog", cluster="alex", tz="UTC",
                   reference_time=REF)
    assert len(points) == 1
    p = points[0]
    assert (p.name, p.fields, p.time) == ("sshd", {"log": "error: x"},
                                          utc(2024, 11, 22, 8, 40, 1))
    assert p.tags == {"hostname": "a1", "type": "node", "type-id": "0", "loglevel": "error",
                      "cluster": "alex"}
    assert json.loads(json.dumps(p.tags)) == p.tags


def test_module_examples():
    import doctest
    import importlib

    # (the attribute ccstore.logs.parse is the function parse(), not the module)
    assert doctest.testmod(importlib.import_module("ccstore.logs.parse")).failed == 0
