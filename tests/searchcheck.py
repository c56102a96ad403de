"""One data set and one brute-force oracle for every interface of the query language.

The data set is the query tests' universe (``tests/query/querygen.py``) plus job events
in both spellings (a finished and a running job), records of the last hours (for
relative times) and records with non-ASCII hosts, tags and messages.  The oracle
answers a query by :func:`ccstore.query.match` over every record of the data set, with
``job:`` resolved by :func:`ccstore.query.find_job` over its events: what the store,
REST and the CLI must all answer.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from query.querygen import random_records, to_point

from ccstore import lineproto
from ccstore.query import find_job, group, match, parse, resolve
from ccstore.query.fields import from_row
from ccstore.timesyntax import NS_PER_S, end_ns, start_ns

S = NS_PER_S
#: the running job and the recent records are this far before the data set is made
RECENT_S = (30 * 60, 90 * 60, 150 * 60)
FINISHED_JOB = "4711"
RUNNING_JOB = "4712"
UTF8_HOST = "nöde-ü1"
UTF8_TAG = ("user", "jörg")
UTF8_WORD = "Grüße"


def make_record(cluster: str, kind: str, t_s: int, name: str, host: Optional[str],
                tags: Mapping[str, str], message: str) -> Dict[str, Any]:
    row = (t_s * S, t_s, name, host, "node", "0", None, None,
           json.dumps(dict(tags), sort_keys=True, separators=(",", ":")), message,
           tags.get("loglevel" if kind == "log" else "function"))
    return from_row(cluster, kind, row)


def _job(job_id: str, cluster: str, start: int, hosts: Sequence[str], **more: Any) -> str:
    return json.dumps({"jobId": int(job_id), "cluster": cluster, "startTime": start,
                       "resources": [{"hostname": h} for h in hosts], **more})


def extra_records(now_s: int) -> List[Dict[str, Any]]:
    """Job events, recent records and non-ASCII ones (their messages unique)."""
    t0 = 1_796_119_200  # the universe's first second
    out = [
        # finished job, `job` with a function tag
        make_record("alex", "event", t0 + 600, "job", "mngmt02", {"function": "start_job"},
                _job(FINISHED_JOB, "alex", t0 + 600, ["a0001", "a0002"])),
        make_record("alex", "event", t0 + 2400, "job", "mngmt02", {"function": "stop_job"},
                _job(FINISHED_JOB, "alex", t0 + 600, ["a0001", "a0002"], duration=1800)),
        # running job, cc-lib's `start_job` measurement
        make_record("fritz", "event", now_s - RECENT_S[1], "start_job", "mngmt02", {},
                _job(RUNNING_JOB, "fritz", now_s - RECENT_S[1], ["f0101", "f0102"])),
    ]
    for i, ago in enumerate(RECENT_S):
        for host in ("f0101", "f0102", "f0200"):
            out.append(make_record("fritz", "log", now_s - ago, "ccb", host,
                               {"loglevel": "warn" if i else "error"},
                               f"recent xid {ago} on {host}"))
    out.append(make_record("alex", "log", t0 + 100, "ccb", UTF8_HOST,
                       {"loglevel": "info", UTF8_TAG[0]: UTF8_TAG[1]}, "utf8 host and tag"))
    out.append(make_record("alex", "log", t0 + 101, "ccb", "a0001", {"loglevel": "info"},
                       f"{UTF8_WORD} aus Köln"))
    return out


def dataset(backend: str, now_s: Optional[int] = None) -> List[Dict[str, Any]]:
    """Every record of the data set (output dicts, no cursor) for ``backend``.

    PostgreSQL's full text folds no diacritics, as FTS5 does: ASCII messages only there.
    Line protocol has no empty tag values: the universe's are left out.
    """
    now_s = int(time.time()) if now_s is None else now_s
    recs = random_records(400, seed=3) + extra_records(now_s)
    if backend == "postgres":
        recs = [r for r in recs if r["message"].isascii()]
    for r in recs:
        r["cursor"] = None
        r["tags"] = {k: v for k, v in r["tags"].items() if v != ""}
    return recs


def to_lines(records: Iterable[Mapping[str, Any]]) -> bytes:
    """The records as line protocol (nanosecond timestamps)."""
    return lineproto.encode(to_point(r) for r in records)


# ---------------------------------------------------------------------- the oracle
def expected(records: Sequence[Mapping[str, Any]], q: str, start: Any = None, end: Any = None,
             now_ns: Optional[int] = None) -> List[Mapping[str, Any]]:
    """The records that answer ``q`` between ``start`` and ``end``, newest first."""
    now = time.time_ns() if now_ns is None else now_ns
    events = [r for r in records if r["kind"] == "event"]
    tree = resolve(parse(q, now_ns=now), lambda j, c: find_job(events, j, c, now_ns=now))
    lo = start_ns(start, now_ns=now)
    hi = end_ns(end, now_ns=now)
    out = [r for r in records if match(tree, r) and (lo is None or r["ts_ns"] >= lo)
           and (hi is None or r["ts_ns"] < hi)]
    out.sort(key=lambda r: r["ts_ns"], reverse=True)
    return out


def key(r: Mapping[str, Any]) -> str:
    """A record without its cursor (which the store assigns), as sortable text."""
    return json.dumps({k: v for k, v in r.items() if k != "cursor"}, sort_keys=True,
                      ensure_ascii=False)


def check_records(got: Sequence[Mapping[str, Any]], want: Sequence[Mapping[str, Any]],
                  order: str = "desc") -> None:
    """``got`` (as_dict() records from an interface) are ``want``, in time order, each
    with a cursor."""
    assert sorted(map(key, got)) == sorted(map(key, want))
    times = [r["ts_ns"] for r in got]
    assert times == sorted(times, reverse=(order == "desc"))
    assert all(isinstance(r["cursor"], str) and r["cursor"] for r in got)


def value_of(r: Mapping[str, Any], field: str) -> Any:
    """A record's value of an output field, or of a tag."""
    return r[field] if field in r and field != "tags" else r["tags"].get(field)


