"""The archive formats of the big machines: Sandia/LANL syslog exports, BlueGene/L RAS,
LANL HPC event logs; and the level words of HPC software."""
from __future__ import annotations

import json

import pytest
from lfutil import NS, as_dict, utc

from ccstore.logs import LogParser
from ccstore.logs.formats import (
    header_bgl,
    header_lanl,
    header_syslog_export,
)

# -- syslog exports (Thunderbird, Spirit, Liberty) ----------------------------------------
EXPORT_CASES = [
    # (line, time, name, host, level, msg, tags)
    ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD "
     "(run-parts /etc/cron.hourly)",
     utc(2005, 11, 9, 20, 1, 1), "crond", "dn228", None, "(root) CMD (run-parts /etc/cron.hourly)",
     None),
    # an alert category instead of "-": an error, and the category as a tag
    ("KERNDTLB 1131580000 2005.11.09 cn12 Nov 9 15:46:40 cn12/cn12 kernel: data TLB error",
     1131580000 * NS, "kernel", "cn12", "error", "data TLB error", {"alert": "KERNDTLB"}),
    ("PBS_CHK 1131580001 2005.11.09 tbird-admin1 Nov 9 15:46:41 local@tbird-admin1 "
     "pbs_mom: task_check, cannot tm_reply",
     1131580001 * NS, "pbs_mom", "tbird-admin1", "error", "task_check, cannot tm_reply",
     {"alert": "PBS_CHK"}),
    # user@host form of the repeated field, a path as the program, a pid
    ("- 1131566470 2005.11.09 tbird-sm1 Nov 9 12:01:10 src@tbird-sm1 /opt/sm/bin/ib_sm.x[24904]: "
     "[ib_sm_sweep.c:1831]: sweep",
     1131566470 * NS, "/opt/sm/bin/ib_sm.x", "tbird-sm1", None, "[ib_sm_sweep.c:1831]: sweep",
     None),
    # a program name with parentheses; two-digit day
    ("- 1104566400 2005.01.01 sn373 Jan 01 08:00:00 sn373/sn373 crond(pam_unix)[12]: session "
     "opened", 1104566400 * NS, "crond(pam_unix)", "sn373", None, "session opened", None),
    # the host is the fourth field, also when the repeated field says otherwise
    ("- 1102911141 2004.12.12 ln66 Dec 12 20:12:21 ln66-ib/ln66-ib ntpd[9]: synchronized",
     1102911141 * NS, "ntpd", "ln66", None, "synchronized", None),
    # no syslog tag
    ("- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 a message without a tag",
     1131566461 * NS, None, "dn3", None, "a message without a tag", None),
    # no repeated host field: the tag directly after the time
    ("- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 /usr/sbin/gmond[7]: started",
     1131566461 * NS, "/usr/sbin/gmond", "dn3", None, "started", None),
    # HPC error words without an alert category: no level stated (the parser reads them)
    ("- 1104566460 2005.01.01 sn12 Jan 1 00:01:00 sn12/sn12 kernel: LustreError: 11-0: "
     "an error occurred while communicating with 10.0.0.1@o2ib",
     1104566460 * NS, "kernel", "sn12", None,
     "LustreError: 11-0: an error occurred while communicating with 10.0.0.1@o2ib", None),
    ("- 1104566461 2005.01.01 sn12 Jan 1 00:01:01 sn12/sn12 kernel: NVRM: Xid (PCI:0000:3b:00): "
     "79, pid=1234, GPU has fallen off the bus.",
     1104566461 * NS, "kernel", "sn12", None,
     "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.", None),
    # an empty message
    ("- 1131566461 2005.11.09 dn3 Nov 9 12:01:01 dn3/dn3 kernel:", 1131566461 * NS, "kernel",
     "dn3", None, "", None),
]


@pytest.mark.parametrize("line,t,name,host,level,msg,tags", EXPORT_CASES)
def test_syslog_export(line, t, name, host, level, msg, tags):
    h = as_dict(header_syslog_export(line))
    assert h == {"time": t, "name": name, "host": host, "level": level, "msg": msg,
                 "cont": False, "tags": tags}


