"""journald: ``journalctl -o json`` lines and the ``-o export`` stream, binary fields included."""
from __future__ import annotations

import json
import struct

import pytest
from lfutil import as_dict, utc

from ccstore.logs import LogParser
from ccstore.logs.formats import JournalExportReader, header_journal_json, journal_header

T = utc(2026, 12, 3, 10, 0, 0, us=123456)
T_US = str(T // 1000)


def jline(**fields) -> str:
    """A ``journalctl -o json`` line (journalctl puts the cursor first)."""
    return json.dumps({"__CURSOR": "s=1;i=2", "__REALTIME_TIMESTAMP": T_US, **fields})


# -- -o json ------------------------------------------------------------------------
def test_json_entry():
    line = jline(_HOSTNAME="n001", PRIORITY="3", SYSLOG_IDENTIFIER="slurmd", _PID="4242",
                 _SYSTEMD_UNIT="slurmd.service", MESSAGE="error: Node configuration differs")
    assert as_dict(header_journal_json(line)) == {
        "time": T, "name": "slurmd", "host": "n001", "level": "error",
        "msg": "error: Node configuration differs", "cont": False,
        "tags": {"pid": "4242", "unit": "slurmd.service"}}


@pytest.mark.parametrize("priority,level", [
    ("0", "error"), ("1", "error"), ("2", "error"), ("3", "error"), ("4", "warn"),
    ("5", "info"), ("6", "info"), ("7", "debug"),
])
def test_json_priorities(priority, level):
    h = header_journal_json(jline(PRIORITY=priority, MESSAGE="x"))
    assert h[3] == level


def test_json_binary_message():
    # journalctl writes a value that is not valid UTF-8 as an array of byte values
    raw = "Xid ok ".encode() + b"\xff\xfe" + "été".encode()
    h = as_dict(header_journal_json(jline(MESSAGE=list(raw), PRIORITY="6")))
    assert h["msg"] == raw.decode("utf-8", "replace")
    assert h["msg"].endswith("été") and "\ufffd" in h["msg"]


def test_json_binary_message_without_nul():
    h = header_journal_json(jline(MESSAGE=list(b"core\x00dump\x00")))
    assert h[4] == "coredump"


def test_json_multiple_values_and_missing_fields():
    # a field given twice is an array of its values; a message too large is null
    h = as_dict(header_journal_json(jline(SYSLOG_IDENTIFIER=["first", "second"],
                                          MESSAGE=None)))
    assert h["name"] == "first"
    assert h["msg"] == "" and h["host"] is None and h["level"] is None and h["tags"] is None


def test_json_source_time_first_and_comm_as_name():
    line = jline(_SOURCE_REALTIME_TIMESTAMP=str(T // 1000 - 5), _COMM="sshd",
                 MESSAGE="Accepted publickey\n")
    h = as_dict(header_journal_json(line))
    assert h["time"] == T - 5000
    assert h["name"] == "sshd"
    assert h["msg"] == "Accepted publickey"


def test_json_hpc_level_without_priority():
    line = jline(MESSAGE="NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.")
    assert header_journal_json(line)[3] is None  # not stated: the parser reads the message
    p = LogParser("journal_json", hostname="me")
    rows = p.feed(line.encode() + b"\n") + p.finish()
    assert rows[0][10] == "error"


@pytest.mark.parametrize("line", [
    '{"time": "2024-11-22T08:40:01Z", "msg": "a JSON line, not journald"}',
    '{"__REALTIME_TIMESTAMP": "1", broken',
    '["__REALTIME_TIMESTAMP"]',
    "__REALTIME_TIMESTAMP=1764756000123456",
])
def test_json_rejects(line):
    assert header_journal_json(line) is None


# -- -o export --------------------------------------------------------------------------
def field(key: str, value: bytes) -> bytes:
    """One field as journalctl exports it: text, or binary with its length."""
    if b"\n" in value or any(c < 32 and c != 9 for c in value):
        return key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return key.encode() + b"=" + value + b"\n"


def entry(**fields: bytes) -> bytes:
    return b"".join(field(k, v) for k, v in fields.items()) + b"\n"


# 10 bytes: the first byte of the length field is 0x0a, a newline
BINARY = b"a\nb=c\n\x00def"
E1 = entry(__CURSOR=b"s=1;i=1", __REALTIME_TIMESTAMP=T_US.encode(), _HOSTNAME=b"n001",
           PRIORITY=b"4", SYSLOG_IDENTIFIER=b"kernel", MESSAGE=b"LustreError: 11-0: x")
E2 = entry(__CURSOR=b"s=1;i=2", __REALTIME_TIMESTAMP=str(T // 1000 + 1).encode(),
           _HOSTNAME=b"n002", PRIORITY=b"6", SYSLOG_IDENTIFIER=b"app", _PID=b"77",
           MESSAGE=BINARY)
E3 = entry(__CURSOR=b"s=1;i=3", __REALTIME_TIMESTAMP=str(T // 1000 + 2).encode(),
           MESSAGE=b"a" * 300, _SYSTEMD_UNIT=b"x.service")
STREAM = E1 + E2 + E3
EXPECTED = [
    {"time": T, "name": "kernel", "host": "n001", "level": "warn",
     "msg": "LustreError: 11-0: x", "cont": False, "tags": None},
    {"time": T + 1000, "name": "app", "host": "n002", "level": "info",
     "msg": "a\nb=c\ndef", "cont": False,
     "tags": {"pid": "77"}},
    {"time": T + 2000, "name": None, "host": None, "level": None, "msg": "a" * 300,
     "cont": False, "tags": {"unit": "x.service"}},
]


def test_export_binary_field_framing():
    assert b"MESSAGE\n" in E2 and b"MESSAGE=" not in E2
    assert b"\n" in BINARY and b"=" in BINARY and b"\x00" in BINARY
    assert struct.pack("<Q", len(BINARY))[:1] == b"\n"


def test_export_whole():
    r = JournalExportReader()
    headers = r.feed(STREAM) + r.finish()
    assert [as_dict(h) for h in headers] == EXPECTED
    assert (r.entries, r.skipped) == (3, 0)


def test_export_raw_entries_keep_binary_values():
    r = JournalExportReader()
    entries = r.entries_of(STREAM)
    assert entries[1][b"MESSAGE"] == BINARY
    assert entries[1][b"_PID"] == b"77"
    assert journal_header(entries[1]) == journal_header(
        {k.decode(): v.decode() for k, v in entries[1].items()})


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_export_fed_in_pieces(step):
    r = JournalExportReader()
    got = []
    safe = []
    for i in range(0, len(STREAM), step):
        got.extend(r.feed(STREAM[i:i + step]))
        safe.append(r.safe_offset)
        # nothing before the safe offset is needed again; an entry is not half read
        assert r.safe_offset in (0, len(E1), len(E1) + len(E2), len(STREAM))
    got.extend(r.finish())
    assert [as_dict(h) for h in got] == EXPECTED
    assert safe == sorted(safe) and safe[-1] == len(STREAM)


def test_export_resume_from_safe_offset():
    cut = len(E1) + 20  # within E2
    r = JournalExportReader()
    first = r.feed(STREAM[:cut])
    assert len(first) == 1 and r.safe_offset == len(E1) and r.offset == cut
    r2 = JournalExportReader(offset=r.safe_offset)
    rest = r2.feed(STREAM[r.safe_offset:]) + r2.finish()
    assert [as_dict(h) for h in first + rest] == EXPECTED
    assert r2.safe_offset == len(STREAM)


def test_export_last_entry_without_empty_line():
    r = JournalExportReader()
    headers = r.feed(STREAM[:-1]) + r.finish()
    assert [as_dict(h) for h in headers] == EXPECTED
    r = JournalExportReader()
    headers = r.feed(STREAM[:-2]) + r.finish()  # also the last newline of the last field
    assert [as_dict(h) for h in headers] == EXPECTED


def test_export_truncated_binary_field_is_dropped_at_finish():
    cut = E1 + E2[:E2.index(b"MESSAGE\n") + 12]
    r = JournalExportReader()
    headers = r.feed(cut) + r.finish()
    assert [as_dict(h) for h in headers] == EXPECTED[:1]
    assert r.skipped == 1


def test_export_broken_length_drops_the_entry_and_reads_on():
    i = E2.index(b"MESSAGE\n") + len(b"MESSAGE\n")
    # a length one byte short: the byte after the data is not the newline
    bad = E2[:i] + struct.pack("<Q", len(BINARY) - 1) + E2[i + 8:]
    r = JournalExportReader()
    headers = r.feed(E1 + bad + E3) + r.finish()
    assert [as_dict(h) for h in headers] == [EXPECTED[0], EXPECTED[2]]
    assert r.skipped == 1


def test_export_field_too_large_is_dropped():
    r = JournalExportReader(max_field=100)
    headers = r.feed(E1 + E3 + E2) + r.finish()  # E3's 300-byte text line
    assert [as_dict(h)["host"] for h in headers] == ["n001", "n002"]
    assert r.skipped == 1


def test_export_first_value_of_a_repeated_key():
    data = b"__REALTIME_TIMESTAMP=" + T_US.encode() + b"\nMESSAGE=one\nMESSAGE=two\n\n"
    r = JournalExportReader()
    assert [h[4] for h in r.feed(data)] == ["one"]


def test_journal_header_accepts_both_forms():
    text = {"__REALTIME_TIMESTAMP": T_US, "MESSAGE": "m", "PRIORITY": "5"}
    binary = {k: v.encode() for k, v in text.items()}
    assert journal_header(text) == journal_header(binary) == (T, None, None, "info", "m",
                                                              False, None)
