"""The syntax tree of a query: frozen dataclasses, printed back as query text.

``str(node)`` is query text that parses to an equal tree (hosts written as a
hostlist, times as ISO 8601 in UTC).  Field names are those of the output
(:mod:`ccstore.query.fields`): ``cluster kind host type type_id stype stype_id name
message``; a node on any other tag has ``tag=True``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, FrozenSet, Iterator, Optional, Tuple

from .. import hostlist
from ..timesyntax import NS_PER_S, format_iso
from .levels import LEVELS

__all__ = [
    "Node", "All", "Text", "Regex", "Eq", "Prefix", "Exists", "Level", "Time", "Job",
    "And", "Or", "Not", "IDENTITY", "FIELDS", "and_", "or_", "walk", "transform", "quote",
]

#: fields with a place of their own in a record (besides ``tags``)
IDENTITY = ("cluster", "kind", "host", "type", "type_id", "stype", "stype_id", "name",
            "message")
#: how a field is written in a query
_FIELD_TEXT = {"message": "_msg"}

#: field name as written -> field of the tree
FIELDS = {
    "cluster": "cluster",
    "kind": "kind",
    "host": "host",
    "hostname": "host",
    "type": "type",
    "type-id": "type_id",
    "type_id": "type_id",
    "stype": "stype",
    "stype-id": "stype_id",
    "stype_id": "stype_id",
    "name": "name",
    "level": "level",
    "job": "job",
    "_time": "_time",
    "_msg": "message",
    "message": "message",
}
KEYWORDS = ("AND", "OR", "NOT")
#: a field name written without quotes
NAME_RE = re.compile(r"[A-Za-z_][\w.\-]*\Z")
# text written bare at filter level: no syntax characters, no leading operator
_BARE_TEXT = re.compile(r"[^\s()\"'\\:*~!\-][^\s()\"\\:*]*\Z")
# a value written bare after "field:"
_BARE_VALUE = re.compile(r"[^\s()\"'\\,*~=<>!\[\]]+\Z")


class Node:
    """Base of the tree's nodes."""

    __slots__ = ()

    def __str__(self) -> str:
        return _text(self)


@dataclass(frozen=True)
class All(Node):
    """``*``: every record."""


@dataclass(frozen=True)
class Text(Node):
    """Words of the message (full text): ``disk``, ``"disk full"``, ``Xid*``.

    The tokens of ``value`` must occur consecutively in the message; with
    ``prefix`` the last only needs to begin a token.
    """

    value: str
    prefix: bool = False


@dataclass(frozen=True)
class Regex(Node):
    """A regular expression (Python ``re``, unanchored) on a field: ``~"Xid [0-9]+"``."""

    pattern: str
    field: str = "message"
    tag: bool = False


@dataclass(frozen=True)
class Eq(Node):
    """The field's value is one of ``values`` (exact, case-sensitive)."""

    field: str
    values: FrozenSet[str]
    tag: bool = False


@dataclass(frozen=True)
class Prefix(Node):
    """The field's value begins with ``prefix``: ``host:node0*``."""

    field: str
    prefix: str
    tag: bool = False


@dataclass(frozen=True)
class Exists(Node):
    """The field has a non-empty value: ``partition:*``."""

    field: str
    tag: bool = False


@dataclass(frozen=True)
class Level(Node):
    """The severity compared with a level: ``level:>=warn`` is ``Level(">=", 3)``."""

    op: str
    rank: int


@dataclass(frozen=True)
class Time(Node):
    """The record's time lies in ``[lo, hi)`` (ns; None: unbounded)."""

    lo: Optional[int]
    hi: Optional[int]


@dataclass(frozen=True)
class Job(Node):
    """The hosts and time window of a job, to be resolved from the job events."""

    job_id: str
    cluster: Optional[str] = None


@dataclass(frozen=True)
class And(Node):
    items: Tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: Tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


