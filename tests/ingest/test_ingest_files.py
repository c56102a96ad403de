"""The files receiver on real files: globs, rotation both ways, restarts, truncation.

Every test drives ``poll_once()`` itself; a "crash" is a receiver that is
dropped without ``close()`` (its pending entry was never stored), a restart a
new receiver on the same database.
"""
from __future__ import annotations

import json
import os
import shutil
import threading

import pytest
from logutil import append, line_numbers, numbered, stored, stored_records

import ccstore
from ccstore.ingest.files import STATE_PREFIX, FileReceiver


def receiver(store, pattern, **kw) -> FileReceiver:
    kw.setdefault("cluster", "alex")
    kw.setdefault("hostname", "me")
    kw.setdefault("timezone", "UTC")
    return FileReceiver(store, [str(pattern)], **kw)


def session(store, pattern, **kw) -> dict:
    """One run of a receiver: start, poll once, close; the poll's counts."""
    rec = receiver(store, pattern, **kw)
    counts = rec.poll_once()
    rec.close()
    return counts


def rewrite(path, text: str) -> None:
    """Truncate a file and write ``text`` into it (same inode)."""
    with open(path, "wb") as fh:
        fh.write(text.encode())


def crash(rec: FileReceiver) -> None:
    """Drop a receiver as a killed process would: nothing flushed, descriptors closed."""
    for f in rec._files.values():
        os.close(f.fd)
    rec._files.clear()


def exactly_once(store, n: int) -> None:
    assert line_numbers(stored(store)) == list(range(n))


def test_glob_picks_up_new_files(store, tmp_path):
    append(tmp_path / "a.log", numbered(0, 3))
    rec = receiver(store, tmp_path / "*.log")
    first = rec.poll_once()
    assert (first["opened"], first["files"], first["lines"]) == (1, 1, 3)
    append(tmp_path / "b.log", numbered(3, 2, prog="other"))
    append(tmp_path / "ignored.txt", numbered(100, 1))
    second = rec.poll_once()
    assert second["opened"] == 1 and second["files"] == 2
    rec.close()
    assert sorted(line_numbers(stored(store))) == [0, 1, 2, 3, 4]
    locations = {r.tags["location"] for r in store.query("alex", limit=None)}
    assert locations == {str(tmp_path / "a.log"), str(tmp_path / "b.log")}


def test_entries_are_stored_as_clustercockpit_logs(store, tmp_path):
    append(tmp_path / "app.log", "Nov 22 08:40:01 a0001 sshd[42]: error: bad key\n")
    rec = receiver(store, tmp_path / "app.log")
    rec.poll_once()
    rec.poll_once()  # idle: the pending entry is complete
    (r,) = store.query("alex", limit=None)
    assert (r.name, r.hostname, r.type, r.type_id, r.value) == (
        "sshd", "a0001", "node", "0", "error: bad key")
    assert r.tags == {"loglevel": "error", "location": str(tmp_path / "app.log")}
    assert store.query("alex", tags={"loglevel": "error"}, text="key")


def test_partial_line_waits_for_its_newline(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 2) + "Nov 22 08:00:02 a0001 app[7]: li")
    rec = receiver(store, log)
    rec.poll_once()
    rec.poll_once()
    assert line_numbers(stored(store)) == [0, 1]
    append(log, "ne 2\n")
    rec.poll_once()
    rec.close()
    exactly_once(store, 3)


def test_stack_trace_waits_until_the_file_is_idle(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, "2024-11-22 08:40:01 ERROR boom\njava.lang.NullPointerException: x\n")
    rec = receiver(store, log, format="plain")
    rec.poll_once()
    append(log, "\tat a.b(C.java:1)\n")
    assert rec.poll_once()["written"] == 0
    assert rec.poll_once()["written"] == 1  # nothing new: the entry is complete
    (r,) = store.query("alex", text="NullPointerException")
    assert r.value.count("\n") == 2


