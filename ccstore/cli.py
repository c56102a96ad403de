"""The ``ccstore`` command line: a thin layer over the Python API.

::

    ccstore ingest events.lp                      # line protocol (detected)
    ccstore ingest --cluster alex /var/log/syslog # log files, parsed
    ccstore query --level error --text NullPointerException --format jsonl
    ccstore count --interval 1h                   # histogram by loglevel
    ccstore tail --cluster alex '/var/log/*.log'  # follow files into the store
    ccstore retention --retention 48h
    ccstore stats
    ccstore serve -config config.json             # = python -m ccstore.server

Every command takes ``--db PATH`` (default ``./ccstore.db``, or ``$CCSTORE_DB``).

Exit codes: 0 success; 1 some input lines were rejected (the rest is stored);
2 usage error (bad arguments, unreadable input, no database); 130 interrupted.
Messages go to stderr, data to stdout.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import signal
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

from . import __version__

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

LOG_FORMATS = ("syslog", "rfc5424", "json", "plain", "auto")
#: rejected lines printed before "... and N more"
SHOW_ERRORS = 20
#: rejected lines kept for the summary
MAX_ERRORS = 1000


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


def parse_time(text: str) -> float:
    """Unix seconds from ``1732264801``, ISO 8601 (local time without a zone),
    ``now``, or a duration before now: ``1h30m``, ``-1h`` (Go syntax, plus ``d``)."""
    s = text.strip()
    if s == "now":
        return time.time()
    if _is_number(s):
        return float(s)
    try:
        return time.time() - _duration(s[1:] if s.startswith("-") else s)
    except ValueError:
        pass
    try:
        dt = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: expected Unix seconds, ISO 8601, 'now' "
                         "or a duration before now such as 1h") from None
    return dt.timestamp()


def _duration(text: str) -> float:
    """Seconds of a Go duration that may start with days (``2d12h``)."""
    from .timesyntax import parse_duration

    days, sep, rest = text.partition("d")
    if not sep:
        return float(parse_duration(text) or 0.0)
    if not days or not _is_number(days):
        raise ValueError(text)
    return float(days) * 86400 + (float(parse_duration(rest) or 0.0) if rest else 0.0)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _format_ns(ns: int) -> str:
    dt = _dt.datetime.fromtimestamp(ns // 1_000_000_000, _dt.timezone.utc)
    ms = (ns // 1_000_000) % 1000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


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

    def add(self, result: Any, label: str) -> None:
        """Count the :class:`~ccstore.store.IngestResult` of one input."""
        self.lines += result.lines
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
        return {"lines": self.lines, "stored": self.stored, "dropped": dict(self.dropped),
                "rejected": self.rejected, "errors": self.errors[:100]}


# ---------------------------------------------------------------------------- ingest
def cmd_ingest(args: argparse.Namespace) -> int:
    if args.format in LOG_FORMATS and not args.cluster:
        raise UsageError("--cluster is required for log files (log lines name no cluster)")
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
                                      progress=show)
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
    try:
        start = parse_time(args.start) if args.start else None
        end = parse_time(args.end) if args.end else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
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
        width = os.get_terminal_size().columns if out.isatty() else None
        rows = []
        for r in records:
            msg = r.value.replace("\n", " \u23ce ")
            rows.append([_format_ns(r.time)] + ([r.cluster] if multi else [])
                        + [r.hostname or "", r.name, r.tags.get(level_key, ""), msg])
        if width:
            fixed = sum(max([len(h)] + [len(x[i]) for x in rows]) + 2
                        for i, h in enumerate(header[:-1]))
            room = max(20, width - fixed)
            for x in rows:
                if len(x[-1]) > room:
                    x[-1] = x[-1][:room - 1] + "\u2026"
        _table(rows, header, out, last_wide=True)
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
    header = keys + (["bucket"] if args.interval else []) + ["count"]
    if args.format == "jsonl":
        for r in rows:
            d = dict(zip(header, r))
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        return EXIT_OK
    table = []
    for r in rows:
        cells = ["" if v is None else str(v) for v in r[:len(keys)]]
        if args.interval:
            cells.append(_format_ns(int(r[len(keys)]) * 1_000_000_000)[:-5] + "Z")
        cells.append(str(r[-1]))
        table.append(cells)
    _table(table, [h.upper() for h in header], sys.stdout)
    return EXIT_OK


# ---------------------------------------------------------------------------- tail
def cmd_tail(args: argparse.Namespace) -> int:
    from .ingest.files import FileReceiver

    store = _open_store(args, create=True)
    try:
        try:
            rec = FileReceiver(store, args.paths, cluster=args.cluster,
                               hostname=args.hostname, format=args.format,
                               timezone=args.timezone, start_at=args.start_at)
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
    try:
        now = parse_time(args.now) if args.now else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    store = _open_store(args, create=False, retention=args.retention,
                        log_retention=args.log_retention)
    try:
        removed = store.apply_retention(now)
    finally:
        store.close()
    print(f"removed {removed} rows")
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
    g.add_argument("--start", metavar="TIME",
                   help="Unix seconds, ISO 8601, 'now' or a duration before now (-1h)")
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


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file or postgresql:// URL "
                             "(default: $CCSTORE_DB or ./ccstore.db)")
    p = argparse.ArgumentParser(
        prog="ccstore", allow_abbrev=False,
        description="Store and query ClusterCockpit events and logs.",
        epilog="Exit codes: 0 ok, 1 some lines rejected, 2 usage error. "
               "Times: Unix seconds, ISO 8601, 'now', or a duration before now "
               "('1h', '--start=-2d').")
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
    s.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary "
                                                              "unless lines were rejected")
    s.set_defaults(func=cmd_ingest)

    q = sub.add_parser("query", parents=[common], allow_abbrev=False,
                       help="print stored logs or events")
    _add_filters(q)
    q.add_argument("--limit", type=int, default=100, help="at most this many (0: all)")
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

    t = sub.add_parser("tail", parents=[common], allow_abbrev=False,
                       help="follow log files (globs) into the store, as the files receiver")
    t.add_argument("paths", nargs="+", metavar="PATH")
    t.add_argument("--cluster", required=True)
    t.add_argument("--hostname")
    t.add_argument("--format", choices=LOG_FORMATS, default="auto")
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
    r.add_argument("--now", metavar="TIME", help="reference time (default: now)")
    r.set_defaults(func=cmd_retention)

    st = sub.add_parser("stats", parents=[common], allow_abbrev=False,
                        help="counters and sizes as JSON")
    st.set_defaults(func=cmd_stats)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "serve":
        return cmd_serve(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
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
