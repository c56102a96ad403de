"""The ``ccstore`` command line: a thin layer over the Python API.

::

    ccstore ingest events.lp                      # line protocol (detected)
    ccstore ingest --cluster alex /var/log/syslog # log files, parsed
    ccstore search 'host:a0[000-063] level:>=warn' --since 1h   # the query language
    ccstore hits 'kind:log' --interval 1h --by level            # counts per bucket
    ccstore facets 'level:>=error' --field host,name            # commonest values
    ccstore group 'Xid*' --start -1h                            # dshbak -c of messages
    ccstore job 4711                                            # hosts and time window
    ccstore query --level error --text NullPointerException --format jsonl
    ccstore count --interval 1h                   # histogram by loglevel
    ccstore tail --cluster alex '/var/log/*.log'  # follow files into the store
    ccstore retention --retention 48h
    ccstore stats
    ccstore serve -config config.json             # = python -m ccstore.server

Every command takes ``--db PATH`` (default ``./ccstore.db``, or ``$CCSTORE_DB``).
Times are those of :mod:`ccstore.timesyntax`; an option's value may begin with ``-``
(``--start -1h``).  ``--json`` prints JSON lines with the field names of the REST API.

Exit codes: 0 success; 1 some input lines were rejected (the rest is stored);
2 usage error (bad arguments, unreadable input, no database); 130 interrupted.
Messages go to stderr, data to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

from . import __version__
from .logs.parse import FORMATS as _PARSER_FORMATS
from .timesyntax import NS_PER_S, duration_ns, format_iso, parse_instant

__all__ = ["main", "build_parser", "attach_dash_values", "EXIT_OK", "EXIT_REJECTED",
           "EXIT_USAGE"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: the log formats of ``--format`` ("auto": detected per file, else per line)
LOG_FORMATS = tuple(f for f in _PARSER_FORMATS if f != "auto") + ("auto",)
#: rejected lines printed before "... and N more"
SHOW_ERRORS = 20
#: rejected lines kept for the summary
MAX_ERRORS = 1000
TIME_HELP = ("Unix seconds (ms, us, ns), ISO 8601 (UTC unless a zone is given), 'now', "
             "or relative: -1h, now-2d")


class UsageError(Exception):
    """A problem the user can fix on the command line (exit code 2)."""


# ---------------------------------------------------------------------------- helpers
def _err(msg: str) -> None:
    print(f"ccstore: {msg}", file=sys.stderr)


def _open_store(args: argparse.Namespace, *, create: bool, **options: Any) -> Any:
    import ccstore

    path = args.db
    if not create and not path.startswith(("postgresql://", "postgres://")) \
            and not os.path.exists(path):
        raise UsageError(f"no database at {path} (use --db PATH)")
    try:
        return ccstore.open(path, **options)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot open database {path}: {exc}") from exc
    except Exception as exc:  # apsw errors: not a database, locked, ...
        raise UsageError(f"cannot open database {path}: {exc}") from exc


def _instant(text: str, option: str) -> str:
    """``text`` checked as an instant of :mod:`ccstore.timesyntax` (UsageError naming
    the option); the store parses it again."""
    try:
        parse_instant(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return text


def _time_range(args: argparse.Namespace) -> Tuple[Any, Any]:
    """``(start, end)`` from ``--start``/``--end``/``--since`` for the Store."""
    since = getattr(args, "since", None)
    if since is not None:
        if args.start:
            raise UsageError("give --since or --start, not both")
        try:
            d = duration_ns(since)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
        if d <= 0:
            raise UsageError(f"--since {since}: expected a positive duration")
        start: Any = time.time_ns() - d  # nanoseconds: the store judges Unix times by size
    else:
        start = _instant(args.start, "--start") if args.start else None
    end = _instant(args.end, "--end") if args.end else None
    return start, end


class _Progress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, label: str, done: int, total: Optional[int], lines: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        rate = lines / max(now - self.started, 1e-9)
        pct = f" {100 * done / total:5.1f}%" if total else ""
        sys.stderr.write(f"\r{label}:{pct} {done / 1e6:,.1f} MB, {lines:,} lines, "
                         f"{rate:,.0f} lines/s\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


class _Totals:
    """What an ingest did, over all its inputs."""

    def __init__(self) -> None:
        self.lines = 0
        self.stored = 0
        self.dropped: Dict[str, int] = {}
        self.rejected = 0
        self.errors: List[str] = []
        #: log entries that fit no format, and that named no host of their own
        self.unparsed = 0
        self.no_host = 0
        self.log_files = 0
        #: label -> the log format read
        self.formats: Dict[str, str] = {}

    def add(self, result: Any, label: str) -> None:
        """Count the :class:`~ccstore.store.IngestResult` of one input."""
        self.lines += result.lines
        if result.format not in (None, "lineproto"):
            self.log_files += 1
            self.formats[label] = result.format
            self.unparsed += result.unparsed
            self.no_host += result.no_host
        self.stored += result.written
        for k, n in result.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + n
        self.rejected += result.rejected + result.skipped
        for e in result.errors:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(f"{label}:{e.lineno}:{e.column}: {e.message}")
        if result.skipped:
            self.errors.append(f"{label}: {result.skipped} line(s) of binary garbage skipped")

    def as_dict(self) -> dict:
        out = {"lines": self.lines, "stored": self.stored, "dropped": dict(self.dropped),
               "rejected": self.rejected, "errors": self.errors[:100]}
        if self.log_files:
            out.update(formats=dict(self.formats), unparsed=self.unparsed,
                       no_host=self.no_host)
        return out


# ---------------------------------------------------------------------------- ingest
def _user_format(args: argparse.Namespace) -> Dict[str, Any]:
    """The keyword arguments of ``--pattern``/``--regex``/``--level-map``/``--time-format``
    (empty without a pattern or regex), checked: a pattern that does not compile is a
    usage error."""
    user = args.pattern is not None or args.regex is not None
    if user and args.format not in (None, "auto"):
        raise UsageError("--format and --pattern/--regex: give one of them")
    if args.pattern is not None and args.regex is not None:
        raise UsageError("--pattern or --regex, not both")
    levels = _level_map(args.level_map)
    if (levels or args.time_format) and not user:
        raise UsageError("--level-map and --time-format belong to --pattern or --regex")
    if not user:
        return {}
    out = {"pattern": args.pattern, "regex": args.regex, "levels": levels or None,
           "time_format": args.time_format}
    try:
        from .logs import LogParser
        LogParser("pattern", **out)
    except ValueError as exc:
        raise UsageError(f"--{'pattern' if args.pattern is not None else 'regex'}: "
                         f"{exc}") from None
    return out


def cmd_ingest(args: argparse.Namespace) -> int:
    user = args.pattern is not None or args.regex is not None
    if (args.format in LOG_FORMATS or user) and not args.cluster:
        raise UsageError("--cluster is required for log files (log lines name no cluster)")
    user_format = _user_format(args)
    inputs: List[Tuple[str, Optional[str]]] = []
    for name in args.files:
        if name == "-":
            inputs.append(("-", None))
            continue
        if not os.path.isfile(name):
            raise UsageError(f"{name}: no such file")
        if not os.access(name, os.R_OK):
            raise UsageError(f"{name}: not readable")
        inputs.append((name, os.path.abspath(name)))
    # the CLI's names -> Store.ingest's: detection by default, "auto" = log lines
    fmt = {None: "auto", "lp": "lineproto", "auto": "log"}.get(args.format, args.format)
    if user_format:
        fmt = "pattern"
    totals = _Totals()
    progress = _Progress(not args.quiet)
    store = _open_store(args, create=True)
    try:
        for label, path in inputs:
            size = None if path is None else os.path.getsize(path)
            lines = totals.lines

            def show(done: int, n: int, label: str = label, size: Optional[int] = size,
                     lines: int = lines) -> None:
                progress.update(label, done, size, lines + n)

            try:
                result = store.ingest(sys.stdin.buffer if path is None else path,
                                      format=fmt, cluster=args.cluster,
                                      hostname=args.hostname, timezone=args.timezone,
                                      precision=args.precision, max_errors=MAX_ERRORS,
                                      progress=show, **user_format)
            except ValueError as exc:
                raise UsageError(f"{label}: {exc}") from None
            finally:
                progress.done()
            totals.add(result, label)
    finally:
        store.close()
    _report_ingest(totals, args)
    return EXIT_REJECTED if totals.rejected else EXIT_OK


def _report_ingest(totals: _Totals, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(totals.as_dict()))
    if args.quiet and not totals.rejected:
        return
    for line in totals.errors[:SHOW_ERRORS]:
        print(line, file=sys.stderr)
    if len(totals.errors) > SHOW_ERRORS:
        print(f"... and {len(totals.errors) - SHOW_ERRORS} more", file=sys.stderr)
    dropped = sum(totals.dropped.values())
    detail = ", ".join(f"{k} {n:,}" for k, n in sorted(totals.dropped.items()))
    print(f"{totals.lines:,} lines: {totals.stored:,} stored, {dropped:,} dropped"
          + (f" ({detail})" if detail else "") + f", {totals.rejected:,} rejected",
          file=sys.stderr)
    if totals.log_files:
        fmts = sorted(set(totals.formats.values()))
        host = args.hostname or _this_host()
        print(f"log format: {', '.join(fmts)}; {totals.unparsed:,} entries fit no format "
              f"(stored, tagged parse=unparsed); {totals.no_host:,} named no host of their "
              f"own (stored as host {host})", file=sys.stderr)


def _this_host() -> str:
    import socket
    return socket.gethostname()


def _add_user_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pattern", help="log lines in a format of your own: named fields such as "
                                     "'<_> <time:epoch> <host> <msg>' (time, host, level, name, "
                                     "msg; other names are tags; <_> skips)")
    p.add_argument("--regex", help="log lines matched by a regular expression with named "
                                   "groups, such as (?P<host>\\S+) (?P<msg>.*)")
    p.add_argument("--level-map", action="append", metavar="VALUE=LEVEL", dest="level_map",
                   help="with --pattern/--regex: a value of the level field and its "
                        "loglevel (E=error), repeated or comma-separated")
    p.add_argument("--time-format", dest="time_format",
                   help="with --regex: how the time group reads (epoch, epoch_ms, iso, bsd, "
                        "auto or a strftime format)")


def _level_map(specs: Optional[List[str]]) -> Dict[str, str]:
    """``--level-map E=error`` (repeated, or comma-separated) as a dict."""
    out: Dict[str, str] = {}
    for spec in specs or []:
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key or not value:
                raise UsageError(f"--level-map {item!r}: expected VALUE=LEVEL (E=error)")
            out[key] = value
    return out


# ---------------------------------------------------------------------------- query / count
def _filters(args: argparse.Namespace) -> Dict[str, Any]:
    tags: Dict[str, Any] = {}
    for spec, negate in [(t, False) for t in args.tag] + [(t, True) for t in args.not_tag]:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise UsageError(f"--{'not-' if negate else ''}tag {spec!r}: expected KEY=VALUE")
        if negate:
            cur = tags.setdefault(key, {"not": []})
            if not isinstance(cur, dict):
                raise UsageError(f"tag {key!r}: --tag and --not-tag on the same key")
            cur["not"].append(value)
        else:
            cur = tags.setdefault(key, [])
            if isinstance(cur, dict):
                raise UsageError(f"tag {key!r}: --tag and --not-tag on the same key")
            cur.append(value)
    if args.level:
        key = "loglevel" if args.kind == "log" else "function"
        tags.setdefault(key, [])
        if isinstance(tags[key], dict):
            raise UsageError(f"--level and --not-tag {key}=... together")
        tags[key].extend(args.level)
    start, end = _time_range(args)
    return {"cluster": args.cluster or None, "kind": args.kind, "start": start, "end": end,
            "hosts": args.host or None, "names": args.name or None,
            "types": args.type or None, "type_ids": args.type_id or None,
            "stypes": args.stype or None, "stype_ids": args.stype_id or None,
            "tags": tags or None, "text": args.text}


def _table(rows: List[Sequence[str]], header: Sequence[str], out: IO[str],
           last_wide: bool = False) -> None:
    """Aligned columns; the last column is not padded (a message)."""
    widths = [len(h) for h in header]
    for r in rows:
        for i, v in enumerate(r[:-1] if last_wide else r):
            widths[i] = max(widths[i], len(v))
    for r in [header] + list(rows):
        cells = [v.ljust(widths[i]) for i, v in enumerate(r[:-1])] + [r[-1]]
        out.write("  ".join(cells).rstrip() + "\n")


def _message_table(rows: List[List[str]], header: Sequence[str], out: IO[str]) -> None:
    """A table whose last column is a message: one line each, cut to a terminal's width."""
    for x in rows:
        x[-1] = x[-1].replace("\n", " \u23ce ")
    width = os.get_terminal_size().columns if out.isatty() else None
    if width:
        fixed = sum(max([len(h)] + [len(x[i]) for x in rows]) + 2
                    for i, h in enumerate(header[:-1]))
        room = max(20, width - fixed)
        for x in rows:
            if len(x[-1]) > room:
                x[-1] = x[-1][:room - 1] + "\u2026"
    _table(rows, header, out, last_wide=True)


