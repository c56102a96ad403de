"""A query split into what the store's indexes answer and what Python checks after.

:func:`plan` turns a syntax tree into a :class:`Pushdown`, the keyword filters of
:meth:`ccstore.Store.query` (clusters, kinds, time bounds, identity columns, tags
with ``{"not": [...]}``, a full-text expression), and a residual tree for the rest
(a regular expression, a prefix of a tag value, OR across fields, ...).

The pushdown never drops a matching record; it may select more, and then the
residual filters: ``match(query, r) == pushdown.matches(r) and match(residual, r)``
for every record ``r``.  Each node is approximated by the filters it implies, and
is left out of the residual only when they say exactly the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from .levels import spellings
from .literals import required_literals
from .nodes import (
    All,
    And,
    Eq,
    Exists,
    Job,
    Level,
    Node,
    Not,
    Or,
    Prefix,
    Regex,
    Text,
    Time,
    and_,
    or_,
)
from .text import fts_term, raw_tokens

__all__ = ["Pushdown", "Plan", "plan", "KINDS"]

KINDS = ("log", "event")
#: identity field -> (Store.query keyword, tag key of the column)
_COLUMNS = {
    "host": ("hosts", "hostname"),
    "name": ("names", "name"),
    "type": ("types", "type"),
    "type_id": ("type_ids", "type-id"),
    "stype": ("stypes", "stype"),
    "stype_id": ("stype_ids", "stype-id"),
}
#: tag keys that are never among a record's other tags (they have columns)
_NEVER_TAGS = frozenset({"cluster", "hostname", "type", "type-id", "stype", "stype-id"})
#: tag keys the store's ``tags`` argument takes for a column, not a tag
_COLUMN_TAGS = frozenset({"name"})
LEVEL_TAG = "loglevel"


@dataclass(frozen=True)
class Pushdown:
    """Conditions a store answers with its indexes, all of which a record must meet.

    ``None`` (or an empty mapping) means no condition.  ``start_ns`` is inclusive,
    ``end_ns`` exclusive.  ``text`` is a tree of :class:`~.nodes.Text` nodes under
    And/Or/Not, rendered as an FTS5 expression by :meth:`fts`.  ``contains``:
    substrings the message contains, each (case-sensitive), which the regular
    expressions of the residual require (:mod:`.literals`): the store may narrow its
    read with them (``QuerySpec.contains``), the residual decides, so they are not
    part of :meth:`as_node` or :meth:`store_filters`.  ``icontains``: the same in lower
    case, contained but for the case of ASCII letters.
    """

    empty: bool = False
    kinds: Optional[FrozenSet[str]] = None
    clusters: Optional[FrozenSet[str]] = None
    start_ns: Optional[int] = None
    end_ns: Optional[int] = None
    columns: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    exclude: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    tags: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    tags_not: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    text: Optional[Node] = None
    contains: FrozenSet[str] = frozenset()
    icontains: FrozenSet[str] = frozenset()

    # -------------------------------------------------------------- for the store
    def kind_list(self) -> Tuple[str, ...]:
        """The kinds to query (one ``Store.query`` call each), in a fixed order."""
        if self.empty:
            return ()
        return tuple(k for k in KINDS if self.kinds is None or k in self.kinds)

    def fts(self) -> Optional[str]:
        """The full-text condition as an FTS5 query (None: no condition)."""
        return None if self.text is None else _fts(self.text)

    def store_filters(self) -> Dict[str, Any]:
        """Keyword arguments of ``Store.query`` / ``Store.count`` besides kind and time:
        ``cluster``, ``hosts``, ``names``, ``types``, ``type_ids``, ``stypes``,
        ``stype_ids``, ``tags``, ``text`` (only those with a condition)."""
        out: Dict[str, Any] = {}
        if self.clusters is not None:
            out["cluster"] = sorted(self.clusters)
        tags: Dict[str, Any] = {}
        for f, values in self.columns.items():
            out[_COLUMNS[f][0]] = sorted(values - self.exclude.get(f, frozenset()))
        for f, values in self.exclude.items():
            if f not in self.columns:
                tags[_COLUMNS[f][1]] = {"not": sorted(values)}
        for k, values in self.tags.items():
            tags[k] = sorted(values - self.tags_not.get(k, frozenset()))
        for k, values in self.tags_not.items():
            if k not in self.tags:
                tags[k] = {"not": sorted(values)}
        if tags:
            out["tags"] = tags
        text = self.fts()
        if text is not None:
            out["text"] = text
        return out

    # -------------------------------------------------------------- as a query
    def as_node(self) -> Node:
        """The pushdown as a query: what a store selects with it."""
        if self.empty:
            return Not(All())
        items: List[Node] = []
        if self.kinds is not None:
            items.append(Eq("kind", self.kinds))
        if self.clusters is not None:
            items.append(Eq("cluster", self.clusters))
        if self.start_ns is not None or self.end_ns is not None:
            items.append(Time(self.start_ns, self.end_ns))
        for f, values in sorted(self.columns.items()):
            items.append(Eq(f, values))
        for f, values in sorted(self.exclude.items()):
            items.append(Not(Eq(f, values)))
        for k, values in sorted(self.tags.items()):
            items.append(Eq(k, values, True))
        for k, values in sorted(self.tags_not.items()):
            items.append(Not(Eq(k, values, True)))
        if self.text is not None:
            items.append(self.text)
        return and_(*items)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether a store would select ``record`` with this pushdown."""
        from .evaluate import match

        return match(self.as_node(), record)


