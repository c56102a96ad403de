"""REST request shapes -> Store calls -> answer shapes (no HTTP in here).

``run_query`` answers the Go cc-event-store's ``/api/query/`` request exactly
(``{"results": [[{"data": [{"Event", "timestamp"}], "from", "to"}]]}``: one list
per query, one entry per type-id, per subtype-id when given) and adds the
documented extensions.  An entry's ``data`` is read page by page as it is
written (:class:`Pages`, :func:`json_chunks`), so an answer of many records is
never held whole.  ``run_count`` answers ``/api/count/``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..store import Record, Store

__all__ = ["PAGE", "Pages", "RequestError", "json_chunks", "merge_conditions",
           "parse_condition", "run_count", "run_query"]

#: records of an answer read from the store at a time
PAGE = 2000


class RequestError(ValueError):
    """The request is malformed; the message tells the client what to fix."""


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


def _time(d: Mapping[str, Any], key: str, *, zero_is_open: bool) -> Optional[float]:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if isinstance(v, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", v):
            v = float(v) if "." in v else int(v)
        else:
            raise RequestError(f"{key}: expected Unix seconds (a number)")
    if zero_is_open and v == 0:
        return None
    return v


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


#: keys of one query that may also stand at the top level of a request without "queries"
_QUERY_KEYS = ("event", "host", "hosts", "type", "type-ids", "subtype", "subtype-ids", "cursor")


def run_query(store: Store, req: Any, *, max_limit: int) -> Dict[str, Any]:
    """Answer one ``/api/query/`` request body (already JSON-decoded)."""
    if not isinstance(req, dict):
        raise RequestError("the request body must be a JSON object")
    cluster = _opt_str(req, "cluster", "")
    start = _time(req, "from", zero_is_open=False)
    end = _time(req, "to", zero_is_open=True)
    if start is not None and end is not None and start > end:
        raise RequestError("from is after to")
    kind = _kind(req.get("kind"), "event")
    queries = req.get("queries")
    if queries is None:
        # no "queries": the request itself is the one query (its top-level filters)
        queries = [] if req.get("for-all-nodes") else [
            {k: req[k] for k in _QUERY_KEYS if k in req}]
    if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
        raise RequestError("queries: expected a list of objects")
    defaults = {
        "limit": _limit(req.get("limit"), max_limit),
        "order": _order(req.get("order")),
        "full": bool(req.get("full", False)),
        "text": _opt_str(req, "text", ""),
        "conditions": _conditions(req.get("conditions"), "conditions"),
    }
    all_queries = list(queries)
    expanded: List[Dict[str, Any]] = []
    fan = _str_list(req.get("for-all-nodes"), "for-all-nodes")
    if fan:
        try:
            expanded = _for_all_nodes(store, cluster, kind, start, end, fan)
        except (ValueError, TypeError) as exc:
            raise RequestError(f"for-all-nodes: {exc}") from None
        all_queries += expanded
    results = []
    for i, q in enumerate(all_queries):
        results.append(_run_one(store, q, f"queries[{i}].", cluster, kind, start, end,
                                req, defaults, max_limit))
    answer: Dict[str, Any] = {"results": results}
    if fan:
        answer["queries"] = list(queries) + expanded
    return answer


def _for_all_nodes(store: Store, cluster: Optional[str], kind: str, start: Optional[float],
                   end: Optional[float], names: List[str]) -> List[Dict[str, Any]]:
    """One query per (host, event name) for every host that has any of the names in
    the time range, hosts sorted, like cc-metric-store's ``for-all-nodes``."""
    rows = store.count(cluster, kind, start=start, end=end, by=("hostname",), names=names)
    hosts = sorted({r[0] for r in rows if r[0]})
    return [{"event": name, "host": host} for host in hosts for name in names]


def _run_one(store: Store, q: Dict[str, Any], where: str, cluster: Optional[str],
             kind: str, start: Optional[float], end: Optional[float], req: Mapping[str, Any],
             defaults: Dict[str, Any], max_limit: int) -> List[Dict[str, Any]]:
    names = _str_list(q.get("event"), where + "event")
    hosts = _str_list(q.get("host"), where + "host") or _str_list(q.get("hosts"),
                                                                   where + "hosts")
    qtype = _opt_str(q, "type", where)
    stype = _opt_str(q, "subtype", where)
    type_ids: List[Optional[str]] = list(_str_list(q.get("type-ids"), where + "type-ids")
                                         or [None])
    stype_ids: List[Optional[str]] = list(_str_list(q.get("subtype-ids"),
                                                    where + "subtype-ids") or [None])
    qkind = _kind(q.get("kind"), kind)
    limit = _limit(q["limit"], max_limit, where + "limit") if "limit" in q else defaults["limit"]
    order = _order(q["order"]) if "order" in q else defaults["order"]
    full = bool(q.get("full", defaults["full"]))
    text = _opt_str(q, "text", where) or defaults["text"]
    cursor = _opt_str(q, "cursor", where)
    tags = merge_conditions(defaults["conditions"] + _conditions(q.get("conditions"),
                                                                 where + "conditions"))
    base = {"from": req.get("from", 0), "to": req.get("to", 0)}
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


def run_count(store: Store, req: Mapping[str, Any]) -> Dict[str, Any]:
    """Answer one ``/api/count/`` request (query-string or JSON keys)."""
    cluster = _opt_str(req, "cluster", "")
    kind = _kind(req.get("kind"), "log")
    start = _time(req, "from", zero_is_open=False)
    end = _time(req, "to", zero_is_open=True)
    by_raw = req.get("by")
    if isinstance(by_raw, str):
        by_raw = [b.strip() for b in by_raw.split(",") if b.strip()]
    by = _str_list(by_raw, "by")
    interval = req.get("interval")
    if interval is not None and (isinstance(interval, bool)
                                 or not isinstance(interval, (str, int, float))):
        raise RequestError("interval: expected a Go duration (\"1h\") or seconds")
    if interval == "":
        interval = None
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
            item["timestamp"] = r[len(keys)]
        item["count"] = r[-1]
        total += r[-1]
        counts.append(item)
    return {"kind": kind, "by": keys, "interval": interval, "total": total, "counts": counts}