@pytest.mark.parametrize("line", [
    "Nov 22 08:40:01 a0001 sshd[42]: Accepted publickey",  # RFC 3164
    "- 1131566461 2005.11.09 dn228 12:01:01 dn228/dn228 crond[2916]: no date",
    "- 113156646 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond: epoch too short",
    "- 1131566461 05.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond: short date",
    "lower 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond: lower-case alert",
    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
    "R02-M1-N0-C:J12-U11 RAS KERNEL INFO a BlueGene record",
])
def test_syslog_export_rejects(line):
    assert header_syslog_export(line) is None


def test_syslog_export_alert_tags_are_shared():
    a = header_syslog_export("ECC 1131566461 2005.11.09 x Nov 9 12:01:01 x/x k: a")
    b = header_syslog_export("ECC 1131566462 2005.11.09 y Nov 9 12:01:02 y/y k: b")
    assert a[6] == b[6] == {"alert": "ECC"}
    assert a[6] is b[6]


# -- BlueGene/L RAS ---------------------------------------------------------------------
BGL = ("{alert} 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
       "R02-M1-N0-C:J12-U11 RAS {component} {severity} {msg}")
#: the timestamp is Pacific daylight time: 15:42:50 PDT = 22:42:50 UTC = the epoch
BGL_TIME = utc(2005, 6, 3, 22, 42, 50, us=675872)


@pytest.mark.parametrize("severity,level", [
    ("INFO", "info"), ("WARNING", "warn"), ("SEVERE", "error"), ("ERROR", "error"),
    ("FAILURE", "error"), ("FATAL", "error"),
])
def test_bgl_severities(severity, level):
    line = BGL.format(alert="-", component="KERNEL", severity=severity,
                      msg="instruction cache parity error corrected")
    assert as_dict(header_bgl(line)) == {
        "time": BGL_TIME, "name": "KERNEL", "host": "R02-M1-N0-C:J12-U11", "level": level,
        "msg": "instruction cache parity error corrected", "cont": False,
        "tags": {"component": "KERNEL", "severity": severity}}


def test_bgl_alert():
    line = BGL.format(alert="KERNDTLB", component="KERNEL", severity="INFO",
                      msg="data TLB error interrupt")
    h = as_dict(header_bgl(line))
    assert h["level"] == "error"
    assert h["tags"] == {"component": "KERNEL", "severity": "INFO", "alert": "KERNDTLB"}
    assert h["time"] == BGL_TIME


def test_bgl_components_and_locations():
    line = ("APPREAD 1118536327 2005.06.11 NULL 2005-06-11-17.32.07.581048 NULL RAS APP FATAL "
            "ciod: failed to read message prefix on control stream")
    h = as_dict(header_bgl(line))
    assert h["host"] == "NULL" and h["name"] == "APP"
    assert h["tags"] == {"component": "APP", "severity": "FATAL", "alert": "APPREAD"}
    assert h["msg"] == "ciod: failed to read message prefix on control stream"
    assert h["time"] == utc(2005, 6, 12, 0, 32, 7, us=581048)


def test_bgl_empty_message():
    line = ("- 1117838570 2005.06.03 R27-M1-L3-U18-C 2005-06-03-15.42.50.000001 R27-M1-L3-U18-C "
            "RAS LINKCARD INFO")
    h = as_dict(header_bgl(line))
    assert (h["msg"], h["host"], h["time"]) == ("", "R27-M1-L3-U18-C", BGL_TIME - 675871_000)


@pytest.mark.parametrize("epoch,stamp,expected", [
    # the epoch a second off the timestamp: the timestamp's seconds count
    (1117838571, "2005-06-03-15.42.50.675872", BGL_TIME),
    (1117838569, "2005-06-03-15.42.50.675872", BGL_TIME),
    # a zone half an hour off a whole hour (UTC+05:30)
    (1117838570, "2005-06-04-04.12.50.000500", utc(2005, 6, 3, 22, 42, 50, us=500)),
    # a UTC timestamp
    (1117838570, "2005-06-03-22.42.50.000000", utc(2005, 6, 3, 22, 42, 50)),
    # an epoch that no zone explains: the epoch
    (1117838570, "2005-06-07-15.42.50.675872", 1117838570 * NS),
])
def test_bgl_time_zone_from_epoch(epoch, stamp, expected):
    line = f"- {epoch} 2005.06.03 R02-M1 {stamp} R02-M1 RAS KERNEL INFO x"
    assert header_bgl(line)[0] == expected