def cmd_query(args: argparse.Namespace) -> int:
    kw = _filters(args)
    limit = None if args.limit == 0 else args.limit
    store = _open_store(args, create=False)
    try:
        try:
            records = store.query(limit=limit, order=args.order, after=args.after, **kw)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    finally:
        store.close()
    out = sys.stdout
    if args.format == "jsonl":
        for r in records:
            out.write(json.dumps(r.as_dict(), ensure_ascii=False) + "\n")
    elif args.format == "lp":
        from . import lineproto

        out.write(lineproto.encode([r.to_point() for r in records]).decode())
    else:
        level_key = "loglevel" if args.kind == "log" else "function"
        multi = len({r.cluster for r in records}) > 1
        header = (["TIME"] + (["CLUSTER"] if multi else [])
                  + ["HOST", "NAME", level_key.upper(), "MESSAGE"])
        rows = [[format_iso(r.time, digits=3)] + ([r.cluster] if multi else [])
                + [r.hostname or "", r.name, r.tags.get(level_key, ""), r.value]
                for r in records]
        _message_table(rows, header, out)
    if limit is not None and len(records) == limit:
        print(f"(limit {limit} reached; next page: --after {records[-1].cursor})",
              file=sys.stderr)
    return EXIT_OK


def cmd_count(args: argparse.Namespace) -> int:
    kw = _filters(args)
    by = args.by or None
    store = _open_store(args, create=False)
    try:
        try:
            rows = store.count(by=by, interval=args.interval, **kw)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    finally:
        store.close()
    keys = list(by or ["loglevel" if args.kind == "log" else "function"])
    # the names of /api/count/'s answer
    header = keys + (["timestamp"] if args.interval else []) + ["count"]
    if args.format == "jsonl":
        for r in rows:
            d = dict(zip(header, r))
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        return EXIT_OK
    table = []
    for r in rows:
        cells = ["" if v is None else str(v) for v in r[:len(keys)]]
        if args.interval:
            cells.append(format_iso(int(r[len(keys)]) * NS_PER_S, digits=0))
        cells.append(str(r[-1]))
        table.append(cells)
    _table(table, [h.upper() for h in header], sys.stdout)
    return EXIT_OK


