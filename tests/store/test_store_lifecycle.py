"""Writing rules, retention, reopening, hostile names, streaming ingest."""
from __future__ import annotations

import io
import json
import threading

import pytest

import ccstore
from oracle import NS, T0, make_messages, record_key, to_lines


def lp(n: int, *, start: int = T0, step: int = 1, cluster: str = "c", kind: str = "log",
       host: str = "h") -> str:
    field = "log" if kind == "log" else "event"
    name = "ccb" if kind == "log" else "job"
    return "".join(f'{name},cluster={cluster},hostname={host} {field}="m{i}" {start + i * step}\n'
                   for i in range(n))


def test_cluster_rules_and_dropped_kinds(store):
    res = store.write(
        b'job,cluster=alex,hostname=m event="tagged" 1740000000\n'
        b'job,hostname=m event="from argument" 1740000001\n'
        b'cpu,hostname=m value=1.5 1740000002\n'
        b'rapl,hostname=m control="40" 1740000003\n'
        b'job,hostname=m,broken event= 1740000004\n'
        b'weird,hostname=m other="x" 1740000005\n',
        cluster="fritz")
    assert res.written == 2
    assert res.dropped == {"metric": 1, "control": 1}
    assert [e.lineno for e in res.errors] == [5, 6]
    assert all(e.column >= 1 and e.message for e in res.errors)
    assert [r.value for r in store.query("alex", kind="event")] == ["tagged"]
    assert [r.value for r in store.query("fritz", kind="event")] == ["from argument"]
    nocluster = store.write(b'job,hostname=m event="lost?" 1740000000\n')
    assert nocluster.written == 0
    assert len(nocluster.errors) == 1 and "cluster" in nocluster.errors[0].message
    assert sorted(store.clusters()) == ["alex", "fritz"]


def test_records_carry_every_part(store):
    store.write('ccb,cluster=alex,hostname=n1,type=socket,type-id=1,stype=filesystem,'
                'stype-id=/home,loglevel=warn,extra=x\\ y log="quota \\"hit\\"" 1740027951\n')
    (r,) = store.query("alex")
    assert (r.cluster, r.kind, r.name, r.hostname, r.type, r.type_id, r.stype, r.stype_id) == (
        "alex", "log", "ccb", "n1", "socket", "1", "filesystem", "/home")
    assert r.tags == {"loglevel": "warn", "extra": "x y"}
    assert r.value == 'quota "hit"'
    assert r.timestamp == 1740027951 and r.time == 1740027951 * NS
    d = r.as_dict()
    assert d == {"time": "2025-02-20T05:05:51.000000000Z", "ts_ns": 1740027951 * NS,
                 "cluster": "alex", "kind": "log", "host": "n1", "type": "socket",
                 "type_id": "1", "stype": "filesystem", "stype_id": "/home", "name": "ccb",
                 "level": "warn", "message": 'quota "hit"',
                 "tags": {"loglevel": "warn", "extra": "x y"}, "cursor": r.cursor}
    assert r.level == "warn"
    p = r.to_point()
    assert p.tags["cluster"] == "alex" and p.tags["stype-id"] == "/home"
    assert p.fields == {"log": 'quota "hit"'}


def test_precisions(store):
    store.write('ccb,cluster=c log="s" 1740000000\n'
                'ccb,cluster=c log="ms" 1740000000001\n'
                'ccb,cluster=c log="ns" 1740000000000000002\n')
    got = {r.value: r.time for r in store.query(limit=None)}
    assert got == {"s": T0 * NS, "ms": T0 * NS + 1_000_000, "ns": T0 * NS + 2}
    store.write('ccb,cluster=c log="forced" 1740000000\n', precision="ns")
    (r,) = store.query(text="forced")
    assert r.time == 1740000000


