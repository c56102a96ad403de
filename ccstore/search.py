"""The read side of the store: filters and query strings to backend specs, and the answers.

The keyword filters of :meth:`ccstore.Store.query` and :meth:`~ccstore.Store.count`
become a :class:`~ccstore.backends.base.QuerySpec` here.  A query string
(:mod:`ccstore.query`) is parsed once, its ``job:`` filters resolved from the job
events stored, and planned: the pushdown becomes one spec per kind, which the
backend answers with its indexes, and the residual is checked in Python on each
record the backend returns.  Its regular expressions on the message, and the
literals they require, go to the backend too, which may read only the rows that
hold them.  Times are :mod:`ccstore.timesyntax`'s everywhere, and
a bound covers its whole unit (``end=1740028021`` takes in that whole second).
"""
from __future__ import annotations

import heapq
import operator
import re
import time
from dataclasses import dataclass, replace
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from . import timesyntax
from .backends.base import COLUMN_OF, Backend, GroupKey, QuerySpec, TagCond
from .rows import LEVEL_TAG, NS_PER_S
from .query import (Group, JobInfo, compile_query, find_job, from_result, group,
                    jobs_in, parse, plan, resolve)
from .query.jobs import JOB_EVENT_NAMES
from .query.nodes import FIELDS as QUERY_FIELDS
from .query.nodes import And, Eq, Job, Node, Regex, walk
from .query.text import fts_term, raw_tokens

__all__ = ["Searcher", "Selection", "Hits", "Follower", "keyword_spec", "time_bounds",
           "check_limit", "parse_cursor", "count_key", "GROUP_SCAN", "MAX_BUCKETS"]

#: message groups are formed from at most this many records, the newest first
GROUP_SCAN = 20_000
#: a histogram has at most this many buckets
MAX_BUCKETS = 100_000
#: the largest page read when records are checked after the backend (a residual)
_MAX_PAGE = 50_000
#: tag keys shown by default in facets besides the fields: this many, the most common
_FACET_TAG_KEYS = 3
#: records read to find the most common tag keys of a selection
_TAG_KEY_SAMPLE = 1000
#: default facet fields, in output order
FACET_FIELDS = ("host", "level", "name", "type", "kind", "cluster")
#: histogram steps chosen when no interval is given (seconds)
_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)

#: (time, id) of a backend result row: the total order of records
_ORDER_KEY = operator.itemgetter(3, 2)
#: output fields a count or facet can be split by -> their column (None: no column)
_SPLIT_FIELDS = {"cluster": None, "kind": None, "level": None, "host": "hostname",
                 "type": "type", "type_id": "typeid", "stype": "stype",
                 "stype_id": "stypeid", "name": "name"}
#: fields of a record that are not values to count
_UNSPLITTABLE = frozenset({"message", "_time", "job", "time", "ts_ns", "cursor", "tags"})


# ---------------------------------------------------------------------- arguments
def time_bounds(start: timesyntax.TimeLike, end: timesyntax.TimeLike, now_ns: int
                ) -> Tuple[Optional[int], Optional[int]]:
    """``[start, end)`` in ns from bounds as users give them (each covers its unit);
    ValueError naming the argument."""
    try:
        lo = timesyntax.start_ns(start, now_ns=now_ns)
    except ValueError as exc:
        raise ValueError(f"start: {exc}") from None
    try:
        hi = timesyntax.end_ns(end, now_ns=now_ns)
    except ValueError as exc:
        raise ValueError(f"end: {exc}") from None
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError("start is after end")
    return lo, hi