# ---------------------------------------------------------------------------- search & co
def _ask(store: Any, method: str, args: argparse.Namespace, **kw: Any) -> Any:
    """``store.<method>(args.query, start, end, **kw)``; the store's ValueErrors (a query
    syntax error, an unknown cluster or job...) are usage errors."""
    start, end = _time_range(args)
    try:
        return getattr(store, method)(args.query, start=start, end=end, **kw)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _json_line(d: Any, out: IO[str]) -> None:
    out.write(json.dumps(d, ensure_ascii=False) + "\n")


def cmd_search(args: argparse.Namespace) -> int:
    store = _open_store(args, create=False)
    try:
        records = _ask(store, "search", args, limit=args.limit, order=args.order,
                       after=args.after)
    finally:
        store.close()
    dicts = [r.as_dict() for r in records]
    out = sys.stdout
    if args.json:
        for d in dicts:
            _json_line(d, out)
    else:
        multi = len({d["cluster"] for d in dicts}) > 1
        header = ["TIME"] + (["CLUSTER"] if multi else []) + ["HOST", "NAME", "LEVEL",
                                                              "MESSAGE"]
        rows = [[format_iso(d["ts_ns"], digits=3)] + ([d["cluster"]] if multi else [])
                + [d["host"] or "", d["name"], d["level"] or "", d["message"]]
                for d in dicts]
        _message_table(rows, header, out)
    if records and len(records) == args.limit:
        print(f"(limit {args.limit} reached; next page: --after {records[-1].cursor})",
              file=sys.stderr)
    return EXIT_OK


