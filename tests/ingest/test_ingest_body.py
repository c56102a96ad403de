"""Line-protocol request bodies: limits, encodings, precision, the 400 answer."""
from __future__ import annotations

import gzip
import io

import pytest

from ccstore.ingest.body import ApiError, read_body, write_request
from ccstore.ingest.commit import StorageManager

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


@pytest.mark.parametrize("body, encoding", [(LINES * 20, ""), (gzip.compress(LINES * 20),
                                                                 "gzip")])
def test_a_body_over_the_limit_is_413(body, encoding):
    with pytest.raises(ApiError) as e:
        read_body(environ(body, encoding=encoding), 1000)
    assert e.value.status == 413


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