@dataclass(frozen=True)
class Plan:
    """A query as pushdown (for the store) and residual (None: nothing left to check)."""

    pushdown: Pushdown
    residual: Optional[Node]


TOP = Pushdown()
EMPTY = Pushdown(empty=True)


# ---------------------------------------------------------------------- full text
def _fts(node: Node) -> str:
    if isinstance(node, Text):
        return fts_term(raw_tokens(node.value), node.prefix)
    if isinstance(node, Or):
        return "(" + " OR ".join(_fts(it) for it in node.items) + ")"
    if isinstance(node, And):
        pos = [it for it in node.items if not isinstance(it, Not)]
        neg = [it.item for it in node.items if isinstance(it, Not)]
        text = "(" + " AND ".join(_fts(it) for it in pos) + ")"
        for it in neg:
            text = f"({text} NOT {_fts(it)})"
        return text
    raise ValueError(f"not a full-text expression FTS5 can take: {node}")


def _renderable(node: Node) -> bool:
    """Whether FTS5 can say ``node`` (a NOT needs something positive beside it)."""
    if isinstance(node, Text):
        return True
    if isinstance(node, Or):
        return all(_renderable(it) for it in node.items)
    if isinstance(node, And):
        if all(isinstance(it, Not) for it in node.items):
            return False
        return all(_renderable(it.item if isinstance(it, Not) else it) for it in node.items)
    return False


def _is_text(node: Node) -> bool:
    if isinstance(node, Text):
        return True
    if isinstance(node, (And, Or)):
        return all(_is_text(it) for it in node.items)
    if isinstance(node, Not):
        return _is_text(node.item)
    return False


# ---------------------------------------------------------------------- lattice
def _inter(a: Optional[FrozenSet[str]], b: Optional[FrozenSet[str]]) -> Optional[FrozenSet[str]]:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _merge(a: Mapping[str, FrozenSet[str]], b: Mapping[str, FrozenSet[str]],
           op: str) -> Dict[str, FrozenSet[str]]:
    out = dict(a)
    for k, v in b.items():
        out[k] = (out[k] & v if op == "&" else out[k] | v) if k in out else v
    return out


def _meet(a: Pushdown, b: Pushdown) -> Pushdown:
    """Both pushdowns' conditions at once (AND)."""
    if a.empty or b.empty:
        return EMPTY
    lo = b.start_ns if a.start_ns is None else a.start_ns if b.start_ns is None \
        else max(a.start_ns, b.start_ns)
    hi = b.end_ns if a.end_ns is None else a.end_ns if b.end_ns is None \
        else min(a.end_ns, b.end_ns)
    text = b.text if a.text is None else a.text if b.text is None else and_(a.text, b.text)
    out = Pushdown(False, _inter(a.kinds, b.kinds), _inter(a.clusters, b.clusters), lo, hi,
                   _merge(a.columns, b.columns, "&"), _merge(a.exclude, b.exclude, "|"),
                   _merge(a.tags, b.tags, "&"), _merge(a.tags_not, b.tags_not, "|"), text,
                   a.contains | b.contains, a.icontains | b.icontains)
    return EMPTY if _contradicts(out) else out


