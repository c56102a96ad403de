"""Query answers written as the records come: page by page, the same JSON as the whole
answer would be, bad arguments refused before anything is written."""
from __future__ import annotations

import json

import pytest

import ccstore
from ccstore.server import api
from ccstore.server.api import RequestError, json_chunks, run_query

N = 57


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = ccstore.open(str(tmp_path_factory.mktemp("answers") / "a.db"))
    lines = [f'ccb,cluster=alex,hostname=h{i % 3},type=node,type-id={i % 2},loglevel=info '
             f'log="m{i} ü \\"q\\"" {1740000000 + i}' for i in range(N)]
    assert s.write("\n".join(lines)).written == N
    yield s
    s.close()


def whole(store, req: dict, max_limit: int) -> dict:
    """The answer as it was built before it was streamed: each entry's records read
    at once, the cursor when the entry's limit was reached."""
    limit = min(req.get("limit", max_limit), max_limit)
    order = req.get("order", "asc")
    entries = []
    for tid in req.get("queries", [{}])[0].get("type-ids") or [None]:
        records = store.query("alex", "log", type_ids=tid, limit=limit, order=order,
                              after=req.get("cursor"), start=req.get("from"))
        entry = {"data": [{"Event": r.value, "timestamp": r.timestamp} for r in records],
                 "from": req.get("from", 0), "to": req.get("to", 0)}
        if limit and len(records) == limit:
            entry["cursor"] = records[-1].cursor
        entries.append(entry)
    return {"results": [entries]}


@pytest.mark.parametrize("page", [1, 5, 19, 57, 1000])
@pytest.mark.parametrize("req", [
    {"cluster": "alex", "kind": "log", "queries": [{}]},
    {"cluster": "alex", "kind": "log", "limit": 20, "queries": [{}]},
    {"cluster": "alex", "kind": "log", "limit": 19, "order": "desc",
     "queries": [{"type-ids": ["0", "1"]}]},
    {"cluster": "alex", "kind": "log", "limit": 0, "queries": [{}]},
    {"cluster": "alex", "kind": "log", "from": 1740000050, "queries": [{}]},
])
def test_streamed_answer_is_the_whole_answer(store, monkeypatch, page, req):
    monkeypatch.setattr(api, "PAGE", page)
    asked = []
    real = store.query

    def query(*a, **kw):
        asked.append(kw["limit"])
        return real(*a, **kw)

    monkeypatch.setattr(store, "query", query)
    max_limit = 40
    text = b"".join(json_chunks(run_query(store, req, max_limit=max_limit)))
    monkeypatch.setattr(store, "query", real)
    assert json.loads(text) == whole(store, req, max_limit)
    assert text.decode() == json.dumps(json.loads(text), ensure_ascii=False,
                                       separators=(",", ":"))
    assert all(n <= page for n in asked)


def test_pages_are_read_as_the_answer_is_written(store, monkeypatch):
    monkeypatch.setattr(api, "PAGE", 10)
    answer = run_query(store, {"cluster": "alex", "kind": "log", "queries": [{}, {}]},
                       max_limit=1000)
    calls = []
    real = store.query
    monkeypatch.setattr(store, "query", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    chunks = json_chunks(answer)
    for _ in range(4):
        next(chunks)
    assert calls == []  # the first page of each entry was read by run_query
    rest = list(chunks)
    assert len(calls) == 2 * (N // 10)  # the other pages, as they were written
    assert len(rest) > 2 * (N // 10)


def test_a_bad_argument_fails_before_anything_is_written(store):
    with pytest.raises(RequestError) as e:
        run_query(store, {"cluster": "alex", "kind": "log",
                          "queries": [{}, {"cursor": "not a cursor"}]}, max_limit=100)
    assert "queries[1]" in str(e.value)