def _strings(value: Union[str, Iterable[str], None], what: str) -> Optional[Tuple[str, ...]]:
    """A string or an iterable of strings -> tuple ("any of"); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{what}: expected a string or a list of strings") from None
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{what}: expected strings, got {type(v).__name__}")
    if not out:
        raise ValueError(f"{what}: an empty list matches nothing")
    return out


def _kind(kind: str) -> str:
    k = {"log": "log", "logs": "log", "event": "event", "events": "event"}.get(kind)
    if k is None:
        raise ValueError(f"kind must be 'log' or 'event', not {kind!r}")
    return k


def _tag_condition(key: str, cond: Any) -> TagCond:
    """``"v"`` / ``["a", "b"]`` / ``{"in": [...]}`` / ``{"not": [...]}`` -> TagCond."""
    if isinstance(cond, Mapping):
        if len(cond) != 1:
            raise ValueError(f"tag {key!r}: give exactly one of 'in', 'not'")
        ((op, values),) = cond.items()
        if op in ("in", "==", "eq"):
            return TagCond(key, _strings(values, f"tag {key!r}"), False)
        if op in ("not", "not in", "!=", "ne"):
            return TagCond(key, _strings(values, f"tag {key!r}"), True)
        raise ValueError(f"tag {key!r}: unknown condition {op!r} (use 'in' or 'not')")
    return TagCond(key, _strings(cond, f"tag {key!r}"), False)


_IDENTITY_FILTERS = {"hostname": "hostname", "type": "type", "type-id": "typeid",
                     "stype": "stype", "stype-id": "stypeid", "name": "name"}


def parse_cursor(after: Optional[str]) -> Optional[Tuple[int, int]]:
    """A record's ``cursor`` -> (time, id); None stays None."""
    if after is None:
        return None
    try:
        t, i = str(after).split("_")
        return int(t), int(i)
    except ValueError:
        raise ValueError(f"invalid cursor {after!r}") from None


def check_limit(limit: Optional[int]) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise ValueError("limit must be a non-negative integer or None")


def _check_order(order: str) -> None:
    if order not in ("desc", "asc"):
        raise ValueError("order must be 'desc' or 'asc'")


def keyword_spec(kind: str, start_ns: Optional[int], end_ns: Optional[int], *,
                 cluster: Any = None, hosts: Any = None, names: Any = None, types: Any = None,
                 type_ids: Any = None, stypes: Any = None, stype_ids: Any = None,
                 tags: Optional[Mapping[str, Any]] = None, text: Optional[str] = None,
                 limit: Optional[int] = None, order: str = "desc",
                 after: Optional[str] = None) -> QuerySpec:
    """The backend's spec of keyword filters; times are ``[start_ns, end_ns)``."""
    k = _kind(kind)
    spec = QuerySpec(kind=k, clusters=_strings(cluster, "cluster"), start=start_ns,
                     end=None if end_ns is None else end_ns - 1)
    for col, value, what in (("hostname", hosts, "hosts"), ("name", names, "names"),
                             ("type", types, "types"), ("typeid", type_ids, "type_ids"),
                             ("stype", stypes, "stypes"),
                             ("stypeid", stype_ids, "stype_ids")):
        values = _strings(value, what)
        if values is not None:
            spec.columns[col] = values
    for key, cond in (tags or {}).items():
        if not isinstance(key, str) or not key:
            raise ValueError("tag keys must be non-empty strings")
        tc = _tag_condition(key, cond)
        if key == "cluster":
            if tc.negate:
                raise ValueError("tag 'cluster': use the cluster argument")
            spec.clusters = tc.values if spec.clusters is None else tuple(
                c for c in spec.clusters if c in tc.values)
        elif key == LEVEL_TAG[k]:
            spec.levels = tc
        elif key in _IDENTITY_FILTERS:
            col = _IDENTITY_FILTERS[key]
            target = spec.exclude if tc.negate else spec.columns
            have = target.get(col)
            if have is None:
                target[col] = tc.values
            elif tc.negate:
                target[col] = have + tc.values
            else:
                target[col] = tuple(v for v in have if v in tc.values)
        else:
            spec.tags.append(tc)
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text: expected a non-empty full-text query")
        if text.count('"') % 2:  # FTS5 doubles a quote inside a phrase: pairs only
            raise ValueError(f"invalid full-text query {text!r}: a phrase is not closed")
        spec.text = text
    check_limit(limit)
    spec.limit = limit
    _check_order(order)
    spec.order = order
    spec.after = parse_cursor(after)
    return spec


