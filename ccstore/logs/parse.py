"""Log lines in, ClusterCockpit log messages out.

A :class:`LogParser` turns the bytes of a log file (or any stream of log lines)
into storage rows of kind ``log`` (the tuple shape of
:data:`ccstore.rows.ROW_COLUMNS`), the same rows the line-protocol decoder
produces for a line such as::

    sshd,hostname=a0001,type=node,type-id=0,loglevel=error,location=/var/log/syslog log="..." <ns>

- measurement: the program or component (syslog tag, RFC 5424 APP-NAME, a JSON
  ``logger``/``program`` key; otherwise the file name without its extension);
- ``hostname``: from the line when it names one (syslog), else the parser's;
- ``loglevel``: one of the ClusterCockpit values ``debug``, ``info``, ``warn``,
  ``error``, from the first of: the syslog PRI (severity ``PRI & 7``); a level
  word opening the message, any case, with a colon or in brackets (``error:``,
  ``Warning:``, ``[WARN]``, ``<info>``, ``ERROR:root:``, Slurm's ``debug2:``);
  an upper-case level word (``ERROR``, ``WARNING``...) or ``level=``/``lvl=``
  within the message's first 80 characters; Go klog prefixes (``E1122 ...``);
  JSON level keys (names, bunyan/pino numbers, syslog numbers).  The
  specification knows only four levels, so ``emerg``, ``alert``, ``crit``,
  ``fatal``, ``panic`` and ``severe`` become ``error``; ``notice`` and
  ``verbose`` become ``info``; ``trace`` and ``fine*`` become ``debug``.
  Without any hint: ``info``, or ``error`` for an entry that carries a stack
  trace;
- ``location``: the file path (when known);
- payload: the message text.  Multi-line entries (Java stack traces with
  ``\\tat``, ``Caused by:``, ``... N more``; Python tracebacks) are one message,
  lines joined by ``\\n``.

Formats: ``syslog`` (RFC 3164 ``Nov 22 08:40:01 host prog[pid]: msg`` with an
optional ``<PRI>``, the year inferred from a reference time so that December
lines read in January land in the previous year; also rsyslog's ISO variant),
``rfc5424`` (structured data kept in front of the message, its parameters
also as tags ``sd.<SD-ID>.<PARAM-NAME>``), ``json`` (one object per line:
``time``/``timestamp``/``ts``/``@timestamp``, ``level``/
``severity``, ``msg``/``message``, ``host``, ``logger``/``program``, journald's
keys; stack-trace keys appended), ``plain`` (a leading ISO 8601
timestamp, a Unix epoch in s/ms/us/ns, a BSD timestamp, or none); the formats
of HPC sites (:mod:`ccstore.logs.formats`: ``syslog_export``, ``bgl``, ``lanl``,
``journal_json``, ``journal_export``, ``slurm``), whose tags go into othertags; a
format of the user's (``pattern=`` or ``regex=``, :mod:`ccstore.logs.patterns`);
and ``auto``: the file's format from its first lines when they are in one of the
HPC formats, else decided per line.  Timestamps without a zone are local time
unless ``tz`` is given.  Lines of binary garbage are skipped and counted, never
an exception; a line that fits no format is an entry of its own, tagged
``parse=unparsed`` and counted (:attr:`LogParser.unparsed`), as are the entries
that name no host (:attr:`LogParser.no_host`).

Speed: a chunk that is nothing but single-line RFC 3164 entries takes a fast
path, :func:`ccstore.logs.syslogscan.syslog_chunk` (compiled, or its
pure-Python twin); a chunk of one-line entries of ``rfc5424``, ``plain`` or an HPC
format is read at once, its rows from :func:`ccstore.logs.headerscan.chunk_rows`
(compiled, or its pure-Python twin); chunks of ``json`` and ``journal_json`` lines and
the whole entries of a ``journal_export`` stream are made rows at once by
:mod:`ccstore.logs.jsonscan` (compiled, or its pure-Python twin); anything else goes
through the line loop.  All give the same rows (differential tests hold them
together); figures are in
docs/design/logs.md.

>>> p = LogParser("syslog", hostname="me", location="/var/log/syslog", tz="UTC",
...               reference_time=1732300000)
>>> rows = p.feed(b"Nov 22 08:40:01 a0001 sshd[42]: error: bad key\\n") + p.flush()
>>> rows[0][2:4], rows[0][9:]
(('sshd', 'a0001'), ('error: bad key', 'error'))
"""
from __future__ import annotations

import json
import os
import re
from json.encoder import encode_basestring as _json_str
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..rows import _NON_OTHER, NS_PER_S, Row, RowBatch, othertags_json
from . import formats as _formats
from . import _pyjsonscan, jsonscan
from ._grammar import (_CONT_RE, _FAST_SYSLOG_RE, _HPC_ERROR_RE, _HPC_ERROR_WORDS,
                       _LEVEL_START_RE, _LEVEL_WINDOW, _LEVELS, _PRI_LEVEL, LOGLEVELS,
                       _clean_text, _frac_ns, _level_hits, _level_of, _start_level,
                       _token_level, normalize_level)
