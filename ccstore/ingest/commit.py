"""Group commit: the storage manager in front of the Store, for every receiver and the API.

Request threads and receivers decode line protocol themselves and :meth:`StorageManager.submit`
the :class:`~ccstore.rows.RowBatch` objects; one committer thread commits everything
waiting in one transaction, then wakes each submitter, so many small messages cost few
transactions and nobody hears "stored" before the commit.  A body larger than one piece
is streamed into a transaction of its own instead (stored whole or not at all, in bounded
memory).  :class:`Budget` bounds the bytes of request bodies held at once.  Retention runs
in a thread of its own.  The design and the Go knobs it keeps: ``docs/design/ingest.md``.
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from ..rows import LineError, RowBatch
from ..store import Store, WriteResult

__all__ = [
    "Budget",
    "CHUNK_SIZE",
    "CommitError",
    "ManagerClosed",
    "StorageManager",
    "Ticket",
    "error_reason",
]

log = logging.getLogger("ccstore.manager")

#: a body of at most this many bytes is decoded at once and committed with others; a
#: larger one is decoded in pieces of this size, streamed into a transaction of its own
CHUNK_SIZE = 1 << 20
#: default of :class:`Budget`: bytes of request bodies held at once
BODY_BUDGET = 128 << 20
#: a transaction takes waiting submissions up to this many rows even past ``batch_size``
#: messages (``docs/design/ingest.md``)
COMMIT_ROWS = 1000


class Budget:
    """Bytes held at once by requests in flight (their bodies as sent), up to ``limit``.

    :meth:`take` refuses what would go past the limit, unless nothing is held: a
    request as large as the limit or larger still goes through on its own.
    """

    def __init__(self, limit: int = BODY_BUDGET) -> None:
        self.limit = int(limit)
        self.used = 0
        self.refused = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Hold ``n`` more bytes; False (nothing held) when that goes past the limit."""
        with self._lock:
            if self.used and self.used + n > self.limit:
                self.refused += 1
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        """Release ``n`` bytes taken before."""
        with self._lock:
            self.used -= n

    def as_dict(self) -> dict:
        with self._lock:
            return {"limit": self.limit, "used": self.used, "refused": self.refused}


class ManagerClosed(RuntimeError):
    """The manager is shutting down and accepts nothing more."""


class CommitError(RuntimeError):
    """The backend failed to commit a submission; nothing of it was stored."""


def error_reason(err: LineError) -> str:
    """A short key for statistics: why a line was rejected."""
    m = err.message
    if m.startswith("no cluster"):
        return "no_cluster"
    if m.startswith("not a ClusterCockpit message"):
        return "not_a_message"
    if "must be a string" in m:
        return "bad_payload"
    return "syntax"