def refuse_nul(spec: QuerySpec) -> None:
    """ValueError for a filter with a NUL character, which a store that cannot hold
    one (PostgreSQL) cannot compare either."""
    named: List[Tuple[str, Sequence[str]]] = [("cluster", spec.clusters or ())]
    named += list(spec.columns.items()) + list(spec.exclude.items())
    if spec.levels is not None:
        named.append((spec.level_tag, spec.levels.values))
    named += [(f"tag {tc.key!r}", (tc.key,) + tc.values) for tc in spec.tags]
    if spec.text is not None:
        named.append(("text", (spec.text,)))
    for what, values in named:
        if any("\x00" in v for v in values):
            raise ValueError(f"{what}: a NUL character (0x00) is in no value of this store "
                             "(PostgreSQL cannot hold it)")


def count_key(name: str, kind: str) -> Optional[GroupKey]:
    """The backend's group key of a field or tag name for ``kind`` (None: the kind
    itself, the same for every record of one spec)."""
    field = QUERY_FIELDS.get(name, name)
    if field in _UNSPLITTABLE:
        raise ValueError(f"cannot count by {name!r}: a record's {field} is not a value to count")
    if field == "kind":
        return None
    if field == "cluster":
        return ("cluster", "")
    if field == "level":
        field = LEVEL_TAG["log"]  # the loglevel tag: a column of logs, a tag of events
    if field in _SPLIT_FIELDS:
        return ("column", _SPLIT_FIELDS[field] or field)
    if field == LEVEL_TAG[kind]:
        return ("level", field)
    col = COLUMN_OF.get(field)
    if col is not None:
        return ("column", col)
    return ("tag", field)


def _value_getter(name: str) -> Callable[[Mapping[str, Any]], Optional[str]]:
    """The value of field or tag ``name`` in an output dict (:mod:`ccstore.query.fields`)."""
    field = QUERY_FIELDS.get(name, name)
    if field in _UNSPLITTABLE:
        raise ValueError(f"cannot count by {name!r}: a record's {field} is not a value to count")
    if field in _SPLIT_FIELDS:
        return operator.itemgetter(field)
    return lambda r: r["tags"].get(field)


# ---------------------------------------------------------------------- answers
@dataclass
class Selection:
    """A query ready to run: one spec per kind (none: nothing matches), the residual
    check of a backend result row, and the time range ``[lo, hi)`` it covers (None:
    unbounded)."""

    specs: List[QuerySpec]
    check: Optional[Callable[[tuple], bool]]
    lo: Optional[int]
    hi: Optional[int]


class Hits:
    """Counts per time bucket: ``buckets`` is ``[(bucket start s, {value: count})]``,
    every bucket of ``[start, end)`` (seconds) present, each with every value seen
    (zero where it has none).  ``by`` None counts every record under ``"*"``."""

    __slots__ = ("interval_s", "start", "end", "by", "buckets")

    def __init__(self, interval_s: int, start: int, end: int, by: Optional[str],
                 buckets: List[Tuple[int, Dict[Optional[str], int]]]) -> None:
        self.interval_s = interval_s
        self.start = start
        self.end = end
        self.by = by
        self.buckets = buckets

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for _, c in self.buckets)

    def as_dict(self) -> dict:
        """JSON form: a bucket's ``time`` is its start in ISO 8601; a record without
        the field counts under ``""``."""
        return {"interval_s": self.interval_s, "start": self.start, "end": self.end,
                "by": self.by, "total": self.total,
                "buckets": [{"time": timesyntax.format_iso(s * NS_PER_S, digits=0), "start": s,
                             "counts": {("" if v is None else v): n for v, n in c.items()}}
                            for s, c in self.buckets]}

    def __repr__(self) -> str:
        return (f"Hits(interval_s={self.interval_s}, start={self.start}, end={self.end}, "
                f"by={self.by!r}, buckets={len(self.buckets)}, total={self.total})")


