"""``job:4711``: the hosts and the time window of a job, from the job events stored.

Two spellings of job events exist, and both are read: measurement ``job`` with the
tag ``function=start_job|stop_job`` (the ClusterCockpit specification), and
measurement ``start_job`` / ``stop_job`` (cc-lib).  The payload is the job as JSON:
``jobId``, ``cluster``, ``startTime`` (Unix s), ``duration`` (s, on stop) and
``resources: [{"hostname": ...}]``.

The window is ``[startTime, startTime + duration]`` with the last second included
whole; without a duration it ends at the stop event, and a job without a stop event
runs until now.  When a job id was used more than once (ids wrap, a job requeues),
the latest start wins.
"""
from __future__ import annotations

import json
import time as _time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .. import hostlist
from ..timesyntax import NS_PER_S, format_iso
from .nodes import Eq, Job, Node, Time, and_, transform, walk

__all__ = ["JOB_EVENT_NAMES", "JobError", "JobNotFound", "JobInfo", "job_function",
           "find_job", "jobs_in", "resolve"]

#: measurements of job events (``job`` with a ``function`` tag, or the function itself)
JOB_EVENT_NAMES = ("job", "start_job", "stop_job")
_FUNCTIONS = ("start_job", "stop_job")


class JobError(ValueError):
    """A job that cannot be resolved to hosts and a time window."""


class JobNotFound(JobError):
    """No job event names the job."""


@dataclass(frozen=True)
class JobInfo:
    """A job as its events tell it: hosts and ``[start_ns, end_ns)``."""

    job_id: str
    cluster: str
    hosts: Tuple[str, ...]
    start_ns: int
    end_ns: int
    running: bool

    @property
    def hostlist(self) -> str:
        """The hosts as a Slurm hostlist."""
        return hostlist.compress(self.hosts)

    def as_dict(self) -> Dict[str, Any]:
        """The output form: hosts as a hostlist, the window ``[start, end)`` as ISO 8601
        and in ns."""
        return {"job_id": self.job_id, "cluster": self.cluster, "hosts": self.hostlist,
                "host_count": len(self.hosts), "start": format_iso(self.start_ns),
                "end": format_iso(self.end_ns), "start_ns": self.start_ns,
                "end_ns": self.end_ns, "running": self.running}

    def as_node(self) -> Node:
        """The query the job stands for: its cluster, its hosts, its time."""
        return and_(Eq("cluster", frozenset((self.cluster,))), Eq("host", frozenset(self.hosts)),
                    Time(self.start_ns, self.end_ns))


def job_function(record: Mapping[str, Any]) -> Optional[str]:
    """``start_job`` / ``stop_job`` for a job event in either spelling, else None."""
    name = record.get("name")
    if name in _FUNCTIONS:
        return name
    if name == "job":
        fn = (record.get("tags") or {}).get("function")
        return fn if fn in _FUNCTIONS else None
    return None


def _payload(record: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads(record.get("message") or "")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _id_text(v: Any) -> Optional[str]:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _seconds(v: Any) -> Optional[int]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v)


def _hosts(data: Mapping[str, Any]) -> List[str]:
    out = []
    for r in data.get("resources") or ():
        h = r.get("hostname") if isinstance(r, dict) else r if isinstance(r, str) else None
        if isinstance(h, str) and h:
            out.append(h)
    return out


class _Run:
    """What the events of one start of a job say."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.started = False
        self.hosts: Dict[str, None] = {}
        self.stop_hosts: Dict[str, None] = {}
        self.end_ns: Optional[int] = None


def find_job(events: Iterable[Mapping[str, Any]], job_id: str, cluster: Optional[str] = None,
             *, now_ns: Optional[int] = None) -> JobInfo:
    """Job ``job_id`` (on ``cluster``, if given) from job event records (output dicts).

    Raises :class:`JobNotFound` when no event names it, :class:`JobError` when it is
    ambiguous (several clusters, no cluster given) or names no hosts.
    """
    job_id = str(job_id)
    starts: List[Tuple[str, int, Mapping[str, Any], Dict[str, Any]]] = []
    stops: List[Tuple[str, Optional[int], Mapping[str, Any], Dict[str, Any]]] = []
    for r in events:
        fn = job_function(r)
        if fn is None:
            continue
        data = _payload(r)
        if data is None or _id_text(data.get("jobId")) != job_id:
            continue
        cl = data.get("cluster") or r.get("cluster")
        if cluster is not None and cl != cluster:
            continue
        st = _seconds(data.get("startTime"))
        if fn == "start_job":
            starts.append((cl, st * NS_PER_S if st is not None else r["ts_ns"], r, data))
        else:
            stops.append((cl, None if st is None else st * NS_PER_S, r, data))
    what = f"job {job_id}" if cluster is None else f"job {cluster}/{job_id}"
    clusters = sorted({s[0] for s in starts} | {s[0] for s in stops})
    if not clusters:
        raise JobNotFound(f"{what}: no start_job or stop_job event names it")
    if len(clusters) > 1:
        raise JobError(f"{what} ran on clusters {', '.join(clusters)}: write "
                       f"job:{clusters[0]}/{job_id}")
    cl = clusters[0]
    runs: Dict[int, _Run] = {}
    for _, start, _, data in starts:
        run = runs.setdefault(start, _Run(start))
        run.started = True
        run.hosts.update(dict.fromkeys(_hosts(data)))
    for _, start, r, data in sorted(stops, key=lambda s: s[2]["ts_ns"]):
        if start is None:  # the latest start before the stop, else the stop alone
            before = [s for s in runs if s <= r["ts_ns"]]
            start = max(before) if before else r["ts_ns"]
        run = runs.setdefault(start, _Run(start))
        run.stop_hosts.update(dict.fromkeys(_hosts(data)))
        duration = _seconds(data.get("duration"))
        if duration is not None and duration >= 0:
            end = start + (duration + 1) * NS_PER_S
        else:
            end = max(r["ts_ns"], start) + 1
        run.end_ns = end if run.end_ns is None else max(run.end_ns, end)
    run = runs[max(runs)]
    hosts = tuple(sorted(run.hosts or run.stop_hosts))
    if not hosts:
        raise JobError(f"{what}: its events name no hosts (resources)")
    running = run.end_ns is None
    end_ns = (_time.time_ns() if now_ns is None else now_ns) + 1 if running else run.end_ns
    return JobInfo(job_id, cl, hosts, run.start_ns, max(end_ns, run.start_ns + 1), running)


def jobs_in(node: Node) -> List[Job]:
    """The job filters of a query, each once, in order."""
    return list(dict.fromkeys(n for n in walk(node) if isinstance(n, Job)))


def resolve(node: Node, find: Callable[[str, Optional[str]], JobInfo]) -> Node:
    """The query with each ``job:`` replaced by its cluster, hosts and time window.

    ``find(job_id, cluster)`` gives a job, e.g.
    ``lambda j, c: find_job(events, j, c)``; its errors propagate.
    """
    found = {j: find(j.job_id, j.cluster) for j in jobs_in(node)}
    if not found:
        return node
    return transform(node, lambda n: found[n].as_node() if isinstance(n, Job) else None)