def and_(*items: Node) -> Node:
    """The conjunction of ``items``, nested ones flattened, ``*`` dropped."""
    flat = []
    for it in items:
        if isinstance(it, And):
            flat.extend(it.items)
        elif not isinstance(it, All):
            flat.append(it)
    if not flat:
        return All()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*items: Node) -> Node:
    """The disjunction of ``items``, nested ones flattened."""
    flat = []
    for it in items:
        flat.extend(it.items if isinstance(it, Or) else (it,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, depth first."""
    yield node
    if isinstance(node, (And, Or)):
        for it in node.items:
            yield from walk(it)
    elif isinstance(node, Not):
        yield from walk(node.item)


def transform(node: Node, fn: Callable[[Node], Optional[Node]]) -> Node:
    """A copy of the tree with each leaf replaced by ``fn(leaf)`` (None: kept)."""
    if isinstance(node, And):
        return and_(*(transform(it, fn) for it in node.items))
    if isinstance(node, Or):
        return or_(*(transform(it, fn) for it in node.items))
    if isinstance(node, Not):
        return Not(transform(node.item, fn))
    new = fn(node)
    return node if new is None else new


# ---------------------------------------------------------------------- printing
def quote(s: str) -> str:
    """``s`` in double quotes, ``\\`` and ``"`` escaped with a backslash."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(name: str, tag: bool) -> str:
    if not tag:
        return _FIELD_TEXT.get(name, name)
    if NAME_RE.match(name) and name not in FIELDS and not name.startswith("_"):
        return name
    return quote(name)


def _value(v: str) -> str:
    return v if _BARE_VALUE.match(v) and v not in KEYWORDS and v != "in" else quote(v)


def _time(ns: int) -> str:
    return format_iso(ns, digits=0 if ns % NS_PER_S == 0 else 9)


def _eq(node: Eq) -> str:
    name = _field(node.field, node.tag)
    values = sorted(node.values)
    if node.field == "host" and not node.tag and all(
            hostlist.hostlist_safe(v) and _BARE_VALUE.match(v) and v not in KEYWORDS
            and v != "in" for v in values):
        return f"{name}:{hostlist.compress(values)}"
    if len(values) == 1:
        return f"{name}:{_value(values[0])}"
    quoted = ", ".join(quote(v) if node.field == "host" and not node.tag else _value(v)
                       for v in values)
    return f"{name}:in({quoted})"


def _text(node: Node) -> str:
    if isinstance(node, All):
        return "*"
    if isinstance(node, Text):
        bare = (_BARE_TEXT.match(node.value) and node.value not in KEYWORDS)
        return (node.value if bare else quote(node.value)) + ("*" if node.prefix else "")
    if isinstance(node, Regex):
        if node.field == "message" and not node.tag:
            return "~" + quote(node.pattern)
        return f"{_field(node.field, node.tag)}:~{quote(node.pattern)}"
    if isinstance(node, Eq):
        return _eq(node)
    if isinstance(node, Prefix):
        v = node.prefix
        return f"{_field(node.field, node.tag)}:{_value(v) if v else quote(v)}*"
    if isinstance(node, Exists):
        return f"{_field(node.field, node.tag)}:*"
    if isinstance(node, Level):
        return f"level:{'' if node.op == '=' else node.op}{LEVELS[node.rank]}"
    if isinstance(node, Time):
        if node.lo is not None and node.hi is not None:
            return f"_time:[{_time(node.lo)}, {_time(node.hi)})"
        if node.lo is not None:
            return f"_time:>={_time(node.lo)}"
        if node.hi is not None:
            return f"_time:<{_time(node.hi)}"
        return "*"
    if isinstance(node, Job):
        v = node.job_id if node.cluster is None else f"{node.cluster}/{node.job_id}"
        return f"job:{_value(v)}"
    if isinstance(node, And):
        return " ".join(f"({_text(it)})" if isinstance(it, Or) else _text(it)
                        for it in node.items)
    if isinstance(node, Or):
        return " OR ".join(_text(it) for it in node.items)
    if isinstance(node, Not):
        inner = _text(node.item)
        return "-" + (f"({inner})" if isinstance(node.item, (And, Or)) else inner)
    raise TypeError(f"not a query node: {node!r}")
