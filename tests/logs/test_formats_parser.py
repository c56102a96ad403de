"""The HPC formats through LogParser: host, time, level and tags of every family, per-file
detection, lines that fit no format, and journald's export stream fed in pieces."""
from __future__ import annotations

import json
import struct

import pytest
from lfutil import NS, utc

from ccstore.logs import LogParser, PatternError

THUNDERBIRD = ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: "
               "(root) CMD (run-parts /etc/cron.hourly)")
ALERT = "KERNDTLB 1131580000 2005.11.09 cn12 Nov 9 15:46:40 cn12/cn12 kernel: data TLB error"
BGL = ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
       "R02-M1-N0-C:J12-U11 RAS KERNEL {sev} instruction cache parity error corrected")
LANL = ("134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State "
        "Change: Component \\042alt0\\042 is in the unavailable state (HWID=5071)")
SLURM = "[2026-12-03T10:00:00.123] [77.batch] error: Node n01 not responding"
JOURNAL = json.dumps({"__REALTIME_TIMESTAMP": "1764756000123456", "_HOSTNAME": "n5",
                      "PRIORITY": "4", "MESSAGE": "link flapping", "SYSLOG_IDENTIFIER": "kernel",
                      "_PID": "1", "_SYSTEMD_UNIT": "net.service"})