@pytest.mark.parametrize("line", [
    # syslog export
    "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: x",
    # no microseconds
    "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50 R02 RAS KERNEL INFO x",
    # lower-case severity
    "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL info x",
    # an impossible date
    "- 1117838570 2005.06.03 R02 2005-02-30-15.42.50.675872 R02 RAS KERNEL INFO x",
])
def test_bgl_rejects(line):
    assert header_bgl(line) is None


# -- LANL HPC event logs --------------------------------------------------------------
LANL_CASES = [
    ("134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: "
     "Component \\042SCSI-WWID:01000010:6005-08b4-0001-00c6-0006-3000-003d-0000\\042 is in the "
     "unavailable state (HWID=1973)",
     1077804742 * NS, "unix.hw", "node-246", None,
     "Component State Change: Component \\042SCSI-WWID:01000010:6005-08b4-0001-00c6-0006-3000-"
     "003d-0000\\042 is in the unavailable state (HWID=1973)",
     {"component": "unix.hw", "state": "state_change.unavailable"}),
    ("462 node-70 action start 1074119817 1 clusterAddMember  (command 1902)",
     1074119817 * NS, "action", "node-70", None, "clusterAddMember  (command 1902)",
     {"component": "action", "state": "start"}),
    ("2561 gige7 switch_module psu 1084680778 1 FATAL psu failure",
     1084680778 * NS, "switch_module", "gige7", None, "FATAL psu failure",
     {"component": "switch_module", "state": "psu"}),
    ("99 node-1 boot_cmd new 1077804742 0", 1077804742 * NS, "boot_cmd", "node-1", None, "",
     {"component": "boot_cmd", "state": "new"}),
]


@pytest.mark.parametrize("line,t,name,host,level,msg,tags", LANL_CASES)
def test_lanl(line, t, name, host, level, msg, tags):
    assert as_dict(header_lanl(line)) == {"time": t, "name": name, "host": host, "level": level,
                                          "msg": msg, "cont": False, "tags": tags}


@pytest.mark.parametrize("line", [
    "134681 node-246 unix.hw 1077804742 1 one field short",
    "134681 node-246 unix.hw state_change.unavailable 10778 1 epoch too short",
    "x134681 node-246 unix.hw state_change.unavailable 1077804742 1 no id",
    "2024-11-22T08:40:01Z host app: an ISO line",
])
def test_lanl_rejects(line):
    assert header_lanl(line) is None


# -- HPC level words ------------------------------------------------------------------
@pytest.mark.parametrize("message", [
    "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.",
    "[ 1234.5678] NVRM: Xid (PCI:0000:b1:00): 48, An uncorrectable double bit error",
    "Xid (PCI:0000:3b:00): 13, Graphics Engine Exception",
    "LustreError: 11-0: lustre-MDT0000-mdc: operation mds_connect failed: rc = -19",
    "kernel: LNetError: 120-3: Refusing connection from 10.1.1.1",
    "FATAL: cannot allocate memory",
    "rts: FATAL error in kernel",
    "job 12 SEVERE: out of memory",
    "(FATAL)",
])
def test_hpc_level_errors(message, syslog):
    assert hpc_levels(message, syslog) == ["error", "error", "error"]


@pytest.mark.parametrize("message", [
    "Lustre: lustre-OST0001: Connection restored to 10.0.0.2@o2ib",
    "non-FATAL condition recovered",
    "FATALITY count 0",
    "severe weather",
    "Xidian university",
    "XID 79 seen",
    "exit code FATAL_ERROR_FILE",
    "",
])
def test_hpc_level_not_errors(message, syslog):
    assert hpc_levels(message, syslog) == ["info", "info", "info"]