def test_retention_events_only_by_default(make_store):
    store = make_store(seal_rows=50, retention="1h")
    store.write(lp(300, kind="event", step=60))  # 5 hours of events
    store.write(lp(300, kind="log", step=60))
    now = T0 + 300 * 60
    removed = store.apply_retention(now=now)
    assert removed == 240  # older than now - 1h: the first 240 minutes
    ev = store.query(kind="event", limit=None)
    assert min(r.timestamp for r in ev) == now - 3600
    assert len(ev) == 60
    assert len(store.query(kind="log", limit=None)) == 300
    assert sum(r[-1] for r in store.count(kind="event", by=())) == 60
    assert store.stats()["retention_runs"] == 1


def test_log_retention_and_fulltext_stay_consistent(make_store):
    store = make_store(seal_rows=40, retention="1h", log_retention="2h")
    store.write(lp(200, kind="log", step=60))
    now = T0 + 200 * 60
    store.apply_retention(now=now)
    logs = store.query(kind="log", limit=None)
    assert len(logs) == 120 and min(r.timestamp for r in logs) == now - 7200
    # full-text never returns a deleted row, and finds the kept ones
    assert store.query(text="m0") == []
    assert [r.value for r in store.query(text="m199")] == ["m199"]
    assert store.count(by=()) == [(120,)]


def test_reopen_continues(make_store):
    store = make_store(seal_rows=30)
    store.write(lp(45))
    before = {r.cursor for r in store.query(limit=None)}
    store.close()
    store = make_store(reopen=True, seal_rows=30)
    assert {r.cursor for r in store.query(limit=None)} == before
    store.write(lp(45, start=T0 + 1000))
    recs = store.query(limit=None)
    assert len(recs) == 90 and len({r.cursor for r in recs}) == 90


@pytest.mark.parametrize("cluster", ['x; DROP TABLE y', 'a"b', "it's", "ünï cødé", "ccs_1"])
def test_hostile_cluster_and_tag_names(store, cluster):
    esc = cluster.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")
    res = store.write(f'ccb,cluster={esc},hostname=h,we"ird\\=key=v\\,1 log="ok" 1740000000\n'
                      f'ccb,cluster=other,hostname=h log="other" 1740000000\n')
    assert res.errors == [] and res.written == 2
    (r,) = store.query(cluster)
    assert r.cluster == cluster and r.tags == {'we"ird=key': "v,1"}
    assert len(store.query(cluster, tags={'we"ird=key': "v,1"})) == 1
    assert len(store.query(cluster, tags={'we"ird=key': {"not": ["v,1"]}})) == 0
    assert [x.value for x in store.query("other")] == ["other"]
    assert sorted(store.clusters()) == sorted([cluster, "other"])


def test_state_is_committed_with_rows(store):
    assert store.get_state("pos") is None
    store.write(lp(3), state={"pos": "3"})
    assert store.get_state("pos") == "3"
    store.write(b"", state={"pos": "4"})
    assert store.get_state("pos") == "4"


def test_store_logs_false_drops_logs(make_store):
    store = make_store(store_logs=False)
    res = store.write(lp(3) + lp(2, kind="event"))
    assert res.written == 2 and res.dropped == {"log": 3}
    assert store.query(kind="log") == []


def test_streaming_ingest_matches_one_write(make_store, tmp_path):
    msgs = make_messages(400, seed=3)
    data = to_lines(msgs)
    # a multi-line string value and a bad line, so chunk edges fall inside them
    data += b'ccb,cluster=alex,hostname=h log="line one\nline two" 1740000000\nbad line\n'
    store = make_store(seal_rows=64)
    res = store.ingest(io.BytesIO(data), chunk_size=37)
    assert res.written == 401
    assert [e.lineno for e in res.errors] == [data.count(b"\n")]
    got = sorted(map(record_key, store.query(kind="log", limit=None) +
                     store.query(kind="event", limit=None)))
    want = sorted(map(record_key, msgs))
    assert [g for g in got if "line one" not in g] == want
    assert any(json.loads(g)[-1] == "line one\nline two" for g in got)