from .clock import _ISO, _MONTH_NAMES, Clock, epoch_ns
from .formats import (UNPARSED_TAGS, Header, JournalExportReader, header_json,
                      structured_data_tags)
from .patterns import UserFormat, compile_pattern, compile_regex
from .headerscan import SCANNED_FORMATS, LineSource, chunk_rows
from .syslogscan import syslog_chunk

__all__ = [
    "FORMATS",
    "LOGLEVELS",
    "LogParser",
    "log_batch",
    "normalize_level",
    "parse",
    "row_to_point",
]

#: accepted ``format`` values (a user-defined format is given by ``pattern`` or ``regex``)
FORMATS = ("auto", "syslog", "rfc5424", "json", "plain") + _formats.FORMATS

_TRACEBACK = "Traceback (most recent call last):"

# rsyslog's file format: [<PRI>]ISO-8601 HOST TAG[PID]: MSG
_SYSLOG_ISO_RE = re.compile(
    r"(?:<(\d{1,3})>)?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
    r" +(\S+)(?: ([^\s\[\]:]+)(?:\[[^\]\s]*\])?:(?= |$))? ?(.*)"
)
# RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]
_SD_ELEMENT = r'\[[^\]"\s]+(?: [^=\s\]]+="(?:[^"\\]|\\.)*")*\]'
_RFC5424_RE = re.compile(
    r"(?:<(\d{1,3})>)?1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:%s)+)(?: (.*))?" % _SD_ELEMENT
)
# a timestamp at the start of a plain line (ISO 8601, epoch, BSD), optionally in brackets
_PLAIN_RE = re.compile(
    r"\[?[ ]?(?:" + _ISO +
    r"|(\d{10}|\d{13}|\d{16}|\d{19})(?:\.(\d{1,9}))?(?![\d.])"
    r"|([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)(?:\.(\d{1,9}))?"
    r")\]?[ \t]*(?:[|:-][ \t]+)?"
)
# Go klog/glog: Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
_KLOG_RE = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) +\d+ (.*)")

_CTRL_ONLY_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\ufffd]")

#: what a format's line parser returns (:data:`ccstore.logs.formats.Header`): (time ns,
#: name, hostname, level, message, continues-the-previous-entry, tags), None where the
#: line does not say; None for a line that has no header of that format
_Header = Header


def _default_name(location: Optional[str]) -> str:
    """``/var/log/slurmctld.log.1`` -> ``slurmctld``."""
    if not location:
        return "log"
    base = os.path.basename(location)
    parts = base.split(".")
    while len(parts) > 1 and (parts[-1].isdigit() or parts[-1] in ("log", "gz", "txt", "old")):
        parts.pop()
    return ".".join(parts) or base or "log"


