"""A query evaluated on one record in pure Python.

This is both the residual filter (what the store's indexes cannot answer) and the
reference the tests hold every interface to.  A record is a dict with the output
field names of :mod:`ccstore.query.fields` (``ts_ns``, ``cluster``, ``kind``,
``host``, ..., ``level``, ``message``, ``tags``).  Full text is matched on the
tokens the store's full-text index forms (:mod:`ccstore.query.text`).
"""
from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional

from .levels import compare, level_rank
from .nodes import All, And, Eq, Exists, Job, Level, Node, Not, Or, Prefix, Regex, Text, Time
from .text import contains, tokens

__all__ = ["match", "compile_query", "Predicate"]

#: a compiled query: record -> whether it matches
Predicate = Callable[[Mapping[str, Any]], bool]
# a compiled node: (record, the message's tokens once computed) -> bool
_Fn = Callable[[Mapping[str, Any], List[Optional[List[str]]]], bool]


def _getter(field: str, tag: bool) -> Callable[[Mapping[str, Any]], Optional[str]]:
    if tag:
        def get(r: Mapping[str, Any]) -> Optional[str]:
            tags = r.get("tags")
            return tags.get(field) if tags else None
        return get
    return lambda r: r.get(field)


def _message_tokens(r: Mapping[str, Any], memo: List[Optional[List[str]]]) -> List[str]:
    toks = memo[0]
    if toks is None:
        toks = memo[0] = tokens(r.get("message"))
    return toks


def _compile(node: Node) -> _Fn:
    if isinstance(node, All):
        return lambda r, m: True
    if isinstance(node, Text):
        needle = tokens(node.value)
        prefix = node.prefix
        return lambda r, m: contains(_message_tokens(r, m), needle, prefix)
    if isinstance(node, Regex):
        rx = re.compile(node.pattern)
        get = _getter(node.field, node.tag)

        def regex(r: Mapping[str, Any], m: Any) -> bool:
            v = get(r)
            return v is not None and rx.search(v) is not None
        return regex
    if isinstance(node, Eq):
        values = node.values
        get = _getter(node.field, node.tag)

        def eq(r: Mapping[str, Any], m: Any) -> bool:
            v = get(r)
            return v is not None and v in values
        return eq
    if isinstance(node, Prefix):
        p = node.prefix
        get = _getter(node.field, node.tag)

        def prefix_(r: Mapping[str, Any], m: Any) -> bool:
            v = get(r)
            return v is not None and v.startswith(p)
        return prefix_
    if isinstance(node, Exists):
        get = _getter(node.field, node.tag)
        return lambda r, m: bool(get(r))
    if isinstance(node, Level):
        op, bound = node.op, node.rank

        def level(r: Mapping[str, Any], m: Any) -> bool:
            rank = level_rank(r.get("level"))
            return rank is not None and compare(rank, op, bound)
        return level
    if isinstance(node, Time):
        lo, hi = node.lo, node.hi

        def time_(r: Mapping[str, Any], m: Any) -> bool:
            t = r["ts_ns"]
            return (lo is None or t >= lo) and (hi is None or t < hi)
        return time_
    if isinstance(node, And):
        fns = [_compile(it) for it in node.items]
        return lambda r, m: all(f(r, m) for f in fns)
    if isinstance(node, Or):
        fns = [_compile(it) for it in node.items]
        return lambda r, m: any(f(r, m) for f in fns)
    if isinstance(node, Not):
        fn = _compile(node.item)
        return lambda r, m: not fn(r, m)
    if isinstance(node, Job):
        raise ValueError(f"{node}: a job must be resolved to its hosts and time first "
                         f"(ccstore.query.jobs.resolve)")
    raise TypeError(f"not a query node: {node!r}")


def compile_query(node: Node) -> Predicate:
    """A function telling whether a record matches ``node`` (compiled once, called often)."""
    fn = _compile(node)
    return lambda r: fn(r, [None])


def match(node: Node, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` matches the query ``node``."""
    return compile_query(node)(record)
