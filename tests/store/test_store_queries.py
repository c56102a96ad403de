"""Every filter alone and combined, against a brute-force model of the data."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import NS, T0, make_messages, matches, record_key, to_lines

MSGS = make_messages(1500)
#: the store fixture is set up once per test, not per example (examples only read it)
FIXTURES = [HealthCheck.function_scoped_fixture]
SEAL = 97  # small segments: every query crosses sealed and open segments


@pytest.fixture
def loaded(make_store):
    """The messages in small segments, the full ones sealed (with their per-minute
    counts), the last of each cluster and kind still open."""
    store = make_store(seal_rows=SEAL)
    res = store.write(to_lines(MSGS[:-60]))
    store.flush()  # seals every full segment (on PostgreSQL the open ones too)
    res2 = store.write(to_lines(MSGS[-60:]))  # into open segments
    assert res.errors == res2.errors == [] and res.written + res2.written == len(MSGS)
    for kind, seg in store.stats()["backend"]["kinds"].items():
        assert 0 < seg["sealed_segments"] < seg["segments"], (kind, seg)
    return store


def expected(q: dict) -> list:
    order = q.get("order", "desc")
    hits = [m for m in MSGS if matches(m, q)]
    return sorted(hits, key=lambda m: m.time, reverse=(order == "desc"))


def check(store, q: dict) -> None:
    want = expected(q)
    got = store.query(**q, limit=None)
    assert sorted(map(record_key, got)) == sorted(map(record_key, want))
    times = [r.time for r in got]
    assert times == sorted(times, reverse=q.get("order", "desc") == "desc")
    # limited answers are the first records of the full answer
    limited = store.query(**q, limit=7)
    assert [r.cursor for r in limited] == [r.cursor for r in got[:7]]


span = MSGS[-1].time // NS - T0
queries = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["log", "event"]),
    "cluster": st.sampled_from(["alex", "fritz", ["alex", "fritz"], ["fritz", "nope"]]),
    "start": st.integers(T0 - 4000, T0 + span),
    "end": st.integers(T0, T0 + span + 10),
    "hosts": st.sampled_from(["a0001", ["a0002", "m01"], ["zz"]]),
    "names": st.sampled_from(["ccb", ["ccms", "job"], "slurm"]),
    "type_ids": st.sampled_from(["0", ["1"]]),
    "stypes": st.sampled_from(["filesystem"]),
    "stype_ids": st.sampled_from(["/home", ["/home", "/scratch"]]),
    "tags": st.sampled_from([
        {"loglevel": "error"}, {"loglevel": ["warn", "error"]}, {"loglevel": {"not": ["debug"]}},
        {"function": "start_job"}, {"partition": "x y"}, {"partition": {"not": ["main"]}},
        {"partition": ["gpu", "main"], "loglevel": "info"},
        {"hostname": {"not": ["a0001", "m01"]}}, {"stype-id": {"not": ["/home"]}},
        {"type-id": "1", "hostname": {"not": ["a0002"]}},
    ]),
    "text": st.sampled_from(["disk", "nullpointerexception", "timeout"]),
    "order": st.sampled_from(["asc", "desc"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(q=queries)
def test_query_matches_brute_force(loaded, q):
    if q.get("start") is not None and q.get("end") is not None and q["start"] > q["end"]:
        q["start"], q["end"] = q["end"], q["start"]
    check(loaded, q)


def check_count(store, q: dict, interval) -> None:
    kind = q.get("kind", "log")
    level = "loglevel" if kind == "log" else "function"
    step = {None: None, "1m": 60, "10m": 600, "37s": 37, "1h": 3600}[interval]
    want: dict = {}
    for m in MSGS:
        if matches(m, q):
            key = (m.tags.get(level),)
            if step:
                key += ((m.time // NS) // step * step,)
            want[key] = want.get(key, 0) + 1
    got = store.count(**q, interval=interval)
    assert {r[:-1]: r[-1] for r in got} == want, (q, interval)
    assert sum(r[-1] for r in got) == sum(want.values())


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(q=queries, interval=st.sampled_from([None, "1m", "10m", "37s", "1h"]))
def test_count_matches_brute_force(loaded, q, interval):
    q.pop("order", None)
    if q.get("start") is not None and q.get("end") is not None and q["start"] > q["end"]:
        q["start"], q["end"] = q["end"], q["start"]
    check_count(loaded, q, interval)


@pytest.mark.parametrize("interval", [None, "1m", "10m"])
@pytest.mark.parametrize("q", [
    {"hosts": "a0001"}, {"hosts": ["a0002", "m01"], "kind": "event"},
    {"hosts": "a0003", "start": T0 + 600, "end": T0 + 5400},
    {"hosts": "m01", "names": "ccb"}, {"type_ids": "1"}, {"stypes": "filesystem"},
    {"tags": {"partition": "gpu"}}, {"text": "disk"},
    {"start": T0 + 601, "end": T0 + 5399}, {"names": ["ccb", "ccms"]},
    {"tags": {"loglevel": {"not": ["debug"]}}},
])
def test_counts_over_sealed_segments_and_their_minute_counts(loaded, q, interval,
                                                            monkeypatch):
    """Counts whose filters the per-minute counts of sealed segments can answer, and
    counts whose filters they cannot (hosts, types, other tags, text)."""
    used = []
    summaries = getattr(loaded.backend, "_count_summaries", None)
    if summaries is not None:  # PostgreSQL: see that they answer when they can
        monkeypatch.setattr(loaded.backend, "_count_summaries",
                            lambda *a: used.append(1) or summaries(*a))
    check_count(loaded, q, interval)
    if summaries is not None:
        assert bool(used) == (set(q) <= {"names", "start", "end", "tags"}
                              and "partition" not in q.get("tags", {})), used


@pytest.mark.parametrize("key, values", [
    ("hostname", ["a0001"]), ("hostname", ["a0002", "m01"]),
    ("type-id", ["0"]), ("stype", ["filesystem"]), ("stype-id", ["/scratch"]),
    ("name", ["ccb", "job"])])
def test_negated_identity_tag_filters(loaded, key, values):
    """A tag that has a column of its own, negated: rows without the tag match too."""
    for kind in ("log", "event"):
        q = {"kind": kind, "tags": {key: {"not": values}}}
        want = expected(q)
        assert 0 < len(want) < sum(m.kind == kind for m in MSGS), q
        check(loaded, q)
        total = sum(r[-1] for r in loaded.count(**q))
        assert total == len(want), q


def test_count_by_several_keys(loaded):
    got = loaded.count(by=("cluster", "hostname", "partition"), kind="event")
    want: dict = {}
    for m in MSGS:
        if m.kind == "event":
            k = (m.cluster, m.hostname, m.tags.get("partition"))
            want[k] = want.get(k, 0) + 1
    assert {r[:-1]: r[-1] for r in got} == want


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_with_cursor_visits_every_record_once(loaded, order):
    seen = []
    after = None
    while True:
        page = loaded.query("alex", order=order, limit=50, after=after)
        if not page:
            break
        seen.extend(page)
        after = page[-1].cursor
    want = expected({"cluster": "alex", "order": order})
    assert len(seen) == len(want)
    assert len({r.cursor for r in seen}) == len(seen)
    assert sorted(map(record_key, seen)) == sorted(map(record_key, want))
    times = [r.time for r in seen]
    assert times == sorted(times, reverse=order == "desc")


def test_equal_timestamps_never_collide(make_store):
    store = make_store(seal_rows=5)
    lines = "".join(f'ccb,cluster=c,hostname=h log="same second {i}" 1740000000\n'
                    for i in range(23))
    assert store.write(lines).written == 23
    recs = store.query("c", limit=None)
    assert sorted(r.value for r in recs) == sorted(f"same second {i}" for i in range(23))
    assert len({r.cursor for r in recs}) == 23
    page = store.query("c", limit=10)
    rest = store.query("c", limit=None, after=page[-1].cursor)
    assert len(page) + len(rest) == 23


def test_full_text_words_phrases_prefix(make_store):
    store = make_store()
    store.write(
        'ccb,cluster=c,hostname=h log="Exception in thread main '
        'java.lang.NullPointerException at Foo" 1\n'
        'ccb,cluster=c,hostname=h log="disk quota exceeded on /home" 2\n'
        'ccb,cluster=c,hostname=h log="quota check passed" 3\n',
        precision="s")
    assert [r.timestamp for r in store.query(text="NullPointerException")] == [1]
    assert [r.timestamp for r in store.query(text="java.lang.NullPointerException")] == [1]
    assert [r.timestamp for r in store.query(text='"quota exceeded"')] == [2]
    assert [r.timestamp for r in store.query(text="quo*")] == [3, 2]
    assert [r.timestamp for r in store.query(text="quota NOT disk")] == [3]
    assert store.query(text="nothingmatches") == []


def test_time_arguments(store):
    import datetime as dt

    store.write('ccb,cluster=c,hostname=h log="x" 1740000000\n', precision="s")
    aware = dt.datetime.fromtimestamp(1740000000, dt.timezone.utc)
    assert len(store.query(start=aware, end=aware)) == 1
    assert len(store.query(start=1740000000.5)) == 0
    assert len(store.query(end=1739999999.999)) == 0
    with pytest.raises(ValueError, match="timezone"):
        store.query(start=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="start is after end"):
        store.query(start=2, end=1)
    with pytest.raises(ValueError, match="kind"):
        store.query(kind="metric")
    with pytest.raises(ValueError, match="cursor"):
        store.query(after="garbage")
