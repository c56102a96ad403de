"""Store.ingest of files: line protocol (the default), log files by format, detection."""
from __future__ import annotations

import io
import os

import pytest
from logutil import line_numbers, numbered, stored

from ccstore.logs import LogParser

LP = (b"ccb,cluster=alex,hostname=h1,type=node,type-id=0,loglevel=info "
      b'log="archived" 1740027951\n'
      b'job,cluster=alex,hostname=h2 event="{\\"jobId\\": 69}" 1740027952\n'
      b"flops_any,cluster=alex,hostname=h1 value=1.5 1740027954\n")


def syslog_file(tmp_path, n: int = 300):
    path = tmp_path / "syslog"
    path.write_text(numbered(0, n - 1) + "Nov 22 09:00:00 a0002 sshd[1]: error: bad key\n")
    os.utime(path, (1732300000, 1732300000))  # the year of the dates: 2024
    return path


def test_a_syslog_file_by_format(store, tmp_path):
    path = syslog_file(tmp_path)
    res = store.ingest(path, format="syslog", cluster="alex", timezone="UTC")
    assert (res.lines, res.written, res.rejected, res.skipped) == (300, 300, 0, 0)
    assert res.ok and not res.errors
    assert line_numbers(stored(store)) == list(range(299))
    (r,) = store.query("alex", tags={"loglevel": "error"})
    assert (r.name, r.hostname, r.value) == ("sshd", "a0002", "error: bad key")
    assert r.tags["location"] == str(path)
    assert r.timestamp == 1732266000  # 2024-11-22T09:00:00Z


def test_the_default_format_is_line_protocol(store, tmp_path):
    path = syslog_file(tmp_path, 20)
    res = store.ingest(path, cluster="alex")
    assert res.written == 0 and res.rejected == 20 and not res.ok
    assert [e.lineno for e in res.errors] == list(range(1, 21))
    lp = tmp_path / "e.lp"
    lp.write_bytes(LP)
    res = store.ingest(lp)
    assert (res.lines, res.written, res.dropped) == (3, 2, {"metric": 1})


def test_auto_detects_line_protocol_and_log_lines(store, tmp_path):
    lp = tmp_path / "e.lp"
    lp.write_bytes(LP)
    res = store.ingest(lp, format="auto")
    assert (res.written, res.dropped) == (2, {"metric": 1})
    res = store.ingest(syslog_file(tmp_path, 10), format="auto", cluster="fritz",
                       timezone="UTC")
    assert (res.lines, res.written, res.rejected) == (10, 10, 0)
    assert len(stored(store, "fritz")) == 10


def test_log_lines_need_a_cluster(store, tmp_path):
    path = syslog_file(tmp_path, 5)
    with pytest.raises(ValueError, match="give a cluster"):
        store.ingest(path, format="syslog")
    with pytest.raises(ValueError, match="not line protocol"):
        store.ingest(path, format="auto")
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        store.ingest(path, format="csv", cluster="alex")
    assert store.clusters() == []


def test_log_entries_split_over_chunks_are_stored_once(store):
    """A stack trace across chunk edges is one message, as parsing the whole file gives."""
    data = (b"2024-11-22T08:40:01Z ERROR job failed\n"
            b"java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\n"
            b"\tat a.B.d(B.java:2)\n"
            + b"".join(b"2024-11-22T08:41:%02dZ INFO step %d\n" % (i, i) for i in range(40))
            + b"2024-11-22T08:42:00Z no newline at the end")
    parser = LogParser("plain", hostname="me", tz="UTC")
    want = [r[9] for r in parser.feed(data) + parser.finish()]
    res = store.ingest(io.BytesIO(data), format="plain", cluster="alex", hostname="me",
                       chunk_size=7)
    assert res.written == len(want) == 42 and res.lines == data.count(b"\n") + 1
    assert stored(store) == want
    assert stored(store)[0].endswith("\tat a.B.d(B.java:2)")


def test_binary_garbage_is_counted_as_skipped(store):
    data = numbered(0, 3).encode() + b"\x00\x01\x02\x03\x04\x05\n"
    res = store.ingest(io.BytesIO(data), format="log", cluster="alex")
    assert (res.written, res.skipped, res.rejected) == (3, 1, 0)
    assert not res.ok


def test_rejected_lines_are_counted_beyond_max_errors(store):
    data = LP + b"bad line\n" * 50
    res = store.ingest(io.BytesIO(data), max_errors=5, chunk_size=64)
    assert res.rejected == 50 and len(res.errors) == 5
    assert [e.lineno for e in res.errors] == [4, 5, 6, 7, 8]
    assert res.written == 2
    assert res.as_dict()["rejected"] == 50


def test_progress_reports_bytes_and_lines_read(store, tmp_path):
    path = syslog_file(tmp_path, 200)
    seen = []
    store.ingest(path, format="syslog", cluster="alex", chunk_size=1000,
                 progress=lambda done, lines: seen.append((done, lines)))
    assert len(seen) > 5
    assert seen == sorted(seen)
    assert seen[-1] == (path.stat().st_size, 200)
