"""Store.search, hits, facets and group against the brute-force model, on both backends.

The model is :func:`ccstore.query.match` on every stored record (as its output dict),
with the time arguments read by :mod:`ccstore.timesyntax`; the stores hold the same
random records in sealed and open segments.
"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query.querygen import NOW, S, T0, queries, random_records, to_point

import ccstore
from ccstore import lineproto, timesyntax
from ccstore.query import group, match, parse
from ccstore.query.fields import from_result
from ccstore.query.nodes import Job, Time, walk
from ccstore.search import GROUP_SCAN

SOME = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", params=["sqlite", "sqlite-compact", "postgres"])
def loaded(request, tmp_path_factory):
    recs = random_records(500, seed=11)
    if request.param == "postgres":
        target = request.getfixturevalue("postgres_dsn").fresh_database("ccs_search")
        # PostgreSQL's full text does not fold diacritics as FTS5 does: ASCII only there
        recs = [r for r in recs if r["message"].isascii()]
    else:
        target = str(tmp_path_factory.mktemp("search") / "store.db")
    store = ccstore.open(target, seal_rows=64, retention=None,
                         **({"compact": True} if request.param == "sqlite-compact" else {}))
    store._searcher.clock = lambda: NOW
    half = len(recs) // 2
    assert store.write_points(to_point(r) for r in recs[:half]).ok
    store.flush()  # some rows in sealed segments, some in open ones
    assert store.write_points(to_point(r) for r in recs[half:]).ok
    stored = [r.as_dict() for k in ("log", "event") for r in store.query(kind=k, limit=None)]
    assert len(stored) == len(recs)
    yield Loaded((store, stored, request.param))
    store.close()


class Loaded(tuple):
    """(store, stored records, backend name), shown short in failure reports."""

    def __repr__(self) -> str:
        return f"<{self[2]} store of {len(self[1])} records>"


def P(q: str):
    return parse(q, now_ns=NOW)


def order_key(r):
    t, i = r["cursor"].split("_")
    return int(t), int(i)


def model(stored, q, start=None, end=None, order="desc"):
    """The matching records in order, as the model answers."""
    tree = P(q)
    lo = timesyntax.start_ns(start, now_ns=NOW)
    hi = timesyntax.end_ns(end, now_ns=NOW)
    hits = [r for r in stored if match(tree, r) and (lo is None or r["ts_ns"] >= lo)
            and (hi is None or r["ts_ns"] < hi)]
    return sorted(hits, key=order_key, reverse=order == "desc")


def skip_on_postgres(backend, q):
    """PostgreSQL's full text is exact for ASCII only (docs/design/query.md)."""
    return backend == "postgres" and not str(P(q)).isascii()


# every form of time the interfaces accept, around the records' two hours
seconds = st.integers(T0 - 300, T0 + 7500)
instants = st.one_of(
    st.none(),
    seconds,
    seconds.map(lambda s: s * 1000 + 500),  # milliseconds, judged by size
    seconds.map(lambda s: s + 0.5),
    seconds.map(lambda s: timesyntax.format_iso(s * S, digits=0)),
    seconds.map(lambda s: dt.datetime.fromtimestamp(s, dt.timezone.utc)),
    st.integers(1, 130).map(lambda m: f"now-{m}m"),
    st.sampled_from(["2026-12-01", "2026-12-01T10", "2026-12-01T11:30Z", "now"]),
)


def bounds_ok(start, end) -> bool:
    lo = timesyntax.start_ns(start, now_ns=NOW)
    hi = timesyntax.end_ns(end, now_ns=NOW)
    return lo is None or hi is None or lo < hi


@SOME
@given(q=queries, start=instants, end=instants, order=st.sampled_from(["desc", "asc"]))
def test_search_matches_the_model(loaded, q, start, end, order):
    store, stored, backend = loaded
    if skip_on_postgres(backend, q) or not bounds_ok(start, end):
        return
    want = [r["cursor"] for r in model(stored, q, start, end, order)]
    got = store.search(q, start=start, end=end, limit=None, order=order)
    assert [r.cursor for r in got] == want
    assert [r.as_dict() for r in got[:3]] == [from_result(r) for r in got[:3]]
    # a limited answer is the beginning of the whole answer
    assert [r.cursor for r in store.search(q, start=start, end=end, limit=5, order=order)] \
        == want[:5]


