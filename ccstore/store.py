"""The Store: line protocol in, committed rows out, and the questions users ask.

Data flows one way: bytes -> :func:`ccstore.lineproto.decode_rows` -> row tuples
-> backend (one transaction per batch).  Queries go store -> backend -> records.
Nothing here knows about HTTP or NATS.
"""
from __future__ import annotations

import builtins
import contextlib
import itertools
import operator
import os
import socket
import stat
import threading
import time as _time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import (Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union, cast)

from . import lineproto
from .backends import open_backend
from .backends.base import Backend, merge_groups
from .logs import FORMATS as LOG_FORMATS
from .logs import LogParser, log_batch
from .query import Group, JobInfo
from .query.fields import from_result, tags_of
from .rows import LEVEL_TAG, NS_PER_S, LineError, MessageError, RowBatch, point_to_row
from .search import Follower, Hits, Searcher, count_key, keyword_spec, parse_cursor, time_bounds
from .timesyntax import TimeLike, parse_duration, start_ns

__all__ = ["open", "Store", "WriteResult", "IngestResult", "Record", "Hits", "TimeLike"]


class WriteResult:
    """Outcome of one write: rows committed, points dropped per kind, bad lines."""

    __slots__ = ("written", "dropped", "errors")

    def __init__(self, written: int = 0, dropped: Optional[Dict[str, int]] = None,
                 errors: Optional[List[LineError]] = None) -> None:
        self.written = written
        self.dropped: Dict[str, int] = dropped if dropped is not None else {}
        self.errors: List[LineError] = errors if errors is not None else []

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"written": self.written, "dropped": dict(self.dropped),
                "errors": [e.as_dict() for e in self.errors]}

    def __repr__(self) -> str:
        return (f"WriteResult(written={self.written}, dropped={self.dropped!r}, "
                f"errors={len(self.errors)})")


_IDENTITY_TAG_ATTRS = (("hostname", 6), ("type", 7), ("type-id", 8), ("stype", 9),
                       ("stype-id", 10))


class Record(tuple):
    """One stored event or log message, as a query returns it.

    A tuple in the backend's column order (so a query builds records at C
    speed); the attributes below name its parts.  ``tags`` is decoded from the
    stored JSON on access.
    """

    __slots__ = ()

    cluster = property(operator.itemgetter(0), doc="cluster name")
    kind = property(operator.itemgetter(1), doc='"log" or "event"')
    id = property(operator.itemgetter(2), doc="row id, unique in the store")
    time = property(operator.itemgetter(3), doc="nanoseconds since the epoch")
    timestamp = property(operator.itemgetter(4), doc="Unix seconds, as the Go program stores them")
    name = property(operator.itemgetter(5), doc="measurement: event class or log source")
    hostname = property(operator.itemgetter(6))
    type = property(operator.itemgetter(7))
    type_id = property(operator.itemgetter(8))
    stype = property(operator.itemgetter(9))
    stype_id = property(operator.itemgetter(10))
    value = property(operator.itemgetter(12), doc="the payload: event or log text")

    @property
    def tags(self) -> Dict[str, str]:
        """The other tags (loglevel, function, ...) as a new dict."""
        return tags_of(self[11])

    @property
    def level(self) -> Optional[str]:
        """The ``loglevel`` tag as stored, or None."""
        return self.tags.get("loglevel")

    @property
    def cursor(self) -> str:
        """Opaque position of this record, for ``after=`` of a query or search."""
        return f"{self[3]}_{self[2]}"

    def all_tags(self) -> Dict[str, str]:
        """Every tag of the original message, the cluster and identity tags included."""
        tags = {"cluster": self[0]}
        for key, i in _IDENTITY_TAG_ATTRS:
            if self[i] is not None:
                tags[key] = self[i]
        tags.update(self.tags)
        return tags

    def to_point(self) -> "lineproto.Point":
        """The record as a line-protocol point (for export and re-ingest)."""
        return lineproto.Point(self.name, self.all_tags(), {self.kind: self.value}, self.time)

    def as_dict(self) -> dict:
        """The record with the output field names of every interface
        (:mod:`ccstore.query.fields`: time, ts_ns, cluster, kind, host, ...)."""
        return from_result(self)

    def __repr__(self) -> str:
        return (f"Record(cluster={self.cluster!r}, kind={self.kind!r}, time={self.time}, "
                f"name={self.name!r}, hostname={self.hostname!r}, value={self.value!r})")


class Follow:
    """A live tail of a query (:meth:`Store.follow`)."""

    __slots__ = ("_follower",)

    def __init__(self, follower: Follower) -> None:
        self._follower = follower

    @property
    def cursor(self) -> Optional[str]:
        """The cursor of the last record returned, or None."""
        return self._follower.cursor

    def poll(self, limit: int = 1000) -> Tuple[List[Record], int]:
        """``(records, skipped)``: at most ``limit`` new records, oldest first, and how
        many were passed over because the reader fell behind."""
        rows, skipped = self._follower.poll(limit)
        return list(map(Record, rows)), skipped