def cmd_hits(args: argparse.Namespace) -> int:
    store = _open_store(args, create=False)
    try:
        hits = _ask(store, "hits", args, interval=args.interval, by=args.by or None,
                    buckets=args.buckets)
    finally:
        store.close()
    d = hits.as_dict()
    if args.json:
        for b in d["buckets"]:
            _json_line(b, sys.stdout)
        return EXIT_OK
    values = sorted({v for b in d["buckets"] for v in b["counts"]}, key=str)
    header = ["TIME"] + [str(v) for v in values] + ["TOTAL"]
    rows = [[b["time"]] + [str(b["counts"].get(v, 0)) for v in values]
            + [str(sum(b["counts"].values()))] for b in d["buckets"]]
    _table(rows, header, sys.stdout)
    return EXIT_OK


def cmd_facets(args: argparse.Namespace) -> int:
    fields = [f.strip() for spec in args.field for f in spec.split(",") if f.strip()]
    store = _open_store(args, create=False)
    try:
        facets = _ask(store, "facets", args, fields=fields or None, limit=args.limit)
    finally:
        store.close()
    out = sys.stdout
    for field, values in facets.items():
        if args.json:
            for value, n in values:
                _json_line({"field": field, "value": value, "count": n}, out)
            continue
        out.write(f"{field}\n")
        width = max([len(str(v)) for v, _ in values] + [0])
        for value, n in values:
            out.write(f"  {str(value).ljust(width)}  {n:>8}\n")
    return EXIT_OK