class LogParser:
    """Incremental parser for one stream of log lines (one file).

    ``feed(data)`` takes the next bytes and returns the rows of the entries
    that are complete; the last entry stays pending (a stack trace may follow)
    until a line that starts a new entry, :meth:`flush` or :meth:`finish`.
    An unterminated last line waits in a buffer until its newline arrives.

    Offsets are byte positions in the stream (``offset`` argument = position
    of the first byte fed): :attr:`offset` is the end of the lines consumed,
    :attr:`safe_offset` the start of the pending entry, i.e. where to resume
    after a restart so that nothing is lost or stored twice.
    """

    def __init__(self, format: str = "auto", *, hostname: Optional[str] = None,
                 location: Optional[str] = None, name: Optional[str] = None,
                 tz: Optional[str] = None, reference_time: Optional[float] = None,
                 offset: int = 0, last_time: Optional[int] = None,
                 max_line: int = 1 << 20, max_entry_lines: int = 1000,
                 pattern: Optional[str] = None, regex: Optional[str] = None,
                 levels: Optional[Mapping[str, str]] = None,
                 time_format: Optional[str] = None, sniff: bool = True) -> None:
        if format not in FORMATS and format != "pattern":
            raise ValueError(f"unknown log format {format!r}: expected one of {', '.join(FORMATS)}")
        self.hostname = hostname or ""
        self.location = location
        self.name = name or _default_name(location)
        self.max_line = max_line
        self.max_entry_lines = max_entry_lines
        #: reads the times that name no zone or no year
        self.clock = Clock(tz, reference_time)
        self._user: Optional[UserFormat] = None
        if pattern is not None and regex is not None:
            raise ValueError("a pattern or a regex, not both")
        if pattern is not None:
            self._user = compile_pattern(pattern, levels=levels, clock=self.clock)
        elif regex is not None:
            self._user = compile_regex(regex, time_format=time_format, levels=levels,
                                       clock=self.clock)
        elif levels or time_format is not None:
            raise ValueError("levels and time_format belong to a pattern or a regex")
        if self._user is not None:
            if format not in ("auto", "pattern"):
                raise ValueError(f"format {format!r} and a pattern or regex: give one of them")
            format = "pattern"
        elif format == "pattern":
            raise ValueError("format 'pattern' needs a pattern or a regex")
        self._base_tags: Dict[str, str] = {"location": location} if location else {}
        self._othertags: Dict[str, str] = {}
        for lvl in LOGLEVELS:
            self._othertags[lvl] = othertags_json({**self._base_tags, "loglevel": lvl})
        # (level, the keys of a format's tags) -> _tags_template of the entry's tags
        self._templates: Dict[Tuple[str, Tuple[str, ...]], Tuple[str, Tuple[str, ...]]] = {}
        # the same for the tags objects that formats share between lines: (level, id)
        # -> (tags, JSON); holding the object keeps its id from being reused
        self._shared_cache: Dict[Tuple[str, int], Tuple[Mapping[str, str], str]] = {}
        #: makes the fast path's rows (tests set either implementation)
        self._chunk_parser = syslog_chunk
        #: makes the rows of a chunk of a scanned format (tests set either one)
        self._chunk_rows = chunk_rows
        #: makes the rows of a chunk of JSON lines (tests set either implementation)
        self._json_chunks = jsonscan.module
        self._journal: Optional[JournalExportReader] = None
        #: the whole entries of an export stream read at once stopped at the end of the
        #: input (an entry cut off), not at an entry left to the export reader
        self._export_cut = False
        self._slurm: Optional[_formats.SlurmFormat] = None
        #: the ``source`` of the chunk scanner for the format (see :func:`chunk_rows`)
        self._source: Optional[object] = None
        self._set_format(format, offset)
        #: whether the format is still to be told from the first lines (``auto``)
        self._sniffing = format == "auto" and sniff
        self._buf = b""
        #: input fed so far may hold an error report of HPC software in rows not
        #: emitted yet (see :func:`_hpc_errors`)
        self._hpc = False
        #: rows of the current :meth:`feed` made by the chunk path, whose rows have
        #: been through the check of :func:`_hpc_errors` (flushed ones too)
        self._checked = 0
        #: end of the lines consumed so far
        self.offset = offset
        #: time (ns) of the latest entry, used for lines without a timestamp
        self.last_time = last_time
        #: physical lines read, entries emitted, lines skipped as binary garbage
        self.lines = 0
        self.entries = 0
        self.skipped = 0
        #: entries that fit no format (stored with the tag ``parse=unparsed``), and
        #: entries that named no host of their own (given ``hostname``)
        self.unparsed = 0
        self.no_host = 0
        # [time, name, host, level, explicit, body, more lines, start offset, tags]
        self._pend: Optional[list] = None
        self._tb = False
        self._blank = 0

    def _set_format(self, format: str, offset: int) -> None:
        """Read the lines as ``format`` from here on."""
        self.format = format
        if format == "pattern":
            assert self._user is not None
            self._header: Callable[[str], Optional[_Header]] = self._user.header
        elif format == "slurm":
            slurm = self._slurm = _formats.SlurmFormat.for_file(self.location or "", self.clock)
            self._header = slurm.header
        elif format == "journal_export":
            self._journal = JournalExportReader(offset)
            self._header = _no_header
        elif format in _formats.LINE_FORMATS:
            self._header = _formats.header_function(format)
        else:
            self._header = getattr(self, "_hdr_" + format)
        self._source = (self._slurm if format == "slurm" else
                        LineSource(self._header, self.clock) if format in _OWN_SCANNED else None)
        #: whether whole chunks of RFC 3164 lines take the fast path (tests turn it
        #: off to compare it with the line loop)
        self._columnar = format in ("syslog", "auto")
        #: whether chunks whose every line is a one-line entry of the format are read
        #: a chunk at once (formats whose headers never continue an entry)
        self._one_line = format in _ONE_LINE_FORMATS
        #: whether chunks of JSON lines are read a chunk at once (tests turn it off to
        #: compare it with the other ways)
        self._json_lines = format in ("json", "journal_json", "journal_export")

    def _sniff(self, head: bytes) -> None:
        """``auto``: the format of the file from its first lines, if they are in one of
        :data:`ccstore.logs.formats.FORMATS`; else each line is told on its own."""
        self._sniffing = False
        fmt = _formats.sniff_bytes(head[:1 << 16])
        if fmt is not None:
            self._set_format(fmt, self.offset)

    # -- public ---------------------------------------------------------------
    @property
    def safe_offset(self) -> int:
        """Where to resume reading so that no entry is lost or repeated."""
        if self._journal is not None:
            return self._journal.safe_offset
        return self._pend[7] if self._pend is not None else self.offset

    @property
    def pending(self) -> bool:
        """True while an entry (or a partial line) waits for more input."""
        if self._journal is not None:
            return self._journal.safe_offset != self._journal.offset
        return self._pend is not None or bool(self._buf)

    def set_reference_time(self, seconds: Optional[float]) -> None:
        """The time (Unix seconds) that years of RFC 3164 dates are inferred from.

        A date is put in the reference year unless that makes it more than a
        day later than the reference (a December line read in January): then
        the year before.  Default: now.  Use the file's mtime for old files.
        """
        self.clock.set_reference_time(seconds)

    def feed(self, data: bytes) -> List[Row]:
        """Parse the complete lines of ``data`` (appended to earlier input)."""
        seam = self._buf[-10:] + data[:10]  # a word cut between the last feed and this
        hpc = self._hpc or any(w in data or w in seam for w in _HPC_ERROR_BYTES)
        self._checked = 0
        rows = self._feed(data)
        if not hpc and self._journal is None:  # (the export reader keeps its own buffer)
            return rows
        # rows still to come may hold what was fed: a partial line, a pending entry
        self._hpc = bool(self._buf) or self._pend is not None
        # (the rows of the chunk path have been through the check already)
        return rows if self._checked == len(rows) else _hpc_errors(rows)

    def _feed(self, data: bytes) -> List[Row]:
        if self._sniffing:
            head = self._buf + data if self._buf else data
            if b"\n" in head or len(head) > self.max_line:
                self._sniff(head)
        if self._buf:
            data = self._buf + data
        if self._journal is not None:
            self._buf = b""
            return self._export_rows(data)
        end = data.rfind(b"\n")
        if end < 0:
            self._buf = data
            if len(data) <= self.max_line:
                return []
            self._buf = b""
            return self._parse(data, self.offset + len(data))
        self._buf = data[end + 1:]
        out = self._parse(data[:end], self.offset + end + 1)
        if len(self._buf) > self.max_line:
            buf, self._buf = self._buf, b""
            out.extend(self._parse(buf, self.offset + len(buf)))
        return out

    def messages(self, msgs: List[bytes]) -> List[Row]:
        """Rows of whole messages, as a syslog receiver frames them: each is an entry
        (a line break inside one stays in its text), none is left pending."""
        if not any(b"\n" in m for m in msgs):
            return self.feed(b"\n".join(msgs) + b"\n") + self.flush()
        out: List[Row] = []
        run: List[bytes] = []
        for m in msgs:
            if b"\n" not in m:
                run.append(m)
                continue
            if run:
                out.extend(self.feed(b"\n".join(run) + b"\n") + self.flush())
                run = []
            first, _, rest = m.partition(b"\n")
            rows = self.feed(first + b"\n") + self.flush()
            if rows:
                more = rest.decode("utf-8", "replace").replace("\x00", "").rstrip("\r\n")
                last = rows[-1]
                rows[-1] = last[:9] + (last[9] + "\n" + more,) + last[10:]
            out.extend(rows)
        if run:
            out.extend(self.feed(b"\n".join(run) + b"\n") + self.flush())
        return _hpc_errors(out)  # a message's later lines were joined to it

    def flush(self) -> List[Row]:
        """Emit the pending entry (the stream went idle); a partial line stays."""
        return _hpc_errors(self._flush())

    def _flush(self) -> List[Row]:
        out: List[Row] = []
        if self._pend is not None:
            t, name, host, level, _, body, more, _, tags = self._pend
            out.append((t, t // NS_PER_S, name, host, "node", "0", None, None,
                        self._othertags[level] if tags is None else self._tagged(level, tags),
                        body if more is None else "\n".join([body] + more), level))
            self.entries += 1
            self._pend = None
        self._tb = False
        self._blank = 0
        return out

    def finish(self) -> List[Row]:
        """End of input: the partial last line counts as a line; emit everything."""
        return _hpc_errors(self._finish())

    def _finish(self) -> List[Row]:
        if self._sniffing and self._buf:
            self._sniff(self._buf + b"\n")
        if self._journal is not None:
            if self._buf:  # fed before the format was known
                buf, self._buf = self._buf, b""
                out = self._export_rows(buf)
            else:
                out = []
            # what waits for the rest of its entry is the reader's to end
            out.extend(self._journal_rows(self._journal.feed(b"")))
            return out + self._journal_rows(self._journal.finish())
        out: List[Row] = []
        if self._buf:
            buf, self._buf = self._buf, b""
            out = self._parse(buf, self.offset + len(buf))
        out.extend(self.flush())
        return out

    # -- the line loop -----------------------------------------------------------
    def _parse(self, data: bytes, end_offset: int) -> List[Row]:
        """Parse ``data`` (whole lines, no final newline) ending at ``end_offset``."""
        chunk_start = self.offset
        if self._columnar:
            out = self._syslog_chunk(data, end_offset)
            if out is not None:
                return out
        elif self._json_lines and (out := self._json_chunk(data, end_offset)) is not None:
            return out
        elif self._one_line:
            out = self._one_line_chunk(data, end_offset)
            if out is not None:
                return out
        out = []
        lines, text, skipped = _split_lines(data, _clean_text(data))
        # the level words of the chunk, found in one scan when a line first needs them
        # (formats that state every line's level never do)
        hits: Optional[List[Tuple[int, str]]] = None
        nhits = hi = hpos = 0
        header = self._header
        cont_match = _CONT_RE.match
        start_match = _LEVEL_START_RE.match
        indent_continues = self.format in ("plain", "auto")
        default_name, default_host = self.name, self.hostname
        othertags = self._othertags
        max_more = self.max_entry_lines - 1
        last_time = self.last_time
        tb, blank = self._tb, self._blank
        pend = self._pend
        if pend is not None:  # carried over from the previous chunk
            pt, pname, phost, plevel, pexpl, pbody, pmore, pstart, ptags = pend
        else:
            pt = pname = phost = plevel = pexpl = pbody = pmore = pstart = ptags = None
        tagged = self._tagged
        unparsed_tags = UNPARSED_TAGS
        unparsed = no_host = 0
        pidx = -1  # index of the pending entry's first line in this chunk
        idx = -1
        cpos = 0  # position of the line in ``text``
        for line in lines:
            idx += 1
            lpos = cpos
            cpos += len(line) + 1
            hdr = header(line) if line else None
            if hdr is None:
                if not line or line.isspace():
                    if pbody is not None:
                        blank += 1
                    continue
                if line == _GARBAGE:
                    continue
                body = line
                if pbody is not None and (tb or cont_match(body) is not None
                                          or (indent_continues and body[0] in " \t")):
                    if pmore is None:
                        pmore = []
                    if len(pmore) < max_more:
                        if blank:
                            pmore.extend([""] * blank)
                            blank = 0
                        pmore.append(body)
                        if not pexpl:
                            plevel = "error"  # a stack trace and no stated level
                        tb = _traceback_state(body, tb)
                        continue
                t = name = host = level = None
                tags = unparsed_tags
                unparsed += 1
                m = start_match(body)
                if m is not None:
                    level = _token_level(m.group(0))
            else:
                t, name, host, level, body, cont, tags = hdr
                if pbody is not None and (tb or cont or (cont is None and cont_match(body))):
                    if ((name or default_name) == pname and (host or default_host) == phost
                            and (pmore is None or len(pmore) < max_more)):
                        if pmore is None:
                            pmore = []
                        if blank:
                            pmore.extend([""] * blank)
                            blank = 0
                        pmore.append(body)
                        if not pexpl:
                            plevel = "error"
                        tb = _traceback_state(body, tb)
                        continue
            blank = 0
            if pbody is not None:
                out.append((pt, pt // NS_PER_S, pname, phost, "node", "0", None, None,
                            othertags[plevel] if ptags is None else tagged(plevel, ptags),
                            pbody if pmore is None else "\n".join([pbody] + pmore), plevel))
            if level is None:
                bpos = cpos - 1 - len(body)
                if bpos >= lpos and line.endswith(body):
                    if hits is None:
                        hits = _level_hits(text)
                        nhits = len(hits)
                        hpos = hits[0][0] if nhits else _FAR
                    while hpos < bpos:
                        hi += 1
                        hpos = hits[hi][0] if hi < nhits else _FAR
                    if hpos < cpos and hpos < bpos + _LEVEL_WINDOW:
                        level = hits[hi][1]
                else:
                    level = _level_of(body)
            pexpl = level is not None
            if t is None:
                t = last_time if last_time is not None else int(self.clock.reference * NS_PER_S)
            else:
                last_time = t
            if not host:
                host = default_host
                no_host += 1
            pt, pname, phost, pbody, pmore, pstart, ptags = (
                t, name or default_name, host, body, None, None, tags)
            pidx = idx
            tb = body.startswith(_TRACEBACK)
            plevel = level or ("error" if tb else "info")
        self.entries += len(out)
        self.lines += len(lines)
        self.skipped += skipped
        self.unparsed += unparsed
        self.no_host += no_host
        self.last_time = last_time
        self._tb, self._blank = tb, blank
        if pbody is not None:
            if pstart is None:  # started in this chunk: its line's byte offset
                pstart = chunk_start + _line_start(data, len(lines), pidx)
            self._pend = [pt, pname, phost, plevel, pexpl, pbody, pmore, pstart, ptags]
        else:
            self._pend = None
        self.offset = end_offset
        return out

    def _syslog_chunk(self, data: bytes, end_offset: int) -> Optional[List[Row]]:
        """Fast path for a chunk that is nothing but single-line RFC 3164 entries.

        :func:`ccstore.logs.syslogscan.syslog_chunk` (compiled, or its pure-Python
        twin) makes the rows: the same rows as the line loop, which takes over
        (None) when any line is something else (another format, a blank line,
        a continuation of an entry).
        """
        if self._tb:
            return None
        res = self._chunk_parser(data, self.name, self._othertags, self.clock.bsd)
        if res is None:
            return None
        rows, last_explicit = res
        return self._chunk_out(data, end_offset, rows, last_explicit, None, 0)

    def _chunk_out(self, data: bytes, end_offset: int, rows: List[Row], last_explicit: bool,
                   last_tags: Any, no_host: int) -> List[Row]:
        """The rows a chunk path made of a chunk of one-line entries (``data``, ending at
        ``end_offset``): the entry pending before them first, the last one pending."""
        out: List[Row] = self.flush() if self._pend is not None else []
        self.no_host += no_host
        nlines = len(rows)
        last = rows.pop()
        out.extend(rows)
        self.entries += len(rows)
        self.lines += nlines
        self.last_time = last[0]
        self._blank = 0
        self._pend = [last[0], last[2], last[3], last[10], last_explicit, last[9], None,
                      self.offset + data.rfind(b"\n") + 1, last_tags]
        self.offset = end_offset
        return out

    def _json_chunk(self, data: bytes, end_offset: int) -> Optional[List[Row]]:
        """A chunk of JSON lines (``json``, ``journal_json``), each a one-line entry, read
        at once by :mod:`ccstore.logs.jsonscan` (compiled, or its pure-Python twin): the
        rows of the line loop, which takes over (None) when any line is something else
        (see there).  As in the syslog fast path, the last entry stays pending."""
        if self._tb:
            return None
        if self.format == "json":
            res = self._json_chunks.json_chunk(data, self.name, self.hostname,
                                               self._othertags, self.clock, _level_of)
        else:
            res = self._json_chunks.journal_json_chunk(data, self.name, self.hostname,
                                                       self._base_tags, self._othertags,
                                                       _level_of)
        if res is None:
            return None
        return self._chunk_out(data, end_offset, *res)

    def _one_line_chunk(self, data: bytes, end_offset: int) -> Optional[List[Row]]:
        """A chunk of a format whose entries are one line each, read at once.

        :func:`ccstore.logs.headerscan.chunk_rows` (compiled, or its pure-Python twin)
        makes the rows of the line loop, which takes over (None) when any line is not
        in the format (blank, unparsed, a continuation), has no time, opens a Python
        traceback, or the chunk is not clean text.  As in the syslog fast path, the
        last entry stays pending.
        """
        if self._tb:
            return None
        res = self._chunk_rows(data, self.format, self._source, self.name, self.hostname,
                               self._othertags, self._tagged)
        if res is None:
            return None
        out = self._chunk_out(data, end_offset, *res)
        self._checked += len(out)
        return out

    def _tagged(self, level: str, tags: Mapping[str, str]) -> str:
        """The othertags JSON of an entry with the tags of its format."""
        hit = self._shared_cache.get((level, id(tags)))
        if hit is not None and hit[0] is tags:
            return hit[1]
        key = (level, tuple(tags))
        tpl = self._templates.get(key)
        if tpl is None:
            if len(self._templates) > 4096:
                self._templates.clear()
            tpl = self._templates[key] = _tags_template(
                {**self._base_tags, **dict.fromkeys(tags), "loglevel": level})
        fmt, names = tpl
        try:
            v = fmt % tuple([_json_str(tags[k]) for k in names])
        except TypeError:  # a value that is not text
            v = othertags_json({**self._base_tags, **tags, "loglevel": level})
        if hit is None:  # seen once: may be a shared object, worth remembering
            if len(self._shared_cache) > 4096:
                self._shared_cache.clear()
            self._shared_cache[(level, id(tags))] = (tags, v)
        return v

    def _export_rows(self, data: bytes) -> List[Row]:
        """Rows of the entries that ``data`` completes in a ``journalctl -o export``
        stream: the plainly well-formed ones at once (:mod:`ccstore.logs.jsonscan`,
        compiled or its pure-Python twin), the rest by the export reader."""
        reader = self._journal
        assert reader is not None
        if not self._json_lines:
            return self._journal_rows(reader.feed(data))
        rows = reader.take(data, self._export_chunk)  # (data is the reader's now)
        if rows is not None and self._export_cut and reader.pending_bytes <= reader.max_field:
            # only an entry cut off by the end of the input is left: it waits for the rest
            self.offset = reader.offset
            return rows
        rest = self._journal_rows(reader.feed(b""))
        return rest if rows is None else rows + rest

    def _export_chunk(self, buf: bytes) -> Tuple[List[Row], int, int]:
        """``(rows, end, entries)`` of the whole entries at the start of ``buf``."""
        assert self._journal is not None
        rows, end, n, no_host, self.last_time, self._export_cut = self._json_chunks.export_chunk(
            buf, self._journal.max_field, self.name, self.hostname, self._base_tags,
            self._othertags, _level_of, self.last_time, int(self.clock.reference * NS_PER_S))
        self.no_host += no_host
        self.lines += n
        self.entries += n
        return rows, end, n

    def _journal_rows(self, headers: List[_Header]) -> List[Row]:
        """Rows of the entries of a ``journalctl -o export`` stream."""
        reader = self._journal
        assert reader is not None
        out, no_host, self.last_time = _pyjsonscan.journal_rows(
            headers, self.name, self.hostname, self._base_tags, self._othertags, _level_of,
            self.last_time, int(self.clock.reference * NS_PER_S))
        self.no_host += no_host
        self.lines += len(headers)
        self.entries += len(headers)
        self.skipped += reader.skipped
        reader.skipped = 0
        self.offset = reader.offset
        return out

    # -- time -----------------------------------------------------------------------
    def _bsd_seconds(self, ts: str) -> int:
        """Epoch seconds of ``Mmm dd HH:MM:SS`` (RFC 3164: no year, no zone).

        Raises ValueError for an impossible date.
        """
        v = self.clock.bsd[ts]
        if v is None:
            raise ValueError(ts)
        return v

    # -- formats: each returns a header tuple, or None for a line without one ------------
    def _hdr_syslog(self, line: str) -> Optional[_Header]:
        m = _FAST_SYSLOG_RE.match(line)
        if m is None:
            return self._syslog_iso(line)
        pri, ts, frac, host, tag, word, hint, body = m.groups()
        t = self.clock.bsd[ts]
        if t is None:
            return None
        t *= NS_PER_S
        if frac:
            t += _frac_ns(frac)
        if pri is not None:
            level = _PRI_LEVEL[int(pri) & 7]
        elif word:
            level = _token_level(word)
        else:
            level = None
        cont = hint is not None and _CONT_RE.match(body) is not None
        return t, tag, host, level, body, cont, None

    def _syslog_iso(self, line: str) -> Optional[_Header]:
        """rsyslog's file format: ``<ISO 8601 time> host tag[pid]: msg``."""
        m = _SYSLOG_ISO_RE.match(line)
        if m is None:
            return None
        pri, iso, host, tag, body = m.groups()
        t = self.clock.iso_ns(iso)
        if t is None:
            return None
        level = _PRI_LEVEL[int(pri) & 7] if pri is not None else _start_level(body)
        return t, tag, host, level, body, None, None

    def _hdr_rfc5424(self, line: str) -> Optional[_Header]:
        m = _RFC5424_RE.match(line)
        if m is None:
            return None
        pri, ts, host, app, _procid, _msgid, sd, msg = m.groups()
        t = None
        if ts != "-":
            t = self.clock.iso_ns(ts)
            if t is None:
                return None
        msg = msg or ""
        if msg.startswith("\ufeff"):
            msg = msg[1:]
        level = _PRI_LEVEL[int(pri) & 7] if pri is not None else _start_level(msg)
        tags = None
        if sd != "-":
            msg = sd + " " + msg if msg else sd
            tags = structured_data_tags(sd)
        return (t, None if app == "-" else app, None if host == "-" else host, level, msg, None,
                tags)

    def _hdr_json(self, line: str) -> Optional[_Header]:
        h = header_json(line, self.clock)
        if h is None or h[3] is not None:
            return h
        return h[:3] + (_level_of(h[4]),) + h[4:]

    def _hdr_plain(self, line: str) -> Optional[_Header]:
        m = _PLAIN_RE.match(line)
        if m is None:
            if line[0] in "IWEF" and line[1:5].isdigit():
                return self._klog(line)
            return None
        iso, sec, frac, zone, epoch, efrac, bsd, bfrac = m.groups()
        try:
            if iso is not None:
                t = (self.clock.minute(iso, zone) + int(sec)) * NS_PER_S + _frac_ns(frac)
            elif epoch is not None:
                t = epoch_ns(epoch, efrac)
            else:
                t = self._bsd_seconds(bsd) * NS_PER_S + _frac_ns(bfrac)
        except (KeyError, ValueError):
            return None
        body = line[m.end():] or line
        return t, None, None, _start_level(body), body, None, None

    def _klog(self, line: str) -> Optional[_Header]:
        m = _KLOG_RE.match(line)
        if m is None:
            return None
        lvl, mo, d, hhmmss, us, body = m.groups()
        try:
            ts = "%s %s %s" % (_MONTH_NAMES[int(mo)], d, hhmmss)
            t = self._bsd_seconds(ts) * NS_PER_S + int(us) * 1000
        except (IndexError, KeyError, ValueError):
            return None
        return t, None, None, _LEVELS[lvl.lower()], body, None, None

    def _hdr_auto(self, line: str) -> Optional[_Header]:
        c = line[0]
        h = None
        if "A" <= c <= "Z" and line[3:4] == " ":
            h = self._hdr_syslog(line)
        elif c == "{":
            h = self._hdr_json(line)
        elif c == "<":
            if line[line.find(">") + 1:][:2] == "1 ":
                h = self._hdr_rfc5424(line)
            else:
                h = self._hdr_syslog(line)
        elif c == "1" and line[1:2] == " ":
            h = self._hdr_rfc5424(line)
        elif line[10:11] == "T" and "0" <= c <= "9":
            h = self._syslog_iso(line)
            # a level word where the host should be means a plain line
            if h is not None and (h[1] is None or h[2].lower() in _LEVELS):
                h = None
        return h if h is not None else self._hdr_plain(line)


