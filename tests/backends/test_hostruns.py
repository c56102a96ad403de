"""group_by_host(): the SQLite backend's rows grouped by host, both implementations."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccstore import lineproto
from ccstore.rows import ROW_COLUMNS

HOST_AT = ROW_COLUMNS.index("hostname")
TIME_AT = ROW_COLUMNS.index("time")


def test_group_by_host_keeps_arrival_order_per_host(hostruns):
    data = "".join(f'ccb,cluster=c,hostname={h} log="{i}" {t}\n' for i, (h, t) in enumerate(
        [("n2", 5), ("n1", 9), ("n2", 1), ("n10", 7), ("n1", 3), ("n2", 8)]))
    rows = lineproto.decode_rows(data, precision="ns").groups[("c", "log")]
    out, runs, mn, mx = hostruns.group_by_host(rows, HOST_AT, TIME_AT)
    assert [r[HOST_AT] for r in out] == ["n2", "n2", "n2", "n1", "n1", "n10"]
    assert [r[TIME_AT] for r in out] == [5, 1, 8, 9, 3, 7]  # arrival order within a host
    assert runs == [("n2", 3), ("n1", 2), ("n10", 1)]
    assert (mn, mx) == (1, 9)
    assert sorted(out) == sorted(rows) and rows[0][TIME_AT] == 5  # input left as it was


def test_group_by_host_hosts_in_order_of_first_appearance(hostruns):
    rows = [("", 2), (None, 4), ("a", 3), (None, 1), ("", 6)]
    assert hostruns.group_by_host(rows, 0, 1) == (
        [("", 2), ("", 6), (None, 4), (None, 1), ("a", 3)],
        [("", 2), (None, 2), ("a", 1)], 1, 6)
    assert hostruns.group_by_host([], 0, 1) == ([], [], None, None)


@given(st.lists(st.tuples(st.sampled_from([None, "a", "b", "ab", "é"]),
                          st.integers(-2**70, 2**70)), max_size=60))
def test_group_by_host_implementations_agree(hostruns_impls, rows):
    py, cy = hostruns_impls
    out, runs, mn, mx = cy.group_by_host(rows, 0, 1)
    assert (out, runs, mn, mx) == py.group_by_host(rows, 0, 1)
    assert sum(n for _, n in runs) == len(rows) == len(out)
    assert (mn, mx) == ((min(t for _, t in rows), max(t for _, t in rows)) if rows
                        else (None, None))


def test_group_by_host_refuses_rows_changed_while_it_runs(hostruns):
    rows: list = []

    class Meddling(int):
        def __lt__(self, other):
            rows.pop()  # Python code run by a comparison, shortening the list
            return int(self) < int(other)

    rows.extend([("a", Meddling(2)), ("b", Meddling(1)), ("a", Meddling(3))])
    with pytest.raises(RuntimeError, match="rows changed while they were grouped"):
        hostruns.group_by_host(rows, 0, 1)


def test_group_by_host_indexes_like_python(hostruns):
    rows = [("a", 1), ("b", 2)]
    assert hostruns.group_by_host(rows, -2, -1) == (rows, [("a", 1), ("b", 1)], 1, 2)
    with pytest.raises(IndexError):
        hostruns.group_by_host(rows, 2, 1)


def test_compiled_implementation_is_used():
    """CI must run the compiled module unless a pure-Python run was asked for."""
    from twins import PYTHON_ONLY

    from ccstore.backends import hostruns
    from ccstore.backends.sqlite import write as sqlite_write

    assert hostruns.IMPLEMENTATION == ("python" if PYTHON_ONLY else "cython")
    assert sqlite_write.group_by_host is hostruns.get_implementation(
        hostruns.IMPLEMENTATION).group_by_host
