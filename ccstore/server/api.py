"""REST request shapes -> Store calls -> answer shapes (no HTTP in here).

``run_query`` answers the Go cc-event-store's ``/api/query/`` request exactly
(``{"results": [[{"data": [{"Event", "timestamp"}], "from", "to"}]]}``: one list
per query, one entry per type-id, per subtype-id when given) and adds the
documented extensions.  An entry's ``data`` is read page by page as it is
written (:class:`Pages`, :func:`json_chunks`), so an answer of many records is
never held whole.  ``run_count`` answers ``/api/count/``.  ``run_search``,
``run_hits``, ``run_facets``, ``run_group`` and ``run_job`` answer the endpoints of
the query language (query-string parameters, output names of
:mod:`ccstore.query.fields`).  Every reader is strict: an unknown key or parameter,
an unknown cluster, a bad time or query is a :class:`RequestError` naming it.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .. import timesyntax
from ..ingest.body import ApiError
from ..query import DEFAULTS, JobNotFound, QuerySyntaxError
from ..store import Record, Store

__all__ = ["PAGE", "Pages", "RequestError", "check_cluster", "facets_dict", "json_chunks",
           "merge_conditions", "parse_condition", "run_count", "run_facets", "run_group",
           "run_hits", "run_job", "run_query", "run_search"]

#: records of an answer read from the store at a time
PAGE = 2000


class RequestError(ApiError, ValueError):
    """The request is malformed; the message tells the client what to fix.

    ``status`` is 400 unless given; ``extra`` keys join the error answer (``column``
    of a query syntax error)."""

    def __init__(self, message: str, *, status: int = 400, **extra: Any) -> None:
        super().__init__(status, message, extra)


#: the largest time (and interval) in Unix seconds whose nanoseconds fit in 64 bits
MAX_SECONDS = (2**63 - 1) // 10**9


# ----------------------------------------------------------------------- small readers


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    v = d.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise RequestError(f"{where}{key}: expected a string")
    return v


def _str_list(v: Any, what: str) -> Optional[List[str]]:
    """A string, a number or a list of them -> list of strings; None/""/[] -> None."""
    if v is None or v == "" or v == []:
        return None
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return [str(v)]
    if isinstance(v, list):
        out = []
        for x in v:
            if isinstance(x, bool) or not isinstance(x, (str, int)):
                raise RequestError(f"{what}: expected strings")
            if x != "":
                out.append(str(x))
        return out or None
    raise RequestError(f"{what}: expected a string or a list of strings")


def _time(d: Mapping[str, Any], key: str, *, zero_is_open: bool) -> Any:
    """A time bound in the one time syntax (:mod:`ccstore.timesyntax`), checked here so
    that the error names ``key``; None when absent (or 0 where 0 means "open")."""
    v = d.get(key)
    if v is None or v == "":
        return None
    if zero_is_open and not isinstance(v, bool) and v in (0, "0"):
        return None
    try:
        span = timesyntax.parse_instant(v)
    except (ValueError, OverflowError) as exc:
        raise RequestError(f"{key}: {exc}") from None
    if span.hi > MAX_SECONDS * timesyntax.NS_PER_S:
        raise RequestError(f"{key}: {v!r} is out of range (at most {MAX_SECONDS} Unix "
                           f"seconds)")
    return v


def _check_range(start: Any, end: Any, what: str) -> None:
    if start is not None and end is not None and \
            timesyntax.start_ns(start) >= timesyntax.end_ns(end):
        raise RequestError(what)


def _unknown_keys(d: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """RequestError naming the first key of ``d`` not in ``allowed``."""
    known = set(allowed)
    for k in d:
        if k not in known:
            raise RequestError(f"{where}unknown key {k!r}; expected one of "
                               f"{', '.join(sorted(known))}")


def _echo(v: Any) -> int:
    """``from``/``to`` as the answer repeats them: whole Unix seconds, 0 when open."""
    return 0 if v is None else timesyntax.start_ns(v) // timesyntax.NS_PER_S


def _interval(v: Any) -> Optional[int]:
    """Histogram bucket width in whole seconds: a duration (``"1h"``) or seconds."""
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise RequestError("interval: expected a duration (\"1h\") or seconds")
    if isinstance(v, str) and re.fullmatch(r"\s*\d{1,30}\s*", v):
        v = int(v)  # seconds, as a query string spells them
    try:
        seconds = timesyntax.parse_duration(v)
    except (ValueError, OverflowError) as exc:
        raise RequestError(f"interval: {exc}") from None
    if (seconds is None or not math.isfinite(seconds) or seconds < 1
            or seconds != int(seconds) or seconds > MAX_SECONDS):
        raise RequestError(f"interval: {v!r} must be a whole number of seconds from 1 to "
                           f"{MAX_SECONDS}")
    return int(seconds)


def _limit(v: Any, cap: int, what: str = "limit") -> int:
    if v is None:
        return cap
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise RequestError(f"{what}: expected a non-negative integer")
    return min(v, cap)


def _order(v: Any) -> str:
    if v is None:
        return "asc"
    if v not in ("asc", "desc"):
        raise RequestError("order: expected \"asc\" or \"desc\"")
    return v


def _kind(v: Any, default: str) -> str:
    if v is None or v == "":
        return default
    k = {"event": "event", "events": "event", "log": "log", "logs": "log"}.get(v) \
        if isinstance(v, str) else None
    if k is None:
        raise RequestError("kind: expected \"event\" or \"log\"")
    return k


# ----------------------------------------------------------------------- tag conditions

_COND_RE = re.compile(
    r"^\s*([^\s=!]+?)\s*(==|!=|=|\s+not\s+in\s+|\s+in\s+)\s*(.*?)\s*$", re.IGNORECASE)


def parse_condition(c: Any) -> Tuple[str, str, List[str]]:
    """``(tag, op, values)`` from ``"k==v"``, ``"k in (a,b)"``, ``{"tag","op","value"}``
    or ``[tag, op, value]``; op is one of ``==``, ``!=``, ``in``, ``not in``."""
    if isinstance(c, str):
        m = _COND_RE.match(c)
        if not m:
            raise RequestError(f"condition {c!r}: expected tag==value, tag!=value, "
                               "tag in (a,b) or tag not in (a,b)")
        tag, op, raw = m.group(1), " ".join(m.group(2).lower().split()), m.group(3)
        if op == "=":
            op = "=="
        if op in ("in", "not in"):
            raw = raw.strip()
            if raw.startswith("(") and raw.endswith(")"):
                raw = raw[1:-1]
            values: Any = [v.strip() for v in raw.split(",") if v.strip()]
        else:
            values = raw
    elif isinstance(c, Mapping):
        tag = c.get("tag", c.get("key"))
        op = c.get("op", c.get("operation", "=="))
        values = c.get("value", c.get("values"))
    elif isinstance(c, (list, tuple)) and len(c) == 3:
        tag, op, values = c
    else:
        raise RequestError(f"condition {c!r}: expected a string, an object "
                           "{tag, op, value} or a list [tag, op, value]")
    if not isinstance(tag, str) or not tag:
        raise RequestError(f"condition {c!r}: the tag must be a non-empty string")
    if not isinstance(op, str) or op.lower() not in ("==", "=", "!=", "in", "not in"):
        raise RequestError(f"condition {c!r}: op must be ==, !=, in or not in")
    op = "==" if op == "=" else op.lower()
    if isinstance(values, (str, int)) and not isinstance(values, bool):
        vals = [str(values)]
    elif isinstance(values, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                          for v in values):
        vals = [str(v) for v in values]
    else:
        raise RequestError(f"condition {c!r}: the value must be a string or a list of strings")
    if op in ("==", "!=") and len(vals) != 1:
        raise RequestError(f"condition {c!r}: {op} takes one value; use in / not in")
    if not vals:
        raise RequestError(f"condition {c!r}: no values")
    return tag, op, vals


def merge_conditions(conds: Iterable[Tuple[str, str, List[str]]]
                     ) -> Optional[Dict[str, Any]]:
    """Store ``tags`` argument from conditions (all must hold); None when they
    contradict each other, so nothing can match."""
    pos: Dict[str, Optional[Set[str]]] = {}
    neg: Dict[str, Set[str]] = {}
    order: List[str] = []
    for tag, op, vals in conds:
        if tag not in order:
            order.append(tag)
        if op in ("==", "in"):
            have = pos.get(tag)
            pos[tag] = set(vals) if have is None else have & set(vals)
        else:
            neg.setdefault(tag, set()).update(vals)
    out: Dict[str, Any] = {}
    for tag in order:
        p = pos.get(tag)
        n = neg.get(tag, set())
        if p is not None:
            p = p - n
            if not p:
                return None
            out[tag] = sorted(p)
        elif n:
            out[tag] = {"not": sorted(n)}
    return out


def _conditions(v: Any, what: str) -> List[Tuple[str, str, List[str]]]:
    if v is None:
        return []
    if isinstance(v, Mapping):  # {"loglevel": "error", "function": ["a", "b"]}
        return [parse_condition({"tag": k, "op": "in" if isinstance(x, list) else "==",
                                 "value": x}) for k, x in v.items()]
    if not isinstance(v, list):
        raise RequestError(f"{what}: expected a list of conditions")
    return [parse_condition(c) for c in v]


# ----------------------------------------------------------------------- /api/query/


def _datum(r: Record, full: bool) -> Dict[str, Any]:
    d: Dict[str, Any] = {"Event": r.value, "timestamp": r.timestamp}
    if full:
        d.update({"time": r.time, "cluster": r.cluster, "kind": r.kind, "name": r.name,
                  "hostname": r.hostname, "type": r.type, "type-id": r.type_id,
                  "stype": r.stype, "stype-id": r.stype_id, "tags": dict(r.tags)})
    return d


#: filters of one query; at the top level they are the defaults of every query (and
#: the one query of a request without "queries")
_QUERY_KEYS = ("event", "host", "hosts", "type", "type-ids", "subtype", "subtype-ids", "cursor")
#: options of one query that may also stand at the top level as defaults
_OPTION_KEYS = ("kind", "conditions", "text", "limit", "order", "full")
_REQUEST_KEYS = ("cluster", "from", "to", "queries", "for-all-nodes") + _QUERY_KEYS + _OPTION_KEYS


def _one_host_key(q: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """``q`` with ``hosts`` spelled ``host`` (the two are one key)."""
    out = dict(q)
    if "hosts" in out:
        if "host" in out:
            raise RequestError(f"{where}give host or hosts, not both")
        out["host"] = out.pop("hosts")
    return out


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise RequestError(f"{what}: expected true or false")
    return v


def check_cluster(store: Store, cluster: Optional[str]) -> None:
    """RequestError when ``cluster`` is given and the store holds nothing of it."""
    if cluster is not None:
        try:
            store.check_clusters([cluster])
        except ValueError as exc:
            raise RequestError(str(exc)) from None


def run_query(store: Store, req: Any, *, max_limit: int) -> Dict[str, Any]:
    """Answer one ``/api/query/`` request body (already JSON-decoded)."""
    if not isinstance(req, dict):
        raise RequestError("the request body must be a JSON object")
    _unknown_keys(req, _REQUEST_KEYS, "")
    cluster = _opt_str(req, "cluster", "")
    start = _time(req, "from", zero_is_open=False)
    end = _time(req, "to", zero_is_open=True)
    _check_range(start, end, "from is after to")
    kind = _kind(req.get("kind"), "event")
    check_cluster(store, cluster)
    top = _one_host_key({k: req[k] for k in _QUERY_KEYS if k in req}, "")
    fan = _str_list(req.get("for-all-nodes"), "for-all-nodes")
    queries = req.get("queries")
    if queries is None:
        # no "queries": the request itself is the one query (its top-level filters)
        queries = [] if fan else [{}]
    if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
        raise RequestError("queries: expected a list of objects")
    defaults = {
        "limit": _limit(req.get("limit"), max_limit),
        "order": _order(req.get("order")),
        "full": _bool(req.get("full", False), "full"),
        "text": _opt_str(req, "text", ""),
        "conditions": _conditions(req.get("conditions"), "conditions"),
    }
    all_queries = list(queries)
    expanded: List[Dict[str, Any]] = []
    if fan:
        try:
            expanded = _for_all_nodes(store, cluster, kind, start, end, fan)
        except (ValueError, TypeError) as exc:
            raise RequestError(f"for-all-nodes: {exc}") from None
        all_queries += expanded
    results = []
    for i, q in enumerate(all_queries):
        where = f"queries[{i}]."
        _unknown_keys(q, _QUERY_KEYS + _OPTION_KEYS, where)
        results.append(_run_one(store, {**top, **_one_host_key(q, where)}, where, cluster,
                                kind, start, end, req, defaults, max_limit))
    answer: Dict[str, Any] = {"results": results}
    if fan:
        answer["queries"] = list(queries) + expanded
    return answer


def _for_all_nodes(store: Store, cluster: Optional[str], kind: str, start: Any, end: Any,
                   names: List[str]) -> List[Dict[str, Any]]:
    """One query per (host, event name) for every host that has any of the names in
    the time range, hosts sorted, like cc-metric-store's ``for-all-nodes``."""
    rows = store.count(cluster, kind, start=start, end=end, by=("hostname",), names=names)
    hosts = sorted({r[0] for r in rows if r[0]})
    return [{"event": name, "host": host} for host in hosts for name in names]


