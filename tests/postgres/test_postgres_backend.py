"""PostgreSQL backend: layout, Go tables, retention, hostile names, COPY, retries."""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402
from ccstore.backends.base import FULL  # noqa: E402
from ccstore.backends.postgres import fts_to_sql  # noqa: E402
from ccstore.backends.pgcopy import DAY_NS  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))

DAY = 86400


def lines(cluster: str, n: int, t0: int, step: int = 1, kind: str = "log") -> str:
    out = []
    for i in range(n):
        if kind == "log":
            out.append(f'ccb,cluster={cluster},hostname=h{i % 3},type=node,type-id=0,'
                       f'loglevel={("info", "warn", "error")[i % 3]} log="m{i} word{i % 7}" '
                       f'{t0 + i * step}')
        else:
            out.append(f'job,cluster={cluster},hostname=h{i % 3},function=start_job '
                       f'event="e{i}" {t0 + i * step}')
    return "\n".join(out) + "\n"


def rels(url: str, pattern: str = "%") -> dict:
    with psycopg.connect(url) as conn:
        return dict(conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relname LIKE %s", (pattern,)).fetchall())


@pytest.mark.parametrize("text,expected", [
    ("NullPointerException", [1]),
    ('"java.lang.NullPointerException"', [1]),
    ('"quota exceeded"', [2]),
    ("quo*", [3, 2]),
    ("quota NOT disk", [3]),
    ("quota OR thread", [3, 2, 1]),
    ("(disk OR passed) AND quota", [3, 2]),
    ("job", [4]),
    ("jobid*", [5]),
    ("quota exceeded", [2]),
    ("snake", [6]),
    ("snake_case", [6]),
])
def test_full_text_like_fts5(pg_url, tmp_path, text, expected):
    data = ('ccb,cluster=c,hostname=h log="Exception in thread main '
            'java.lang.NullPointerException at Foo" 1\n'
            'ccb,cluster=c,hostname=h log="disk quota exceeded on /home" 2\n'
            'ccb,cluster=c,hostname=h log="quota check passed" 3\n'
            'ccb,cluster=c,hostname=h log="the job ended" 4\n'
            'ccb,cluster=c,hostname=h log="jobId: 12" 5\n'
            'ccb,cluster=c,hostname=h log="snake_case name" 6\n')
    with ccstore.open(pg_url, seal_rows=3) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        pg.write(data, precision="s")
        sq.write(data, precision="s")
        pg.backend.seal()
        want = [r.timestamp for r in sq.query(text=text)]
        assert want == expected
        assert [r.timestamp for r in pg.query(text=text)] == expected


def test_full_text_rejects_what_it_cannot_translate():
    for bad in ('"open', "a AND", "NEAR(a b)", "^start", "(a", "x:y"):
        with pytest.raises(ValueError):
            fts_to_sql(bad)


def test_layout_partitions_and_retention(pg_url):
    t0 = 1_740_009_600  # midnight UTC
    with ccstore.open(pg_url, seal_rows=50, retention="24h") as st:
        for day in range(3):
            st.write(lines("alex", 120, t0 + day * DAY, step=600, kind="event"), precision="s")
        st.write(lines("alex", 10, t0, step=60), precision="s")
        st.backend.flush()
        r = rels(pg_url)
        assert r["alex_events"] == "p" and r["alex_logs"] == "p"
        with psycopg.connect(pg_url) as conn:
            days = conn.execute(
                "SELECT c.relname, c.relkind FROM pg_inherits i JOIN pg_class c "
                "ON c.oid = i.inhrelid WHERE i.inhparent = 'alex_events'::regclass "
                "ORDER BY 1").fetchall()
            assert len(days) == 3 and {k for _, k in days} == {"p"}
            idx = {r[0] for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'ccs_s%'")}
            assert any("(hostname, \"time\", id)" in d for d in idx)
            assert any("gin_trgm_ops" in d for d in idx)
            # the Go program's view of the table still works
            n = conn.execute("SELECT count(*) FROM alex_events WHERE timestamp >= %s",
                             (t0,)).fetchone()[0]
            assert n == 360
        assert st.count("alex", "event", by="name") == [("job", 360)]
        # cutoff at a day boundary drops the first day's partition whole
        removed = st.backend.expire("event", (t0 + DAY) * 10**9)
        assert removed == 120
        assert days[0][0] not in rels(pg_url)
        assert st.backend.stats()["partitions_dropped"] == 1
        # a cutoff inside a day: whole segments dropped, the straddling one trimmed
        cut = t0 + DAY + 30_000
        removed = st.backend.expire("event", cut * 10**9)
        assert removed == sum(1 for i in range(120) if t0 + DAY + i * 600 < cut)
        left = st.query("alex", "event", limit=None)
        assert len(left) == 240 - removed and min(r.timestamp for r in left) >= cut
        assert st.count("alex", "event") == [("start_job", len(left))]
        # logs untouched
        assert len(st.query("alex", "log", limit=None)) == 10


def test_go_made_plain_tables_keep_working(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table IF NOT EXISTS alex_events (id integer primary key, "
                     "timestamp bigint, name text, hostname text, type text, typeid text, "
                     "stype text, stypeid text, othertags JSON, field text)")
        for i in range(1, 6):
            conn.execute("INSERT INTO alex_events VALUES (%s, %s, 'job', 'm1', 'node', '0', "
                         "NULL, NULL, %s, %s)",
                         (i, 1_740_000_000 + i, json.dumps({"function": "start_job"}),
                          f'{{"jobId": {i}}}'))
    with ccstore.open(pg_url, retention="1h") as st:
        got = st.query("alex", "event", limit=None, order="asc")
        assert [r.timestamp for r in got] == [1_740_000_001 + i for i in range(5)]
        assert got[0].tags == {"function": "start_job"} and got[0].hostname == "m1"
        assert st.count("alex", "event") == [("start_job", 5)]
        st.write(lines("alex", 4, 1_740_000_100, kind="event"), precision="s")
        got = st.query("alex", "event", limit=None)
        assert len(got) == 9 and len({r.id for r in got}) == 9
        assert st.query("alex", "event", hosts="h1", start=1_740_000_000)[0].value == "e1"
        # retention deletes rows in the plain table
        assert st.apply_retention(now=1_740_000_003 + 3600) == 2
        assert len(st.query("alex", "event", limit=None)) == 7
    r = rels(pg_url, "alex%")
    assert {k: v for k, v in r.items() if v != "i"} == {"alex_events": "r"}
    with psycopg.connect(pg_url) as conn:
        idx = [r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'alex_events'")]
        assert any("(hostname, \"time\", id)" in d for d in idx)
        assert any("(\"time\", id)" in d for d in idx)
    with ccstore.open(pg_url) as st:  # reopening does not migrate twice
        assert len(st.query("alex", "event", limit=None)) == 7
        # the Go program's own insert (no id, time or level) still works and is found
        with psycopg.connect(pg_url) as conn:
            conn.execute("INSERT INTO alex_events (timestamp, name, hostname, othertags, field) "
                         "VALUES (1740000500, 'job', 'go', '{\"function\":\"stop_job\"}', "
                         "'from go')")
        (rec,) = st.query("alex", "event", hosts="go", start=1_740_000_000)
        assert rec.value == "from go" and rec.time == 1_740_000_500 * 10**9
        assert ("stop_job", 1) in st.count("alex", "event")


def test_hostile_and_long_cluster_names(pg_url):
    long_a = "c" * 70 + "a"
    long_b = "c" * 70 + "b"
    names = ["x; DROP TABLE y", 'quo"te', "Δelta", long_a, long_b, "ccs_t1"]
    with ccstore.open(pg_url) as st:
        for i, name in enumerate(names):
            st.write(f'ccb,hostname=h log="v{i}" {i + 1}\n', cluster=name, precision="s")
        for i, name in enumerate(names):
            assert [r.value for r in st.query(name)] == [f"v{i}"]
        assert sorted(st.clusters()) == sorted(names)
        with pytest.raises((ValueError, psycopg.DataError)):
            st.write('ccb,hostname=h log="v" 1\n', cluster="nul\x00name", precision="s")
    with psycopg.connect(pg_url) as conn:
        tables = dict(conn.execute("SELECT cluster, tbl FROM ccstore_tables "
                                   "WHERE kind = 'log'").fetchall())
    assert tables["x; DROP TABLE y"] == "x; DROP TABLE y_logs"
    assert tables[long_a] != tables[long_b]
    assert "y" not in rels(pg_url)


def test_copy_round_trips_every_character(pg_url, tmp_path):
    weird = 'tab\there \\N back\\\\slash \\"quote\\" newline\\n ünïcödé 😀 \r end'
    line = f'ccb,cluster=c,hostname=h\\ 1,stype=fs,stype-id=/homes,zz=\\,x log="{weird}" 5\n'
    with ccstore.open(pg_url) as st:
        st.write(line, precision="s")
    with ccstore.open(pg_url) as st, ccstore.open(str(tmp_path / "s.db")) as sq:
        sq.write(line, precision="s")
        (want,) = sq.query("c")
        (got,) = st.query("c")
        assert got.value == want.value and got.tags == want.tags
        assert (got.hostname, got.stype, got.stype_id, got.type) == \
            (want.hostname, want.stype, want.stype_id, None)


@pytest.mark.parametrize("impl", ["python", "cython"])
def test_copy_binary_loads_into_postgresql(pg_url, impl):
    """What both implementations of copy_binary make is what PostgreSQL reads back:
    int8 and text columns, NULLs, the int64 limits, non-ASCII text, json as text."""
    from ccstore.backends.pgcopy import get_implementation

    rows = [(-(1 << 63), None, "ünï 😀", '{"a":"b"}'), ((1 << 63) - 1, 0, "", None),
            (None, 3, None, "{}")]
    data = get_implementation(impl).copy_binary(rows, 10, 2)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t(id int8, a int8, b int8, c text, d json)")
        with conn.cursor() as cur, cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(data)
        got = conn.execute("SELECT id, a, b, c, d::text FROM t ORDER BY id").fetchall()
    assert got == [(10 + i, *r) for i, r in enumerate(rows)]


def test_same_answers_as_sqlite(pg_url, tmp_path):
    from workload import generate

    data = generate(6000, seed=3)
    # small segments: a query of 3,000 records reads more segments than one
    # PostgreSQL statement takes (FIRST_UNION), so it needs several
    with ccstore.open(pg_url, seal_rows=250) as pg, \
            ccstore.open(str(tmp_path / "s.db"), seal_rows=250) as sq:
        pos = 0
        while pos < len(data):
            end = data.find(b"\n", pos + 150_000)
            end = len(data) if end < 0 else end + 1
            pg.write(data[pos:end])
            sq.write(data[pos:end])
            pos = end
        pg.backend.seal()
        t0 = 1_740_024_000
        def key(r):
            return r.time, r.name, r.hostname, r.value

        queries = [
            dict(), dict(hosts="a0007"), dict(start=t0 + 1, end=t0 + 3),
            dict(text="NullPointerException", limit=100), dict(text="jobId", limit=7),
            dict(tags={"loglevel": ["warn", "error"]}, limit=50),
            dict(names="ccb", order="asc", limit=30), dict(text='"C:" scratch*', limit=20),
            dict(limit=3000), dict(order="asc", limit=2500), dict(limit=None),
        ]
        for q in queries:
            a = [key(r) for r in pg.query("alex", **q)]
            b = [key(r) for r in sq.query("alex", **q)]
            assert a == b, q
        counts = [dict(), dict(by="name"), dict(by=["name", "loglevel"], interval="1s"),
                  dict(start=t0 + 0.5, end=t0 + 4.2, interval=60), dict(text="exception"),
                  dict(by="hostname", hosts=["a0001", "a0002"])]
        for c in counts:
            assert pg.count("alex", **c) == sq.count("alex", **c), c
        assert pg.count("alex", "event", by="function") == sq.count("alex", "event",
                                                                    by="function")
        # paging with cursors visits every record once
        seen, after = [], None
        while True:
            page = pg.query("alex", limit=700, after=after)
            if not page:
                break
            seen += page
            after = page[-1].cursor
        assert len(seen) == len({r.id for r in seen}) == len(sq.query("alex", limit=None))


def test_two_writers_share_a_table(pg_url):
    stores = [ccstore.open(pg_url, seal_rows=300) for _ in range(2)]
    try:
        def run(k):
            for b in range(10):
                stores[k].write(lines("alex", 100, 1_000_000 + k * 100_000 + b * 1000),
                                precision="s")
        ts = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        recs = stores[0].query("alex", limit=None)
        assert len(recs) == 2000 and len({r.id for r in recs}) == 2000
    finally:
        for s in stores:
            s.close()


def test_write_retried_after_commit_outcome_unknown(pg_url, monkeypatch):
    """The connection breaks right after COMMIT: the retry finds the write id."""
    with ccstore.open(pg_url) as st:
        be = st.backend
        real = be._write_once
        calls = []

        def flaky(w, conn, wid, groups, state):
            result = real(w, conn, wid, groups, state)
            calls.append(wid)
            if len(calls) == 1:
                conn.close()
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return result

        monkeypatch.setattr(be, "_write_once", flaky)
        st.write(lines("alex", 5, 100), precision="s", state={"pos": "5"})
        assert len(calls) == 1  # not written again
        assert len(st.query("alex", limit=None)) == 5
        assert st.get_state("pos") == "5"
        stats = be.stats()
        assert stats["retried_writes_already_committed"] == 1 and stats["outages"] == 1


def test_connection_loss_mid_stream(pg_url):
    """Every ccstore connection is terminated again and again while writing."""
    with ccstore.open(pg_url, seal_rows=3000) as st:
        stop = threading.Event()
        killed = []

        def killer():
            with psycopg.connect(pg_url, autocommit=True) as admin:
                while not stop.is_set():
                    killed.append(admin.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'ccstore' AND datname = current_database() "
                        "AND pid <> pg_backend_pid()").fetchone()[0])
                    time.sleep(0.15)

        th = threading.Thread(target=killer)
        th.start()
        try:
            for b in range(60):
                st.write(lines("alex", 300, b * 1000), precision="s")
        finally:
            stop.set()
            th.join()
        recs = st.query("alex", limit=None)
        assert len(recs) == 18000 and len({r.time for r in recs}) == 18000
        stats = st.stats()["backend"]
        assert sum(killed) > 0 and stats["outages"] >= 1 and stats["write_retries"] >= 1
        assert stats["connected"] and not stats["in_outage"]


def test_counts_from_minute_summaries_match_sqlite(pg_url, tmp_path):
    data = lines("alex", 400, 1_740_000_000, step=7) + lines("alex", 100, 1_740_000_003,
                                                            step=29, kind="event")
    with ccstore.open(pg_url, seal_rows=60) as pg, ccstore.open(str(tmp_path / "s.db")) as sq:
        rows = data.splitlines(keepends=True)
        for i in range(0, len(rows), 50):
            pg.write("".join(rows[i:i + 50]), precision="s")
        sq.write(data, precision="s")
        pg.backend.flush()
        assert pg.backend.stats()["kinds"]["log"]["sealed_segments"] >= 4
        t0 = 1_740_000_000
        for kind in ("log", "event"):
            for c in [dict(), dict(start=t0 + 61.5, end=t0 + 1799.2),
                      dict(start=t0 + 120, end=t0 + 1199, interval=60),
                      dict(start=t0 + 7, end=t0 + 2000, interval="2m", by=["name", "cluster"]),
                      dict(end=t0 + 900, interval="1h"), dict(start=t0 + 30, names="ccb"),
                      dict(start=t0 + 100, end=t0 + 170), dict(tags={"loglevel": "warn"},
                                                               start=t0 + 95)]:
                assert pg.count("alex", kind, **c) == sq.count("alex", kind, **c), (kind, c)


def test_write_moves_on_when_its_open_segment_was_taken(pg_url):
    """A segment this writer holds open is marked full elsewhere (another process's
    flush, the stale-segment rule): the write goes to new segments, once, and the
    other segment of the same write keeps a gapless id range."""
    with ccstore.open(pg_url, background_seal=False) as st:
        st.write(lines("alex", 30, 1_740_000_000) + lines("alex", 10, 1_740_000_000,
                                                          kind="event"), precision="s")
        be = st.backend
        log_seg, = [v.seg for k, v in be._writers[0].open.items() if k[1] == "log"]
        ev_seg, = [v.seg for k, v in be._writers[0].open.items() if k[1] == "event"]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("UPDATE ccstore_segments SET state = %s WHERE id = %s",
                          (FULL, log_seg))
        st.write(lines("alex", 30, 1_740_000_100) + lines("alex", 10, 1_740_000_100,
                                                          kind="event"), precision="s")
        day = 1_740_000_000 * 10**9 // DAY_NS
        assert be._writers[0].open[("alex", "log", day)].seg != log_seg
        assert len(st.query("alex", limit=None)) == 60
        assert len(st.query("alex", "event", limit=None)) == 20
        with psycopg.connect(pg_url) as conn:
            rows, next_n, nids, lo, hi = conn.execute(
                "SELECT s.rows, s.next_n, count(e.id), min(e.id) - (s.id << 32), "
                "max(e.id) - (s.id << 32) FROM ccstore_segments s JOIN alex_events e "
                "ON e.id >> 32 = s.id WHERE s.id = %s GROUP BY s.id", (ev_seg,)).fetchone()
            assert (rows, next_n, nids, lo, hi) == (20, 20, 20, 1, 20)
            writes = conn.execute("SELECT count(*) FROM ccstore_writes").fetchone()[0]
            assert writes == 2