_FAR = 1 << 62
#: formats whose entries are mostly one line each (no header of theirs continues an
#: entry; a message may), read a chunk at once when they can be
_ONE_LINE_FORMATS = SCANNED_FORMATS
#: of those, the ones read with the parser's own header function
_OWN_SCANNED = ("rfc5424", "plain")


_HPC_ERROR_BYTES = tuple(w.encode() for w in _HPC_ERROR_WORDS)


def _hpc_errors(rows: List[Row]) -> List[Row]:
    """``rows``, each whose message reports an error of HPC software within its first
    ``_LEVEL_WINDOW`` characters (:data:`~._grammar._HPC_ERROR_RE`) made an error,
    level and ``loglevel`` tag, whatever level its line stated.  Every way a parser
    emits rows ends here, so the formats and both fast paths agree."""
    search = _HPC_ERROR_RE.search
    for i in [i for i, r in enumerate(rows) if "Xid" in r[9] or "Error" in r[9]]:
        r = rows[i]
        msg = r[9]
        if r[10] != "error" and search(msg, 0, _LEVEL_WINDOW):
            rows[i] = r[:8] + (_error_tags(r[8], r[10]), msg, "error")
    return rows


def _error_tags(tags: str, level: str) -> str:
    """The othertags JSON ``tags`` of a row of level ``level``, made an error's.

    In the compact sorted JSON of :func:`ccstore.rows.othertags_json` the level's
    member, opened by ``{`` or ``,`` and an unescaped quote, can only be the key
    ``loglevel`` (a quote within a key or value is escaped); its value is replaced in
    place, and decoding and encoding the object is the way only for other text.
    """
    for lead in ("{", ","):
        member = '%s"loglevel":"%s"' % (lead, level)
        if member in tags:
            return tags.replace(member, lead + '"loglevel":"error"', 1)
    d = json.loads(tags)
    d["loglevel"] = "error"
    return othertags_json(d)


