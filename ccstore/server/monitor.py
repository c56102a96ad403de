"""Health and metrics of a running server: what ``/api/health`` and ``/metrics`` say.

:class:`CommitWatch` stands between the group commit and the store: it times each
transaction (the commit latency histogram) and remembers whether the last one
failed.  :class:`Monitor` turns that, the group commit's and the store's counters,
the receivers' states and the HTTP servers' connection counts into the reasons
health is not ok, and into the Prometheus text exposition format.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._version import __version__

__all__ = ["COMMIT_BUCKETS", "CommitWatch", "Histogram", "Monitor"]

#: upper bounds (seconds) of the commit latency histogram's buckets
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                  2.5, 5.0, 10.0, 30.0)
#: a SQLite store whose file system has less free space than this cannot write
MIN_FREE_BYTES = 1 << 20
#: the storage probe of health runs at most this often (seconds)
PROBE_INTERVAL = 1.0
#: receiver states that mean the receiver takes no messages
DOWN_STATES = ("starting", "connecting", "disconnected", "failed", "stopped", "down")

Labels = Tuple[Tuple[str, str], ...]


class Histogram:
    """A cumulative histogram with fixed buckets (thread-safe)."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: +Inf
        self.sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        i = 0
        while i < len(self.bounds) and value > self.bounds[i]:
            i += 1
        with self._lock:
            self.counts[i] += 1
            self.sum += value

    def snapshot(self) -> Tuple[List[Tuple[str, int]], float, int]:
        """Cumulative ``(le, count)`` pairs, the sum and the count."""
        with self._lock:
            counts, total = list(self.counts), self.sum
        out, running = [], 0
        for bound, n in zip(list(self.bounds) + [math.inf], counts):
            running += n
            out.append(("+Inf" if bound == math.inf else repr(bound), running))
        return out, total, running


