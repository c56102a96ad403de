"""Slurm daemon logs, their file names, and the clock that reads times without a zone."""
from __future__ import annotations

import pytest
from lfutil import NS, as_dict, utc

from ccstore.logs.clock import Clock
from ccstore.logs.formats import SlurmFormat, header_function, slurm_source

REF = utc(2026, 12, 10) // NS  # the reference time: 2026-12-10T00:00:00Z


def slurm(**kw) -> SlurmFormat:
    kw.setdefault("name", "slurmctld")
    return SlurmFormat(Clock("UTC", REF), **kw)


CASES = [
    # (line, time, level, msg, tags)
    ("[2026-12-03T10:00:00.123] error: Node n17 not responding",
     utc(2026, 12, 3, 10, 0, 0, ns=123_000_000), "error", "error: Node n17 not responding", None),
    ("[2026-12-03T10:00:00] fatal: Unable to bind listen port (6817): Address already in use",
     utc(2026, 12, 3, 10), "error",
     "fatal: Unable to bind listen port (6817): Address already in use",
     None),
    ("[2026-12-03T10:00:01.5] warning: Job 12 exceeded memory limit",
     utc(2026, 12, 3, 10, 0, 1, ns=500_000_000), "warn", "warning: Job 12 exceeded memory limit",
     None),
    ("[2026-12-03T10:00:02.000] debug:  Log file re-opened",
     utc(2026, 12, 3, 10, 0, 2), "debug", "debug:  Log file re-opened", None),
    ("[2026-12-03T10:00:02.001] debug3: Trying to load plugin",
     utc(2026, 12, 3, 10, 0, 2, ns=1_000_000), "debug", "debug3: Trying to load plugin", None),
    ("[2026-12-03T10:00:02.002] verbose: Node configuration",
     utc(2026, 12, 3, 10, 0, 2, ns=2_000_000), "info", "verbose: Node configuration", None),
    # info has no prefix; the message keeps the prefix, as syslog messages do
    ("[2026-12-03T10:00:03.000] _slurm_rpc_submit_batch_job: JobId=12 InitPrio=4294901759",
     utc(2026, 12, 3, 10, 0, 3), None,
     "_slurm_rpc_submit_batch_job: JobId=12 InitPrio=4294901759", None),
    ("[2026-12-03T10:00:03.000] sched: Allocate JobId=12 NodeList=n[01-04]",
     utc(2026, 12, 3, 10, 0, 3), None, "sched: Allocate JobId=12 NodeList=n[01-04]", None),
    # slurmstepd's lines in slurmd.log: the job step as a tag
    ("[2026-12-03T10:00:04.250] [1234.batch] error: *** JOB 1234 ON n01 CANCELLED ***",
     utc(2026, 12, 3, 10, 0, 4, ns=250_000_000), "error",
     "error: *** JOB 1234 ON n01 CANCELLED ***",
     {"step": "1234.batch"}),
    ("[2026-12-03T10:00:04.250] [1234.0] done with job", utc(2026, 12, 3, 10, 0, 4, ns=250_000_000),
     None, "done with job", {"step": "1234.0"}),
    ("[2026-12-03T10:00:04.250] [1234+1.extern] debug:  task exited",
     utc(2026, 12, 3, 10, 0, 4, ns=250_000_000), "debug", "debug:  task exited",
     {"step": "1234+1.extern"}),
    # LogTimeFormat=rfc5424_ms: the zone in the time
    ("[2026-12-03T11:00:05.000+01:00] error: x", utc(2026, 12, 3, 10, 0, 5), "error", "error: x",
     None),
    ("[2026-12-03T10:00:05Z] error: x", utc(2026, 12, 3, 10, 0, 5), "error", "error: x",
     None),
    # LogTimeFormat=short: no year (the reference time's)
    ("[Dec 03 10:00:06.042] error: x", utc(2026, 12, 3, 10, 0, 6, ns=42_000_000), "error",
     "error: x", None),
    # no level prefix: the parser reads the level words of the message (HPC ones too)
    ("[2026-12-03T10:00:07.000] LustreError: 11-0: lost connection",
     utc(2026, 12, 3, 10, 0, 7), None, "LustreError: 11-0: lost connection", None),
]