def test_streaming_a_long_line_in_small_chunks_decodes_it_once(make_store, monkeypatch):
    """Chunks in which no line ends are gathered, not decoded again and again."""
    long = b'ccb,cluster=c,hostname=h log="' + b"x" * 200_000 + b'" 1740000000\n'
    data = long + b'ccb,cluster=c,hostname=h log="short" 1740000001\n' + long
    calls = []
    real = ccstore.lineproto.decode_rows

    def counting(chunk, **kw):
        calls.append(len(chunk))
        return real(chunk, **kw)

    monkeypatch.setattr(ccstore.lineproto, "decode_rows", counting)
    store = make_store()
    res = store.ingest(io.BytesIO(data), chunk_size=1000)
    assert res.written == 3 and not res.errors
    assert len(calls) <= 4  # a line end in chunks 201, 202 and 402, then the final call
    lengths = sorted(len(r.value) for r in store.query(kind="log", limit=None))
    assert lengths == [5, 200_000, 200_000]


@pytest.mark.parametrize("store_logs", [True, False])
def test_write_in_pieces_matches_a_write_decoded_whole(make_store, store_logs):
    """A write that the backend takes in small pieces (``write_stream``) stores and
    reports what the same write decoded whole does: rows of two clusters, both
    kinds, two days, bad lines; logs dropped when the store keeps none."""
    msgs = make_messages(300, seed=5)
    midnight = (T0 // 86400 + 1) * 86400 * NS
    data = to_lines(msgs) + b"bad line\n" + lp(40, start=midnight - 20).encode()
    data += lp(30, start=T0 * NS, cluster="d", kind="event").encode()
    data += b"job,cluster=c event=1 5\n"
    store = make_store(store_logs=store_logs)
    whole = store.write(data, precision="ns")
    store.backend.stream_piece_bytes = 1000
    got = store.write(data, precision="ns")
    assert (got.written, got.dropped, got.errors) == (whole.written, whole.dropped, whole.errors)
    assert got.written == (370 if store_logs else 30 + sum(m.kind == "event" for m in msgs))
    assert len(got.errors) == 2
    if store.backend.name == "postgres":  # streamed, its main group as COPY data
        assert store.backend.stats()["streamed_writes"] == 1
    recs = sorted(map(record_key, store.query(kind="log", start=0, limit=None) +
                      store.query(kind="event", start=0, limit=None)))
    assert len(recs) == 2 * got.written and recs[::2] == recs[1::2]


def test_options_are_checked(tmp_path):
    with pytest.raises(TypeError, match="unknown option"):
        ccstore.open(str(tmp_path / "x.db"), retention_time="1h")
    with pytest.raises(ValueError, match="durability"):
        ccstore.open(str(tmp_path / "y.db"), durability="sometimes")
    with pytest.raises(ValueError, match="duration"):
        ccstore.open(str(tmp_path / "z.db"), retention="1 day")


def test_full_durability_and_no_fulltext(make_store):
    store = make_store(durability="full", fulltext=False)
    store.write(lp(5))
    assert [r.value for r in store.query(text="m3")] == ["m3"]
    assert len(store.query(limit=None)) == 5


def test_queries_stay_whole_while_segments_are_sealed_and_dropped(make_store):
    """A reader never sees a segment half there: retention drops segments, the sealer
    changes the schema, and queries (full-text included) run all the while."""
    store = make_store(seal_rows=40, retention="1h", log_retention="1h")
    failures: list = []
    done = threading.Event()

    def writer() -> None:
        try:
            for batch in range(60):
                store.write(lp(20, start=T0 + batch * 20, kind="log"))
                if batch % 5 == 4:
                    store.apply_retention(now=T0 + batch * 20 + 3600 - 100)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    queries = 0
    try:
        while not done.is_set() or queries == 0:
            found = store.query(text="m1", kind="log", limit=None, order="asc")
            assert all("m1" in r.value for r in found)
            times = [(r.time, r.cursor) for r in found]
            assert times == sorted(times)
            total = store.count(kind="log", by=())
            assert total == [] or total[0][0] > 0
            queries += 1
    finally:
        thread.join()
    assert failures == []
    # the last retention ran at T0 + 1180 + 3500 and kept the last hour
    kept = store.query(kind="log", limit=None)
    assert len(kept) == 120 and min(r.timestamp for r in kept) == T0 + 1080