def cmd_group(args: argparse.Namespace) -> int:
    store = _open_store(args, create=False)
    try:
        groups = _ask(store, "group", args, limit=args.limit)
    finally:
        store.close()
    out = sys.stdout
    for g in groups:
        d = g.as_dict()
        if args.json:
            _json_line(d, out)
            continue
        # dshbak -c: the host set as a hostlist over a rule, then the (masked) message
        times = d["first"] if d["first"] == d["last"] else f"{d['first']} .. {d['last']}"
        out.write("-" * 16 + "\n")
        out.write(f"{d['hosts'] or '(no host)'}  ({d['count']} lines, {times})\n")
        out.write("-" * 16 + "\n")
        out.write(f" {d['template']}\n")
    return EXIT_OK


def cmd_job(args: argparse.Namespace) -> int:
    store = _open_store(args, create=False)
    try:
        try:
            job = store.job(args.job_id, cluster=args.cluster)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    finally:
        store.close()
    d = job.as_dict()
    if args.json:
        _json_line(d, sys.stdout)
        return EXIT_OK
    for key, value in (("job", d["job_id"]), ("cluster", d["cluster"]), ("hosts", d["hosts"]),
                       ("start", d["start"]),
                       ("end", d["end"] + ("  (running)" if d["running"] else ""))):
        sys.stdout.write(f"{key:<8} {value}\n")
    return EXIT_OK


# ---------------------------------------------------------------------------- tail
def cmd_tail(args: argparse.Namespace) -> int:
    from .ingest.files import FileReceiver

    user = _user_format(args)
    store = _open_store(args, create=True)
    try:
        try:
            rec = FileReceiver(store, args.paths, cluster=args.cluster,
                               hostname=args.hostname, format=args.format,
                               timezone=args.timezone, start_at=args.start_at, **user)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        skipped = 0
        if args.once:
            rec.poll_once()
            rec.close()  # stores the last pending entries too
            counts = {k: v for k, v in rec.counters.items() if k != "polls"}
            skipped = counts["skipped"]
            _report_poll(counts, always=True)
        else:
            stop = threading.Event()

            def on_signal(_signum: int, _frame: Any) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            try:
                while not stop.is_set():
                    counts = rec.poll_once()
                    skipped += counts["skipped"]
                    if args.verbose:
                        _report_poll(counts)
                    stop.wait(args.interval)
            finally:
                rec.close()
        return EXIT_REJECTED if skipped else EXIT_OK
    finally:
        store.close()