@FEW
@given(q=queries, order=st.sampled_from(["desc", "asc"]))
def test_paging_visits_every_match_once(loaded, q, order):
    store, stored, backend = loaded
    if skip_on_postgres(backend, q):
        return
    seen, after = [], None
    while True:
        page = store.search(q, limit=17, order=order, after=after)
        seen += [r.cursor for r in page]
        if len(page) < 17:
            break
        after = page[-1].cursor
    assert seen == [r["cursor"] for r in model(stored, q, order=order)]


def test_search_defaults_and_residual_paging(loaded):
    store, stored, backend = loaded
    # a regular expression is checked after the backend: pages are read until enough pass
    q = '~"[0-9]+"'
    want = [r["cursor"] for r in model(stored, q)]
    assert len(want) > 20
    assert [r.cursor for r in store.search(q, limit=20)] == want[:20]
    assert [r.cursor for r in store.search()] == [r["cursor"] for r in model(stored, "")][:1000]
    assert store.search("kind:log -kind:log") == []
    assert store.search("*", limit=0) == []


FIELD_VALUES = ("level", "host", "name", "kind", "cluster", "type_id", "partition", "function")


def value_of(r, field):
    if field is None:
        return "*"
    if field in r and field != "tags":
        return r[field]
    return r["tags"].get(field)


@FEW
@given(q=queries, start=seconds, length=st.integers(1, 9000),
       by=st.sampled_from(FIELD_VALUES + (None,)),
       interval=st.sampled_from([None, "1m", "10m", "37s", "1h", 300]),
       buckets=st.integers(1, 80))
def test_hits_match_the_model(loaded, q, start, length, by, interval, buckets):
    store, stored, backend = loaded
    if skip_on_postgres(backend, q):
        return
    end = start + length
    h = store.hits(q, start=start, end=end, interval=interval, by=by, buckets=buckets)
    step = h.interval_s * S
    if interval is None:
        assert len(h.buckets) <= buckets
    else:
        assert step == timesyntax.duration_ns(interval)
    assert [b for b, _ in h.buckets] == list(range(h.start, h.end, h.interval_s))
    keys = {frozenset(c) for _, c in h.buckets}
    assert len(keys) <= 1  # every bucket has every value, zero where it has none
    want: dict = {}
    for r in model(stored, q, start, end):
        b = (r["ts_ns"] - r["ts_ns"] % step) // S
        k = (b, value_of(r, by))
        want[k] = want.get(k, 0) + 1
    got = {(b, v): n for b, c in h.buckets for v, n in c.items() if n}
    assert got == want
    tree = P(q)
    if not any(isinstance(n, (Time, Job)) for n in walk(tree)) and h.buckets:
        assert h.start * S <= start * S and h.end * S >= (end + 1) * S
    d = h.as_dict()
    assert d["total"] == sum(want.values()) and len(d["buckets"]) == len(h.buckets)


def test_hits_without_a_range_span_the_matches(loaded):
    store, stored, backend = loaded
    h = store.hits("kind:event", by="host", buckets=10)
    times = [r["ts_ns"] for r in model(stored, "kind:event")]
    assert h.start * S <= min(times) and h.end * S > max(times) and len(h.buckets) <= 10
    assert h.total == len(times)
    empty = store.hits("host:nowhere")
    assert empty.buckets == [] and empty.total == 0
    with pytest.raises(ValueError, match="cannot count by"):
        store.hits(by="message")
    with pytest.raises(ValueError, match="whole number of seconds"):
        store.hits(interval="1500ms")
    with pytest.raises(ValueError, match="buckets"):
        store.hits(start=T0, end=T0 + 86400 * 365, interval="1s")


@FEW
@given(q=queries, start=st.one_of(st.none(), seconds),
       fields=st.lists(st.sampled_from(FIELD_VALUES + ("stype_id", "hostname")), min_size=1,
                       max_size=4, unique=True),
       limit=st.sampled_from([1, 3, 10]))