def _run_one(store: Store, q: Dict[str, Any], where: str, cluster: Optional[str],
             kind: str, start: Any, end: Any, req: Mapping[str, Any],
             defaults: Dict[str, Any], max_limit: int) -> List[Dict[str, Any]]:
    names = _str_list(q.get("event"), where + "event")
    hosts = _str_list(q.get("host"), where + "host")
    qtype = _opt_str(q, "type", where)
    stype = _opt_str(q, "subtype", where)
    type_ids: List[Optional[str]] = list(_str_list(q.get("type-ids"), where + "type-ids")
                                         or [None])
    stype_ids: List[Optional[str]] = list(_str_list(q.get("subtype-ids"),
                                                    where + "subtype-ids") or [None])
    qkind = _kind(q.get("kind"), kind)
    limit = _limit(q["limit"], max_limit, where + "limit") if "limit" in q else defaults["limit"]
    order = _order(q["order"]) if "order" in q else defaults["order"]
    full = _bool(q["full"], where + "full") if "full" in q else defaults["full"]
    text = _opt_str(q, "text", where) or defaults["text"]
    cursor = _opt_str(q, "cursor", where)
    tags = merge_conditions(defaults["conditions"] + _conditions(q.get("conditions"),
                                                                 where + "conditions"))
    base = {"from": _echo(start), "to": _echo(end)}
    entries = []
    for tid in type_ids:
        for sid in stype_ids:
            entry: Dict[str, Any] = {"data": [], **base}
            if tags is not None and limit > 0:
                def fetch(n: int, after: Optional[str], tid: Optional[str] = tid,
                          sid: Optional[str] = sid) -> List[Record]:
                    return store.query(
                        cluster, qkind, start=start, end=end, hosts=hosts, names=names,
                        types=qtype, type_ids=tid, stypes=stype, stype_ids=sid, tags=tags,
                        text=text, limit=n, order=order, after=after)
                try:
                    entry["data"] = Pages(fetch, limit, cursor, full)
                except (ValueError, TypeError) as exc:
                    raise RequestError(f"{where[:-1]}: {exc}") from None
            entries.append(entry)
    return entries