@pytest.mark.parametrize("line,t,level,msg,tags", CASES)
def test_slurm(line, t, level, msg, tags):
    assert as_dict(slurm(host="head1").header(line)) == {
        "time": t, "name": "slurmctld", "host": "head1", "level": level, "msg": msg,
        "cont": None, "tags": tags}


@pytest.mark.parametrize("line", [
    "[2026-12-03 10:00:00.123] error: a space instead of T",
    "2026-12-03T10:00:00.123 error: no brackets",
    "[2026-02-30T10:00:00.123] error: no such day",
    "[Feb 30 10:00:00] error: no such day",
    "[2026-12-03T10:00:00.123]error: no space",
])
def test_slurm_rejects(line):
    assert slurm().header(line) is None


def test_slurm_local_zone():
    fmt = SlurmFormat(Clock("Europe/Berlin", REF))
    assert fmt.header("[2026-12-03T10:00:00.000] x")[0] == utc(2026, 12, 3, 9)
    assert fmt.header("[2026-07-03T10:00:00.000] x")[0] == utc(2026, 7, 3, 8)


@pytest.mark.parametrize("path,expected", [
    ("/var/log/slurm/slurmctld.log", ("slurmctld", None)),
    ("/var/log/slurm/slurmd.log", ("slurmd", None)),
    ("slurmd-n001.log", ("slurmd", "n001")),
    ("/var/log/slurm/slurmd.n001.log", ("slurmd", "n001")),
    ("slurmd-gpu-a17.log", ("slurmd", "gpu-a17")),
    ("slurmdbd.log", ("slurmdbd", None)),
    ("slurmctld.log.1", ("slurmctld", None)),
    ("slurmctld.log-20261203.gz", ("slurmctld", None)),
    ("slurmd-n001.log.2", ("slurmd", "n001")),
    ("slurmd", ("slurmd", None)),
    ("messages", None),
    ("myslurmd.log", None),
    ("slurm-1234.out", None),
])
def test_slurm_source(path, expected):
    assert slurm_source(path) == expected


def test_slurm_for_file_names_daemon_and_host():
    fmt = SlurmFormat.for_file("/var/log/slurm/slurmd-n007.log", Clock("UTC"))
    h = fmt.header("[2026-12-03T10:00:00.000] error: x")
    assert (h[1], h[2]) == ("slurmd", "n007")
    h = header_function("slurm", clock=Clock("UTC"), path="slurmctld.log")(
        "[2026-12-03T10:00:00.000] x")
    assert (h[1], h[2]) == ("slurmctld", None)


# -- the clock --------------------------------------------------------------------------
@pytest.mark.parametrize("ts,expected", [
    ("Dec  3 10:00:00", utc(2026, 12, 3, 10) // NS),
    ("Dec 3 10:00:00", utc(2026, 12, 3, 10) // NS),
    # up to a day after the reference: this year
    ("Dec 10 23:59:59", utc(2026, 12, 10, 23, 59, 59) // NS),
    # later than that: last year's
    ("Dec 11 00:00:01", utc(2025, 12, 11, 0, 0, 1) // NS),
    ("Feb 29 12:00:00", utc(2024, 2, 29, 12) // NS),
    ("Feb 30 12:00:00", None),
    ("Foo  1 12:00:00", None),
    ("Dec  3 10:00:61", None),
])
def test_clock_bsd_year(ts, expected):
    assert Clock("UTC", REF).bsd_seconds(ts) == expected


def test_clock_reference_time_moves():
    c = Clock("UTC", REF)
    assert c.bsd_seconds("Jan  2 00:00:00") == utc(2026, 1, 2) // NS
    c.set_reference_time(utc(2027, 1, 5) // NS)
    assert c.bsd_seconds("Jan  2 00:00:00") == utc(2027, 1, 2) // NS


@pytest.mark.parametrize("text,expected", [
    ("2026-12-03T10:00:00Z", utc(2026, 12, 3, 10)),
    ("2026-12-03 10:00:00,5", utc(2026, 12, 3, 10, ns=500_000_000)),
    ("2026-12-03T10:00:00.123456789-05:00", utc(2026, 12, 3, 15, ns=123_456_789)),
    ("2026-12-03T10:00:00+0530", utc(2026, 12, 3, 4, 30)),
    ("2026-13-03T10:00:00Z", None),
    ("2026-12-03", None),
])
def test_clock_iso(text, expected):
    assert Clock("UTC").iso_ns(text) == expected
