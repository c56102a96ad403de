"""The group commit: request bodies decoded piece by piece, committed, counted."""
from __future__ import annotations

import threading

import pytest

from ccstore.ingest.commit import StorageManager


def line(i: int, text: str = "m") -> bytes:
    return b'ccb,cluster=alex,hostname=h%d log="%s %d" %d\n' % (i % 3, text.encode(), i,
                                                                 1740000000 + i)


@pytest.fixture
def manager(store):
    with StorageManager(store, retention_daily=None) as m:
        yield m


def values(store):
    return sorted(r.value for r in store.query("alex", limit=None))


def test_a_body_in_pieces_is_stored_as_one_written_whole(store, tmp_path, manager):
    import ccstore

    body = b"".join(line(i) for i in range(200))
    body += line(200, "x" * 500)  # longer than a piece
    body += b"not line protocol\n" + line(201)[:-1]  # a bad line; no newline at the end
    res = manager.write(body, "api", chunk_size=64)
    with ccstore.open(str(tmp_path / "whole.db")) as whole:
        want = whole.write(body)
        assert values(store) == values(whole)
    assert res.written == want.written == 202
    assert res.errors == want.errors and [e.lineno for e in res.errors] == [202]
    st = manager.stats()["sources"]["api"]
    assert (st["messages"], st["received"], st["written"]) == (1, 203, 202)
    assert st["errors"] == {"syntax": 1}


def test_a_small_body_is_one_submission_a_large_one_a_transaction_of_its_own(
        store, manager, monkeypatch):
    submitted = []
    real = manager.submit

    def submit(batches, source, **kw):
        submitted.append(len(batches))
        return real(batches, source, **kw)

    monkeypatch.setattr(manager, "submit", submit)
    res = manager.write(b"".join(line(i) for i in range(10))[:-1], "api")
    assert res.written == 10 and submitted == [1]
    before = store.stats()["backend"]["transactions"]
    res = manager.write(b"".join(line(i) for i in range(10, 20)), "api", chunk_size=100)
    assert res.written == 10 and submitted == [1]  # not through the group commit
    assert store.stats()["backend"]["transactions"] == before + 1
    assert len(values(store)) == 20
    m = manager.stats()["manager"]
    assert m["streamed_writes"] == 1 and m["streaming"] == {"writes": 0, "lines": 0, "rows": 0}
    assert manager.stats()["sources"]["api"]["received"] == 20


def test_the_time_of_the_last_commit_is_reported(store, manager):
    import time

    assert manager.stats()["manager"]["last_commit"] is None
    t0 = time.time()
    manager.write(b"".join(line(i) for i in range(10)), "api")  # through the group commit
    first = manager.stats()["manager"]["last_commit"]
    assert t0 <= first <= time.time()
    t1 = time.time()
    assert t1 > first
    manager.write(b"".join(line(i) for i in range(10, 20)), "api", chunk_size=100)  # streamed
    assert manager.stats()["manager"]["last_commit"] >= t1


class Broken(Exception):
    pass


def test_a_body_that_fails_midway_stores_nothing(store, manager):
    """The chunks fail after the first pieces were taken: nothing of the body is
    stored, the body's own exception comes out, nothing counts as a commit failure."""
    pieces = [b"".join(line(i) for i in range(k, k + 50)) for k in range(0, 500, 50)]
    seen = []

    def chunks():
        for k, p in enumerate(pieces):
            if k == 6:
                seen.append(manager.stats()["manager"]["streaming"])
                raise Broken("the client went away")
            yield p

    with pytest.raises(Broken):
        manager.write_chunks(chunks, "api")
    assert seen[0]["writes"] == 1 and seen[0]["rows"] >= 200  # pieces were taken
    assert values(store) == []
    assert manager.stats()["manager"]["commit_failures"] == 0
    res = manager.write_chunks(lambda: iter(pieces), "api")  # the retry: each line once
    assert res.written == 500 and len(values(store)) == 500


def test_a_failed_streamed_commit_is_a_commit_error(store, manager, monkeypatch):
    from ccstore.ingest.commit import CommitError

    def fail(open_stream, state):
        for _batch in open_stream():
            pass
        raise OSError("disk full")

    monkeypatch.setattr(store.backend, "write_stream", fail)
    with pytest.raises(CommitError):
        manager.write(b"".join(line(i) for i in range(20)), "api", chunk_size=100)
    assert manager.stats()["manager"]["commit_failures"] == 1
    assert manager.stats()["sources"]["api"]["errors"] == {"commit": 20}


def test_dropped_and_rejected_lines_are_counted_per_source(manager):
    res = manager.write(b'cpu,cluster=alex,hostname=h value=1 1740000000\n'
                        b'job,hostname=h event="no cluster" 1740000001\n', "in")
    assert (res.written, res.dropped) == (0, {"metric": 1})
    assert manager.stats()["sources"]["in"]["errors"] == {"no_cluster": 1}


def test_an_empty_body_is_no_message(manager):
    res = manager.write(b"", "api")
    assert (res.written, res.errors, res.dropped) == (0, [], {})
    assert manager.stats()["sources"].get("api", {"messages": 0})["messages"] == 0



def committed_groups(store, sizes, **knobs):
    """How many submissions each transaction took when submissions of ``sizes`` rows
    were all queued while the commit of one more, before them, was held."""
    held, go = threading.Event(), threading.Event()
    seen = []
    real = store.write_batches

    def write_batches(batches, **kw):
        if held.is_set():
            seen.append(len(batches))
        else:
            held.set()
            assert go.wait(60), "the test never let the commit through"
        return real(batches, **kw)

    store.write_batches = write_batches
    n = iter(range(10**6))
    with StorageManager(store, retention_daily=None, **knobs) as m:
        m.submit([store.decode_rows(line(next(n)))], "t")
        assert held.wait(60), "no commit began"
        tickets = [m.submit([store.decode_rows(b"".join(line(next(n)) for _ in range(k)))],
                            "t") for k in sizes]
        go.set()
        assert all(t.wait(60) for t in tickets)
    assert len(values(store)) == 1 + sum(sizes)
    return seen


@pytest.mark.parametrize("sizes, batch_size, commit_rows, groups", [
    ([1] * 30, 20, 1000, [30]),  # single rows fill a transaction past batch_size
    ([1] * 30, 20, 25, [25, 5]),
    ([1] * 30, 20, 0, [20, 10]),  # batch_size alone
    ([400] * 3, 1, 1000, [2, 1]),  # within commit_rows rows
    ([400] * 3, 3, 1000, [3]),  # within batch_size messages
    ([400] * 3, 1, 0, [1, 1, 1]),
])
def test_a_transaction_takes_submissions_within_batch_size_or_commit_rows(
        store, sizes, batch_size, commit_rows, groups):
    assert committed_groups(store, sizes, batch_size=batch_size,
                            commit_rows=commit_rows) == groups
