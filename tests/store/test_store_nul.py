"""A NUL character: SQLite stores it; PostgreSQL cannot, so there a line with one is
rejected alone (its line and column, the other lines stored) and a filter with one is a
ValueError, on every way in; no error names internal tables."""
from __future__ import annotations

import io

import pytest

from ccstore import lineproto
from ccstore.store import NUL_MESSAGE

GOOD1 = b'ccb,cluster=alex,hostname=h1,loglevel=info log="one" 1740000000\n'
NUL = b'ccb,cluster=alex,hostname=h1,loglevel=info log="t\x00wo" 1740000001\n'
GOOD2 = b'job,cluster=alex,hostname=h2 event="three" 1740000002\n'
#: NUL in a field that is not stored (no row holds it), in a tag (a syntax error), in a
#: comment, in a metric (dropped)
HARMLESS = (b'ccb,cluster=alex,hostname=h3 log="four",x="\x00" 1740000003\n'
            b'ccb,cluster=alex,hostname=h\x00 log="five" 1740000004\n'
            b'# a comment \x00\n'
            b'cpu,cluster=alex,hostname=h4 value=1,s="\x00" 1740000005\n')
BODY = GOOD1 + NUL + GOOD2 + HARMLESS


def values(store) -> list:
    return sorted(r.value for kind in ("log", "event")
                  for r in store.query("alex", kind, limit=None))


def check(store, backend_name: str, res) -> None:
    harmless = lineproto.decode_rows(HARMLESS, lineno=4).errors  # the tag, the comment
    assert [e.lineno for e in harmless] == [5, 6]
    if backend_name.startswith("sqlite"):
        assert values(store) == ["four", "one", "t\x00wo", "three"]
        assert res.errors == harmless
    else:
        assert values(store) == ["four", "one", "three"]
        assert res.errors[1:] == harmless
        assert (res.errors[0].lineno, res.errors[0].column, res.errors[0].message) == (
            2, NUL.index(b"\x00") + 1, NUL_MESSAGE)
        assert res.errors[0].text == NUL.decode().rstrip("\n")
    assert res.dropped == {"metric": 1}


def test_write(store, backend_name):
    check(store, backend_name, store.write(BODY))


@pytest.mark.parametrize("piece", [1, 7, 40, 1 << 20])
def test_write_stream_with_the_nul_line_split_between_chunks(store, backend_name, piece):
    res = store.write_stream(lambda: (BODY[i:i + piece] for i in range(0, len(BODY), piece)))
    check(store, backend_name, res)


def test_ingest(store, backend_name):
    res = store.ingest(io.BytesIO(BODY), chunk_size=50)
    check(store, backend_name, res)


def test_decode_rows_without_a_final_newline(store, backend_name):
    batch = store.decode_rows(GOOD1 + NUL.rstrip(b"\n"))
    assert batch.rows == (1 if backend_name == "postgres" else 2)


def test_write_points(store, backend_name):
    points = [lineproto.Point("ccb", {"cluster": "alex", "hostname": "h1"}, {"log": v},
                              1740000000 + i) for i, v in enumerate(["one", "t\x00wo"])]
    res = store.write_points(points)
    if backend_name.startswith("sqlite"):
        assert res.errors == [] and values(store) == ["one", "t\x00wo"]
    else:
        assert [(e.lineno, e.message) for e in res.errors] == [(2, NUL_MESSAGE)]
        assert values(store) == ["one"]


def test_a_nul_that_reaches_postgresql_names_no_table(store, backend_name):
    """Rows decoded elsewhere and handed to write_batches: the error says what is
    wrong, not in which internal table."""
    if backend_name != "postgres":
        pytest.skip("SQLite stores a NUL")
    batch = lineproto.decode_rows(GOOD1 + NUL)
    with pytest.raises(ValueError) as e:
        store.write_batches([batch])
    assert "0x00" in str(e.value) and "ccs_" not in str(e.value)
    assert "COPY" not in str(e.value) and values(store) == []


@pytest.mark.parametrize("filters", [
    {"hosts": "h\x00"}, {"names": ["ccb", "c\x00"]}, {"cluster": "al\x00ex"},
    {"tags": {"loglevel": "in\x00fo"}}, {"tags": {"x\x00": "1"}}, {"tags": {"x": "\x00"}},
    {"tags": {"hostname": {"not": ["\x00"]}}}, {"text": "t\x00wo"}])
def test_filters_with_a_nul_on_postgresql(store, backend_name, filters):
    if backend_name != "postgres":
        pytest.skip("SQLite stores a NUL, and compares it")
    store.write(GOOD1 + GOOD2)
    kw = dict(filters)
    cluster = kw.pop("cluster", "alex")
    for ask in (store.query, store.count):
        with pytest.raises(ValueError) as e:
            ask(cluster, **kw)
        assert "NUL" in str(e.value) or "\\x00" in str(e.value)


def test_sqlite_finds_what_it_stored_with_a_nul(store, backend_name):
    if not backend_name.startswith("sqlite"):
        pytest.skip("PostgreSQL cannot hold a NUL")
    store.write(NUL.replace(b"hostname=h1", b"hostname=h\\ 1") + GOOD1)
    assert [r.value for r in store.query("alex", hosts="h 1")] == ["t\x00wo"]
    assert store.query("alex", hosts="h\x00") == []