def _tags_template(tags: Mapping[str, Optional[str]]) -> Tuple[str, Tuple[str, ...]]:
    """``(format, keys)``: :func:`ccstore.rows.othertags_json` of ``tags`` is ``format %
    tuple(json string of tags[k] for k in keys)``, the keys whose value is None being
    filled in so (the tags of a format, which differ from line to line)."""
    parts: List[str] = []
    keys: List[str] = []
    for k in sorted(tags):
        if k in _NON_OTHER:
            continue
        v = tags[k]
        if v is None:
            parts.append(_json_str(k).replace("%", "%%") + ":%s")
            keys.append(k)
        else:
            parts.append((_json_str(k) + ":" + _json_str(v)).replace("%", "%%"))
    return "{" + ",".join(parts) + "}", tuple(keys)


def _no_header(line: str) -> None:
    """The header function of a format that is not read line by line."""
    return None




def _traceback_state(body: str, tb: bool) -> bool:
    """Whether a Python traceback is still open after the continuation ``body``."""
    if body.startswith(_TRACEBACK):
        return True
    if tb and not body.startswith((" ", "\t")):
        # the exception line closes a traceback, unless a chained one follows
        return body.startswith(("During handling", "The above exception"))
    return tb


def _split_lines(data: bytes, text: Optional[str]) -> Tuple[List[str], str, int]:
    """``(lines, text, skipped)`` of a chunk of whole lines (``text``: its clean text).

    Otherwise each line is salvaged (:func:`_salvage`); binary garbage becomes
    the marker line ``"\\x00"`` (counted in ``skipped``) so that line positions
    stay aligned.
    """
    if text is not None:
        return text.split("\n"), text, 0
    lines = []
    skipped = 0
    for raw in data.split(b"\n"):
        line = _salvage(raw)
        if line is None:
            skipped += 1
            line = _GARBAGE
        elif line[-1:] == "\r":
            line = line[:-1]
        lines.append(line)
    return lines, "\n".join(lines), skipped


