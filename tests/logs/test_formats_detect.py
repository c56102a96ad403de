"""Telling the formats apart: per line, per file (the first lines), and over a directory of
mixed files."""
from __future__ import annotations

import json
import struct

import pytest
from lfutil import as_dict

from ccstore.logs.formats import (
    FORMATS,
    LINE_FORMATS,
    PARSE_TAG,
    UNPARSED,
    UNPARSED_TAGS,
    JournalExportReader,
    detect_line,
    header_function,
    sniff,
    sniff_bytes,
)
from ccstore.logs.clock import Clock

SAMPLES = {
    "syslog_export": [
        "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD (x)",
        "VAPI 1131566462 2005.11.09 cn5 Nov 9 12:01:02 cn5/cn5 kernel: [KERNEL_IB][ib_mad] x",
        "- 1131566463 2005.11.09 tbird-admin1 Nov 9 12:01:03 local@tbird-admin1 gmetad[1]: y",
    ],
    "bgl": [
        "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
        "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
        "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 "
        "R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt",
        "- 1118536328 2005.06.11 NULL 2005-06-11-17.32.08.000000 NULL RAS MMCS ERROR x",
    ],
    "lanl": [
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change",
        "462 node-70 action start 1074119817 1 clusterAddMember  (command 1902)",
        "2561 gige7 switch_module psu 1084680778 1 psu failure",
    ],
    "journal_json": [
        json.dumps({"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": "1764756000123456",
                    "MESSAGE": "hello", "_HOSTNAME": "n1"}),
        '{ "__REALTIME_TIMESTAMP" : "1764756000123457", "MESSAGE" : [104, 105] }',
    ],
    "slurm": [
        "[2026-12-03T10:00:00.123] error: Node n17 not responding",
        "[2026-12-03T10:00:00] _slurm_rpc_submit_batch_job: JobId=12",
        "[2026-12-03T10:00:00.123] [12.batch] done with job",
        "[Dec 03 10:00:00.123] debug:  x",
    ],
}

OTHERS = [
    "",
    "Nov 22 08:40:01 a0001 sshd[42]: Accepted publickey for root",
    "<13>Nov 22 08:40:01 a0001 sshd[42]: Accepted publickey for root",
    "<165>1 2024-11-22T08:40:03.123Z host1 app 12 ID47 - hi",
    "2024-11-22T08:40:01.123456+01:00 a0002 systemd[1]: Started foo.",
    "2024-11-22 08:40:01,123 ERROR [main] app: failed",
    "1732264801 plain epoch line",
    '{"time": "2024-11-22T08:40:01Z", "level": "warn", "msg": "disk"}',
    "[2024-11-22 08:40:01] app.ERROR: a bracketed time with a space",
    "E1122 08:40:01.123456 1234 main.go:42] klog line",
    "ERROR something happened",
    "MESSAGE=a journal export field that opens no entry",
    "\tat com.example.Foo.bar(Foo.java:42)",
]


@pytest.mark.parametrize("fmt,line", [(f, line) for f, lines in SAMPLES.items()
                                      for line in lines])
def test_detect_line(fmt, line):
    assert detect_line(line) == fmt
    # and the format's header function reads it
    h = as_dict(header_function(fmt, clock=Clock("UTC"))(line))
    assert h is not None and h["time"] is not None


@pytest.mark.parametrize("line", OTHERS)
def test_detect_line_other_formats(line):
    assert detect_line(line) is None


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_header_functions_reject_the_other_formats(fmt):
    read = header_function(fmt, clock=Clock("UTC"))
    for other, lines in SAMPLES.items():
        if other != fmt:
            for line in lines:
                assert read(line) is None, (fmt, line)


def test_header_function_unknown_format():
    with pytest.raises(ValueError, match="unknown line format 'journal_export'"):
        header_function("journal_export")


def test_journal_export_opening_line():
    assert detect_line("__CURSOR=s=0123;i=1") == "journal_export"
    assert detect_line("__REALTIME_TIMESTAMP=1764756000123456") == "journal_export"


# -- per file ------------------------------------------------------------------------
def test_sniff_majority_with_noise():
    lines = SAMPLES["bgl"] * 3 + ["garbage", "", "   ", "more garbage"]
    assert sniff(lines) == "bgl"
    # a few lines of another format do not change the verdict
    assert sniff(SAMPLES["syslog_export"] * 3 + SAMPLES["bgl"][:1]) == "syslog_export"


def test_sniff_needs_half_of_the_lines():
    assert sniff(SAMPLES["lanl"][:2] + ["x", "y"]) == "lanl"  # exactly half
    assert sniff(SAMPLES["lanl"][:1] + ["x", "y"]) is None


def test_sniff_other_formats_and_empty():
    assert sniff(OTHERS) is None
    assert sniff([]) is None
    assert sniff(["", "  "]) is None


def test_sniff_reads_only_the_first_lines():
    lines = ["x"] * 50 + SAMPLES["slurm"] * 100
    assert sniff(lines) is None
    assert sniff(lines, max_lines=1000) == "slurm"


def test_sniff_strips_line_ends():
    assert sniff([line + "\r\n" for line in SAMPLES["lanl"]]) == "lanl"


def _export_head() -> bytes:
    return (b"__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1764756000123456\n_HOSTNAME=n1\n"
            b"MESSAGE\n" + struct.pack("<Q", 3) + b"\xff\n\x00\n\n")


MIXED_DIRECTORY = {
    "thunderbird.log": "\n".join(SAMPLES["syslog_export"] * 5) + "\n",
    "bgl.log": "\n".join(SAMPLES["bgl"] * 5) + "\n",
    "HPC.log": "\n".join(SAMPLES["lanl"] * 5) + "\n",
    "journal.json": "\n".join(SAMPLES["journal_json"] * 5) + "\n",
    "slurmctld.log": "\n".join(SAMPLES["slurm"] * 5) + "\n",
    "messages": "\n".join(OTHERS[1:3] * 5) + "\n",
    "app.log": "\n".join(OTHERS[4:7] * 5) + "\n",
}


def test_sniff_bytes_mixed_directory(tmp_path):
    files = {name: text.encode() for name, text in MIXED_DIRECTORY.items()}
    files["journal.export"] = _export_head() * 3
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    found = {}
    for path in sorted(tmp_path.iterdir()):
        with open(path, "rb") as f:
            found[path.name] = sniff_bytes(f.read(4096))
    assert found == {
        "HPC.log": "lanl", "app.log": None, "bgl.log": "bgl", "journal.export": "journal_export",
        "journal.json": "journal_json", "messages": None, "slurmctld.log": "slurm",
        "thunderbird.log": "syslog_export",
    }
    # the export file is read by the export reader
    r = JournalExportReader()
    headers = r.feed(files["journal.export"]) + r.finish()
    assert [h[2] for h in headers] == ["n1"] * 3 and headers[0][4] == "\ufffd"


def test_sniff_bytes_leaves_out_a_cut_off_line():
    data = ("\n".join(SAMPLES["lanl"]) + "\n").encode()
    head = data + b"13 node-1 unix"  # the next line, cut off: not a LANL line yet
    assert sniff_bytes(head, max_lines=4) == "lanl"
    assert sniff((data + b"13 node-1 unix").decode().split("\n"), max_lines=4) == "lanl"
    assert sniff_bytes(b"\xff\xfe\x00garbage\n" * 4) is None


def test_constants():
    assert set(LINE_FORMATS) < set(FORMATS)
    assert UNPARSED_TAGS == {PARSE_TAG: UNPARSED} == {"parse": "unparsed"}