def _report_poll(counts: Dict[str, int], always: bool = False) -> None:
    if always or counts["written"] or counts["skipped"] or counts["rotations"] \
            or counts["truncations"]:
        print(", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


# ---------------------------------------------------------------------------- others
def cmd_retention(args: argparse.Namespace) -> int:
    now = _instant(args.now, "--now") if args.now else None
    levels: Dict[str, Optional[str]] = {}
    for item in args.level_retention or ():
        level, sep, value = item.partition("=")
        if not sep or not level:
            raise UsageError(f"--level-retention: expected LEVEL=DURATION, got {item!r}")
        levels[level] = value or None
    store = _open_store(args, create=False, retention=args.retention,
                        log_retention=args.log_retention, level_retention=levels)
    try:
        try:
            removed = store.apply_retention(now)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    finally:
        store.close()
    print(f"removed {removed} rows")
    return EXIT_OK


def cmd_compact(args: argparse.Namespace) -> int:
    postgres = args.db.startswith(("postgresql://", "postgres://"))
    store = _open_store(args, create=False, **({} if postgres else {"compact": True}))
    try:
        before = store.backend.stats().get("bytes")
        done = store.compact()
        after = store.backend.stats().get("bytes")
    finally:
        store.close()
    print(f"compacted {done} segments" + (f"; {before} bytes before, {after} after"
                                           if before is not None else ""))
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    store = _open_store(args, create=False)
    try:
        stats = store.stats()
        stats["clusters"] = store.clusters()
    finally:
        store.close()
    print(json.dumps(stats, indent=2, sort_keys=True, default=str))
    return EXIT_OK


def cmd_serve(argv: List[str]) -> int:
    from .server.__main__ import main as server_main

    return server_main(argv)


# ---------------------------------------------------------------------------- parser
def _add_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters (a repeated option means any of its values)")
    g.add_argument("--cluster", action="append", default=[], metavar="NAME")
    g.add_argument("--kind", choices=("log", "event"), default="log",
                   help="logs (default) or events")
    g.add_argument("--start", metavar="TIME", help=TIME_HELP)
    g.add_argument("--end", metavar="TIME")
    g.add_argument("--host", action="append", default=[], metavar="HOST")
    g.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="measurement: log source or event class")
    g.add_argument("--type", action="append", default=[])
    g.add_argument("--type-id", action="append", default=[], dest="type_id")
    g.add_argument("--stype", action="append", default=[])
    g.add_argument("--stype-id", action="append", default=[], dest="stype_id")
    g.add_argument("--level", action="append", default=[], metavar="LEVEL",
                   help="loglevel of logs (function of events)")
    g.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    g.add_argument("--not-tag", action="append", default=[], metavar="KEY=VALUE",
                   dest="not_tag")
    g.add_argument("--text", metavar="QUERY", help="full-text query over the message")


def _add_query(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", nargs="?", default="", metavar="QUERY",
                   help="the query (docs/design/query.md); default: everything")
    p.add_argument("--start", metavar="TIME", help=TIME_HELP)
    p.add_argument("--end", metavar="TIME", help="end (the whole unit of TIME is included)")
    p.add_argument("--since", metavar="DURATION", help="the last DURATION (1h, 2d, 90m)")
    p.add_argument("--json", action="store_true",
                   help="JSON lines, with the field names of the REST API")


