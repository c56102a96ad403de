"""ccstore.query.fields: one output dict for storage rows and query results."""
from __future__ import annotations

import ccstore
from ccstore import lineproto
from ccstore.query.fields import DEFAULTS, FIELDS, from_result, from_row, tags_of

LINE = (b"ccb,cluster=alex,hostname=a0001,type=node,type-id=1,stype=fs,stype-id=/home,"
        b'loglevel=warn,partition=gpu log="disk full" 1796119200123456789\n')


def test_storage_row_and_query_result_give_the_same_dict(tmp_path):
    batch = lineproto.decode_rows(LINE)
    ((cluster, kind), rows), = batch.groups.items()
    from_storage = from_row(cluster, kind, rows[0])
    with ccstore.open(str(tmp_path / "s.db")) as store:
        assert store.write(LINE).ok
        (record,) = store.query(kind="log")
    from_query = from_result(record)
    assert from_query["cursor"] == record.cursor
    assert {**from_storage, "cursor": None} == {**from_query, "cursor": None}
    assert list(from_query) == list(FIELDS)
    assert from_query == {
        "time": "2026-12-01T10:00:00.123456789Z", "ts_ns": 1796119200123456789,
        "cluster": "alex", "kind": "log", "host": "a0001", "type": "node", "type_id": "1",
        "stype": "fs", "stype_id": "/home", "name": "ccb", "level": "warn",
        "message": "disk full", "tags": {"loglevel": "warn", "partition": "gpu"},
        "cursor": record.cursor}


def test_unreadable_tags_are_empty():
    assert tags_of(None) == {} and tags_of("") == {} and tags_of("[1]") == {}
    assert tags_of("{bad") == {} and tags_of('{"n": 5}') == {"n": "5"}


def test_defaults_table():
    assert DEFAULTS["limit"] == 1000 and DEFAULTS["order"] == "desc"
    assert DEFAULTS["kind"] is None and DEFAULTS["max_limit"] >= DEFAULTS["limit"]