@pytest.mark.parametrize("pri, message, level", [
    # a stated severity below error gives way to an error report of HPC software
    (12, "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.", "error"),
    (14, "LustreError: 11-0: lustre-MDT0000-mdc: operation mds_connect failed", "error"),
    (15, "LNetError: 120-3: Refusing connection from 10.1.1.1", "error"),
    (11, "NVRM: Xid (PCI:0000:3b:00): 79", "error"),
    # not one: beyond the first 80 characters, a longer word, other words
    (12, "x" * 80 + " NVRM: Xid (PCI:0000:3b:00): 79", "warn"),
    (12, "NVRM: Xidian (PCI:0000:3b:00): 79", "warn"),
    (14, "Lustre: lustre-OST0001: Connection restored", "info"),
    (14, "java.lang.OutOfMemoryError: Java heap space", "info"),
])
def test_hpc_errors_outrank_a_stated_level(pri, message, level, syslog):
    line = f"<{pri}>Nov 22 08:40:01 n1 kernel: {message}".encode()
    for columnar in (True, False):
        for tail in (b"", b"\n<14>Nov 22 08:40:02 n1 app: next\n"):  # emitted by finish, feed
            p = LogParser("syslog", hostname="me", tz="UTC", reference_time=1132000000)
            p._chunk_parser = syslog.syslog_chunk
            p._columnar = columnar
            rows = p.feed(line + tail)
            row = rows[0] if tail else (rows + p.finish())[0]
            assert (row[10], json.loads(row[8])["loglevel"]) == (level, level), columnar
            assert row[9] == message
    # the syslog receiver's way: whole messages; the report on a message's second line
    p = LogParser("auto", hostname="me", name="syslog", sniff=False)
    (row,) = p.messages([f"<{pri}>Nov 22 08:40:01 n1 kernel: GPU report\n{message}".encode()])
    assert row[10] == level and row[9] == "GPU report\n" + message


@pytest.mark.parametrize("columnar", [True, False])
def test_hpc_errors_fed_in_pieces(columnar, syslog):
    """A report whose row is emitted by a later feed, which holds no such word."""
    p = LogParser("syslog", hostname="me", tz="UTC", reference_time=1132000000)
    p._chunk_parser = syslog.syslog_chunk
    p._columnar = columnar
    rows = p.feed(b"<12>Nov 22 08:40:01 n1 kernel: NVRM: X")
    rows += p.feed(b"id (PCI:0000:3b:00): 79\n")
    rows += p.feed(b"<14>Nov 22 08:40:02 n1 app: next\n<14>Nov 22 08:40:03 n1 app: last\n")
    assert [r[10] for r in rows[:2]] == ["error", "info"]


def test_hpc_errors_outrank_journald_priority():
    p = LogParser("journal_json", hostname="me")
    rows = p.feed(json.dumps({"__REALTIME_TIMESTAMP": "1764756000000000", "_HOSTNAME": "n1",
                              "PRIORITY": "4", "SYSLOG_IDENTIFIER": "kernel",
                              "MESSAGE": "NVRM: Xid (PCI:0000:3b:00): 48, DBE"}).encode()
                  + b"\n") + p.finish()
    assert [(r[3], r[10]) for r in rows] == [("n1", "error")]
    assert json.loads(rows[0][8])["loglevel"] == "error"


def hpc_levels(message, impl):
    """The level of ``message`` in a syslog line, by the fast path of ``impl`` and the
    line loop, and in a Sandia export line (a format that states no level)."""
    out = []
    for columnar in (True, False):
        p = LogParser("syslog", hostname="me", tz="UTC", reference_time=1132000000)
        p._chunk_parser = impl.syslog_chunk
        p._columnar = columnar
        rows = p.feed(f"Nov 22 08:40:01 n1 kernel: {message}".encode()) + p.finish()
        out.append(rows[0][10])
    p = LogParser("syslog_export", hostname="me")
    rows = p.feed(f"- 1131566461 2005.11.09 n1 Nov 9 12:01:01 n1/n1 kernel: {message}"
                  .encode()) + p.finish()
    out.append(rows[0][10])
    return out