def _contradicts(p: Pushdown) -> bool:
    if p.kinds is not None and not p.kinds or p.clusters is not None and not p.clusters:
        return True
    if p.start_ns is not None and p.end_ns is not None and p.start_ns >= p.end_ns:
        return True
    if any(not (v - p.exclude.get(f, frozenset())) for f, v in p.columns.items()):
        return True
    return any(not (v - p.tags_not.get(k, frozenset())) for k, v in p.tags.items())


def _dims(p: Pushdown) -> List[Tuple[str, str]]:
    out = []
    if p.kinds is not None:
        out.append(("kinds", ""))
    if p.clusters is not None:
        out.append(("clusters", ""))
    if p.start_ns is not None or p.end_ns is not None:
        out.append(("time", ""))
    out += [("col", f) for f in p.columns] + [("excl", f) for f in p.exclude]
    out += [("tag", k) for k in p.tags] + [("tagnot", k) for k in p.tags_not]
    if p.text is not None:
        out.append(("text", ""))
    if p.contains or p.icontains:
        out.append(("contains", ""))
    return out


def _join(a: Pushdown, b: Pushdown, a_exact: bool, b_exact: bool) -> Tuple[Pushdown, bool]:
    """The conditions either pushdown implies (OR), and whether they are exact."""
    if a.empty:
        return b, b_exact
    if b.empty:
        return a, a_exact
    lo = hi = None
    if a.start_ns is not None and b.start_ns is not None:
        lo = min(a.start_ns, b.start_ns)
    if a.end_ns is not None and b.end_ns is not None:
        hi = max(a.end_ns, b.end_ns)
    text = None
    if a.text is not None and b.text is not None:
        text = or_(a.text, b.text)

    def union(x: Optional[FrozenSet[str]], y: Optional[FrozenSet[str]]):
        return None if x is None or y is None else x | y

    def both(x: Mapping[str, FrozenSet[str]], y: Mapping[str, FrozenSet[str]], op: str):
        out = {}
        for k in x.keys() & y.keys():
            v = x[k] | y[k] if op == "|" else x[k] & y[k]
            if v:
                out[k] = v
        return out

    out = Pushdown(False, union(a.kinds, b.kinds), union(a.clusters, b.clusters), lo, hi,
                   both(a.columns, b.columns, "|"), both(a.exclude, b.exclude, "&"),
                   both(a.tags, b.tags, "|"), both(a.tags_not, b.tags_not, "&"), text,
                   a.contains & b.contains, a.icontains & b.icontains)
    da, db = _dims(a), _dims(b)
    exact = a_exact and b_exact and da == db and len(da) <= 1
    if exact and da == [("time", "")]:
        # a hull is the union only when the intervals overlap or touch
        exact = _touch(a, b)
    return out, exact


def _touch(a: Pushdown, b: Pushdown) -> bool:
    inf = float("inf")
    alo, ahi = (-inf if a.start_ns is None else a.start_ns), (inf if a.end_ns is None
                                                             else a.end_ns)
    blo, bhi = (-inf if b.start_ns is None else b.start_ns), (inf if b.end_ns is None
                                                             else b.end_ns)
    return max(alo, blo) <= min(ahi, bhi)