@pytest.mark.parametrize("pattern", ["app.log", "app.log*"], ids=["out-of-glob", "in-glob"])
def test_rotation_by_rename_mid_stream(store, tmp_path, pattern):
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    rec = receiver(store, tmp_path / pattern)
    rec.poll_once()
    append(log, numbered(10, 5))              # not read yet
    os.rename(log, tmp_path / "app.log.1")    # logrotate: rename ...
    append(tmp_path / "app.log.1", numbered(15, 5))  # the writer still has the old file
    append(log, numbered(20, 5))              # ... and create
    counts = rec.poll_once()
    assert counts["rotations"] == (1 if pattern == "app.log" else 0)
    rec.poll_once()
    rec.close()
    exactly_once(store, 25)


@pytest.mark.parametrize("pattern", ["app.log", "app.log*"], ids=["out-of-glob", "in-glob"])
def test_rotation_by_copy_truncate_mid_stream(store, tmp_path, pattern):
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    rec = receiver(store, tmp_path / pattern)
    rec.poll_once()
    append(log, numbered(10, 5))                       # not read yet
    shutil.copyfile(log, tmp_path / "app.log.1")       # logrotate copytruncate
    with open(log, "r+b") as fh:
        fh.truncate(0)
    append(log, numbered(15, 3))
    counts = rec.poll_once()
    assert counts["truncations"] == 1
    rec.poll_once()
    rec.close()
    exactly_once(store, 18)


def test_truncated_and_rewritten_past_the_old_size(store, tmp_path):
    # the file grew beyond the read position again before the poll: the
    # fingerprint of its first bytes tells
    log = tmp_path / "app.log"
    append(log, numbered(0, 3))
    rec = receiver(store, log)
    rec.poll_once()
    rewrite(log, numbered(3, 10, prog="new"))
    assert rec.poll_once()["truncations"] == 1
    rec.close()
    exactly_once(store, 13)


def test_restart_in_the_middle_of_a_file(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 100))
    rec = receiver(store, log)
    rec.poll_once()
    crash(rec)                                 # the last entry was pending: not stored
    assert len(stored(store)) == 99
    saved = json.loads(store.get_state(STATE_PREFIX + str(log)))
    st = os.stat(log)
    assert (saved["dev"], saved["ino"]) == (st.st_dev, st.st_ino)
    assert saved["offset"] == len(numbered(0, 99).encode())
    append(log, numbered(100, 50))
    session(store, log)
    exactly_once(store, 150)


def test_restart_after_closing_the_database(tmp_path):
    log = tmp_path / "app.log"
    db = str(tmp_path / "x.db")
    append(log, numbered(0, 20))
    with ccstore.open(db) as s1:
        session(s1, log)
    append(log, numbered(20, 5))
    with ccstore.open(db) as s2:
        assert session(s2, log)["lines"] == 5
        exactly_once(s2, 25)


def test_restart_inside_a_stack_trace(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, "2024-11-22 08:40:00 INFO start\n2024-11-22 08:40:01 ERROR failed\n"
                "java.lang.IllegalStateException: x\n\tat a.b(C.java:1)\n")
    rec = receiver(store, log, format="plain")
    rec.poll_once()
    crash(rec)
    append(log, "\tat a.c(C.java:2)\n2024-11-22 08:40:02 INFO after\n")
    session(store, log, format="plain")
    assert stored(store) == [
        "INFO start",
        "ERROR failed\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)\n"
        "\tat a.c(C.java:2)",
        "INFO after"]


def test_file_truncated_below_the_saved_offset_while_stopped(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 50))
    session(store, log)
    rewrite(log, numbered(50, 3))
    assert session(store, log)["lines"] == 3
    exactly_once(store, 53)