def facet_counts(want: Sequence[Mapping[str, Any]], field: str) -> Counter:
    return Counter(v for v in (value_of(r, field) for r in want) if v is not None)


def check_facet(got: Sequence[Sequence[Any]], want: Sequence[Mapping[str, Any]], field: str,
                limit: int) -> None:
    """``got`` ((value, count), ...) are the top ``limit`` values of ``field``."""
    counts = facet_counts(want, field)
    assert [n for _, n in got] == sorted((n for _, n in got), reverse=True)
    assert {v: n for v, n in got} == {v: counts[v] for v, _ in got}
    assert len(got) == min(limit, len(counts))
    if got and len(got) < len(counts):
        shown = {v for v, _ in got}
        assert max(n for v, n in counts.items() if v not in shown) <= got[-1][1]


def expected_groups(want: Sequence[Mapping[str, Any]], limit: int) -> List[Any]:
    return group(want)[:limit]


def check_groups(got: Sequence[Mapping[str, Any]], want: Sequence[Mapping[str, Any]],
                 limit: int) -> None:
    """``got`` (group dicts of an interface) are :func:`ccstore.query.group` of ``want``."""
    expect = group(want)[:limit]
    assert [(g["template"], g["count"], g["first_ns"], g["last_ns"], g["hosts"]) for g in got] \
        == [(g.template, g.count, g.first, g.last, g.hosts) for g in expect]


def check_hits(got: Mapping[str, Any], want: Sequence[Mapping[str, Any]], by: Optional[str],
               start: Any, end: Any) -> None:
    """``got`` (a hits dict) counts ``want`` per bucket (and value of ``by``; a record
    without one under ``""``); buckets are contiguous and cover ``[start, end)``."""
    step = got["interval_s"] * S
    starts = [b["start"] * S for b in got["buckets"]]
    assert starts == list(range(starts[0], starts[0] + step * len(starts), step))
    lo, hi = start_ns(start), end_ns(end)
    assert starts[0] <= lo < starts[0] + step
    assert starts[-1] < hi <= starts[-1] + step
    counts: List[Counter] = [Counter() for _ in starts]
    for r in want:
        i = (r["ts_ns"] - starts[0]) // step
        v = value_of(r, by) if by else "*"  # not split: every record under "*"
        counts[i]["" if v is None else str(v)] += 1
    for b, c in zip(got["buckets"], counts):
        assert {k: n for k, n in b["counts"].items() if n} == dict(c), b["time"]
