"""Store.follow: a live tail of a query, on both backends: records committed after it
began, oldest first, each once; a reader that falls a page behind jumps to the newest
page and learns how many records it passed over; resuming after a cursor."""
from __future__ import annotations

import time

import pytest

S = 10**9


def lines(now: int, n: int, level: str = "error", host: str = "n1", first: int = 0) -> str:
    return "".join(f'ccb,cluster=c,hostname={host},loglevel={level} log="m{first + i}" '
                   f"{now + (first + i) * 1000}\n" for i in range(n))


def test_follow_returns_new_matching_records_once_oldest_first(make_store):
    st = make_store()
    st.write(lines(time.time_ns() - 60 * S, 3))  # before the tail began: not returned
    f = st.follow("level:error")
    now = time.time_ns()
    assert f.poll(100) == ([], 0)
    st.write(lines(now, 5) + lines(now, 2, level="info", host="n2", first=50))
    records, skipped = f.poll(100)
    assert [r.value for r in records] == [f"m{i}" for i in range(5)]
    assert skipped == 0
    assert f.cursor == records[-1].cursor
    assert f.poll(100) == ([], 0)  # each record once
    st.write(lines(now, 1, first=7))
    assert [r.value for r in f.poll(100)[0]] == ["m7"]


def test_a_reader_a_page_behind_jumps_to_the_newest_page(make_store):
    st = make_store()
    f = st.follow("host:n1")
    st.write(lines(time.time_ns(), 25))
    records, skipped = f.poll(10)
    assert [r.value for r in records] == [f"m{i}" for i in range(15, 25)]
    assert skipped == 15
    assert f.poll(10) == ([], 0)


def test_follow_resumes_after_a_cursor(make_store):
    st = make_store()
    now = time.time_ns()
    st.write(lines(now - 10 * S, 4))
    first = st.search("", order="asc", limit=2)
    f = st.follow("", after=first[-1].cursor)
    assert [r.value for r in f.poll(100)[0]] == ["m2", "m3"]


def test_a_bad_query_fails_when_the_tail_begins(make_store):
    st = make_store()
    with pytest.raises(ValueError, match="column"):
        st.follow("host:(")