class Searcher:
    """Query strings answered on a backend: records, histograms, facets, groups, jobs.

    ``clock()`` is "now" in ns for relative times and running jobs.
    """

    def __init__(self, backend: Backend, clock: Callable[[], int] = time.time_ns) -> None:
        self.backend = backend
        self.clock = clock

    # -------------------------------------------------------------- selecting
    def fulltext(self, text: Optional[str]) -> Optional[str]:
        """A full-text query in the backend's form (checked: ValueError if invalid)."""
        return None if text is None else self.backend.fulltext_query(text)

    def ready(self, spec: QuerySpec) -> QuerySpec:
        """``spec`` made ready for the backend: a NUL character refused in a filter
        where the backend cannot hold one, the full-text query in its form."""
        if not self.backend.stores_nul:
            refuse_nul(spec)
        spec.text = self.fulltext(spec.text)
        return spec

    def check_clusters(self, names: Iterable[str]) -> None:
        """ValueError for a cluster the store has no data of."""
        names = set(names)
        if not names:
            return
        known = self.backend.clusters()
        unknown = sorted(names - set(known))
        if unknown:
            have = ", ".join(known) if known else "none"
            raise ValueError(f"unknown cluster {unknown[0]!r} (clusters with data: {have})")

    def select(self, q: str, start: timesyntax.TimeLike, end: timesyntax.TimeLike,
               now_ns: int) -> Selection:
        """Parse, resolve jobs, plan, and bound by ``start``/``end``."""
        lo, hi = time_bounds(start, end, now_ns)
        tree = parse(q, now_ns=now_ns)
        self.check_clusters(_clusters_named(tree))
        if jobs_in(tree):
            tree = resolve(tree, lambda job_id, cluster: self.job(job_id, cluster, now_ns))
        p = plan(tree, fulltext=bool(getattr(self.backend, "fulltext", True)))
        push = p.pushdown
        if push.start_ns is not None:
            lo = push.start_ns if lo is None else max(lo, push.start_ns)
        if push.end_ns is not None:
            hi = push.end_ns if hi is None else min(hi, push.end_ns)
        check = None if p.residual is None else row_check(p.residual)
        specs: List[QuerySpec] = []
        regexes = () if p.residual is None else message_regexes(p.residual)
        if not (lo is not None and hi is not None and lo >= hi):
            filters = push.store_filters()
            for kind in push.kind_list():
                spec = self.ready(keyword_spec(kind, lo, hi, **filters))
                spec.contains = tuple(sorted(push.contains))
                spec.icontains = tuple(sorted(push.icontains))
                spec.regex = regexes
                if spec.clusters is None or spec.clusters:
                    specs.append(spec)
        return Selection(specs, check, lo, hi)

    # -------------------------------------------------------------- records
    def rows(self, sel: Selection, limit: Optional[int], order: str = "desc",
             after: Optional[Tuple[int, int]] = None) -> List[tuple]:
        """The first ``limit`` matching rows (backend result tuples) in ``order``."""
        _check_order(order)
        check_limit(limit)
        if limit == 0:
            return []
        desc = order == "desc"
        if limit is None:
            streams = [self._stream(spec, sel.check, order, after, None) for spec in sel.specs]
            if len(streams) == 1:
                return list(streams[0])
            return list(heapq.merge(*streams, key=_ORDER_KEY, reverse=desc))
        # one kind after the other: once a kind gave ``limit`` rows, a record of the next
        # kind must be at least as new (desc) as the last of them to be among the first
        # ``limit``, so the next kind is read from that time on only
        found: List[tuple] = []
        bound: Optional[int] = None
        for spec in sel.specs:
            if bound is not None:
                if desc:
                    spec = replace(spec, start=bound if spec.start is None
                                   else max(spec.start, bound))
                else:
                    spec = replace(spec, end=bound if spec.end is None else min(spec.end, bound))
                if spec.start is not None and spec.end is not None and spec.start > spec.end:
                    continue
            rows = list(self._stream(spec, sel.check, order, after, limit))
            if found:
                found = list(heapq.merge(found, rows, key=_ORDER_KEY, reverse=desc))[:limit]
            else:
                found = rows
            if len(found) == limit:
                bound = found[-1][3]
        return found

    def _stream(self, spec: QuerySpec, check: Optional[Callable[[tuple], bool]],
                order: str, after: Optional[Tuple[int, int]],
                want: Optional[int]) -> Iterator[tuple]:
        """Matching rows of one spec in order, at most ``want``; read page by page
        when a residual check may turn rows down."""
        if check is None:
            page = want
        else:
            page = _MAX_PAGE if want is None else min(max(want * 2, 256), _MAX_PAGE)
        spec = replace(spec, order=order, after=after, limit=page)
        left = want
        while True:
            rows = self.backend.query(spec)
            for r in rows:
                if check is None or check(r):
                    yield r
                    if left is not None:
                        left -= 1
                        if left == 0:
                            return
            if spec.limit is None or len(rows) < spec.limit:
                return
            spec.after = _ORDER_KEY(rows[-1])
            spec.limit = min(spec.limit * 2, _MAX_PAGE) if check is not None else spec.limit

    def checked_rows(self, sel: Selection) -> Iterator[tuple]:
        """Every row of a selection with a residual check, read page by page
        (bounded memory), oldest first."""
        streams = [self._stream(spec, sel.check, "asc", None, None) for spec in sel.specs]
        return heapq.merge(*streams, key=_ORDER_KEY)

    # -------------------------------------------------------------- counting
    def counts(self, sel: Selection, by: Optional[str], step: Optional[int]
               ) -> Dict[tuple, int]:
        """``{(value?, bucket start ns?): count}`` over every matching record."""
        totals: Dict[tuple, int] = {}
        if sel.check is not None:
            get = None if by is None else _value_getter(by)
            for r in self.checked_rows(sel):
                rec = from_result(r)
                key: tuple = () if get is None else (get(rec),)
                if step is not None:
                    key += (r[3] - r[3] % step,)
                totals[key] = totals.get(key, 0) + 1
            return totals
        for spec in sel.specs:
            keys: List[GroupKey] = []
            const: tuple = ()
            if by is not None:
                gk = count_key(by, spec.kind)
                if gk is None:
                    const = (spec.kind,)
                else:
                    keys.append(gk)
            for row in self.backend.count(replace(spec, limit=None, after=None), keys, step):
                key = const + tuple(row[:-1])
                totals[key] = totals.get(key, 0) + row[-1]
        return totals

    def hits(self, sel: Selection, interval: Union[str, float, None], by: Optional[str],
             buckets: int, now_ns: int) -> Hits:
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise ValueError("buckets must be a positive integer")
        if by is not None:
            count_key(by, "log")  # an unsplittable field is an error, whatever matches
        lo, hi = sel.lo, sel.hi
        if lo is None:
            first = self.rows(sel, 1, "asc")
            lo = first[0][3] if first else None
        if hi is None:
            last = self.rows(sel, 1, "desc")
            hi = last[0][3] + 1 if last else None
        step = None
        if interval is not None:
            try:
                step = timesyntax.duration_ns(interval)
            except ValueError as exc:
                raise ValueError(f"interval: {exc}") from None
            if step < NS_PER_S or step % NS_PER_S:
                raise ValueError("interval must be a whole number of seconds, at least 1")
        if lo is None or hi is None:  # nothing matches and no range given
            at = (now_ns if lo is None and hi is None else (lo if hi is None else hi))
            s = at // NS_PER_S
            return Hits((step or NS_PER_S) // NS_PER_S, s, s, by, [])
        if step is None:
            step = _nice_step(lo, hi, buckets) * NS_PER_S
        first_b = lo - lo % step
        last_b = (hi - 1) - (hi - 1) % step
        n = (last_b - first_b) // step + 1
        if n > MAX_BUCKETS:
            raise ValueError(f"interval {timesyntax.format_duration(step)} makes {n:,} buckets "
                             f"of this range; at most {MAX_BUCKETS:,}")
        totals = self.counts(sel, by, step)
        values = sorted({k[0] for k in totals} if by is not None else {"*"},
                        key=lambda v: (v is None, v or ""))
        out: List[Tuple[int, Dict[Optional[str], int]]] = []
        index = {}
        for i in range(n):
            t = first_b + i * step
            index[t] = i
            out.append((t // NS_PER_S, dict.fromkeys(values, 0)))
        for key, cnt in totals.items():
            value, t = (key[0], key[1]) if by is not None else ("*", key[0])
            out[index[t]][1][value] += cnt
        return Hits(step // NS_PER_S, first_b // NS_PER_S, (last_b + step) // NS_PER_S, by,
                    out)

    def facets(self, sel: Selection, fields: Optional[Sequence[str]], limit: int
               ) -> Dict[str, List[Tuple[Optional[str], int]]]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        if fields is not None:
            if isinstance(fields, str):
                fields = [f.strip() for f in fields.split(",") if f.strip()]
            names = list(dict.fromkeys(fields))
            for name in names:
                if not isinstance(name, str) or not name:
                    raise ValueError("fields: expected field or tag names")
                count_key(name, "log")
        else:
            names = list(FACET_FIELDS) + self._common_tag_keys(sel)
        out: Dict[str, List[Tuple[Optional[str], int]]] = {}
        if sel.check is not None:  # one pass over the records
            getters = [_value_getter(n) for n in names]
            tallies: List[Dict[Optional[str], int]] = [{} for _ in names]
            for r in self.checked_rows(sel):
                rec = from_result(r)
                for get, tally in zip(getters, tallies):
                    v = get(rec)
                    tally[v] = tally.get(v, 0) + 1
            for name, tally in zip(names, tallies):
                out[name] = _top(tally, limit)
            return out
        tallies = [{} for _ in names]
        for spec in sel.specs:
            keys: List[GroupKey] = []
            slots = []  # per name: its key's place in keys (None: the kind)
            for name in names:
                gk = count_key(name, spec.kind)
                if gk is None:
                    gk = ("cluster", "")  # the kind's total is the sum over clusters
                if gk not in keys:
                    keys.append(gk)
                slots.append(keys.index(gk))
            found = self.backend.facets(replace(spec, limit=None, after=None), keys)
            for name, slot, tally in zip(names, slots, tallies):
                counts = found[slot]
                if count_key(name, spec.kind) is None:
                    counts = {spec.kind: sum(counts.values())} if counts else {}
                for v, n in counts.items():
                    tally[v] = tally.get(v, 0) + n
        for name, tally in zip(names, tallies):
            out[name] = _top(tally, limit)
        return out

    def _common_tag_keys(self, sel: Selection) -> List[str]:
        """The most common tag keys among the newest matching records (the level
        tag, shown as ``level``, left out)."""
        seen: Dict[str, int] = {}
        for r in self.rows(sel, _TAG_KEY_SAMPLE):
            for key in from_result(r)["tags"]:
                if key != LEVEL_TAG["log"]:
                    seen[key] = seen.get(key, 0) + 1
        ranked = sorted(seen, key=lambda k: (-seen[k], k))
        # a tag named like a field is not reachable by that name
        return [k for k in ranked if k not in QUERY_FIELDS][:_FACET_TAG_KEYS]

    def group(self, sel: Selection, limit: int) -> List[Group]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("limit must be a non-negative integer")
        rows = self.rows(sel, GROUP_SCAN, "desc")
        return group(({"message": r[12], "ts_ns": r[3], "host": r[6]} for r in rows), limit)

    # -------------------------------------------------------------- jobs
    def job(self, job_id: str, cluster: Optional[str], now_ns: int) -> JobInfo:
        """Job ``job_id`` from the job events stored (both spellings)."""
        job_id = str(job_id).strip()
        if not job_id:
            raise ValueError("job: expected a job id")
        if cluster is not None:
            self.check_clusters([cluster])
        words = raw_tokens(job_id)  # the id as a word of the payload narrows the read
        text = self.fulltext(fts_term(words)) if words else None
        spec = keyword_spec("event", None, None, names=JOB_EVENT_NAMES, limit=None)
        spec.text = text
        events = (from_result(r) for r in self.backend.query(spec))
        return find_job(events, job_id, cluster, now_ns=now_ns)


class Follower:
    """The records matching a query as they are committed, oldest first: each
    :meth:`poll` returns those ordered after the last one it returned (by time, then
    id), starting at ``since_ns`` or after the record ``after`` (a cursor).

    The query is planned anew on every poll, so relative times (``_time:5m``) and a
    running job's window move with the clock.  A record committed with a time
    older than the newest one already returned is not returned: follow a store
    whose lines arrive in about the order of their times.  A reader that falls
    behind by a whole page jumps to the newest page; :meth:`poll` reports how many
    records it passed over.
    """

    def __init__(self, searcher: Searcher, q: str, since_ns: Optional[int] = None,
                 after: Optional[str] = None) -> None:
        self.searcher = searcher
        self.q = q
        self.after = parse_cursor(after)
        now = searcher.clock()
        self.since = now if since_ns is None and self.after is None else since_ns
        searcher.select(q, self.since, None, now)  # a bad query fails here, not later

    @property
    def cursor(self) -> Optional[str]:
        """The position of the last record returned (for ``after=``), or None."""
        return None if self.after is None else f"{self.after[0]}_{self.after[1]}"

    def poll(self, limit: int) -> Tuple[List[tuple], int]:
        """``(rows, skipped)``: at most ``limit`` new rows (backend result tuples),
        oldest first, and how many matching rows were passed over (0 unless the
        reader fell ``limit`` or more behind)."""
        s = self.searcher
        now = s.clock()
        sel = s.select(self.q, self.since, None, now)
        rows = s.rows(sel, limit, "asc", self.after)
        skipped = 0
        if len(rows) == limit:  # a page or more behind: the newest page instead
            newest = s.rows(sel, limit, "desc", None)
            newest.reverse()
            lo, first = rows[0][3], newest[0][3]
            if lo < first:  # what lies before the newest page (by time) is passed over
                gap = s.select(self.q, lo, first - 1, now)
                skipped = sum(s.counts(gap, None, None).values())
            rows = newest
        if rows:
            self.after = _ORDER_KEY(rows[-1])
        return rows, skipped


#: the message in a backend result row
_MESSAGE_AT = 12


def _is_message_regex(node: Node) -> bool:
    return isinstance(node, Regex) and node.field == "message" and not node.tag


def message_regexes(residual: Node) -> Tuple[str, ...]:
    """The regular expressions on the message that every match of ``residual`` meets
    (its conjuncts), for the backend to test as it reads."""
    items = residual.items if isinstance(residual, And) else (residual,)
    return tuple(n.pattern for n in items if _is_message_regex(n))


def row_check(residual: Node) -> Callable[[tuple], bool]:
    """The residual as a test of a backend result row.  Its regular expressions on
    the message run on the row's message itself, before (and mostly instead of)
    making the record that the rest of it is evaluated on."""
    items = residual.items if isinstance(residual, And) else (residual,)
    searches = [re.compile(n.pattern).search for n in items if _is_message_regex(n)]
    rest = [n for n in items if not _is_message_regex(n)]
    pred = compile_query(And(tuple(rest)) if len(rest) > 1 else rest[0]) if rest else None
    if not searches:
        assert pred is not None
        return lambda r: pred(from_result(r))

    def check(r: tuple) -> bool:
        v = r[_MESSAGE_AT]
        if v is None:
            return False
        for search in searches:
            if search(v) is None:
                return False
        return pred is None or pred(from_result(r))
    return check


def _clusters_named(tree: Node) -> List[str]:
    """Clusters a query names (``cluster:x``, ``job:x/4711``)."""
    out: List[str] = []
    for n in walk(tree):
        if isinstance(n, Eq) and n.field == "cluster" and not n.tag:
            out.extend(n.values)
        elif isinstance(n, Job) and n.cluster is not None:
            out.append(n.cluster)
    return out


def _nice_step(lo: int, hi: int, buckets: int) -> int:
    """The smallest step (s) of :data:`_NICE_STEPS`, else of whole days, whose aligned
    buckets cover ``[lo, hi)`` in at most ``buckets``."""
    def fits(step: int) -> bool:
        return (hi - 1) // step - lo // step + 1 <= buckets

    for s in _NICE_STEPS:
        if fits(s * NS_PER_S):
            return s
    day = 86400 * NS_PER_S
    days = max(1, -(-(hi - lo) // (buckets * day)))
    while not fits(days * day):
        days += 1
    return days * 86400


def _top(tally: Mapping[Optional[str], int], limit: int) -> List[Tuple[Optional[str], int]]:
    """The ``limit`` most common values (a missing value left out), biggest first."""
    items = [(v, n) for v, n in tally.items() if v is not None and n]
    items.sort(key=lambda x: (-x[1], x[0]))
    return items[:limit]