def test_facets_match_the_model(loaded, q, start, fields, limit):
    store, stored, backend = loaded
    if skip_on_postgres(backend, q):
        return
    got = store.facets(q, start=start, fields=fields, limit=limit)
    matching = model(stored, q, start)
    assert list(got) == fields
    for f in fields:
        tally: dict = {}
        for r in matching:
            v = value_of(r, "host" if f == "hostname" else f)
            if v is not None:
                tally[v] = tally.get(v, 0) + 1
        want = sorted(tally.items(), key=lambda x: (-x[1], x[0]))[:limit]
        assert got[f] == want, f


def test_default_facets(loaded):
    store, stored, backend = loaded
    got = store.facets("level:>=warn")
    assert list(got)[:6] == ["host", "level", "name", "type", "kind", "cluster"]
    assert "partition" in got or "function" in got  # the most common tag keys follow
    matching = model(stored, "level:>=warn")
    for f, values in got.items():
        for v, n in values:
            assert n == sum(1 for r in matching if value_of(r, f) == v)


@FEW
@given(q=queries, start=st.one_of(st.none(), seconds), limit=st.sampled_from([0, 2, 100]))
def test_group_matches_the_model(loaded, q, start, limit):
    store, stored, backend = loaded
    if skip_on_postgres(backend, q):
        return
    want = group(model(stored, q, start)[:GROUP_SCAN])[:limit]
    got = store.group(q, start=start, limit=limit)
    assert got == want
    for g in got:
        d = g.as_dict()
        assert d["first_ns"] == g.first and d["hosts"] == g.hosts and d["sample"]


# ---------------------------------------------------------------------- times
def test_end_in_whole_seconds_takes_in_that_second(make_store):
    store = make_store()
    store.write("ccb,cluster=c,hostname=h log=\"half\" 1740028021500000000\n"
                "ccb,cluster=c,hostname=h log=\"next\" 1740028022000000000\n")
    for end in (1740028021, "1740028021", "2025-02-20T05:07:01Z", "2025-02-20T06:07:01+01:00",
                "2025-02-20T05:07:01", 1740028021999):  # the last one in ms
        assert [r.value for r in store.search(end=end)] == ["half"], end
        assert [r.value for r in store.query(end=end)] == ["half"], end
        assert store.count(end=end, by=()) == [(1,)], end
        assert store.hits(end=end, by=None).total == 1
        assert sum(n for _, n in store.facets(end=end, fields=["kind"])["kind"]) == 1
        assert [g.count for g in store.group(end=end)] == [1]
    assert store.search(end=1740028020) == []
    assert [r.value for r in store.search(end="2025-02-20T05:07")] == ["next", "half"]
    assert [r.value for r in store.search(start=1740028021.6)] == ["next"]
    assert len(store.search(start="2025-02-20", end="2025-02-20")) == 2  # the whole day
    with pytest.raises(ValueError, match="start is after end"):
        store.search(start=1740028022, end=1740028021)
    with pytest.raises(ValueError, match="start: invalid time"):
        store.search(start="yesterday")
    with pytest.raises(ValueError, match="end: invalid time"):
        store.query(end="1h")


def test_relative_times_and_retention_take_strings(make_store):
    store = make_store(retention="1h")
    store._searcher.clock = lambda: NOW
    lines = "".join(f'ccb,cluster=c,hostname=h,loglevel=info log="m{i}" {(T0 + i * 600) * S}\n'
                    for i in range(13))
    lines += "".join(f'job,cluster=c,hostname=h,function=start_job event="e{i}" '
                     f'{(T0 + i * 600) * S}\n' for i in range(13))
    assert store.write(lines).written == 26
    assert [r.value for r in store.search("kind:log", start="-25m")] == ["m12", "m11", "m10"]
    assert [r.value for r in store.search("kind:log _time:25m")] == ["m12", "m11", "m10"]
    assert [r.value for r in store.query(start="now-25m", end="now")] == ["m12", "m11", "m10"]
    assert store.count(start="now-25m", by=()) == [(3,)]
    assert store.apply_retention(now="2026-12-01T11:00:30Z") == 1  # events before 10:00:30
    assert store.apply_retention(now="now") == 5  # before 11:00
    assert [r.value for r in store.search("kind:event")] == [f"e{i}" for i in range(12, 5, -1)]