class Pages:
    """The records of one entry, as datums, read ``PAGE`` at a time: the first page
    at once (a bad argument fails before anything is answered), the next ones as
    the answer is written, each after the last record of the one before.  Once
    they are read, ``cursor`` is the last record's when ``limit`` were found."""

    def __init__(self, fetch: Callable[[int, Optional[str]], List[Record]], limit: int,
                 after: Optional[str], full: bool, page: Optional[int] = None) -> None:
        self._fetch = fetch
        self._limit = limit
        self._full = full
        self._page = page or PAGE
        self._asked = min(limit, self._page)
        self._first: Optional[List[Record]] = fetch(self._asked, after)
        self.cursor: Optional[str] = None

    def __iter__(self) -> Iterator[List[Dict[str, Any]]]:
        records, self._first = self._first, None
        if records is None:
            raise RuntimeError("the pages of an answer are read once")
        asked, got = self._asked, 0
        while records:
            got += len(records)
            last = records[-1].cursor
            yield [_datum(r, self._full) for r in records]
            if len(records) < asked or got >= self._limit:
                break
            asked = min(self._limit - got, self._page)
            records = self._fetch(asked, last)
        else:
            return
        if got == self._limit:
            self.cursor = last


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_chunks(answer: Any) -> Iterator[bytes]:
    """``answer`` as compact JSON (UTF-8), in pieces: the :class:`Pages` in it are
    read and written a page at a time.  The text is that of ``json.dumps`` of the
    answer with the pages' datums in place."""
    if isinstance(answer, Pages):
        yield b"["
        sep = b""
        for page in answer:
            if page:
                yield sep + _dumps(page)[1:-1].encode()
                sep = b","
        yield b"]"
    elif isinstance(answer, dict):
        if not any(isinstance(v, (dict, list, Pages)) for v in answer.values()):
            yield _dumps(answer).encode()
            return
        yield b"{"
        sep = b""
        pages = None
        for k, v in answer.items():
            yield sep + _dumps(k).encode() + b":"
            sep = b","
            yield from json_chunks(v)
            if isinstance(v, Pages):
                pages = v
        if pages is not None and pages.cursor is not None:  # known once they are read
            yield b',"cursor":' + _dumps(pages.cursor).encode()
        yield b"}"
    elif isinstance(answer, list) and any(isinstance(v, (dict, list, Pages)) for v in answer):
        yield b"["
        sep = b""
        for v in answer:
            yield sep
            sep = b","
            yield from json_chunks(v)
        yield b"]"
    else:
        yield _dumps(answer).encode()