def build_parser() -> argparse.ArgumentParser:
    from .query import DEFAULTS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file or postgresql:// URL "
                             "(default: $CCSTORE_DB or ./ccstore.db)")
    p = argparse.ArgumentParser(
        prog="ccstore", allow_abbrev=False,
        description="Store and query ClusterCockpit events and logs.",
        epilog="Exit codes: 0 ok, 1 some lines rejected, 2 usage error. "
               "Times: Unix seconds (ms, us, ns), ISO 8601 (UTC unless a zone is given), "
               "'now', or relative ('-1h', 'now-2d').")
    p.add_argument("--db", metavar="PATH", default=os.environ.get("CCSTORE_DB") or "./ccstore.db",
                   help="database file or postgresql:// URL "
                        "(default: $CCSTORE_DB or ./ccstore.db)")
    p.add_argument("--version", action="version", version=f"ccstore {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("serve", help="run the server (same as python -m ccstore.server; "
                                 "its flags follow)", add_help=False)

    s = sub.add_parser("ingest", parents=[common], allow_abbrev=False,
                       help="store line protocol or log files ('-' for stdin)")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--format", choices=("lp",) + LOG_FORMATS, default=None,
                   help="lp (line protocol) or a log format; default: line protocol when "
                        "the input looks like it, else auto-detected log lines")
    s.add_argument("--cluster", help="cluster of lines without a cluster tag; required "
                                     "for log files")
    s.add_argument("--hostname", help="hostname of log lines that name none "
                                      "(default: this machine)")
    s.add_argument("--timezone", metavar="TZ",
                   help="zone of log timestamps without one (default: local time)")
    s.add_argument("--precision", default="auto", choices=("auto", "ns", "us", "ms", "s"),
                   help="line-protocol timestamp precision (default: auto)")
    _add_user_format(s)
    s.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary "
                                                              "unless lines were rejected")
    s.set_defaults(func=cmd_ingest)

    q = sub.add_parser("query", parents=[common], allow_abbrev=False,
                       help="print stored logs or events")
    _add_filters(q)
    q.add_argument("--limit", type=int, default=DEFAULTS["limit"],
                   help=f"at most this many (default {DEFAULTS['limit']}; 0: all)")
    q.add_argument("--order", choices=("desc", "asc"), default="desc")
    q.add_argument("--after", metavar="CURSOR", help="continue after this cursor")
    q.add_argument("--format", choices=("table", "jsonl", "lp"), default="table")
    q.set_defaults(func=cmd_query)

    c = sub.add_parser("count", parents=[common], allow_abbrev=False,
                       help="count stored logs or events by tag (and time)")
    _add_filters(c)
    c.add_argument("--by", action="append", default=[], metavar="KEY",
                   help="group by this tag or column (default: loglevel / function)")
    c.add_argument("--interval", metavar="DURATION", help="time buckets, e.g. 1h")
    c.add_argument("--format", choices=("table", "jsonl"), default="table")
    c.set_defaults(func=cmd_count)

    se = sub.add_parser("search", parents=[common], allow_abbrev=False,
                        help="logs and events matching a query ('level:>=warn host:n[01-64]')")
    _add_query(se)
    se.add_argument("--limit", type=int, default=DEFAULTS["limit"],
                    help=f"at most this many records (default {DEFAULTS['limit']})")
    se.add_argument("--order", choices=("desc", "asc"), default=DEFAULTS["order"],
                    help="newest first (default) or oldest first")
    se.add_argument("--after", metavar="CURSOR", help="continue after this cursor")
    se.set_defaults(func=cmd_search)

    h = sub.add_parser("hits", parents=[common], allow_abbrev=False,
                       help="counts of matching records per time bucket")
    _add_query(h)
    h.add_argument("--interval", metavar="DURATION",
                   help="bucket width (default: the range in --buckets buckets)")
    h.add_argument("--by", default="level", metavar="FIELD",
                   help="split the counts by this field or tag (default level; '' not split)")
    h.add_argument("--buckets", type=int, default=DEFAULTS["hits_buckets"],
                   help=f"buckets without --interval (default {DEFAULTS['hits_buckets']})")
    h.set_defaults(func=cmd_hits)

    f = sub.add_parser("facets", parents=[common], allow_abbrev=False,
                       help="the most common values of fields among matching records")
    _add_query(f)
    f.add_argument("--field", action="append", default=[], metavar="FIELD",
                   help="fields or tags, repeatable or comma-separated (default: host, "
                        "level, name, type, kind, cluster and the commonest tags)")
    f.add_argument("--limit", type=int, default=DEFAULTS["facet_top"],
                   help=f"values per field (default {DEFAULTS['facet_top']})")
    f.set_defaults(func=cmd_facets)

    g = sub.add_parser("group", parents=[common], allow_abbrev=False,
                       help="identical messages across hosts, as dshbak -c shows them")
    _add_query(g)
    g.add_argument("--limit", type=int, default=DEFAULTS["group_limit"],
                   help=f"groups, biggest first (default {DEFAULTS['group_limit']})")
    g.set_defaults(func=cmd_group)

    j = sub.add_parser("job", parents=[common], allow_abbrev=False,
                       help="a job's cluster, hosts and time window, from its events")
    j.add_argument("job_id", metavar="ID")
    j.add_argument("--cluster", help="the job's cluster (needed when ids repeat)")
    j.add_argument("--json", action="store_true", help="print JSON")
    j.set_defaults(func=cmd_job)

    t = sub.add_parser("tail", parents=[common], allow_abbrev=False,
                       help="follow log files (globs) into the store, as the files receiver")
    t.add_argument("paths", nargs="+", metavar="PATH")
    t.add_argument("--cluster", required=True)
    t.add_argument("--hostname")
    t.add_argument("--format", choices=LOG_FORMATS, default="auto")
    _add_user_format(t)
    t.add_argument("--timezone", metavar="TZ")
    t.add_argument("--start-at", choices=("beginning", "end"), default="beginning",
                   dest="start_at", help="where to start in files without a saved position")
    t.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    t.add_argument("--once", action="store_true", help="read what is there, then exit")
    t.add_argument("-v", "--verbose", action="store_true", help="report every poll")
    t.set_defaults(func=cmd_tail)

    r = sub.add_parser("retention", parents=[common], allow_abbrev=False,
                       help="remove events (and logs) past their retention")
    r.add_argument("--retention", default="24h", help="events older than this (default 24h)")
    r.add_argument("--log-retention", default=None, dest="log_retention",
                   help="logs older than this (default: logs are kept)")
    r.add_argument("--level-retention", action="append", dest="level_retention",
                   metavar="LEVEL=DURATION",
                   help="logs of this level older than DURATION, instead of --log-retention "
                        "(repeatable, e.g. debug=1d err=30d; LEVEL= keeps them)")
    r.add_argument("--now", metavar="TIME", help="reference time (default: now)")
    r.set_defaults(func=cmd_retention)

    cp = sub.add_parser("compact", parents=[common], allow_abbrev=False,
                        help="compact every sealed segment (SQLite: compressed blocks)")
    cp.set_defaults(func=cmd_compact)

    st = sub.add_parser("stats", parents=[common], allow_abbrev=False,
                        help="counters and sizes as JSON")
    st.set_defaults(func=cmd_stats)
    return p


def _options(parser: argparse.ArgumentParser) -> Tuple[set, set]:
    """(every option string, those taking one value) of a parser and its subcommands."""
    every: set = set()
    valued: set = set()
    for action in parser._actions:
        every.update(action.option_strings)
        if action.option_strings and action.nargs is None:
            valued.update(action.option_strings)
        if isinstance(action.choices, dict):  # the subcommands
            for sub in action.choices.values():
                if isinstance(sub, argparse.ArgumentParser):
                    e, v = _options(sub)
                    every |= e
                    valued |= v
    return every, valued


def attach_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> List[str]:
    """``--start -1h`` -> ``--start=-1h`` for every option that takes a value.

    argparse reads a word beginning with ``-`` as an option (unless it is a negative
    number), so a relative time after a space would be "expected one argument".
    """
    every, valued = _options(parser)
    out: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if arg in valued and nxt is not None and nxt.startswith("-") and len(nxt) > 1 \
                and nxt != "--" and nxt not in every:
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "serve":
        return cmd_serve(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(attach_dash_values(parser, args_list))
    if args.command == "serve":
        _err("serve takes the server's flags only (its config names the database): "
             "ccstore serve -config FILE")
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # | head
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