class Ticket:
    """One submission: its batches, and after the commit its outcome."""

    __slots__ = (
        "_callbacks",
        "_event",
        "batches",
        "dropped",
        "error",
        "errors",
        "logs",
        "messages",
        "rows",
        "source",
        "submitted",
        "written",
    )

    def __init__(self, batches: Sequence[RowBatch], source: str, messages: int,
                 store_logs: bool) -> None:
        self.batches = batches
        self.source = source
        self.messages = messages
        rows = logs = 0
        dropped: Dict[str, int] = {}
        errors: List[LineError] = []
        for b in batches:
            for (_cl, kind), r in b.groups.items():
                rows += len(r)
                if kind == "log":
                    logs += len(r)
            for k, n in b.dropped.items():
                dropped[k] = dropped.get(k, 0) + n
            if b.errors:
                errors.extend(b.errors)
        if not store_logs and logs:
            dropped["log"] = dropped.get("log", 0) + logs
            rows -= logs
        self.rows = rows
        self.logs = logs
        self.written = 0
        self.dropped = dropped
        self.errors = errors
        self.error: Optional[BaseException] = None
        self.submitted = time.monotonic()
        self._event = threading.Event()
        self._callbacks: List[Callable[[Ticket], None]] = []

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until committed (or failed); False on timeout."""
        return self._event.wait(timeout)

    def add_done_callback(self, fn: Callable[[Ticket], None]) -> None:
        """Call ``fn(ticket)`` once done (from the committer thread, or now if done)."""
        run_now = False
        with _CALLBACK_LOCK:
            if self._event.is_set():
                run_now = True
            else:
                self._callbacks.append(fn)
        if run_now:
            fn(self)

    def result(self) -> WriteResult:
        """The outcome; raises :class:`CommitError` when the commit failed."""
        if self.error is not None:
            raise CommitError(str(self.error)) from self.error
        return WriteResult(self.written, dict(self.dropped), list(self.errors))

    def _finish(self, error: Optional[BaseException] = None) -> None:
        self.error = error
        if error is None:
            self.written = self.rows
        self.batches = ()  # free the rows
        with _CALLBACK_LOCK:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            try:
                fn(self)
            except Exception:  # a receiver's callback must not kill the committer
                log.exception("callback of a %s submission failed", self.source)


_CALLBACK_LOCK = threading.Lock()


class SourceStats:
    """Counters of one receiver (or the REST API)."""

    __slots__ = ("dropped", "errors", "lines", "messages", "written")

    def __init__(self) -> None:
        self.messages = 0
        self.lines = 0
        self.written = 0
        self.dropped: Dict[str, int] = {}
        self.errors: Dict[str, int] = {}

    def as_dict(self) -> dict:
        return {"messages": self.messages, "received": self.lines, "written": self.written,
                "dropped": dict(self.dropped), "errors": dict(self.errors)}


class StorageManager:
    """Group commit in front of a :class:`~ccstore.store.Store`, plus background retention."""

    def __init__(self, store: Store, *, flush_time: float = 1.0, batch_size: int = 20,
                 max_process: int = 10, store_logs: bool = True,
                 retention_interval: Optional[float] = None,
                 retention_daily: Optional[Tuple[int, int]] = (3, 0),
                 body_budget: int = BODY_BUDGET, commit_rows: int = COMMIT_ROWS) -> None:
        self.store = store
        #: bytes of request bodies held at once (:func:`ccstore.ingest.body.write_request`)
        self.bodies = Budget(body_budget)
        self.flush_time = float(flush_time)
        self.batch_size = max(1, int(batch_size))
        self.max_process = max(1, int(max_process))
        #: rows a transaction may take even past ``batch_size`` messages
        self.commit_rows = max(0, int(commit_rows))
        self.store_logs = bool(store_logs)
        self.retention_interval = retention_interval
        self.retention_daily = retention_daily
        self._cond = threading.Condition()
        self._queue: Deque[Ticket] = deque()
        #: streamed writes in progress: [lines, rows] decoded and taken so far
        self._streams: List[List[int]] = []
        self._closing = False
        self._closed = False
        self._committer: Optional[threading.Thread] = None
        self._retention_thread: Optional[threading.Thread] = None
        self._retention_stop = threading.Event()
        self._stats_lock = threading.Lock()
        self._sources: Dict[str, SourceStats] = {}
        self._counters: Dict[str, Any] = {
            "submissions": 0, "transactions": 0, "rows_written": 0, "largest_transaction": 0,
            "commit_seconds": 0.0, "late_commits": 0, "commit_failures": 0,
            "streamed_writes": 0,
            "last_commit": None,  # Unix time at which the last transaction committed
        }
        self._retention: Dict[str, Any] = {
            "runs": 0, "rows_removed": 0, "last_run": None, "last_seconds": None,
            "last_error": None, "next_run": None,
        }
        self._fatal: Optional[str] = None
        self._started = time.time()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> StorageManager:
        """Start the committer and the retention threads."""
        if self._committer is None:
            self._committer = threading.Thread(target=self._run, name="ccstore-committer",
                                               daemon=True)
            self._committer.start()
            self._retention_thread = threading.Thread(target=self._retention_loop,
                                                      name="ccstore-retention", daemon=True)
            self._retention_thread.start()
        return self

    def close(self, timeout: Optional[float] = None) -> None:
        """Commit everything submitted so far, then stop.  Does not close the store."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._retention_stop.set()
        if self._committer is not None:
            self._committer.join(timeout)
        if self._retention_thread is not None:
            self._retention_thread.join(timeout)
        with self._cond:  # streamed writes in progress finish first
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._streams:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
        # nothing can be left: the committer drains the queue before it exits
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
            self._closed = True
        for t in left:
            t._finish(ManagerClosed("shutting down"))

    def __enter__(self) -> StorageManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def healthy(self) -> Optional[str]:
        """None when ingest works, else why not."""
        if self._fatal:
            return self._fatal
        if self._closing:
            return "shutting down"
        if self._committer is not None and not self._committer.is_alive():
            return "committer thread stopped"
        return None

    # ------------------------------------------------------------------ ingest
    def submit(self, batches: Sequence[RowBatch], source: str, *,
               messages: int = 1) -> Ticket:
        """Queue decoded batches for the next group commit; returns at once.

        ``messages``: how many messages (NATS messages, request bodies) they came
        from, for ``batch_size`` and the statistics.
        """
        ticket = Ticket(batches, source, messages, self.store_logs)
        lines = sum(b.lines for b in batches)
        with self._stats_lock:
            st = self._source(source)
            st.messages += messages
            st.lines += lines
            for k, n in ticket.dropped.items():
                st.dropped[k] = st.dropped.get(k, 0) + n
            for e in ticket.errors:
                r = error_reason(e)
                st.errors[r] = st.errors.get(r, 0) + 1
        if ticket.rows == 0:
            ticket._finish()  # nothing to commit
            return ticket
        with self._cond:
            if self._closing:
                raise ManagerClosed("the server is shutting down")
            self._queue.append(ticket)
            self._counters["submissions"] += 1
            self._cond.notify()
        return ticket

    def write(self, data: Union[bytes, bytearray, memoryview], source: str, *,
              cluster: Optional[str] = None, precision: str = "auto",
              chunk_size: int = CHUNK_SIZE) -> WriteResult:
        """Decode, submit and wait for the commit of one request body.

        A body of at most ``chunk_size`` bytes is decoded at once and committed
        with others; a larger one is streamed, piece by piece, into a transaction
        of its own (:meth:`write_chunks`).  Stored whole or not at all.

        Raises :class:`CommitError` when the backend failed (nothing of the body
        is stored) and :class:`ManagerClosed` during shutdown.
        """
        if len(data) <= chunk_size:
            return self._write_one(data, source, cluster, precision, time.time_ns())
        view = memoryview(data).cast("B")
        return self.write_chunks(
            lambda: (bytes(view[i:i + chunk_size]) for i in range(0, len(view), chunk_size)),
            source, cluster=cluster, precision=precision)

    def write_chunks(self, open_chunks: Callable[[], Iterable[bytes]], source: str, *,
                     cluster: Optional[str] = None, precision: str = "auto") -> WriteResult:
        """Like :meth:`write`, for a body given as chunks: ``open_chunks()`` gives
        them, the same bytes each time it is called.

        One chunk: decoded at once and committed with others.  More: a transaction
        of its own, decoded as the backend takes it (:meth:`ccstore.Store.write_stream`),
        so that memory holds a piece, never the whole body.  An exception raised by
        the chunks propagates as it is, and nothing of the body is stored.
        """
        default_time = time.time_ns()
        chunks = iter(open_chunks())
        try:
            first = next(chunks, b"")
            more = next(chunks, None)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if more is None:
            return self._write_one(first, source, cluster, precision, default_time)
        del first, more
        return self._write_streamed(open_chunks, source, cluster, precision, default_time)

    def _write_one(self, data: Union[bytes, bytearray, memoryview], source: str,
                   cluster: Optional[str], precision: str, default_time: int) -> WriteResult:
        """A body decoded at once, through the group commit."""
        if not data:
            return WriteResult()
        ticket = self.submit([self.store.decode_rows(data, precision=precision,
                                                     default_time=default_time,
                                                     cluster=cluster)], source)
        ticket.wait()
        if isinstance(ticket.error, ManagerClosed):
            raise ticket.error
        return ticket.result()

    def _write_streamed(self, open_chunks: Callable[[], Iterable[bytes]], source: str,
                        cluster: Optional[str], precision: str,
                        default_time: int) -> WriteResult:
        """A body in pieces, streamed into one transaction of its own."""
        failure: List[BaseException] = []

        def chunks() -> Iterator[bytes]:
            try:
                yield from open_chunks()
            except GeneratorExit:  # the store stopped reading: its failure, not the body's
                raise
            except BaseException as exc:  # the body's own failure, not the store's
                failure.append(exc)
                raise

        progress = [0, 0]

        def report(lines: int, rows: int) -> None:
            progress[0] = lines
            progress[1] = rows

        with self._cond:
            if self._closing:
                raise ManagerClosed("the server is shutting down")
            self._streams.append(progress)
            self._counters["submissions"] += 1
        start = time.monotonic()
        try:
            result = self.store.write_stream(chunks, cluster=cluster, precision=precision,
                                             default_time=default_time, progress=report)
        except Exception as exc:
            if failure:
                with self._stats_lock:
                    self._source(source).messages += 1
                raise failure[-1] from None
            log.error("streamed write from %s failed: %s", source, exc)
            with self._stats_lock:
                self._counters["commit_failures"] += 1
                st = self._source(source)
                st.messages += 1
                st.lines += progress[0]
                st.errors["commit"] = st.errors.get("commit", 0) + progress[1]
            raise CommitError(str(exc)) from exc
        finally:
            with self._cond:
                self._streams.remove(progress)
                self._cond.notify_all()
        seconds = time.monotonic() - start
        with self._stats_lock:
            st = self._source(source)
            st.messages += 1
            st.lines += progress[0]
            st.written += result.written
            for k, n in result.dropped.items():
                st.dropped[k] = st.dropped.get(k, 0) + n
            for e in result.errors:
                r = error_reason(e)
                st.errors[r] = st.errors.get(r, 0) + 1
            c = self._counters
            c["transactions"] += 1
            c["streamed_writes"] += 1
            c["rows_written"] += result.written
            c["commit_seconds"] += seconds
            c["largest_transaction"] = max(c["largest_transaction"], result.written)
            c["last_commit"] = time.time()
        return result

    # ------------------------------------------------------------------ committer
    def _take(self) -> List[Ticket]:
        """The next group: whole submissions while they stay within ``batch_size``
        messages or within ``commit_rows`` rows."""
        q = self._queue
        group = [q.popleft()]
        messages, rows = group[0].messages, group[0].rows
        while q and (messages + q[0].messages <= self.batch_size
                     or rows + q[0].rows <= self.commit_rows):
            t = q.popleft()
            messages += t.messages
            rows += t.rows
            group.append(t)
        return group

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing, and everything is committed
                group = self._take()
            self._commit(group)

    def _commit(self, group: List[Ticket]) -> None:
        start = time.monotonic()
        try:
            batches: List[RowBatch] = []
            for t in group:
                batches.extend(t.batches)
            self.store.write_batches(batches)
        except Exception as exc:
            if len(group) > 1:
                log.warning("group commit of %d submissions failed (%s); committing them "
                            "one by one", len(group), exc)
                for t in group:
                    self._commit([t])
                return
            t = group[0]
            log.error("commit of %d rows from %s failed: %s", t.rows, t.source, exc)
            with self._stats_lock:
                self._counters["commit_failures"] += 1
                st = self._source(t.source)
                st.errors["commit"] = st.errors.get("commit", 0) + t.rows
            t._finish(exc)
            return
        end = time.monotonic()
        rows = sum(t.rows for t in group)
        late = sum(1 for t in group if end - t.submitted > self.flush_time)
        with self._stats_lock:
            c = self._counters
            c["transactions"] += 1
            c["rows_written"] += rows
            c["commit_seconds"] += end - start
            c["late_commits"] += late
            c["largest_transaction"] = max(c["largest_transaction"], rows)
            c["last_commit"] = time.time()
            for t in group:
                self._source(t.source).written += t.rows
        for t in group:
            t._finish()

    # ------------------------------------------------------------------ stats
    def _source(self, name: str) -> SourceStats:
        st = self._sources.get(name)
        if st is None:
            st = self._sources[name] = SourceStats()
        return st

    def count_error(self, source: str, reason: str, n: int = 1) -> None:
        """Count a failure that happened before decoding (auth, body too large...)."""
        with self._stats_lock:
            st = self._source(source)
            st.errors[reason] = st.errors.get(reason, 0) + n

    def register_source(self, name: str) -> None:
        """Make a receiver appear in the statistics before its first message."""
        with self._stats_lock:
            self._source(name)

    def stats(self) -> dict:
        """Counters of the manager, per source, and of retention."""
        with self._stats_lock:
            manager = dict(self._counters)
            sources = {k: v.as_dict() for k, v in self._sources.items()}
            retention = dict(self._retention)
        with self._cond:
            manager["queued"] = len(self._queue)
            manager["streaming"] = {"writes": len(self._streams),
                                    "lines": sum(p[0] for p in self._streams),
                                    "rows": sum(p[1] for p in self._streams)}
        manager["bodies"] = self.bodies.as_dict()
        manager["flush_time"] = self.flush_time
        manager["batch_size"] = self.batch_size
        manager["max_process"] = self.max_process
        manager["commit_rows"] = self.commit_rows
        manager["store_logs"] = self.store_logs
        return {"manager": manager, "sources": sources, "retention": retention}

    # ------------------------------------------------------------------ retention
    def _next_retention(self, now: float) -> Optional[float]:
        due: List[float] = []
        if self.retention_daily is not None:
            h, m = self.retention_daily
            local = _dt.datetime.fromtimestamp(now)
            at = local.replace(hour=h, minute=m, second=0, microsecond=0)
            if at.timestamp() <= now:
                at = at + _dt.timedelta(days=1)
            due.append(at.timestamp())
        if self.retention_interval:
            due.append(now + self.retention_interval)
        return min(due) if due else None

    def _retention_loop(self) -> None:
        while True:
            now = time.time()
            nxt = self._next_retention(now)
            with self._stats_lock:
                self._retention["next_run"] = nxt
            if nxt is None:
                return
            if self._retention_stop.wait(max(0.0, nxt - now)):
                return
            self.run_retention()

    def run_retention(self) -> int:
        """Apply the store's retention now; returns the rows removed (0 on failure)."""
        t0 = time.monotonic()
        removed = 0
        error = None
        try:
            removed = self.store.apply_retention()
        except Exception as exc:  # keep the schedule alive, report in stats
            error = str(exc)
            log.error("retention failed: %s", exc)
        with self._stats_lock:
            r = self._retention
            r["runs"] += 1
            r["rows_removed"] += removed
            r["last_run"] = time.time()
            r["last_seconds"] = time.monotonic() - t0
            r["last_error"] = error
        if removed:
            log.info("retention removed %d rows", removed)
        return removed