# ----------------------------------------------------------------------- /api/count/


#: keys of an ``/api/count/`` request
COUNT_KEYS = ("cluster", "kind", "from", "to", "by", "interval", "host", "hosts", "event",
              "events", "type", "type-id", "type-ids", "subtype", "subtype-id", "subtype-ids",
              "condition", "conditions", "text")


def run_count(store: Store, req: Mapping[str, Any]) -> Dict[str, Any]:
    """Answer one ``/api/count/`` request (query-string or JSON keys)."""
    _unknown_keys(req, COUNT_KEYS, "")
    cluster = _opt_str(req, "cluster", "")
    kind = _kind(req.get("kind"), "log")
    start = _time(req, "from", zero_is_open=False)
    end = _time(req, "to", zero_is_open=True)
    _check_range(start, end, "from is after to")
    check_cluster(store, cluster)
    by_raw = req.get("by")
    if isinstance(by_raw, str):
        by_raw = [b.strip() for b in by_raw.split(",") if b.strip()]
    by = _str_list(by_raw, "by")
    interval = _interval(req.get("interval"))
    hosts = _str_list(req.get("host"), "host") or _str_list(req.get("hosts"), "hosts")
    names = _str_list(req.get("event"), "event") or _str_list(req.get("events"), "events")
    tags = merge_conditions(_conditions(req.get("conditions", req.get("condition")),
                                        "conditions"))
    text = req.get("text") or None
    if text is not None and not isinstance(text, str):
        raise RequestError("text: expected a string")
    if tags is None:
        rows: Sequence[tuple] = []
    else:
        try:
            rows = store.count(
                cluster, kind, start=start, end=end, by=by, interval=interval, hosts=hosts,
                names=names, types=_str_list(req.get("type"), "type"),
                type_ids=_str_list(req.get("type-ids", req.get("type-id")), "type-ids"),
                stypes=_str_list(req.get("subtype"), "subtype"),
                stype_ids=_str_list(req.get("subtype-ids", req.get("subtype-id")),
                                    "subtype-ids"),
                tags=tags, text=text)
        except (ValueError, TypeError) as exc:
            raise RequestError(str(exc)) from None
    keys = list(by) if by else (["loglevel"] if kind == "log" else ["function"])
    counts = []
    total = 0
    for r in rows:
        item = dict(zip(keys, r[:len(keys)]))
        if interval is not None:
            item["timestamp"] = int(r[len(keys)])
        item["count"] = int(r[-1])
        total += item["count"]
        counts.append(item)
    return {"kind": kind, "by": keys, "interval": interval, "total": total, "counts": counts}


