"""Line-protocol request bodies: limits, encodings, precision, the 400 answer."""
from __future__ import annotations

import gzip
import io

import pytest

from ccstore.ingest.body import ApiError, read_body, receive, write_request
from ccstore.ingest.commit import Budget, StorageManager

LINES = (b'ccb,cluster=alex,hostname=h log="one" 1740000000\n'
         b'ccb,cluster=alex,hostname=h log="two" 1740000001\n')


def environ(body: bytes, *, length: bool = True, encoding: str = "") -> dict:
    env = {"wsgi.input": io.BytesIO(body)}
    if length:
        env["CONTENT_LENGTH"] = str(len(body))
    if encoding:
        env["HTTP_CONTENT_ENCODING"] = encoding
    return env


@pytest.fixture
def manager(store):
    with StorageManager(store, retention_daily=None) as m:
        yield m


@pytest.mark.parametrize("length", [True, False])
def test_gzip_members_are_read_whole(length):
    body = gzip.compress(LINES[:50]) + gzip.compress(LINES[50:])
    assert read_body(environ(body, length=length, encoding="gzip"), 1000) == LINES


@pytest.mark.parametrize("length", [True, False])  # Content-Length, or chunked
@pytest.mark.parametrize("body, encoding", [(LINES * 20, ""), (gzip.compress(LINES * 20),
                                                                 "gzip")])
def test_a_body_over_the_limit_is_413(body, encoding, length):
    with pytest.raises(ApiError) as e:
        read_body(environ(body, encoding=encoding, length=length), 1000)
    assert e.value.status == 413


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit():
    """A body without Content-Length is not read on past the limit."""
    class Endless:
        read_bytes = 0

        def read(self, n):
            if self.read_bytes >= 64 << 20:
                return b""  # a bound for this test, should the limit fail
            self.read_bytes += n
            return b"x" * n

    stream = Endless()
    with pytest.raises(ApiError) as e:
        receive({"wsgi.input": stream}, 3 << 20)
    assert e.value.status == 413 and stream.read_bytes <= 5 << 20


@pytest.mark.parametrize("piece", [7, 64, 1 << 20])
def test_gzip_is_inflated_piece_by_piece(piece):
    data = LINES * 300
    body = gzip.compress(data[:5000]) + gzip.compress(data[5000:])
    env = environ(body, encoding="gzip")
    env["wsgi.input"] = Trickle(body, 333)  # the members split between reads
    b = receive(env, len(data))
    pieces = list(b.chunks(piece))
    assert b"".join(pieces) == data and max(map(len, pieces)) <= piece
    assert list(b.chunks(piece)) == pieces  # read again, the same


class Trickle(io.BytesIO):
    """A stream that gives at most ``most`` bytes a read."""

    def __init__(self, data: bytes, most: int) -> None:
        super().__init__(data)
        self.most = most

    def read(self, n=-1):
        return super().read(self.most if n is None or n < 0 else min(n, self.most))


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_gzip_body_is_400(damage):
    body = gzip.compress(LINES * 50)
    body = body[:-20] if damage == "truncated" else body + b"garbage!"
    with pytest.raises(ApiError) as e:
        read_body(environ(body, encoding="gzip"), 100_000)
    assert e.value.status == 400 and "gzip" in e.value.message


def test_a_body_cut_short_is_400_and_stores_nothing(store, manager):
    env = environ(LINES)
    env["CONTENT_LENGTH"] = str(len(LINES) + 10)
    with pytest.raises(ApiError) as e:
        write_request(manager, env, source="api", cluster=None, precision="s", limit=1000)
    assert e.value.status == 400 and store.clusters() == []
    assert manager.bodies.used == 0


@pytest.mark.parametrize("length", [True, False])
def test_a_gzip_body_over_the_limit_stores_nothing(store, manager, length):
    """Found too large only while it is decoded (after pieces were taken): 413, and
    nothing of it is stored."""
    data = b"".join(b'ccb,cluster=alex,hostname=h log="line %d" %d\n' % (i, 1740000000 + i)
                    for i in range(60_000))
    with pytest.raises(ApiError) as e:
        write_request(manager, environ(gzip.compress(data), encoding="gzip", length=length),
                      source="api", cluster=None, precision="s", limit=len(data) - 100)
    assert e.value.status == 413 and store.clusters() == []
    assert manager.stats()["manager"]["streamed_writes"] == 0
    assert manager.stats()["sources"]["api"]["errors"] == {"too_large": 1}


def test_bodies_past_the_budget_get_503_with_retry_after(store):
    """Bodies held at once are bounded: past the budget a request is refused before
    its body is read; one alone goes through however large; bytes come back."""
    with StorageManager(store, retention_daily=None, body_budget=len(LINES) * 2) as m:
        held = receive(environ(LINES * 2), 10_000, m.bodies)  # a request in flight
        for length in (True, False):
            env = environ(LINES, length=length)
            with pytest.raises(ApiError) as e:
                write_request(m, env, source="api", cluster=None, precision="s", limit=10_000)
            assert e.value.status == 503 and e.value.headers == {"Retry-After": "1"}
        assert m.bodies.used == len(LINES) * 2
        held.release()
        assert m.bodies.used == 0
        assert write_request(m, environ(LINES * 3), source="api", cluster=None,
                             precision="s", limit=10_000) is None  # alone: larger is fine
        assert m.bodies.used == 0 and store.clusters() == ["alex"]
        st = m.stats()
        assert st["sources"]["api"]["errors"] == {"busy": 2}
        assert st["manager"]["bodies"]["refused"] == 2


def test_budget_takes_and_gives():
    b = Budget(100)
    assert b.take(60) and not b.take(50) and b.take(40)
    b.give(100)
    assert b.take(500)  # nothing held: a large one alone goes through
    assert not b.take(1)


def test_unknown_encoding_is_415():
    with pytest.raises(ApiError) as e:
        read_body(environ(LINES, encoding="br"), 1000)
    assert e.value.status == 415


def test_write_request_stores_and_answers(store, manager):
    assert write_request(manager, environ(LINES), source="api", cluster=None,
                         precision="s", limit=1000) is None
    assert [r.value for r in store.query("alex", order="asc")] == ["one", "two"]
    problem = write_request(manager, environ(b"bad\n" + LINES), source="api", cluster=None,
                            precision="auto", limit=1000)
    assert problem["status"] == "Bad Request" and problem["written"] == 2
    assert problem["rejected"] == 1 and problem["errors"][0]["line"] == 1


def test_write_request_refuses_before_storing(store, manager):
    with pytest.raises(ApiError) as e:
        write_request(manager, environ(LINES), source="in", cluster=None,
                      precision="fortnights", limit=1000)
    assert e.value.status == 400 and "precision" in e.value.message
    with pytest.raises(ApiError) as e:
        write_request(manager, environ(LINES), source="in", cluster=None,
                      precision="s", limit=10)
    assert e.value.status == 413
    assert manager.stats()["sources"]["in"]["errors"] == {"too_large": 1}
    assert store.clusters() == []