def rows_of(data, fmt="auto", location=None, pieces=1, **kw):
    p = LogParser(fmt, hostname="me", tz="UTC", location=location,
                  reference_time=utc(2026, 12, 10) // NS, **kw)
    out = []
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        out.extend(p.feed(data[i:i + step]))
    out.extend(p.finish())
    return p, [{"time": r[0], "name": r[2], "host": r[3], "tags": json.loads(r[8]),
                "msg": r[9], "level": r[10]} for r in out]


# (format, line, time, name, host, level, tags besides loglevel)
CASES = [
    ("syslog_export", THUNDERBIRD, 1131566461 * NS, "crond", "dn228", "info", {}),
    ("syslog_export", ALERT, 1131580000 * NS, "kernel", "cn12", "error", {"alert": "KERNDTLB"}),
    ("bgl", BGL.format(sev="INFO"), utc(2005, 6, 3, 22, 42, 50, us=675872), "KERNEL",
     "R02-M1-N0-C:J12-U11", "info", {"component": "KERNEL", "severity": "INFO"}),
    ("bgl", BGL.format(sev="WARNING"), utc(2005, 6, 3, 22, 42, 50, us=675872), "KERNEL",
     "R02-M1-N0-C:J12-U11", "warn", {"component": "KERNEL", "severity": "WARNING"}),
    ("bgl", BGL.format(sev="FAILURE"), utc(2005, 6, 3, 22, 42, 50, us=675872), "KERNEL",
     "R02-M1-N0-C:J12-U11", "error", {"component": "KERNEL", "severity": "FAILURE"}),
    ("lanl", LANL, 1077804742 * NS, "unix.hw", "node-246", "info",
     {"component": "unix.hw", "state": "state_change.unavailable"}),
    ("slurm", SLURM, utc(2026, 12, 3, 10, ns=123_000_000), "slurmd", "n01", "error",
     {"step": "77.batch"}),
    ("journal_json", JOURNAL, utc(2025, 12, 3, 10, us=123456), "kernel", "n5", "warn",
     {"pid": "1", "unit": "net.service"}),
]


@pytest.mark.parametrize("fmt,line,t,name,host,level,tags", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("given", [True, False], ids=["given", "detected"])
def test_format_fills_host_time_level_tags(fmt, line, t, name, host, level, tags, given):
    location = "/var/log/slurm/slurmd.n01.log" if fmt == "slurm" else "/logs/x.log"
    p, rows = rows_of((line + "\n").encode(), fmt if given else "auto", location)
    assert p.format == fmt
    assert len(rows) == 1
    r = rows[0]
    assert (r["time"], r["name"], r["host"], r["level"]) == (t, name, host, level)
    assert r["tags"] == {"location": location, "loglevel": level, **tags}
    assert p.unparsed == 0 and p.no_host == 0


def test_hpc_words_are_errors_in_every_format():
    lanl = "2561 gige7 switch_module psu 1084680778 1 FATAL psu failure"
    export = ("- 1104566460 2005.01.01 sn12 Jan 1 00:01:00 sn12/sn12 kernel: LustreError: "
              "11-0: lost")
    slurm = "[2026-12-03T10:00:07.000] NVRM: Xid (PCI:0000:3b:00): 79, fallen off the bus"
    for fmt, line in (("lanl", lanl), ("syslog_export", export), ("slurm", slurm)):
        _, rows = rows_of((line + "\n").encode(), fmt)
        assert rows[0]["level"] == "error", fmt


def test_a_line_that_fits_no_format_is_kept_and_tagged():
    data = (THUNDERBIRD + "\nthis is no archive line\n" + ALERT + "\n").encode()
    p, rows = rows_of(data)
    assert p.format == "syslog_export"
    assert [r["msg"] for r in rows] == ["(root) CMD (run-parts /etc/cron.hourly)",
                                        "this is no archive line", "data TLB error"]
    odd = rows[1]
    assert odd["tags"]["parse"] == "unparsed"
    assert odd["host"] == "me"  # given, and counted
    assert odd["time"] == 1131566461 * NS  # the entry before it
    assert "parse" not in rows[0]["tags"] and "parse" not in rows[2]["tags"]
    assert (p.unparsed, p.no_host) == (1, 1)


def test_plain_lines_without_a_host_are_counted():
    p, rows = rows_of(b"2026-12-03T10:00:00Z started\n2026-12-03T10:00:01Z ERROR failed\n")
    assert [r["level"] for r in rows] == ["info", "error"]
    assert (p.unparsed, p.no_host) == (0, 2)
    assert {r["host"] for r in rows} == {"me"}


def test_each_file_is_detected_on_its_own():
    """Parsers of different files do not share a decision."""
    a, ra = rows_of((BGL.format(sev="FATAL") + "\n").encode())
    b, rb = rows_of(b"Nov 22 08:40:01 a0001 sshd[42]: error: bad key\n")
    c, rc = rows_of((LANL + "\n").encode())
    assert (a.format, b.format, c.format) == ("bgl", "auto", "lanl")
    assert (ra[0]["host"], rb[0]["host"], rc[0]["host"]) == (
        "R02-M1-N0-C:J12-U11", "a0001", "node-246")


@pytest.mark.parametrize("pieces", [1, 7, 1000])
def test_detection_waits_for_a_whole_line(pieces):
    data = "\n".join([THUNDERBIRD] * 5 + [ALERT]).encode() + b"\n"
    p, rows = rows_of(data, pieces=pieces)
    assert p.format == "syslog_export"
    assert [r["host"] for r in rows] == ["dn228"] * 5 + ["cn12"]


def export_entry(fields):
    out = b""
    for k, v in fields:
        if isinstance(v, bytes):
            out += k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
        else:
            out += f"{k}={v}\n".encode()
    return out + b"\n"


@pytest.mark.parametrize("pieces", [1, 3, 50, 10_000])
def test_journal_export_in_pieces(pieces):
    data = (export_entry([("__CURSOR", "s=1"), ("__REALTIME_TIMESTAMP", "1764756000123456"),
                          ("_HOSTNAME", "n6"), ("PRIORITY", "2"), ("MESSAGE", "disk gone"),
                          ("SYSLOG_IDENTIFIER", "smartd")])
            + export_entry([("__CURSOR", "s=2"), ("__REALTIME_TIMESTAMP", "1764756001000000"),
                            ("MESSAGE", b"two\nlines")]))
    p, rows = rows_of(data, pieces=pieces)
    assert p.format == "journal_export"
    assert [(r["time"], r["name"], r["host"], r["level"], r["msg"]) for r in rows] == [
        (utc(2025, 12, 3, 10, us=123456), "smartd", "n6", "error", "disk gone"),
        (utc(2025, 12, 3, 10, 0, 1), "log", "me", "info", "two\nlines")]
    assert p.no_host == 1
    assert p.safe_offset == len(data) and not p.pending


def test_pattern_through_the_parser():
    p, rows = rows_of(b"E 1131566461 dn1 cannot mount /scratch\nQ 1131566462 dn2 fine\n",
                      pattern="<level> <time:epoch> <host> <msg>", levels={"Q": "debug"})
    assert p.format == "pattern"
    assert [(r["time"], r["host"], r["level"], r["msg"]) for r in rows] == [
        (1131566461 * NS, "dn1", "error", "cannot mount /scratch"),
        (1131566462 * NS, "dn2", "debug", "fine")]


def test_regex_with_tags():
    _, rows = rows_of(b"node=n3 rack=r7 hello\n",
                      regex=r"node=(?P<host>\S+) rack=(?P<rack>\S+) (?P<msg>.*)")
    assert rows[0]["host"] == "n3" and rows[0]["tags"]["rack"] == "r7"


@pytest.mark.parametrize("kw,words", [
    ({"pattern": "<time:nonsense> <msg>"}, "unknown time type"),
    ({"pattern": "<host><msg>"}, "literal text between"),
    ({"regex": "(?P<msg>.*"}, "regular expression"),
    ({"pattern": "<msg>", "levels": {"E": "loud"}}, "level map"),
])
def test_patterns_that_do_not_compile(kw, words):
    with pytest.raises(PatternError, match=words):
        LogParser(**kw)


def test_pattern_and_format_do_not_mix():
    with pytest.raises(ValueError, match="give one of them"):
        LogParser("syslog", pattern="<msg>")
    with pytest.raises(ValueError, match="not both"):
        LogParser(pattern="<msg>", regex="(?P<msg>.*)")