def test_count_by_kind_and_level_names(store):
    store.write('ccb,cluster=c,hostname=h,loglevel=warn log="a" 1740000000\n'
                'job,cluster=c,hostname=h,function=start_job,loglevel=warn event="b" '
                '1740000001\n')
    assert store.count(by=("kind", "level")) == [("log", "warn", 1)]
    assert store.count(kind="event", by=("kind", "level", "function")) == [
        ("event", "warn", "start_job", 1)]


# ---------------------------------------------------------------------- errors
def test_strict_errors(loaded):
    store, stored, backend = loaded
    with pytest.raises(ccstore.query.QuerySyntaxError) as err:
        store.search('"disk full')
    assert err.value.column == 1 and isinstance(err.value, ValueError)
    for broken in ('"..."', "disk AND", "(disk", "_hots:a0001", '~"[x"'):
        with pytest.raises(ValueError):
            store.search(broken)
        with pytest.raises(ValueError):
            store.hits(broken)
    with pytest.raises(ValueError, match="invalid full-text query"):
        store.query(text='"disk')
    with pytest.raises(ValueError, match="unknown cluster 'nope'"):
        store.search("cluster:nope")
    with pytest.raises(ValueError, match="unknown cluster 'nope'"):
        store.facets("cluster:alex OR cluster:nope")
    with pytest.raises(ValueError, match="unknown cluster 'nope'"):
        store.job("4711", cluster="nope")
    with pytest.raises(ValueError, match="order"):
        store.search(order="up")
    with pytest.raises(ValueError, match="limit"):
        store.search(limit=-1)
    with pytest.raises(ValueError, match="cursor"):
        store.search(after="x")
    with pytest.raises(TypeError):
        store.search(host="a0001")


# ---------------------------------------------------------------------- jobs
def job_event(function, payload, ts, spelling, cluster="alex"):
    import json

    if spelling == "function":
        name, tags = "job", {"function": function}
    else:
        name, tags = function, {}
    return lineproto.Point(name, {"cluster": cluster, "hostname": "mngmt", **tags},
                           {"event": json.dumps(payload)}, ts * S)


def job(job_id, hosts, start, **more):
    return {"jobId": job_id, "cluster": "alex", "startTime": start,
            "resources": [{"hostname": h} for h in hosts], **more}


@pytest.mark.parametrize("spelling", ["function", "measurement"])
def test_jobs_from_both_spellings(make_store, spelling):
    store = make_store(seal_rows=8)
    store._searcher.clock = lambda: NOW
    points = [
        job_event("start_job", job(4711, ["a0001", "a0002"], T0), T0, spelling),
        job_event("stop_job", job(4711, ["a0001", "a0002"], T0, duration=600), T0 + 600,
                  spelling),
        job_event("start_job", job(4712, ["a0003"], T0 + 100), T0 + 100, spelling),
        job_event("start_job", job(47, ["m01"], T0 + 50), T0 + 50, spelling),
    ]
    for i in range(40):  # logs on the nodes, before, during and after the jobs
        t = T0 - 200 + i * 30
        for h in ("a0001", "a0002", "a0003", "m01"):
            points.append(lineproto.Point("ccb", {"cluster": "alex", "hostname": h,
                                                  "loglevel": "warn"},
                                          {"log": f"{h} at {t}"}, t * S))
    assert store.write_points(points).ok
    done = store.job(4711)
    assert (done.cluster, done.hosts, done.running) == ("alex", ("a0001", "a0002"), False)
    assert (done.start_ns, done.end_ns) == (T0 * S, (T0 + 601) * S)
    assert done.as_dict()["hosts"] == "a[0001-0002]"
    running = store.job("4712", cluster="alex")
    assert running.running and running.end_ns == NOW + 1 and running.hosts == ("a0003",)
    assert store.job(47).hosts == ("m01",)  # 47 is a word of its own, not part of 4711
    got = store.search("job:4711", limit=None, order="asc")
    want = [f"{h} at {t}" for t in range(T0 - 200, T0 + 1000, 30) if T0 <= t < T0 + 601
            for h in ("a0001", "a0002")]
    assert [r.value for r in got] == want
    assert {r.value for r in store.search("job:alex/4712 level:warn", limit=None)} == {
        f"a0003 at {t}" for t in range(T0 - 200, T0 + 1000, 30) if t >= T0 + 100}
    with pytest.raises(ccstore.query.JobNotFound, match="job 9999"):
        store.job(9999)
    with pytest.raises(ValueError, match="job 9999"):
        store.search("job:9999 OR host:a0001")
    with pytest.raises(ValueError, match="unknown cluster 'fritz'"):
        store.search("job:fritz/4711")