_GARBAGE = "\x00"


def _line_start(data: bytes, nlines: int, idx: int) -> int:
    """Byte position of line ``idx`` among the ``nlines`` lines of ``data`` (from the end)."""
    pos = len(data)
    for _ in range(nlines - idx):
        pos = data.rfind(b"\n", 0, pos)
    return pos + 1


def _salvage(raw: bytes) -> Optional[str]:
    """Text of a line with control bytes or bad UTF-8, or None for binary garbage.

    NUL bytes (files padded with zeros after a crash) are dropped; what remains
    is garbage when more than a quarter of it is control or undecodable bytes.
    """
    if not raw:
        return ""
    line = raw.decode("utf-8", "replace")
    if "\x00" in line:
        line = line.replace("\x00", "")
        if not line:
            return None
    bad = len(_CTRL_RE.findall(line))
    if bad * 4 > len(line):
        return None
    if bad:
        line = _CTRL_ONLY_RE.sub("", line)
    return line or None


def row_to_point(row: Row, cluster: Optional[str] = None) -> Any:
    """A stored log row as a :class:`ccstore.Point` (tags include ``cluster`` if given)."""
    from ..lineproto import Point

    t, _, name, host, typ, typeid, _, _, other, text, _ = row
    tags = {"hostname": host, "type": typ, "type-id": typeid}
    tags.update(json.loads(other))
    if cluster:
        tags["cluster"] = cluster
    return Point(name=name, tags=tags, fields={"log": text}, time=t)


def parse(data: Any, format: str = "auto", *, cluster: Optional[str] = None,
          **options: Any) -> List[Any]:
    """Parse a whole text or byte string of log lines into :class:`ccstore.Point` objects.

    ``options`` are those of :class:`LogParser` (``hostname``, ``location``, ``tz``...).
    """
    if isinstance(data, str):
        data = data.encode()
    p = LogParser(format, **options)
    rows = p.feed(data) + p.finish()
    return [row_to_point(r, cluster) for r in rows]


def log_batch(cluster: str, rows: List[Row], lines: int = 0) -> RowBatch:
    """The rows of a :class:`LogParser` as a batch to store: all of kind ``log`` in
    ``cluster`` (log lines name no cluster); ``lines`` physical lines were read."""
    return RowBatch({(cluster, "log"): rows} if rows else {}, [], {}, 0, lines)
