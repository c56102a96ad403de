"""SQLite specifics: the Go program's database files, the views its readers use,
segments, and other processes reading while one writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import apsw
import pytest

import ccstore
from ccstore import lineproto
from ccstore.backends.hostruns import group_by_host
from ccstore.backends.sqlite.locks import FairLock
from ccstore.rows import ROW_COLUMNS

# the Go cc-event-store's CREATE statement, current and older (payload column named
# after the kind)
GO_CREATE = ("create table IF NOT EXISTS {} (id integer primary key, timestamp bigint, "
             "name text, hostname text, type text, typeid text, stype text, stypeid text, "
             "othertags JSON, {} text);")


def go_database(path, payload_column="field"):
    conn = apsw.Connection(str(path))
    conn.execute(GO_CREATE.format("alex_events", payload_column))
    conn.execute(GO_CREATE.format("alex_logs", payload_column))
    conn.executemany(
        f"insert into alex_events (timestamp, name, hostname, type, typeid, stype, stypeid, "
        f"othertags, {payload_column}) values (?,?,?,?,?,?,?,?,?)",
        [(1740027951, "job", "mngmt02", "node", "0", None, None,
          json.dumps({"function": "stop_job"}), '{"jobId": 69, "jobState": "completed"}'),
         (1740027900, "job", "mngmt02", "node", "0", None, None,
          json.dumps({"function": "start_job"}), '{"jobId": 69}')])
    conn.executemany(
        f"insert into alex_logs (timestamp, name, hostname, type, typeid, stype, stypeid, "
        f"othertags, {payload_column}) values (?,?,?,?,?,?,?,?,?)",
        [(1740027951 + i, "ccb", "server01", "node", "1", None, None,
          json.dumps({"loglevel": "info" if i % 2 else "error"}),
          f"component: archiver jobId: {i} - archiving finished") for i in range(10)])
    conn.close()


@pytest.mark.parametrize("payload_column", ["field", "event"])
def test_database_written_by_the_go_program(tmp_path, payload_column):
    path = tmp_path / "events.db"
    go_database(path, payload_column)
    with ccstore.open(str(path)) as store:
        ev = store.query("alex", kind="event", limit=None)
        assert [(r.timestamp, r.tags["function"]) for r in ev] == [
            (1740027951, "stop_job"), (1740027900, "start_job")]
        assert store.count("alex", kind="event", by="function") == [
            ("start_job", 1), ("stop_job", 1)]
        assert len(store.query("alex", tags={"loglevel": "error"}, limit=None)) == 5
        assert [r.timestamp for r in store.query(text="jobId", limit=3)] == [
            1740027960, 1740027959, 1740027958]
        # several rows: the first is inserted with its id, the rest appended after it
        res = store.write("".join(
            f'ccb,cluster=alex,hostname=s{i},loglevel=warn log="new {i}" {1740030000 + i}\n'
            for i in range(3)))
        assert res.written == 3
        assert store.query("alex", limit=1)[0].value == "new 2"
    # reopening does not migrate twice; the Go program's readers see old and new rows
    with ccstore.open(str(path)) as store:
        assert len(store.query("alex", limit=None)) == 13
    conn = apsw.Connection(str(path))
    rows = conn.execute("select timestamp, name, hostname, type, othertags, field from alex_logs "
                        "order by timestamp desc").fetchall()
    assert rows[:3] == [(1740030000 + i, "ccb", f"s{i}", None, '{"loglevel":"warn"}',
                         f"new {i}") for i in (2, 1, 0)]
    assert len(rows) == 13
    assert conn.execute("select count(*) from alex_events").fetchone() == (2,)


def test_views_follow_segments_and_retention(tmp_path):
    path = str(tmp_path / "v.db")
    with ccstore.open(path, seal_rows=10, retention="1h") as store:
        store.write("".join(f'job,cluster=alex,hostname=h,function=start_job event="{i}" '
                            f'{1740000000 + i * 60}\n' for i in range(100)))
        conn = apsw.Connection(path)
        cols = [r[1] for r in conn.execute("pragma table_info(alex_events)")]
        assert cols == ["id", "timestamp", "name", "hostname", "type", "typeid", "stype",
                        "stypeid", "othertags", "field"]
        assert conn.execute("select count(*) from alex_events").fetchone() == (100,)
        store.apply_retention(now=1740000000 + 100 * 60)
        assert conn.execute("select count(*) from alex_events").fetchone() == (60,)
        stats = store.stats()["backend"]
        assert stats["segments_dropped"] >= 3
        conn.close()


def test_segments_are_sealed_with_indexes_in_the_index_file(tmp_path):
    """Sealed segments get their host and time indexes in the index file beside the
    database (built there without the database's write lock), and host and time
    queries on them walk those indexes."""
    path = str(tmp_path / "s.db")
    with ccstore.open(path, seal_rows=10) as store:
        store.write("".join(f'ccb,cluster=c,hostname=h{i % 3} log="x{i}" {1740000000 + i}\n'
                            for i in range(35)))
        store.flush()
        kinds = store.stats()["backend"]["kinds"]["log"]
        assert kinds == {"segments": 4, "rows": 35, "sealed_segments": 3}
        conn = apsw.Connection(path)
        conn.execute("ATTACH ? AS ix", (path + "-index",))
        assert {r[0] for r in conn.execute("select name from ix.sqlite_schema")} >= {
            f"ccx_{s}_{k}" for s in (1, 2, 3) for k in ("host", "time")}
        assert conn.execute("select count(*) from ix.ccx_1_host").fetchone() == (10,)
        # no index in the database file itself
        assert not conn.execute(
            "select name from sqlite_schema where type='index' and tbl_name glob 'ccs_*'"
        ).fetchall()
        reader = store.backend._reader()
        seen = []
        reader.exec_trace = lambda cur, sql, bindings: seen.append((sql, bindings)) or True
        try:
            host = store.query("c", hosts="h1", start=1740000000, end=1740000020, limit=3)
            latest = store.query("c", limit=4, order="asc")
        finally:
            reader.exec_trace = None
        assert [r.value for r in host] == ["x19", "x16", "x13"]
        assert [r.value for r in latest] == ["x0", "x1", "x2", "x3"]
        plans = {}
        for sql, bindings in seen:
            for via in ("host", "time"):
                if f'_{via}" AS x' in sql:
                    plans[via] = " ".join(str(r) for r in conn.execute(
                        "explain query plan " + sql, bindings))
        assert "SEARCH x USING PRIMARY KEY" in plans["host"]
        assert "SCAN x" in plans["time"] and "USING INTEGER PRIMARY KEY" in plans["time"]
        assert "TEMP B-TREE" not in plans["host"] + plans["time"]  # no sort: index order
        conn.close()


def index_tables(path):
    conn = apsw.Connection(path + "-index")
    try:
        return {r[0] for r in conn.execute("select name from sqlite_schema where type='table'")}
    finally:
        conn.close()


def hostile_lines(n, start=1740000000):
    return "".join(f'ccb,cluster=c,hostname=h{i % 4},loglevel={("info", "error")[i % 2]} '
                   f'log="m{i}" {start + i}\n' for i in range(n))


def answers(store):
    """Host queries, a time window and counts: what the indexes serve."""
    hosts = [[r.cursor for r in store.query("c", hosts=h, limit=None)] for h in ("h0", "h3")]
    window = [r.cursor for r in store.query("c", start=1740000005, end=1740000040, limit=7)]
    return hosts, window, store.count("c", start=1740000003, end=1740000033)


def test_writes_commit_while_the_index_file_is_locked(tmp_path):
    """Ingest never waits for an index build: with the index file's write lock held
    elsewhere, writes still commit and are answered (full segments stay unsealed);
    once it is free, they are sealed."""
    path = str(tmp_path / "w.db")
    with ccstore.open(path, seal_rows=10, busy_timeout_ms=200) as store:
        store.write(hostile_lines(5))
        blocker = apsw.Connection(path + "-index")
        blocker.execute("BEGIN IMMEDIATE")
        try:
            assert store.write(hostile_lines(40, 1740000005)).written == 40
            with pytest.raises(apsw.BusyError):
                store.backend.seal_full()
            assert store.stats()["backend"]["kinds"]["log"]["sealed_segments"] == 0
            before = answers(store)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        store.flush()
        assert store.stats()["backend"]["kinds"]["log"]["sealed_segments"] == 4
        assert answers(store) == before
        assert len(before[0][0]) == 12 and len(before[1]) == 7


def test_a_lost_index_file_is_built_again(tmp_path):
    path = str(tmp_path / "l.db")
    with ccstore.open(path, seal_rows=10) as store:
        store.write(hostile_lines(45))
        store.flush()
        before = answers(store)
    for suffix in ("-index", "-index-wal", "-index-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with ccstore.open(path, seal_rows=10) as store:
        assert {f"ccx_{s}_{k}" for s in (1, 2, 3, 4) for k in ("host", "time")} <= \
            index_tables(path)
        assert answers(store) == before
        assert store.stats()["backend"]["kinds"]["log"]["sealed_segments"] == 4


@pytest.mark.parametrize("damage", ["garbage header", "truncated", "first page"])
def test_a_damaged_index_file_is_set_aside_and_built_again(tmp_path, damage):
    """The index file is documented as rebuildable: damage to it must not stop the
    store from opening."""
    path = str(tmp_path / "d.db")
    with ccstore.open(path, seal_rows=10) as store:
        store.write(hostile_lines(45))
        store.flush()
        before = answers(store)
    size = os.path.getsize(path + "-index")
    with open(path + "-index", "r+b") as f:
        if damage == "garbage header":
            f.write(b"not a database at all" * 4)
        elif damage == "truncated":
            f.truncate(size // 3)
        else:
            f.seek(100)
            f.write(b"\xa5" * 2000)
    with ccstore.open(path, seal_rows=10) as store:
        assert os.path.exists(path + "-index.damaged")
        assert {f"ccx_{s}_{k}" for s in (1, 2, 3, 4) for k in ("host", "time")} <= \
            index_tables(path)
        assert answers(store) == before
        assert store.stats()["backend"]["kinds"]["log"]["sealed_segments"] == 4


def test_retention_drops_index_tables_with_their_segments(tmp_path):
    path = str(tmp_path / "r.db")
    with ccstore.open(path, seal_rows=10, log_retention=25) as store:
        store.write(hostile_lines(45))
        store.flush()
        assert {"ccx_1_host", "ccx_2_time"} <= index_tables(path)
        store.apply_retention(now=1740000000 + 50)
        left = index_tables(path)
        assert not {"ccx_1_host", "ccx_1_time", "ccx_2_host", "ccx_2_time"} & left
        assert {"ccx_3_host", "ccx_3_time", "ccx_4_host"} <= left  # straddling, or newer
        assert [r.value for r in store.query("c", limit=2, order="asc")] == ["m25", "m26"]


def test_index_tables_of_a_dropped_segment_are_dropped_on_open(tmp_path):
    """Retention drops a segment, then its index tables: a process that stops between
    the two leaves tables that the next open drops."""
    path = str(tmp_path / "o.db")
    with ccstore.open(path, seal_rows=10) as store:
        store.write(hostile_lines(25))
        store.flush()
    conn = apsw.Connection(path)
    conn.execute("delete from ccstore_segments where id=1")
    conn.close()
    assert "ccx_1_host" in index_tables(path)
    with ccstore.open(path, seal_rows=10):
        left = index_tables(path)
    assert not {"ccx_1_host", "ccx_1_time"} & left and "ccx_2_host" in left


def test_segments_sealed_with_their_indexes_in_the_database_are_still_read(tmp_path):
    """A store sealed before the index file existed keeps its indexes in the database
    file (catalog ``ix`` 0): read through them, with the same answers."""
    path = str(tmp_path / "legacy.db")
    with ccstore.open(path, seal_rows=10) as store:
        store.write(hostile_lines(45))
        store.flush()
        before = answers(store)
    conn = apsw.Connection(path)
    for seg, tbl in conn.execute("select id, tbl from ccstore_segments where ix=1").fetchall():
        conn.execute(f"create index {tbl}_host on {tbl}(hostname, time)")
        conn.execute(f"create index {tbl}_time on {tbl}(time)")
    conn.execute("update ccstore_segments set ix=0")
    conn.close()
    os.remove(path + "-index")
    with ccstore.open(path, seal_rows=10) as store:
        assert answers(store) == before
        assert not {t for t in index_tables(path) if t.startswith("ccx_")}


def test_a_write_stores_each_hosts_rows_together(tmp_path):
    """Rows of one write are inserted host by host (in arrival order per host), so
    that a host's rows share table pages; answers stay in (time, id) order."""
    path = str(tmp_path / "h.db")
    hosts = ["h2", None, "h0", "h1"]
    text = "".join(
        f'ccb,cluster=c{"" if h is None else ",hostname=" + h} log="n{i}" {1740000000 + i}\n'
        for i, h in ((i, hosts[i % 4]) for i in range(40)))
    with ccstore.open(path) as store:
        assert store.write(text).written == 40
        assert [r.value for r in store.query(limit=None, order="asc")] == [
            f"n{i}" for i in range(40)]
    conn = apsw.Connection(path)
    stored = [(h, int(v[1:])) for h, v in conn.execute(
        "select hostname, field from ccs_1 order by id")]
    conn.close()
    by_host = [h for h, _ in stored]
    assert by_host == ["h2"] * 10 + [None] * 10 + ["h0"] * 10 + ["h1"] * 10  # first seen first
    for h in hosts:
        assert [n for g, n in stored if g == h] == [i for i in range(40) if hosts[i % 4] == h]


def lines(hosts, start, n):
    return "".join(f'ccb,cluster=c,hostname={hosts[i % len(hosts)]} log="l{start + i}" '
                   f'{1740000000 + start + i}\n' for i in range(n))


def host_answers(store, hosts):
    return [r.cursor for r in store.query("c", hosts=hosts, limit=None)]


def test_head_index_answers_like_a_scan_and_follows_other_writers(tmp_path):
    """Unsealed segments are read by row id through the writer's head index; a store
    without it (another connection, another process) scans: both give the same
    answers, also after a second writer appended to the same segment."""
    path = str(tmp_path / "h.db")
    first = ccstore.open(path, seal_rows=10_000)
    first.write(lines(["a", "b", "c", "d", "e", "f", "g", "h", "i"], 0, 900))
    second = ccstore.open(path, seal_rows=10_000)
    assert first.backend._heads and not second.backend._heads
    cases = (["a"], ["b", "i"], ["nobody"], ["a", "nobody"])
    for hosts in cases:
        assert host_answers(first, hosts) == host_answers(second, hosts)
    assert len(host_answers(first, ["a"])) == 100
    # the second store appends to the same open segment: the first one's head no
    # longer covers it, so it scans, then rebuilds its head on its next write
    second.write(lines(["a", "z"], 900, 10))
    for store in (first, second):
        assert len(host_answers(store, ["a"])) == 105
        assert len(host_answers(store, ["z"])) == 5
    first.write(lines(["z"], 910, 3))
    head = first.backend._heads[1]
    assert head.last == (1 << 32) + 913
    # the write's runs wait for a lookup to join the arrays
    assert head.pending == [((1 << 32) + 911, [("z", 3)])]
    head.fold()
    # z's rows 906-910 (second store, after a's five) and 911-913 form one run
    assert list(head.hosts["z"]) == [(1 << 32) + 906, (1 << 32) + 913]
    assert list(head.ids(["z"], 8)) == [(1 << 32) + i for i in range(906, 914)]
    assert head.ids(["z"], 7) is None
    for hosts in cases + (["z"],):
        assert host_answers(first, hosts) == host_answers(second, hosts)
    # once sealed, the head is gone and the (hostname, time) index answers
    first.close()
    # opened again with a smaller seal_rows: the open segment is full, and sealed
    first = ccstore.open(path, seal_rows=500)
    first.write(lines(["y"], 913, 1))
    first.flush()
    assert 1 not in first.backend._heads
    assert first.stats()["backend"]["kinds"]["log"] == {
        "segments": 2, "rows": 914, "sealed_segments": 1}
    for hosts in cases + (["z"], ["y"]):
        assert host_answers(first, hosts) == host_answers(second, hosts)
    # the other store's head of the segment sealed meanwhile is let go
    assert sorted(second.backend._heads) == sorted(first.backend._heads) == [2]
    first.close()
    second.close()


def test_write_lock_is_granted_in_order():
    """A thread that releases the write lock and asks again at once (retention and
    the sealer, segment by segment) queues behind a waiting writer."""
    lock = FairLock()
    order = []

    def writer():
        with lock:
            order.append("writer")

    lock.acquire()
    thread = threading.Thread(target=writer)
    thread.start()
    while lock.waiting() == 0:  # until the writer is queued
        pass
    lock.release()
    with lock:
        order.append("retention")
    thread.join()
    assert order == ["writer", "retention"]
    assert lock.waiting() == 0


def test_interrupted_wait_gives_its_turn_away():
    lock = FairLock()
    lock.acquire()
    lock._abandoned.add(lock._next)  # a ticket whose waiter was interrupted
    lock._next += 1
    assert lock.waiting() == 0
    lock.release()
    with lock:  # not stuck behind the abandoned ticket
        pass


def test_retention_raises_the_floor_of_a_straddling_segment(tmp_path):
    """A segment that straddles the cutoff keeps its expired rows on disk, hidden
    from every read, until a later cutoff passes all of it; nothing is deleted
    row by row, and answers are exact all along."""
    path = str(tmp_path / "r.db")
    store = ccstore.open(path, seal_rows=100, retention="1h", log_retention="1h")
    store.write("".join(f'ccb,cluster=c,hostname=h{i % 3},loglevel={("info", "warn")[i % 2]} '
                        f'log="word{i % 5} n{i}" {1740000000 + i * 10}\n' for i in range(250)))
    store.flush()

    def check(kept):
        per_minute = {}
        for i in kept:
            minute = (1740000000 + i * 10) // 60 * 60
            per_minute[minute] = per_minute.get(minute, 0) + 1
        assert store.count(by=()) == [(len(kept),)]
        assert store.count(by=("loglevel",)) == [
            ("info", sum(i % 2 == 0 for i in kept)), ("warn", sum(i % 2 == 1 for i in kept))]
        assert store.count(by=(), interval="1m") == sorted(per_minute.items())
        assert store.count(hosts="h1", by=()) == [(sum(i % 3 == 1 for i in kept),)]
        assert sorted(int(r.value.split("n")[1]) for r in store.query(
            text="word3", limit=None)) == [i for i in kept if i % 5 == 3]
        assert [r.timestamp for r in store.query(limit=None, order="asc")] == [
            1740000000 + i * 10 for i in kept]
        conn = apsw.Connection(path)
        assert [r[0] for r in conn.execute("select timestamp from c_logs order by timestamp")] == [
            1740000000 + i * 10 for i in kept]
        conn.close()

    # rows 0..149 expire: the first segment is dropped, the second keeps 50 of its 100
    assert store.apply_retention(now=1740000000 + 1500 + 3600) == 150
    check(range(150, 250))
    kinds = store.stats()["backend"]["kinds"]["log"]
    assert kinds["segments"] == 2 and kinds["rows"] == 150  # 50 expired rows still on disk
    assert store.apply_retention(now=1740000000 + 1500 + 3600) == 0
    # a later cutoff in the same segment raises its floor again, then drops it
    assert store.apply_retention(now=1740000000 + 1800 + 3600) == 30
    check(range(180, 250))
    assert store.apply_retention(now=1740000000 + 2000 + 3600) == 20
    check(range(200, 250))
    assert store.stats()["backend"]["kinds"]["log"]["segments"] == 1
    store.close()
    with ccstore.open(path) as again:  # the floor is kept in the file
        assert again.count(by=()) == [(50,)]


def test_checkpoints_run_beside_the_writer(tmp_path):
    path = str(tmp_path / "c.db")
    store = ccstore.open(path, seal_rows=1000)
    assert store.backend._w.execute("PRAGMA wal_autocheckpoint").fetchall() == [(4096,)]
    workers = [store.backend._checkpointer, store.backend._sealer]
    assert all(t.is_alive() for t in workers)
    for b in range(20):
        store.write(lines(["a", "b"], b * 500, 500))
    store.close()
    assert not any(t.is_alive() for t in workers)
    with ccstore.open(path) as again:
        assert again.count(by=()) == [(10_000,)]
    # without background threads the writer checkpoints itself, as SQLite does by default
    with ccstore.open(path, background_seal=False) as plain:
        assert plain.backend._w.execute("PRAGMA wal_autocheckpoint").fetchall() == [(1000,)]


WRITER = textwrap.dedent("""
    import sys, ccstore
    store = ccstore.open(sys.argv[1], seal_rows=500)
    for b in range(int(sys.argv[2])):
        lines = "".join(f'ccb,cluster=c,hostname=h{i % 5} log="batch {b} line {i}" '
                        f'{1740000000 + b * 1000 + i}\\n' for i in range(300))
        res = store.write(lines)
        assert res.written == 300, res
        print(300 * (b + 1), flush=True)
    store.close()
""")

READER = textwrap.dedent("""
    import sys, ccstore
    store = ccstore.open(sys.argv[1])
    for line in sys.stdin:
        want = int(line)
        n = sum(r[-1] for r in store.count("c", by=()))
        recs = store.query("c", hosts="h1", limit=None)
        assert n >= want, (n, want)
        assert len({r.cursor for r in recs}) == len(recs)
        print(n, flush=True)
""")


def test_other_processes_read_while_one_writes(tmp_path):
    path = str(tmp_path / "rw.db")
    ccstore.open(path).close()
    batches = 12
    writer = subprocess.Popen([sys.executable, "-c", WRITER, path, str(batches)],
                              stdout=subprocess.PIPE, text=True)
    readers = [subprocess.Popen([sys.executable, "-c", READER, path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    seen = []
    # each reader is told what the writer has committed, then must see at least that
    for committed in writer.stdout:
        for r in readers:
            r.stdin.write(committed)
            r.stdin.flush()
            seen.append((int(committed), int(r.stdout.readline())))
    assert writer.wait(timeout=120) == 0
    for r in readers:
        r.stdin.close()
        assert r.wait(timeout=60) == 0
    assert len(seen) == 2 * batches
    assert all(n >= want for want, n in seen)
    with ccstore.open(path) as store:
        assert store.count("c", by=()) == [(300 * batches,)]


def test_appended_rows_land_in_their_columns(tmp_path):
    """A write's rows after the first are appended by a statement without a column
    list (short SQL text, which APSW hashes again for every row); each value still
    lands in its column."""
    path = str(tmp_path / "a.db")
    text = "".join(
        f'ccb,cluster=c,hostname=h{i % 2},type=socket,type-id={i},stype=core,stype-id=7,'
        f'loglevel=info,other=x{i} log="m{i}" {1740000000123456789 + i}\n' for i in range(6))
    expected, _, _, _ = group_by_host(
        lineproto.decode_rows(text).groups[("c", "log")],
        ROW_COLUMNS.index("hostname"), ROW_COLUMNS.index("time"))
    with ccstore.open(path) as store:
        seen = []
        store.backend._w.exec_trace = lambda cur, sql, bindings: seen.append(sql) or True
        assert store.write(text).written == 6
        store.backend._w.exec_trace = None
    assert any(sql.startswith('INSERT INTO "ccs_1" VALUES(NULL,') for sql in seen)
    conn = apsw.Connection(path)
    stored = conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM ccs_1 ORDER BY id").fetchall()
    conn.close()
    assert stored == expected


def test_a_full_disk_is_the_error_a_write_raises(tmp_path):
    """SQLite rolls a transaction back itself when the disk is full: the write
    raises that error, not a failed second ROLLBACK, and the store writes again
    once there is room."""
    store = ccstore.open(str(tmp_path / "full.db"), retention=None)
    try:
        store.write(b'ccb,cluster=a,hostname=h log="x" 1740000000\n')
        w = store.backend._w
        w.execute(f"PRAGMA max_page_count={w.execute('PRAGMA page_count').fetchone()[0]}")
        body = b"".join(b'ccb,cluster=a,hostname=h%d log="%s" %d\n'
                        % (i, b"y" * 200, 1740000001 + i) for i in range(20000))
        with pytest.raises(apsw.FullError):
            store.write(body)
        w.execute("PRAGMA max_page_count=1073741823")
        assert store.write(b'ccb,cluster=a,hostname=h log="z" 1740000002\n').ok
        assert sorted(r.value for r in store.query("a", limit=None)) == ["x", "z"]
    finally:
        store.close()
