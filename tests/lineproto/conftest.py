"""Fixtures for the line-protocol codec tests.

Every decoder/encoder test takes the ``lp`` fixture (``tests/conftest.py``)
and so runs against both implementations.
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple

import pytest
from lpinputs import workload

from ccstore.rows import MessageError, point_to_row


def canon_points(points: List[Any]) -> List[Tuple]:
    """Points as plain tuples in which field types and float signs count."""
    return [(p.name, list(p.tags.items()),
             [(k, type(v).__name__, repr(v)) for k, v in p.fields.items()], p.time)
            for p in points]


def canon_errors(errors: List[Any]) -> List[Tuple]:
    return [(e.lineno, e.column, e.message, e.text) for e in errors]


@pytest.fixture
def canon() -> Callable[[Tuple[List[Any], List[Any]]], Tuple[List[Tuple], List[Tuple]]]:
    """``canon(decode(...))``: comparable form of a decode result."""
    return lambda result: (canon_points(result[0]), canon_errors(result[1]))


@pytest.fixture
def errs() -> Callable[..., List[Tuple[int, int, str]]]:
    """``errs(lp, data, **kw)``: ``[(lineno, column, message), ...]`` of a decode."""
    def run(impl: Any, data: Any, **kw: Any) -> List[Tuple[int, int, str]]:
        kw.setdefault("default_time", 0)
        return [(e.lineno, e.column, e.message) for e in impl.decode(data, **kw)[1]]
    return run


@pytest.fixture
def one() -> Callable[..., Any]:
    """``one(lp, data, **kw)``: the single point of an error-free decode."""
    def run(impl: Any, data: Any, **kw: Any) -> Any:
        kw.setdefault("default_time", 0)
        points, errors = impl.decode(data, **kw)
        assert errors == [], errors
        assert len(points) == 1, points
        return points[0]
    return run


@pytest.fixture(scope="session", name="workload")
def workload_fixture() -> Any:
    """benchmarks/workload.py (the standard workload generator) as a module."""
    return workload()


def check_rows(impl: Any, data: bytes, **kw: Any) -> Any:
    """Assert ``impl.decode_rows(data, **kw)`` equals ``decode()`` followed by
    ``point_to_row()``; return the batch."""
    kw.setdefault("default_time", 0)
    cluster = kw.get("cluster")
    points, errors = impl.decode(data, precision=kw.get("precision", "auto"),
                                 default_time=kw["default_time"])
    groups: dict = {}
    dropped: dict = {}
    problems = []
    for p in points:
        try:
            cl, kind, row = point_to_row(p.name, p.tags, p.fields, p.time, cluster)
        except MessageError as exc:
            problems.append(str(exc))
            continue
        if row is None:
            dropped[kind] = dropped.get(kind, 0) + 1
        else:
            groups.setdefault((cl, kind), []).append(row)
    batch = impl.decode_rows(data, **kw)
    assert list(batch.groups.items()) == list(groups.items())
    assert batch.dropped == dropped
    syntax = set(canon_errors(errors))
    assert [e for e in batch.errors if canon_errors([e])[0] in syntax] == errors
    assert [e.message for e in batch.errors if canon_errors([e])[0] not in syntax] == problems
    assert batch.consumed == len(data if isinstance(data, bytes) else data.encode())
    return batch


def stream_rows(impl: Any, data: bytes, cuts: Any, **kw: Any) -> Tuple:
    """Feed ``data`` cut at ``cuts`` as a receiver does (``final=False``, carry
    the unconsumed rest and the line number); return merged
    ``(groups, dropped, errors, lines)`` for comparison with one call."""
    groups: dict = {}
    dropped: dict = {}
    errors: list = []
    pending, lineno, start = b"", 1, 0
    for cut in sorted(c for c in set(cuts) if 0 < c < len(data)) + [len(data)]:
        pending += data[start:cut]
        start = cut
        batch = impl.decode_rows(pending, final=cut == len(data), lineno=lineno, **kw)
        for key, rows in batch.groups.items():
            groups.setdefault(key, []).extend(rows)
        for kind, n in batch.dropped.items():
            dropped[kind] = dropped.get(kind, 0) + n
        errors.extend(batch.errors)
        pending = pending[batch.consumed:]
        lineno += batch.lines
    assert pending == b""
    return groups, dropped, errors, lineno - 1


@pytest.fixture(name="check_rows")
def check_rows_fixture() -> Callable[..., Any]:
    """``check_rows(lp, data, **kw)``: see :func:`check_rows`."""
    return check_rows


@pytest.fixture(name="stream_rows")
def stream_rows_fixture() -> Callable[..., Tuple]:
    """``stream_rows(lp, data, cuts, **kw)``: see :func:`stream_rows`."""
    return stream_rows