# ---------------------------------------------------------------------- facets of segments
@pytest.mark.parametrize("column_values", [None, 2])
def test_facets_of_whole_and_cut_segments(make_store, backend_name, monkeypatch, column_values):
    """Facets from the counts kept per sealed segment, from rows where a range cuts a
    segment or a segment is open, and from rows for a tag with too many values; on
    SQLite also with columns of too many values (the hosts counted through the host
    index, the levels from rows)."""
    if column_values is not None and not backend_name.startswith("sqlite"):
        pytest.skip("a SQLite store's limit")
    if backend_name.startswith("sqlite"):
        from ccstore.backends.sqlite import seal

        if column_values is not None:
            monkeypatch.setattr(seal, "FACET_COLUMN_VALUES", column_values)
        monkeypatch.setattr(seal, "FACET_TAG_VALUES", 10)
        monkeypatch.setattr(seal, "_TAG_SETS", 20)  # tag sets counted by SQLite too
    store = make_store(seal_rows=50, retention=None)
    lines = []
    for i in range(400):
        kind = "log" if i % 3 else "event"
        tags = f",loglevel={['info', 'warn', 'error'][i % 3]}" if i % 5 else ""
        tags += f",req=r{i}" if i % 2 else ",partition=gpu"
        tags += ",early=yes" if i < 100 else ""  # a tag later segments do not carry
        lines.append(f"{'ccb' if kind == 'log' else 'job'},cluster={['alex', 'fritz'][i % 2]},"
                     f"hostname=n{i % 7},type=node{tags} {kind}=\"m{i}\" {(T0 + i) * S}")
    assert store.write("\n".join(lines[:300])).written == 300
    store.flush()
    assert store.write("\n".join(lines[300:])).written == 100
    stored = [r.as_dict() for k in ("log", "event") for r in store.query(kind=k, limit=None)]
    fields = ["host", "level", "name", "kind", "cluster", "type", "partition", "early", "req"]
    for start, end in ((None, None), (T0 + 17, None), (T0 + 50, T0 + 249), (None, T0 + 333),
                       (None, T0 + 240)):
        got = store.facets(start=start, end=end, fields=fields, limit=1000)
        # without the tag of too many values, its segments answer from their counts too
        got.update(store.facets(start=start, end=end, fields=fields[:-1], limit=1000))
        for f in fields:
            tally: dict = {}
            for r in model(stored, "", start, end):
                v = value_of(r, f)
                if v is not None:
                    tally[v] = tally.get(v, 0) + 1
            assert got[f] == sorted(tally.items(), key=lambda x: (-x[1], x[0])), (start, f)
        for q in ("early:yes", "-early:yes", "early:yes OR partition:gpu"):
            assert [r.cursor for r in store.search(q, start=start, end=end, limit=None)] == \
                [r["cursor"] for r in model(stored, q, start, end)]
        for by in ("early", "level"):
            h = store.hits(start=start or T0, end=end or T0 + 400, by=by, interval="1m")
            want: dict = {}
            for r in model(stored, "", start, end):
                k = ((r["ts_ns"] - r["ts_ns"] % (60 * S)) // S, value_of(r, by))
                want[k] = want.get(k, 0) + 1
            assert {(b, v): n for b, c in h.buckets for v, n in c.items() if n} == want