def test_rotated_by_rename_while_stopped(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    session(store, log)
    append(log, numbered(10, 5))
    os.rename(log, tmp_path / "app.log.1")     # outside the glob
    append(log, numbered(15, 5))
    session(store, log)
    exactly_once(store, 20)
    # and a further restart repeats nothing
    assert session(store, log)["written"] == 0
    exactly_once(store, 20)


def test_copied_and_truncated_while_stopped(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    session(store, log)
    append(log, numbered(10, 5))
    shutil.copyfile(log, tmp_path / "app.log.1")
    rewrite(log, numbered(15, 2))
    session(store, log)
    exactly_once(store, 17)


def test_renamed_within_the_globs_while_stopped(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    session(store, tmp_path / "app.log*")
    append(log, numbered(10, 5))
    os.rename(log, tmp_path / "app.log.1")
    append(log, numbered(15, 5))
    session(store, tmp_path / "app.log*")
    assert sorted(line_numbers(stored(store))) == list(range(20))


def test_a_deleted_file_is_read_to_its_end_and_let_go(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 5))
    rec = receiver(store, log)
    rec.poll_once()
    with open(log, "ab") as fh:   # a writer that still has the file open
        os.unlink(log)
        fh.write(numbered(5, 3).encode())
    counts = rec.poll_once()
    assert counts["rotations"] == 1
    counts = rec.poll_once()
    assert counts["files"] == 0
    rec.close()
    exactly_once(store, 8)


def test_binary_garbage_in_a_log_file(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 2) + "\x00\x01\x02\x03\x04\x05\x06\x07\n")
    append(log, bytes(range(256)).replace(b"\n", b"") + b"\n" + numbered(2, 2).encode())
    rec = receiver(store, log)
    counts = rec.poll_once()
    rec.close()
    assert counts["skipped"] == 2 and counts["lines"] == 6
    exactly_once(store, 4)


def test_start_at_end_skips_what_was_there(store, tmp_path):
    log = tmp_path / "app.log"
    append(log, numbered(0, 5))
    rec = receiver(store, tmp_path / "*.log", start_at="end")
    rec.poll_once()
    append(log, numbered(5, 2))
    append(tmp_path / "later.log", numbered(7, 1))  # appears later: read from its start
    rec.poll_once()
    rec.close()
    assert line_numbers(stored(store)) == [5, 6, 7]


def test_two_hosts_in_one_file(store, tmp_path):
    log = tmp_path / "syslog"
    append(log, numbered(0, 2, host="a0001") + numbered(2, 2, host="a0002"))
    session(store, log)
    assert [h for _, h, _, _ in stored_records(store)] == ["a0001"] * 2 + ["a0002"] * 2
    assert [r.value for r in store.query("alex", hosts="a0002", limit=None, order="asc")] == [
        "line 2", "line 3"]


def test_bad_arguments_are_refused(store):
    with pytest.raises(ValueError, match="cluster"):
        FileReceiver(store, ["/x"], cluster="")
    with pytest.raises(ValueError, match="format"):
        FileReceiver(store, ["/x"], cluster="alex", format="xml")
    with pytest.raises(ValueError, match="start_at"):
        FileReceiver(store, ["/x"], cluster="alex", start_at="middle")


def test_run_polls_until_stopped_and_stores_the_last_entry(store, tmp_path):
    append(tmp_path / "app.log", numbered(0, 3))

    class StopAfterFirstPoll(threading.Event):
        def wait(self, timeout=None):
            self.set()
            return True

    receiver(store, tmp_path / "app.log").run(StopAfterFirstPoll(), interval=0)
    exactly_once(store, 3)


def test_files_with_the_same_first_bytes_are_not_copies(store, tmp_path):
    # job outputs that start with the same long banner are different files
    banner = "#" * 2000 + "\n"
    append(tmp_path / "job-1.out", banner + "Nov 22 08:00:00 a1 job[1]: line 0\n")
    rec = receiver(store, tmp_path / "job-*.out")
    rec.poll_once()
    append(tmp_path / "job-2.out", banner + "Nov 22 08:00:01 a1 job[2]: line 1\n")
    rec.poll_once()
    rec.close()
    assert line_numbers(stored(store)) == [0, 1]