class CommitWatch:
    """The store as the group commit sees it: every ``write_batches`` and
    ``write_stream`` (one transaction each) is timed, and its outcome kept; everything
    else passes through."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.latency = Histogram(COMMIT_BUCKETS)
        self.last_error: Optional[str] = None
        self.failed_at: Optional[float] = None
        self.succeeded_at: Optional[float] = None

    def write_batches(self, *args: Any, **kwargs: Any) -> Any:
        return self._watched(self._store.write_batches, args, kwargs)

    def write_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._watched(self._store.write_stream, args, kwargs)

    def _watched(self, write: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            result = write(*args, **kwargs)
        except Exception as exc:
            self.latency.observe(time.perf_counter() - t0)
            self.last_error = _describe(exc)
            self.failed_at = time.time()
            raise
        self.latency.observe(time.perf_counter() - t0)
        self.succeeded_at = time.time()
        return result

    @property
    def failing(self) -> Optional[str]:
        """The error of the last commit when it failed (and none succeeded since)."""
        if self.failed_at is not None and (self.succeeded_at is None
                                           or self.succeeded_at < self.failed_at):
            return self.last_error
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _describe(exc: BaseException) -> str:
    """The error, led by the one it happened in the handling of (a failed ROLLBACK after
    "database or disk is full" says more with the latter)."""
    text = f"{type(exc).__name__}: {exc}"
    first = exc
    while first.__context__ is not None and len(text) < 1000:
        first = first.__context__
        text = f"{type(first).__name__}: {first}; then {text}"
    return text


class Monitor:
    """Health reasons and metrics of one server.

    ``receivers``: a callable giving ``{name: info}`` with a ``type`` and, where the
    receiver has one, a ``state``; ``servers``: ``{name: http server}`` whose
    ``stats()`` count connections; ``auth``: the authenticator, if any.
    """

    def __init__(self, store: Any, manager: Any, watch: Optional[CommitWatch] = None, *,
                 receivers: Optional[Callable[[], Mapping[str, Mapping[str, Any]]]] = None,
                 servers: Optional[Callable[[], Mapping[str, Any]]] = None) -> None:
        self.store = store
        self.manager = manager
        self.watch = watch
        self.receivers = receivers or (lambda: {})
        self.servers = servers or (lambda: {})
        self.auth: Any = None
        self.started = time.time()
        self._probe_lock = threading.Lock()
        self._probed_at = -math.inf
        self._probe: Tuple[Optional[str], Dict[str, Any]] = (None, {})

    # ------------------------------------------------------------------ health
    def problems(self) -> List[str]:
        """Why ingest does not work right now; empty when it does."""
        out: List[str] = []
        manager = self.manager.healthy
        if manager:
            out.append(manager)
        failing = self.watch.failing if self.watch is not None else None
        if failing:
            out.append(f"storage cannot write: the last commit failed ({failing})")
        storage, _stats = self.probe()
        if storage:
            out.append(storage)
        for name, info in sorted(self.receivers().items()):
            state = info.get("state")
            if state in DOWN_STATES:
                why = f": {info['last_error']}" if info.get("last_error") else ""
                out.append(f"receiver {name} is {state}{why}")
        return out

    def probe(self, max_age: float = PROBE_INTERVAL) -> Tuple[Optional[str], Dict[str, Any]]:
        """Read the store's counters (unless read less than ``max_age`` seconds ago): a
        store that cannot be read, a PostgreSQL outage, a file system without room; and
        the counters."""
        now = time.monotonic()
        if now - self._probed_at < max_age:
            return self._probe
        if not self._probe_lock.acquire(blocking=max_age <= 0):
            return self._probe  # another thread is reading them: its answer is as good
        try:
            problem: Optional[str] = None
            stats: Dict[str, Any] = {}
            try:
                stats = self.store.stats()
            except Exception as exc:
                problem = f"storage cannot be read: {type(exc).__name__}: {exc}"
            backend = stats.get("backend") or {}
            if backend.get("in_outage"):
                problem = ("storage unavailable: the database does not answer "
                           f"({backend.get('last_error') or 'outage'})")
            elif backend.get("error"):
                problem = f"storage cannot be read: {backend['error']}"
            path = backend.get("path")
            if problem is None and backend.get("backend") == "sqlite" and path:
                try:
                    st = os.statvfs(os.path.dirname(os.path.abspath(path)))
                except (OSError, AttributeError):  # no statvfs on Windows
                    st = None
                if st is not None and st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
                    problem = (f"storage cannot write: disk full ({st.f_bavail * st.f_frsize}"
                               f" bytes free beside {path})")
            self._probe = (problem, stats)
            self._probed_at = time.monotonic()
        finally:
            self._probe_lock.release()
        return self._probe

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4) of this server."""
        m = _Exposition()
        m.add("ccstore_info", "gauge", "Version of ccstore", [((("version", __version__),), 1)])
        m.add("ccstore_uptime_seconds", "gauge", "Seconds since the server started",
              [((), time.time() - self.started)])
        self.probe(max_age=0)  # scrapes are rare: fresh counters
        problems = self.problems()
        m.add("ccstore_healthy", "gauge", "1 when /api/health answers 200",
              [((), 0 if problems else 1)])
        st = self.manager.stats()
        mgr = st["manager"]
        per = st["sources"]
        rows = [((("receiver", n),), s["written"]) for n, s in sorted(per.items())]
        m.add("ccstore_rows_written_total", "counter", "Rows committed, per receiver", rows)
        m.add("ccstore_lines_received_total", "counter", "Lines received, per receiver",
              [((("receiver", n),), s["received"]) for n, s in sorted(per.items())])
        m.add("ccstore_messages_total", "counter",
              "Messages (request bodies, NATS messages) received, per receiver",
              [((("receiver", n),), s["messages"]) for n, s in sorted(per.items())])
        m.add("ccstore_rows_rejected_total", "counter",
              "Lines rejected (not stored) by reason, per receiver",
              [((("receiver", n), ("reason", r)), c) for n, s in sorted(per.items())
               for r, c in sorted(s["errors"].items())])
        m.add("ccstore_rows_dropped_total", "counter",
              "Lines dropped on purpose (metrics, controls, logs when store_logs is off)",
              [((("receiver", n), ("kind", k)), c) for n, s in sorted(per.items())
               for k, c in sorted(s["dropped"].items())])
        if self.watch is not None:
            buckets, total, count = self.watch.latency.snapshot()
            m.histogram("ccstore_commit_seconds", "Duration of the group commit's transactions",
                        buckets, total, count)
        m.add("ccstore_commits_total", "counter", "Group-commit transactions",
              [((), mgr.get("transactions", 0))])
        m.add("ccstore_commit_failures_total", "counter", "Group-commit transactions that failed",
              [((), mgr.get("commit_failures", 0))])
        m.add("ccstore_late_commits_total", "counter",
              "Submissions committed later than flush_time", [((), mgr.get("late_commits", 0))])
        m.add("ccstore_commit_queue_depth", "gauge", "Submissions waiting for the group commit",
              [((), mgr.get("queued", 0))])
        ret = st["retention"]
        m.add("ccstore_retention_runs_total", "counter", "Retention runs",
              [((), ret.get("runs", 0))])
        m.add("ccstore_retention_rows_removed_total", "counter", "Rows removed by retention",
              [((), ret.get("rows_removed", 0))])
        m.add("ccstore_retention_last_run_timestamp_seconds", "gauge",
              "When retention last ran (Unix seconds), 0 before the first run",
              [((), ret.get("last_run") or 0)])
        m.add("ccstore_retention_failing", "gauge", "1 when the last retention run failed",
              [((), 1 if ret.get("last_error") else 0)])
        _problem, stats = self.probe()
        backend = stats.get("backend") or {}
        kinds = backend.get("kinds") or {}
        m.add("ccstore_segments", "gauge", "Segments of the store, by kind and state",
              [((("kind", k), ("state", state)), n) for k, v in sorted(kinds.items())
               for state, n in (("sealed", v.get("sealed_segments", 0)),
                                ("open", v.get("segments", 0) - v.get("sealed_segments", 0)))])
        m.add("ccstore_rows_stored", "gauge", "Rows in the store, by kind",
              [((("kind", k),), v.get("rows", 0)) for k, v in sorted(kinds.items())])
        if backend.get("bytes") is not None:
            m.add("ccstore_storage_bytes", "gauge", "Bytes the store takes on disk",
                  [((("backend", str(backend.get("backend"))),), backend["bytes"])])
        states = self.receivers()
        m.add("ccstore_receiver_up", "gauge", "1 when the receiver takes messages",
              [((("receiver", n), ("type", str(i.get("type", "")))),
                0 if i.get("state") in DOWN_STATES else 1) for n, i in sorted(states.items())])
        m.add("ccstore_receiver_state", "gauge", "The receiver's state (the label), always 1",
              [((("receiver", n), ("state", str(i["state"]))), 1)
               for n, i in sorted(states.items()) if i.get("state")])
        lost = []
        for n, i in sorted(states.items()):
            counters = i.get("counters") or {}
            if "lost" in counters:
                lost.append(((("receiver", n), ("where", "queue")), counters["lost"]))
            if i.get("kernel_drops") is not None:
                lost.append(((("receiver", n), ("where", "kernel")), i["kernel_drops"]))
        m.add("ccstore_receiver_messages_lost_total", "counter",
              "Messages a receiver could not take (UDP): its queue or the kernel's "
              "socket buffer was full", lost)
        servers = {n: s.stats() for n, s in self.servers().items()}
        m.add("ccstore_http_connections", "gauge", "Open connections, per HTTP server",
              [((("server", n),), s["connections"]) for n, s in sorted(servers.items())])
        m.add("ccstore_http_requests_in_flight", "gauge", "Requests being served",
              [((("server", n),), s["in_flight"]) for n, s in sorted(servers.items())])
        m.add("ccstore_http_connections_refused_total", "counter",
              "Connections refused past max_connections",
              [((("server", n),), s["refused"]) for n, s in sorted(servers.items())])
        if self.auth is not None:
            a = self.auth.stats()
            m.add("ccstore_auth_tokens_total", "counter", "Tokens verified or rejected",
                  [((("result", "verified"),), a["verified"]),
                   ((("result", "rejected"),), a["rejected"])])
        return m.text()


class _Exposition:
    """Prometheus text format: ``# HELP``, ``# TYPE``, one line per sample."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def add(self, name: str, kind: str, help_text: str,
            samples: Iterable[Tuple[Labels, float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_value(value)}")

    def histogram(self, name: str, help_text: str, buckets: List[Tuple[str, int]],
                  total: float, count: int) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} histogram")
        for le, n in buckets:
            self.lines.append(f'{name}_bucket{{le="{le}"}} {n}')
        self.lines.append(f"{name}_sum {_value(total)}")
        self.lines.append(f"{name}_count {count}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    return repr(float(v))