# ----------------------------------------------------------------------- the query language
# GET /api/search, /api/hits, /api/facets, /api/group, /api/job/<id>: query-string
# parameters (``params`` maps each name to the list of its values), the query string of
# ccstore.query in ``q``, times in the one time syntax, answers with the field names of
# ccstore.query.fields.

#: parameters of each endpoint
SEARCH_PARAMS = ("q", "start", "end", "limit", "after", "order")
HITS_PARAMS = ("q", "start", "end", "interval", "by", "buckets")
FACETS_PARAMS = ("q", "start", "end", "fields", "limit")
GROUP_PARAMS = ("q", "start", "end", "limit")
JOB_PARAMS = ("cluster",)


def _single(params: Mapping[str, Sequence[str]], allowed: Sequence[str],
            endpoint: str) -> Dict[str, str]:
    """One value per parameter; RequestError naming an unknown or repeated one."""
    out: Dict[str, str] = {}
    for key, values in params.items():
        if key not in allowed:
            raise RequestError(f"unknown parameter {key!r}; {endpoint} takes "
                               f"{', '.join(allowed)}")
        if len(values) != 1:
            raise RequestError(f"parameter {key!r} given {len(values)} times")
        out[key] = values[0]
    return out


def _int(p: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    v = p.get(key, "")
    if v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise RequestError(f"{key}: expected an integer, not {v!r}") from None
    if not lo <= n <= hi:
        raise RequestError(f"{key}: expected {lo} to {hi}, not {n}")
    return n


def _opt(p: Mapping[str, str], key: str) -> Optional[str]:
    """A parameter's value; absent or empty -> None."""
    return p.get(key) or None


def _ask(fn: Any, *args: Any, **kw: Any) -> Any:
    """A Store call; its ValueErrors (a query syntax error with its column) -> 400."""
    try:
        return fn(*args, **kw)
    except QuerySyntaxError as exc:
        raise RequestError(f"q: {exc}", column=exc.column) from None
    except (ValueError, TypeError) as exc:
        raise RequestError(str(exc)) from None


def run_search(store: Store, params: Mapping[str, Sequence[str]], *,
               max_limit: int) -> Dict[str, Any]:
    """``/api/search``: matching records, ``next`` is the ``after`` of the next page
    (null when this page is the last)."""
    p = _single(params, SEARCH_PARAMS, "/api/search")
    limit = _int(p, "limit", min(DEFAULTS["limit"], max_limit), 0, max_limit)
    order = p.get("order") or DEFAULTS["order"]
    if order not in ("asc", "desc"):
        raise RequestError(f"order: expected asc or desc, not {order!r}")
    records = _ask(store.search, p.get("q", ""), start=_opt(p, "start"), end=_opt(p, "end"),
                   limit=limit, order=order, after=_opt(p, "after"))
    return {"records": [r.as_dict() for r in records],
            "next": records[-1].cursor if records and len(records) == limit else None}


def run_hits(store: Store, params: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    """``/api/hits``: counts per time bucket, split by a field (``by=`` empty: not split)."""
    p = _single(params, HITS_PARAMS, "/api/hits")
    by = p["by"] if "by" in p else "level"
    buckets = _int(p, "buckets", DEFAULTS["hits_buckets"], 1, 10_000)
    hits = _ask(store.hits, p.get("q", ""), start=_opt(p, "start"), end=_opt(p, "end"),
                interval=_opt(p, "interval"), by=by or None, buckets=buckets)
    return hits.as_dict()


def facets_dict(facets: Mapping[str, Sequence[Tuple[Any, int]]]) -> Dict[str, Any]:
    """The JSON form of :meth:`Store.facets`: each field's values with their counts."""
    return {"facets": {f: [{"value": v, "count": n} for v, n in values]
                       for f, values in facets.items()}}


def run_facets(store: Store, params: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    """``/api/facets``: the most common values of fields (``fields=host,level``)."""
    p = _single(params, FACETS_PARAMS, "/api/facets")
    fields = [f.strip() for f in p["fields"].split(",") if f.strip()] \
        if p.get("fields") else None
    limit = _int(p, "limit", DEFAULTS["facet_top"], 1, 10_000)
    return facets_dict(_ask(store.facets, p.get("q", ""), start=_opt(p, "start"),
                            end=_opt(p, "end"), fields=fields, limit=limit))


def run_group(store: Store, params: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    """``/api/group``: identical messages across hosts, biggest group first."""
    p = _single(params, GROUP_PARAMS, "/api/group")
    limit = _int(p, "limit", DEFAULTS["group_limit"], 1, 100_000)
    groups = _ask(store.group, p.get("q", ""), start=_opt(p, "start"), end=_opt(p, "end"),
                  limit=limit)
    return {"groups": [g.as_dict() for g in groups]}


def run_job(store: Store, job_id: str, params: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    """``/api/job/<id>``: the job's cluster, hosts and time window (404 when unknown)."""
    p = _single(params, JOB_PARAMS, "/api/job/<id>")
    try:
        job = store.job(job_id, cluster=_opt(p, "cluster"))
    except JobNotFound as exc:
        raise RequestError(str(exc), status=404) from None
    except ValueError as exc:
        raise RequestError(str(exc)) from None
    return job.as_dict()