# ---------------------------------------------------------------------- approximation
class _Approx:
    def __init__(self, fulltext: bool, levels: Optional[FrozenSet[str]]) -> None:
        self.fulltext = fulltext
        self.levels = levels

    def level_values(self, op: str, rank: int) -> FrozenSet[str]:
        values = spellings(op, rank)
        return values if self.levels is None else values & self.levels

    def settle(self, p: Pushdown, exact: bool) -> Tuple[Pushdown, bool]:
        """A pushdown whose text FTS5 can say (an unsayable text is dropped)."""
        if p.text is not None and not _renderable(p.text):
            return replace(p, text=None), False
        return p, exact

    def __call__(self, node: Node) -> Tuple[Pushdown, bool]:
        """(conditions ``node`` implies, whether they say exactly ``node``)."""
        if isinstance(node, All):
            return TOP, True
        if isinstance(node, Text):
            return (Pushdown(text=node), True) if self.fulltext else (TOP, False)
        if isinstance(node, Eq):
            return self.eq(node)
        if isinstance(node, Level):
            values = self.level_values(node.op, node.rank)
            return (Pushdown(tags={LEVEL_TAG: values}) if values else EMPTY), True
        if isinstance(node, Time):
            return Pushdown(start_ns=node.lo, end_ns=node.hi), True
        if isinstance(node, Regex):
            return self.regex(node), False
        if isinstance(node, (Prefix, Exists)):
            return TOP, False
        if isinstance(node, Job):
            raise ValueError(f"{node}: a job must be resolved to its hosts and time first "
                             f"(ccstore.query.jobs.resolve)")
        if isinstance(node, Not):
            return self.negation(node.item)
        if isinstance(node, And):
            p, exact = TOP, True
            for it in node.items:
                q, e = self(it)
                p, exact = _meet(p, q), exact and e
            return p, exact
        if isinstance(node, Or):
            p, exact = EMPTY, True
            for it in node.items:
                q, e = self.settle(*self(it))
                p, exact = _join(p, q, exact, e)
            return p, exact
        raise TypeError(f"not a query node: {node!r}")

    def regex(self, node: Regex) -> Pushdown:
        """What a regular expression on the message requires: its literals as
        substrings (never exact: the expression itself stays in the residual)."""
        if node.tag or node.field != "message":
            return TOP
        return Pushdown(contains=frozenset(required_literals(node.pattern)),
                        icontains=frozenset(required_literals(node.pattern, True)))

    def eq(self, node: Eq) -> Tuple[Pushdown, bool]:
        f, values = node.field, node.values
        if node.tag:
            if f in _NEVER_TAGS:
                return EMPTY, True
            if f in _COLUMN_TAGS:
                return TOP, False
            return Pushdown(tags={f: values}), True
        if f == "cluster":
            return Pushdown(clusters=values), True
        if f == "kind":
            return Pushdown(kinds=values & frozenset(KINDS)) if values & frozenset(KINDS) \
                else EMPTY, True
        if f in _COLUMNS:
            return Pushdown(columns={f: values}), True
        return TOP, False

    def negation(self, item: Node) -> Tuple[Pushdown, bool]:
        if isinstance(item, All):
            return EMPTY, True
        if isinstance(item, Not):
            return self(item.item)
        if isinstance(item, Eq):
            f, values = item.field, item.values
            if item.tag:
                if f in _NEVER_TAGS:
                    return TOP, True
                if f in _COLUMN_TAGS:
                    return TOP, False
                return Pushdown(tags_not={f: values}), True
            if f == "kind":
                rest = frozenset(KINDS) - values
                return (Pushdown(kinds=rest) if rest else EMPTY), True
            if f in _COLUMNS:
                return Pushdown(exclude={f: values}), True
            return TOP, False
        if isinstance(item, Level):
            values = self.level_values(item.op, item.rank)
            return (Pushdown(tags_not={LEVEL_TAG: values}) if values else TOP), True
        if self.fulltext and _is_text(item):
            sub, exact = self.settle(*self(item))
            if sub.text is not None and exact:
                return Pushdown(text=Not(sub.text)), True
        return TOP, False


def _conjuncts(node: Node) -> Tuple[Node, ...]:
    return node.items if isinstance(node, And) else (node,)


def plan(node: Node, *, fulltext: bool = True,
         levels: Optional[Iterable[str]] = None) -> Plan:
    """Split a query (jobs resolved) into pushdown and residual.

    ``fulltext``: the store has a full-text index, which answers words, phrases,
    prefixes, AND/OR and NOT exactly as the evaluator does.  Without one the store
    compares substrings with SQLite's ASCII-only ``lower()`` and without removing
    diacritics, which can miss a match (``ecole`` in ``ÉCOLE``): full text is then
    left to the residual alone.  ``levels``: the level spellings stored, when known,
    to keep the pushed lists short.
    """
    approx = _Approx(fulltext, None if levels is None else frozenset(levels))
    parts = [(c,) + approx(c) for c in _conjuncts(node)]
    pushdown = TOP
    for _, p, _ in parts:
        pushdown = _meet(pushdown, p)
    residual: List[Node] = [c for c, _, exact in parts if not exact]
    if pushdown.text is not None and not _renderable(pushdown.text):
        # negated text with nothing positive to subtract it from: checked after
        keep = [p.text for _, p, _ in parts if p.text is not None
                and not isinstance(p.text, Not)]
        pushdown = replace(pushdown, text=and_(*keep) if keep else None)
        residual += [c for c, p, exact in parts if exact and isinstance(p.text, Not)]
    if pushdown.empty:
        return Plan(EMPTY, None)
    return Plan(pushdown, and_(*residual) if residual else None)