class Store:
    """Events and logs of ClusterCockpit clusters in one database.

    Thread-safe: writes are serialised by the backend, queries run concurrently.
    Use :func:`ccstore.open` to make one.
    """

    def __init__(self, backend: Backend, *, retention: Union[str, float, None] = "24h",
                 log_retention: Union[str, float, None] = None,
                 level_retention: Optional[Mapping[str, Union[str, float, None]]] = None,
                 store_logs: bool = True) -> None:
        self.backend = backend
        self.retention = _retention(retention, "retention")
        self.log_retention = _retention(log_retention, "log_retention")
        #: log level -> seconds its logs are kept (None: kept), instead of ``log_retention``
        self.level_retention: Dict[str, Optional[float]] = {}
        for level, value in (level_retention or {}).items():
            if not isinstance(level, str):
                raise TypeError(f"level_retention: a level is a string, not {level!r}")
            self.level_retention[level] = _retention(value, f"level_retention[{level!r}]")
        self.store_logs = bool(store_logs)
        self._searcher = Searcher(backend)
        self._started = _time.time()
        self._lock = threading.Lock()
        self._counters: Dict[str, Any] = {
            "writes": 0, "rows_written": 0, "lines_rejected": 0, "dropped": {},
            "retention_runs": 0, "rows_expired": 0, "last_retention": None}

    # -------------------------------------------------------------- context manager
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; everything written is already committed."""
        self.backend.close()

    def flush(self) -> None:
        """Finish background work now (sealing segments: their indexes and counts).

        Not needed for durability: every write is committed when it returns.
        """
        self.backend.flush()

    def compact(self) -> int:
        """Seal every full segment, then compact every sealed segment not compacted
        yet (SQLite: compressed blocks); return how many were compacted."""
        self.backend.flush()
        return self.backend.compact()

    # -------------------------------------------------------------- writing
    def write(self, data: Union[bytes, bytearray, memoryview, str], *,
              cluster: Optional[str] = None, precision: str = "auto",
              default_time: Optional[int] = None,
              state: Optional[Dict[str, str]] = None) -> WriteResult:
        """Decode line protocol and commit its events and logs.

        A line's ``cluster`` tag wins, else ``cluster``; a line with neither is
        an error.  Bad lines are reported in ``errors`` and cost nothing else.
        When this returns, the rows (and ``state``) are committed.
        """
        piece = self.backend.stream_piece_bytes
        if piece and not isinstance(data, str) and len(data) > 2 * piece:
            return self._write_stream(data, piece, cluster, precision, default_time, state)
        batch = self.decode_rows(data, precision=precision, default_time=default_time,
                                 cluster=cluster)
        return self.write_batches([batch], state=state)

    def decode_rows(self, data: Union[bytes, bytearray, memoryview, str], *,
                    precision: str = "auto", default_time: Optional[int] = None,
                    cluster: Optional[str] = None) -> RowBatch:
        """:func:`ccstore.lineproto.decode_rows` for this store: a line this store
        cannot hold (on PostgreSQL a NUL character in a string) is rejected alone,
        with its line and column, like a line that does not parse."""
        if self.backend.stores_nul:  # the common case, once per small message: direct
            return lineproto.decode_rows(data, precision=precision, default_time=default_time,
                                         cluster=cluster)
        return _decode_rows(data, True, precision=precision, default_time=default_time,
                            cluster=cluster)

    def _write_stream(self, data: Union[bytes, bytearray, memoryview], piece: int,
                      cluster: Optional[str], precision: str, default_time: Optional[int],
                      state: Optional[Dict[str, str]]) -> WriteResult:
        """One large write decoded piece by piece (:meth:`write_stream`)."""
        view = memoryview(data).cast("B")
        return self.write_stream(
            lambda: (bytes(view[i:i + piece]) for i in range(0, len(view), piece)),
            cluster=cluster, precision=precision, default_time=default_time, state=state)

    def write_stream(self, open_chunks: Callable[[], Iterable[bytes]], *,
                     cluster: Optional[str] = None, precision: str = "auto",
                     default_time: Optional[int] = None,
                     state: Optional[Dict[str, str]] = None,
                     progress: Optional[Callable[[int, int], None]] = None) -> WriteResult:
        """Decode line protocol from a stream of byte chunks and commit it whole, in
        one transaction: stored entirely or not at all.

        ``open_chunks()`` gives the chunks (lines may be split between them).  It
        may be called more than once (a retry after a lost connection starts over)
        and must give the same bytes each time.  Memory is bounded by the chunks,
        not by the write: each batch is taken by the backend before the next is
        decoded.  An exception raised by the chunks aborts the write (nothing of it
        is stored) and propagates.  ``progress(lines, rows)`` is called as each
        batch is taken, with the totals of the decoding so far (a retry counts
        from 0 again).  Arguments as for :meth:`write`.
        """
        piece = self.backend.stream_piece_bytes
        if default_time is None:
            default_time = _time.time_ns()  # the same in every decoding
        results: List[WriteResult] = []

        def open_stream() -> lineproto.RowStream:
            result = WriteResult()
            results.append(result)
            chunks = open_chunks()
            return _KeptStream(_resliced(chunks, piece) if piece else chunks, self, result,
                               progress, refuse_nul=not self.backend.stores_nul,
                               precision=precision, default_time=default_time,
                               cluster=cluster)

        self.backend.write_stream(open_stream, state)
        if not results:  # the backend took nothing (it never does)
            results.append(WriteResult())
        self._count(results[-1])
        return results[-1]

    def write_points(self, points: Iterable["lineproto.Point"], *,
                     cluster: Optional[str] = None,
                     state: Optional[Dict[str, str]] = None) -> WriteResult:
        """Commit decoded points; errors name the point's position (1-based) as line."""
        groups: Dict[Tuple[str, str], List[tuple]] = {}
        dropped: Dict[str, int] = {}
        errors: List[LineError] = []
        refuse_nul = not self.backend.stores_nul
        for i, p in enumerate(points, 1):
            try:
                cl, kind, row = point_to_row(p.name, p.tags, p.fields, p.time, cluster)
                if refuse_nul and row is not None and any(
                        isinstance(v, str) and "\x00" in v for v in (cl,) + row):
                    raise MessageError(NUL_MESSAGE)
            except MessageError as exc:
                errors.append(LineError(i, 1, str(exc), p.name[:200]))
                continue
            if row is None:
                dropped[kind] = dropped.get(kind, 0) + 1
            else:
                groups.setdefault((cl, kind), []).append(row)
        return self.write_batches([RowBatch(groups, errors, dropped, 0, 0)], state=state)

    def write_batches(self, batches: Sequence[RowBatch], *,
                      state: Optional[Dict[str, str]] = None) -> WriteResult:
        """Commit the rows of several decoded batches in one transaction (group commit)."""
        result = WriteResult()
        if len(batches) == 1:
            groups = self._tally(batches[0], result)
        else:
            groups = merge_groups(self._tally(b, result) for b in batches)
        self.backend.write(groups, state)
        self._count(result)
        return result

    def _tally(self, batch: RowBatch, result: WriteResult) -> Dict[Tuple[str, str], List[tuple]]:
        """The groups of ``batch`` to store; its rows, drops and errors added to
        ``result`` (its ``copy`` rows are of a group the backend stores)."""
        for k, n in batch.dropped.items():
            result.dropped[k] = result.dropped.get(k, 0) + n
        result.errors.extend(batch.errors)
        groups = batch.groups
        if not self.store_logs:
            logs = [key for key in groups if key[1] == "log"]
            if logs:
                groups = dict(groups)
                for key in logs:
                    result.dropped["log"] = result.dropped.get("log", 0) + len(groups.pop(key))
        result.written += sum(len(rows) for rows in groups.values()) + batch.copied
        return groups

    def _count(self, result: WriteResult) -> None:
        """A committed write in the counters of :meth:`stats`."""
        with self._lock:
            c = self._counters
            c["writes"] += 1
            c["rows_written"] += result.written
            c["lines_rejected"] += len(result.errors)
            for k, n in result.dropped.items():
                c["dropped"][k] = c["dropped"].get(k, 0) + n

    def ingest(self, source: Union[str, bytes, "os.PathLike[str]", BinaryIO], *,
               format: str = "lineproto", cluster: Optional[str] = None,
               hostname: Optional[str] = None, timezone: Optional[str] = None,
               precision: str = "auto", default_time: Optional[int] = None,
               chunk_size: int = 4 << 20, max_errors: Optional[int] = None,
               progress: Optional[Callable[[int, int], None]] = None,
               pattern: Optional[str] = None, regex: Optional[str] = None,
               levels: Optional[Mapping[str, str]] = None,
               time_format: Optional[str] = None) -> "IngestResult":
        """Store a file, from a path or a binary file object, in bounded memory.

        It is read in chunks of ``chunk_size`` bytes; each is committed while the
        next is decoded.  ``format``:

        - ``"lineproto"`` (the default, also ``"lp"``): line protocol, as :meth:`write`
          takes it (``cluster``, ``precision`` and ``default_time`` as there);
        - ``"syslog"``, ``"rfc5424"``, ``"json"``, ``"plain"``, and the formats of
          HPC sites ``"syslog_export"``, ``"bgl"``, ``"lanl"``, ``"journal_json"``,
          ``"journal_export"``, ``"slurm"``: log lines in that format
          (:class:`ccstore.logs.LogParser`); ``"log"``: log lines whose format is
          detected from the first lines of the file, else recognised line by line;
        - ``pattern`` (``"<_> <time:epoch> <host> <msg>"``) or ``regex`` (named
          groups): log lines in a format of the user's (:mod:`ccstore.logs.patterns`,
          ``levels`` maps the values of its level field, ``time_format`` reads the
          time group of a regex); ``format`` is then ``"log"`` or left alone;
        - ``"auto"``: line protocol when the first lines are line protocol, else
          ``"log"``.

        Line protocol stays the default: a program knows what it feeds, and a
        damaged line-protocol file must come back as rejected lines, not be stored
        as log messages because its first lines did not look like line protocol.
        The command line, which a person watches, detects the format.

        Log lines name no cluster, so ``cluster`` is required for them (ValueError
        otherwise); ``hostname`` is that of lines that name none (default: this
        machine), ``timezone`` that of timestamps without a zone (default: local
        time); RFC 3164 dates take their year from the file's modification time.

        ``max_errors``: keep at most this many rejected lines in ``errors``
        (``rejected`` counts them all).  ``progress(bytes_read, lines_read)`` is
        called as each chunk is handed over to be committed.
        """
        if format == "lp":
            format = "lineproto"
        user = pattern is not None or regex is not None
        if user:
            if format not in ("lineproto", "log", "pattern"):
                raise ValueError(f"format {format!r} and a pattern or regex: give one of them")
            format = "pattern"
            # a pattern that does not compile is an error before anything is read
            LogParser("pattern", pattern=pattern, regex=regex, levels=levels,
                      time_format=time_format)
        if format not in _INGEST_FORMATS:
            raise ValueError(f"unknown format {format!r}: expected one of "
                             f"{', '.join(_INGEST_FORMATS)}")
        if format not in ("lineproto", "auto") and not cluster:
            raise ValueError("log lines name no cluster: give a cluster")
        location = None
        with contextlib.ExitStack() as stack:
            if isinstance(source, (str, bytes, os.PathLike)):
                location = os.path.abspath(os.fsdecode(source))
                source = stack.enter_context(builtins.open(location, "rb"))
            reader = _Chunks(source, chunk_size)
            chunks: Iterator[bytes] = iter(reader)
            if format == "auto":
                first = next(chunks, b"")
                chunks = itertools.chain((first,), chunks)
                format = "lineproto" if _looks_like_lineproto(first) else "log"
                if format == "log" and not cluster:
                    raise ValueError("not line protocol; to read it as log lines, "
                                     "give a cluster")
            result = IngestResult(max_errors)
            parser = None
            if format == "lineproto":
                batches: Iterable[RowBatch] = _StoreStream(
                    chunks, refuse_nul=not self.backend.stores_nul, precision=precision,
                    default_time=default_time, cluster=cluster)
            else:
                parser = LogParser(_LOG_FORMATS.get(format, format),
                                   hostname=hostname or socket.gethostname(),
                                   location=location, tz=timezone,
                                   reference_time=_modified(source), pattern=pattern,
                                   regex=regex, levels=levels, time_format=time_format)
                batches = _log_batches(parser, chunks, cast(str, cluster))
            # decode chunk n+1 while chunk n commits (the backends release the GIL)
            with ThreadPoolExecutor(1, thread_name_prefix="ccstore-ingest") as pool:
                pending: Optional[Future] = None
                for batch in batches:
                    result.lines += batch.lines
                    if pending is not None:
                        result.add(pending.result())
                    pending = pool.submit(self.write_batches, [batch])
                    if progress is not None:
                        progress(reader.read, result.lines)
                if pending is not None:
                    result.add(pending.result())
            if parser is not None:
                result.skipped = parser.skipped
                result.format = parser.format
                result.unparsed = parser.unparsed
                result.no_host = parser.no_host
            else:
                result.format = "lineproto"
        return result

    def get_state(self, key: str) -> Optional[str]:
        """A value stored with ``write(..., state={key: value})``, or None."""
        return self.backend.get_state(key)

    # -------------------------------------------------------------- reading
    def query(self, cluster: Union[str, Sequence[str], None] = None, kind: str = "log", *,
              start: TimeLike = None, end: TimeLike = None, hosts: Any = None,
              names: Any = None, types: Any = None, type_ids: Any = None, stypes: Any = None,
              stype_ids: Any = None, tags: Optional[Mapping[str, Any]] = None,
              text: Optional[str] = None, limit: Optional[int] = 1000, order: str = "desc",
              after: Optional[str] = None) -> List[Record]:
        """Events or logs matching every given filter, newest first by default.

        List arguments mean "any of"; ``tags`` maps a tag key to a value, a list
        of values, or ``{"not": [...]}``; ``text`` is a full-text query (words,
        ``"quoted phrases"``, ``prefix*``).  ``start`` and ``end`` take every form
        of :mod:`ccstore.timesyntax` and each covers its unit (``end=1740028021``:
        that whole second).  Page with ``after=records[-1].cursor``.
        """
        lo, hi = time_bounds(start, end, self._searcher.clock())
        spec = keyword_spec(kind, lo, hi, cluster=cluster, hosts=hosts, names=names,
                            types=types, type_ids=type_ids, stypes=stypes,
                            stype_ids=stype_ids, tags=tags, text=text, limit=limit,
                            order=order, after=after)
        if spec.limit == 0 or (spec.clusters is not None and not spec.clusters):
            return []
        self._searcher.ready(spec)
        return list(map(Record, self.backend.query(spec)))

    def count(self, cluster: Union[str, Sequence[str], None] = None, kind: str = "log", *,
              start: TimeLike = None, end: TimeLike = None,
              by: Union[str, Sequence[str], None] = None,
              interval: Union[str, float, None] = None, hosts: Any = None, names: Any = None,
              types: Any = None, type_ids: Any = None, stypes: Any = None,
              stype_ids: Any = None, tags: Optional[Mapping[str, Any]] = None,
              text: Optional[str] = None) -> List[tuple]:
        """Counts grouped by tags (default: the loglevel of logs, the function of events).

        Rows are ``(group values..., [bucket start in Unix seconds], count)``;
        ``interval`` (``"1h"``, seconds) adds the time bucket: a histogram.
        """
        lo, hi = time_bounds(start, end, self._searcher.clock())
        spec = keyword_spec(kind, lo, hi, cluster=cluster, hosts=hosts, names=names,
                            types=types, type_ids=type_ids, stypes=stypes,
                            stype_ids=stype_ids, tags=tags, text=text)
        k = spec.kind
        if by is None:
            by = (LEVEL_TAG[k],)
        elif isinstance(by, str):
            by = (by,)
        found = [count_key(b, k) for b in by]  # None: the kind itself
        keys = [g for g in found if g is not None]
        step = None
        if interval is not None:
            seconds = parse_duration(interval)
            if seconds is None or seconds < 1 or seconds != int(seconds):
                raise ValueError("interval must be a whole number of seconds, at least 1")
            step = int(seconds) * NS_PER_S
        if spec.clusters is not None and not spec.clusters:
            return []
        self._searcher.ready(spec)
        rows = self.backend.count(spec, keys, step)
        if len(keys) < len(found):
            rows = [_with_kind(r, found, k) for r in rows]
        if step is None:
            return rows
        return [r[:-2] + (r[-2] // NS_PER_S, r[-1]) for r in rows]

    def search(self, q: str = "", *, start: TimeLike = None, end: TimeLike = None,
               limit: Optional[int] = 1000, order: str = "desc",
               after: Optional[str] = None) -> List[Record]:
        """Records (logs and events) matching the query ``q``, newest first by default.

        ``q`` is the query language of :mod:`ccstore.query` (``disk full``,
        ``host:node[001-064] level:>=warn``, ``_time:1h``, ``job:4711``...); ``start``
        and ``end`` (every form of :mod:`ccstore.timesyntax`, each covering its
        unit) narrow it further.  Page with ``after=records[-1].cursor``.  A query
        that does not parse is a :class:`~ccstore.query.QuerySyntaxError` (a
        ValueError naming the column); an unknown cluster or job is a ValueError.
        """
        now = self._searcher.clock()
        cursor = parse_cursor(after)
        sel = self._searcher.select(q, start, end, now)
        return list(map(Record, self._searcher.rows(sel, limit, order, cursor)))

    def follow(self, q: str = "", *, after: Optional[str] = None) -> "Follow":
        """New records matching ``q`` as they are committed (a live tail): each
        ``poll(limit)`` of the answer returns ``(records, skipped)``, the records
        oldest first, from now on (or after the record whose cursor is ``after``).

        A reader that falls ``limit`` or more behind jumps to the newest records and
        learns how many it passed over (``skipped``).  Records committed with a time
        older than the newest one already returned are not returned.  A query that
        does not parse is a :class:`~ccstore.query.QuerySyntaxError`.
        """
        now = self._searcher.clock()
        return Follow(Follower(self._searcher, q, None if after else now, after))

    def hits(self, q: str = "", *, start: TimeLike = None, end: TimeLike = None,
             interval: Union[str, float, None] = None, by: Optional[str] = "level",
             buckets: int = 60) -> Hits:
        """How many records match ``q`` per time bucket, split by the field or tag ``by``
        (None: not split), every bucket of the range present.

        The range is ``start``/``end`` and the query's ``_time``; where neither bounds
        it, the first or last matching record does.  ``interval`` (``"5m"``, seconds)
        is the bucket width; by default a round width giving at most ``buckets``.
        Buckets are aligned to multiples of the interval since the epoch.
        """
        now = self._searcher.clock()
        sel = self._searcher.select(q, start, end, now)
        return self._searcher.hits(sel, interval, by, buckets, now)

    def facets(self, q: str = "", *, start: TimeLike = None, end: TimeLike = None,
               fields: Optional[Sequence[str]] = None, limit: int = 10
               ) -> Dict[str, List[Tuple[Optional[str], int]]]:
        """The most common values of fields among the records matching ``q``.

        ``{field: [(value, count), ...]}``, at most ``limit`` values per field, the
        biggest count first; counts are over every matching record.  ``fields``:
        output fields (``host``, ``level``, ``name``...) or tag names; by default
        host, level, name, type, kind, cluster and the most common tag keys.
        """
        sel = self._searcher.select(q, start, end, self._searcher.clock())
        return self._searcher.facets(sel, fields, limit)

    def group(self, q: str = "", *, start: TimeLike = None, end: TimeLike = None,
              limit: int = 100) -> List[Group]:
        """Identical messages across hosts among the records matching ``q``, in the
        spirit of ``dshbak -c``: numbers, ids and addresses masked, the biggest
        group first, each with its count, first and last time and its hosts as a
        Slurm hostlist.  Groups are formed from the newest
        :data:`~ccstore.search.GROUP_SCAN` matching records.
        """
        sel = self._searcher.select(q, start, end, self._searcher.clock())
        return self._searcher.group(sel, limit)

    def job(self, job_id: Union[str, int], cluster: Optional[str] = None) -> JobInfo:
        """A job's cluster, hosts and time window from the job events stored (measurement
        ``job`` with ``function=start_job|stop_job``, or ``start_job`` / ``stop_job``).

        A running job's window ends now.  :class:`~ccstore.query.JobNotFound` (a
        ValueError) when no event names it; ValueError when it ran on several
        clusters and none is given, or the cluster is unknown.
        """
        return self._searcher.job(str(job_id), cluster, self._searcher.clock())

    def clusters(self) -> List[str]:
        """Names of the clusters that have data."""
        return self.backend.clusters()

    def check_clusters(self, names: Iterable[str]) -> None:
        """ValueError naming the first of ``names`` the store has no data of."""
        self._searcher.check_clusters(names)

    # -------------------------------------------------------------- retention
    def apply_retention(self, now: TimeLike = None) -> int:
        """Remove events older than ``retention``, logs older than ``log_retention``
        and logs of the levels of ``level_retention`` older than theirs; return how
        many rows were removed.

        What every class has expired (the oldest cutoff of the kind) goes by whole
        segments (backend :meth:`~.Backend.expire`); rows of a level whose retention
        is shorter, or of the rest when a level is kept longer, go by level
        (:meth:`~.Backend.expire_levels`)."""
        clock = self._searcher.clock()
        now_ns = clock if now is None else start_ns(now, now_ns=clock)
        removed = 0
        for kind, default, levels in (("event", self.retention, {}),
                                      ("log", self.log_retention, self.level_retention)):
            for cutoff, names, negate in _retention_steps(now_ns, default, levels):
                if names is None:
                    removed += self.backend.expire(kind, cutoff)
                else:
                    removed += self.backend.expire_levels(kind, cutoff, names, negate)
        with self._lock:
            self._counters["retention_runs"] += 1
            self._counters["rows_expired"] += removed
            self._counters["last_retention"] = _time.time()
        return removed

    def retention_classes(self) -> Dict[str, Any]:
        """Seconds each class of rows is kept (None: kept): ``event``, ``log`` (logs
        of levels not named), and ``log_levels`` (level -> seconds)."""
        return {"event": self.retention, "log": self.log_retention,
                "log_levels": dict(self.level_retention)}

    def stats(self) -> dict:
        """Counters of this store and its backend, JSON-serialisable."""
        with self._lock:
            out = {k: (dict(v) if isinstance(v, dict) else v)
                   for k, v in self._counters.items()}
        out["uptime"] = _time.time() - self._started
        out["retention"] = self.retention
        out["log_retention"] = self.log_retention
        out["retention_classes"] = self.retention_classes()
        out["store_logs"] = self.store_logs
        out["decoder"] = lineproto.IMPLEMENTATION
        out["backend"] = self.backend.stats()
        return out


def _retention(value: Union[str, float, None], what: str) -> Optional[float]:
    """Seconds of a retention (None: rows are kept); ValueError naming ``what``."""
    try:
        seconds = parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: {exc}") from None
    if seconds is not None and seconds < 0:
        raise ValueError(f"{what}: must not be negative, got {value!r}")
    return seconds


def _retention_steps(now_ns: int, default: Optional[float],
                     levels: Mapping[str, Optional[float]]
                     ) -> List[Tuple[int, Optional[Tuple[str, ...]], bool]]:
    """The expiry steps of one kind: ``(cutoff, None, False)`` for every row older
    than ``cutoff``; ``(cutoff, levels, negate)`` for the rows older than ``cutoff``
    whose level is one of ``levels`` (``negate``: is none of them, or missing).

    ``default`` applies to the levels not in ``levels``; a level with None is kept."""
    def cut(seconds: float) -> int:
        return now_ns - int(seconds * NS_PER_S)

    kept = [lv for lv, sec in levels.items() if sec is None]
    named = {lv: cut(sec) for lv, sec in levels.items() if sec is not None}
    steps: List[Tuple[int, Optional[Tuple[str, ...]], bool]] = []
    floor: Optional[int] = None  # every row older than this goes, whatever its level
    if default is not None and not kept:
        floor = min([cut(default)] + list(named.values()))
        steps.append((floor, None, False))
    by_cutoff: Dict[int, List[str]] = {}
    for level, c in named.items():
        if floor is None or c > floor:
            by_cutoff.setdefault(c, []).append(level)
    for c, names in sorted(by_cutoff.items()):
        steps.append((c, tuple(sorted(names)), False))
    if default is not None and (floor is None or cut(default) > floor):
        steps.append((cut(default), tuple(sorted(levels)), True))
    return steps


def _with_kind(row: tuple, found: List[Any], kind: str) -> tuple:
    """A count row with the kind put where ``by`` asked for it (its key is None)."""
    values = iter(row)
    out = tuple(kind if key is None else next(values) for key in found)
    return out + tuple(values)


class IngestResult(WriteResult):
    """Outcome of :meth:`Store.ingest`: a :class:`WriteResult`, plus the ``lines``
    read, the ``rejected`` lines (all of them; ``errors`` may keep only the first
    ``max_errors``) and the log lines ``skipped`` as binary garbage.  Of log files
    also: the ``format`` read (detected or given), the entries that fit no format
    (``unparsed``, stored with the tag ``parse=unparsed``) and those that named no
    host of their own (``no_host``, stored under the ``hostname`` given or this
    machine's)."""

    __slots__ = ("format", "lines", "max_errors", "no_host", "rejected", "skipped", "unparsed")

    def __init__(self, max_errors: Optional[int] = None) -> None:
        super().__init__()
        self.max_errors = max_errors
        self.lines = 0
        self.rejected = 0
        self.skipped = 0
        self.format: Optional[str] = None
        self.unparsed = 0
        self.no_host = 0

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.skipped

    def add(self, result: WriteResult) -> None:
        """Count the outcome of one committed chunk."""
        self.written += result.written
        for k, n in result.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + n
        self.rejected += len(result.errors)
        room = len(result.errors) if self.max_errors is None else max(
            0, self.max_errors - len(self.errors))
        self.errors.extend(result.errors[:room])

    def as_dict(self) -> dict:
        out = {**super().as_dict(), "lines": self.lines, "rejected": self.rejected,
               "skipped": self.skipped}
        if self.format is not None and self.format != "lineproto":
            out.update(format=self.format, unparsed=self.unparsed, no_host=self.no_host)
        return out

    def __repr__(self) -> str:
        return (f"IngestResult(lines={self.lines}, written={self.written}, "
                f"dropped={self.dropped!r}, rejected={self.rejected}, "
                f"skipped={self.skipped})")


#: ``format`` values of :meth:`Store.ingest` ("lp" is taken for "lineproto" too)
_INGEST_FORMATS = ("lineproto", "auto", "log", "pattern") + tuple(
    f for f in LOG_FORMATS if f != "auto")
#: log formats of :meth:`Store.ingest` named otherwise by :class:`ccstore.logs.LogParser`
_LOG_FORMATS = {"log": "auto"}


class _Chunks:
    """The chunks of a binary file; ``read`` counts the bytes read so far."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh = fh
        self._size = size
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._fh.read(self._size)
            if not chunk:
                return
            self.read += len(chunk)
            yield chunk


def _looks_like_lineproto(sample: bytes) -> bool:
    """Whether the first lines of ``sample`` are ClusterCockpit line protocol."""
    lines = [ln for ln in sample.split(b"\n", 50)[:50]
             if ln.strip() and not ln.startswith(b"#")][:10]
    if not lines:
        return False
    batch = lineproto.decode_rows(b"\n".join(lines), cluster="-")
    return batch.rows + sum(batch.dropped.values()) > len(batch.errors)


def _log_batches(parser: LogParser, chunks: Iterable[bytes], cluster: str
                 ) -> Iterator[RowBatch]:
    """A batch of log rows per chunk, then the entries still pending at the end."""
    lines = 0
    for chunk in chunks:
        rows = parser.feed(chunk)
        yield log_batch(cluster, rows, parser.lines - lines)
        lines = parser.lines
    rows = parser.finish()
    yield log_batch(cluster, rows, parser.lines - lines)


def _modified(fh: Any) -> Optional[float]:
    """The modification time of a regular file (None for a pipe, a socket, a buffer)."""
    try:
        st = os.fstat(fh.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_mtime if stat.S_ISREG(st.st_mode) else None


#: why a line is rejected by a store that cannot hold a NUL character (PostgreSQL)
NUL_MESSAGE = "NUL character (0x00) in a string: this store (PostgreSQL) cannot hold it"


def _decode_rows(data: Union[bytes, bytearray, memoryview, str], refuse_nul: bool, *,
                 decode: Optional[Callable[..., RowBatch]] = None, lineno: int = 1,
                 final: bool = True, **options: Any) -> RowBatch:
    """``decode`` (:func:`lineproto.decode_rows` or a backend's decoder of the same
    signature) of ``data``; with ``refuse_nul``, a complete line whose
    rows would hold a NUL character is rejected alone (NUL_MESSAGE, at the column
    of its first NUL) and decoded as a comment, so that the others are stored.

    A NUL can only reach a row through a string field (the decoder rejects it in
    names, tags and keys); the few lines that have one are decoded alone to see."""
    if decode is None:
        decode = lineproto.decode_rows
    if not refuse_nul or isinstance(data, str) or b"\x00" not in data:
        return decode(data, lineno=lineno, final=final, **options)
    data = bytes(data)
    buf = bytearray(data)
    refused: List[LineError] = []
    pos = data.find(b"\x00")
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        if end < 0:
            if not final:
                break  # an unterminated last line: decoded once it is whole
            end = len(data)
        n = lineno + data.count(b"\n", 0, start)
        line = data[start:end]
        alone = lineproto.decode_rows(line, lineno=n, **options)
        if any("\x00" in v for rows in alone.groups.values() for row in rows
               for v in row if isinstance(v, str)):
            refused.append(LineError(n, pos - start + 1, NUL_MESSAGE,
                                     line[:200].decode("utf-8", "replace")))
            buf[start:end] = b"#" + b" " * (end - start - 1)
        pos = data.find(b"\x00", end)
    batch = decode(bytes(buf), lineno=lineno, final=final, **options)
    if refused:
        batch.errors = sorted(batch.errors + refused, key=operator.attrgetter("lineno"))
    return batch


class _StoreStream(lineproto.RowStream):
    """:class:`lineproto.RowStream` decoding as :meth:`Store.decode_rows` does."""

    def __init__(self, chunks: Iterable[bytes], *, refuse_nul: bool, **options: Any) -> None:
        super().__init__(chunks, **options)
        self._refuse_nul = refuse_nul

    def _decode(self, data: bytes, final: bool) -> RowBatch:
        if not self._refuse_nul:
            return super()._decode(data, final)
        return _decode_rows(data, True, decode=self.decode_rows, precision=self._precision,
                            default_time=self._default_time, cluster=self._cluster,
                            final=final, lineno=self._lineno)


class _KeptStream(_StoreStream):
    """The batches of one streamed write as the store keeps them: what it does
    not keep (logs, when it keeps none) is taken out of ``groups``; rows, drops
    and errors are counted in ``result``, and reported to ``progress``."""

    def __init__(self, chunks: Iterable[bytes], store: Store, result: WriteResult,
                 progress: Optional[Callable[[int, int], None]], **options: Any) -> None:
        super().__init__(chunks, **options)
        self._store = store
        self._result = result
        self._progress = progress
        self._lines = 0

    def __next__(self) -> RowBatch:
        batch = super().__next__()
        batch.groups = self._store._tally(batch, self._result)
        if self._progress is not None:
            self._lines += batch.lines
            self._progress(self._lines, self._result.written)
        return batch


def _resliced(chunks: Iterable[bytes], piece: int) -> Iterator[bytes]:
    """``chunks`` in pieces of at most ``piece`` bytes."""
    for chunk in chunks:
        if len(chunk) <= piece:
            yield chunk
            continue
        view = memoryview(chunk)
        for i in range(0, len(view), piece):
            yield bytes(view[i:i + piece])


_OPTIONS = {"retention", "log_retention", "level_retention", "store_logs", "fulltext", "durability",
            "busy_timeout_ms", "seal_rows", "cache_mb", "background_seal", "page_size",
            "compact", "max_disk_size",
            # PostgreSQL only
            "pool_size", "retry_seconds", "writers", "toast_compression"}


def open(target: Union[str, "os.PathLike[str]"], **options: Any) -> Store:
    """Open (or create) a store.

    ``target`` is a SQLite file path, or a ``postgresql://`` URL.  Options:
    ``retention`` (Go duration or seconds, default ``"24h"``, events only),
    ``log_retention`` (default None: logs are kept), ``level_retention`` (log
    level -> retention, instead of ``log_retention`` for the logs of that level,
    e.g. ``{"debug": "1d", "err": "30d"}``; None keeps them), ``fulltext`` (default
    True), ``durability`` (``"normal"``: WAL + synchronous=NORMAL, survives a
    process crash; ``"full"``: also a power loss), ``store_logs`` (default True).
    ``max_disk_size`` (bytes, default None: the oldest sealed segments are dropped
    after each seal while the store's files, or on PostgreSQL its tables, hold more).
    SQLite only: ``compact`` (default False: sealed segments are compacted into
    compressed blocks).
    PostgreSQL only: ``writers`` (connections that concurrent writes run on,
    default 2), ``pool_size`` (connections for queries, default 4),
    ``retry_seconds`` (how long a write is retried over a lost connection,
    default 30), ``toast_compression`` (of the text columns: ``"auto"``, lz4 where
    the server has it, else pglz; ``"lz4"``; ``"pglz"``).
    """
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    store_opts = {k: options.pop(k) for k in ("retention", "log_retention", "level_retention",
                                              "store_logs")
                  if k in options}
    backend = open_backend(target, **options)
    try:
        return Store(backend, **store_opts)
    except BaseException:
        backend.close()
        raise
