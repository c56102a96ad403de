"""The log formats of HPC sites: archives of the big machines, journald, Slurm.

Each format has a *header function* ``(line) -> Optional[Header]``, the shape
:class:`ccstore.logs.LogParser` takes a line's header in: ``(time ns, name,
hostname, level, message, continues, tags)``, None where the line does not say,
and None for a line that is not in the format.  ``level`` is a ClusterCockpit
loglevel or None when the format states none (the parser then reads the level
words of the message, HPC ones included); ``tags`` is a dict shared between lines
(never modify it) or None.

- ``syslog_export``: the Sandia/LANL syslog archives (Thunderbird, Spirit,
  Liberty): ``- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]:
  msg``.  A first field other than ``-`` is an alert category: level ``error``,
  tag ``alert``.  Host: the fourth field; time: the epoch; name: the syslog tag.
- ``bgl``: BlueGene/L RAS records: ``- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11
  2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO msg``.  Host:
  the location; time: the microsecond timestamp, in the zone that the epoch
  implies; tags ``component``, ``severity`` (INFO ... FATAL) and ``alert``; name:
  the component.
- ``lanl``: LANL HPC event logs: ``134681 node-246 unix.hw state_change.unavailable
  1077804742 1 msg``: host, tags ``component`` and ``state`` (the component is the
  name too), epoch time.
- ``journal_json``: ``journalctl -o json``; ``journal_export``: ``journalctl -o
  export``, multi-line, read by :class:`JournalExportReader`.  Both through
  :func:`journal_header`.
- ``slurm``: Slurm daemon logs ``[2026-12-03T10:00:00.123] error: msg``, the daemon
  and host from the file name (:func:`slurm_source`) or the caller.

:func:`detect_line` and :func:`sniff` tell them apart, per line and per file.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import json
import math
import operator
import os
import re
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..rows import NS_PER_S
from ._grammar import _LEVELS, _PRI_LEVEL, _frac_ns, normalize_level
from .clock import Clock, epoch_ns

__all__ = [
    "FORMATS",
    "LINE_FORMATS",
    "PARSE_TAG",
    "UNPARSED",
    "UNPARSED_TAGS",
    "Header",
    "JournalExportReader",
    "SlurmFormat",
    "detect_line",
    "header_bgl",
    "header_function",
    "header_json",
    "header_journal_json",
    "header_lanl",
    "header_syslog_export",
    "journal_header",
    "slurm_source",
    "sniff",
    "sniff_bytes",
    "structured_data_tags",
]

#: the formats of this module
FORMATS = ("syslog_export", "bgl", "lanl", "journal_json", "journal_export", "slurm")
#: the formats read one line at a time (``journal_export`` is not)
LINE_FORMATS = ("syslog_export", "bgl", "lanl", "journal_json", "slurm")

#: the tag that marks a line that fits no format, and its value
PARSE_TAG = "parse"
UNPARSED = "unparsed"
UNPARSED_TAGS: Mapping[str, str] = {PARSE_TAG: UNPARSED}

#: what a header function returns: (time ns, name, hostname, level, message,
#: continues-the-previous-entry, tags)
Header = Tuple[Optional[int], Optional[str], Optional[str], Optional[str], str,
               Optional[bool], Optional[Dict[str, str]]]

_CACHE_MAX = 100_000
_UTC_MINUTES: Dict[str, int] = {}


def _utc_minute(prefix: str) -> int:
    """Seconds of ``YYYY-MM-DD-HH.MM`` read as UTC (ValueError for an impossible date)."""
    v = _UTC_MINUTES.get(prefix)
    if v is None:
        fields = (int(prefix[:4]), int(prefix[5:7]), int(prefix[8:10]),
                  int(prefix[11:13]), int(prefix[14:16]))
        _dt.datetime(*fields)  # validates
        v = calendar.timegm(fields + (0,))
        if len(_UTC_MINUTES) > _CACHE_MAX:
            _UTC_MINUTES.clear()
        _UTC_MINUTES[prefix] = v
    return v


def _remember(cache: Dict[Any, Any], key: Any, value: Any) -> Any:
    """Store ``value`` in a bounded cache (cleared when full) and return it."""
    if len(cache) > 4096:
        cache.clear()
    cache[key] = value
    return value


# -- syslog exports and BlueGene/L RAS -----------------------------------------------
# alert field, epoch, date, node: the prefix the Sandia/LANL archives share
_ARCHIVE = r"(-|[A-Z][A-Z0-9_]*) (\d{10}) \d{4}\.\d\d\.\d\d (\S+) "
_EXPORT_RE = re.compile(
    _ARCHIVE + r"[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d"
    # the repeated host field (dn228/dn228, src@eadmin1), when there is one
    r"(?: [^\s/@]*[/@][^\s:]*(?= |$))?"
    r"(?: ([^\s\[\]:]+)(?:\[[^\]\s]*\])?:(?= |$))? ?(.*)"
)
_BGL_RE = re.compile(
    _ARCHIVE + r"(\d{4}-\d\d-\d\d-\d\d\.\d\d)\.(\d\d)\.(\d{6}) \S+ \S+ (\S+) ([A-Z]+)(?: (.*))?")
#: alert category -> its tags; (component, severity, alert) -> (tags, level): one dict
#: object for every line with the same tags
_ALERT_TAGS: Dict[str, Dict[str, str]] = {}
_BGL_KINDS: Dict[Tuple[str, str, str], Tuple[Dict[str, str], Optional[str]]] = {}
#: the widest offset from UTC of a time zone
_MAX_ZONE = 14 * 3600


def header_syslog_export(line: str) -> Optional[Header]:
    """A line of a Sandia/LANL syslog archive (Thunderbird, Spirit, Liberty)."""
    m = _EXPORT_RE.match(line)
    if m is None:
        return None
    alert, epoch, host, tag, body = m.groups()
    if alert == "-":
        return int(epoch) * NS_PER_S, tag, host, None, body, False, None
    tags = _ALERT_TAGS.get(alert)
    if tags is None:
        tags = _remember(_ALERT_TAGS, alert, {"alert": alert})
    return int(epoch) * NS_PER_S, tag, host, "error", body, False, tags


def _bgl_kind(key: Tuple[str, str, str]) -> Tuple[Dict[str, str], Optional[str]]:
    component, severity, alert = key
    tags = {"component": component, "severity": severity}
    if alert == "-":
        return _remember(_BGL_KINDS, key, (tags, _LEVELS.get(severity.lower())))
    tags["alert"] = alert
    return _remember(_BGL_KINDS, key, (tags, "error"))


def header_bgl(line: str) -> Optional[Header]:
    """A BlueGene/L RAS record.

    The timestamp has no zone: the epoch of the same record gives its offset
    from UTC (to a quarter of an hour), the timestamp the microseconds.
    """
    m = _BGL_RE.match(line)
    if m is None:
        return None
    alert, epoch, host, minute, sec, usec, component, severity, body = m.groups()
    wall = _UTC_MINUTES.get(minute)
    if wall is None:
        try:
            wall = _utc_minute(minute)
        except ValueError:
            return None
    wall += int(sec)
    e = int(epoch)
    offset = (wall - e + 450) // 900 * 900
    if -_MAX_ZONE <= offset <= _MAX_ZONE:
        t = (wall - offset) * NS_PER_S + int(usec) * 1000
    else:
        t = e * NS_PER_S
    key = (component, severity, alert)
    kind = _BGL_KINDS.get(key)
    if kind is None:
        kind = _bgl_kind(key)
    return t, component, host, kind[1], body or "", False, kind[0]


# -- LANL HPC event logs ---------------------------------------------------------------
_LANL_RE = re.compile(r"\d+ (\S+) (\S+) (\S+) (\d{10}) \d+(?: (.*))?")
#: (component, state) -> its tags
_LANL_TAGS: Dict[Tuple[str, str], Dict[str, str]] = {}


def header_lanl(line: str) -> Optional[Header]:
    """A LANL HPC event log line: id, node, component, state, epoch, flag, message."""
    m = _LANL_RE.match(line)
    if m is None:
        return None
    host, component, state, epoch, body = m.groups()
    body = body or ""
    key = (component, state)
    tags = _LANL_TAGS.get(key)
    if tags is None:
        tags = _remember(_LANL_TAGS, key, {"component": component, "state": state})
    return int(epoch) * NS_PER_S, component, host, None, body, False, tags


# -- RFC 5424 structured data ------------------------------------------------------------
_SD_ELEMENT_RE = re.compile(r'\[([^\]"\s]+)((?: [^=\s\]]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM_RE = re.compile(r' ([^=\s\]]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE_RE = re.compile(r'\\([\\"\]])')
#: STRUCTURED-DATA text -> its tags
_SD_TAGS: Dict[str, Optional[Dict[str, str]]] = {}
#: the prefix of the tags of structured data: ``sd.<SD-ID>.<PARAM-NAME>``
SD_PREFIX = "sd."


def structured_data_tags(sd: str) -> Optional[Dict[str, str]]:
    """The tags of RFC 5424 STRUCTURED-DATA (``[id k="v" ...][id2 ...]``), None for
    ``-`` or none: ``sd.<SD-ID>.<PARAM-NAME>`` -> value, the escapes ``\\"``,
    ``\\\\`` and ``\\]`` undone (RFC 5424 6.3.3; a backslash before any other
    character stays).  The first of a parameter given twice counts; an element
    without parameters gives no tag.  The dict is shared between lines with the
    same structured data (never modify it)."""
    if sd in _SD_TAGS:
        return _SD_TAGS[sd]
    tags: Dict[str, str] = {}
    for m in _SD_ELEMENT_RE.finditer(sd):
        prefix = SD_PREFIX + m.group(1) + "."
        for name, value in _SD_PARAM_RE.findall(m.group(2)):
            key = prefix + name
            if key not in tags:
                tags[key] = _SD_ESCAPE_RE.sub(r"\1", value) if "\\" in value else value
    return _remember(_SD_TAGS, sd, tags or None)


# -- journald ---------------------------------------------------------------------------
def _journal_text(value: Any) -> Optional[str]:
    """A journald field value as text: a string, bytes (export), a list of byte values
    (JSON's form of binary data), or a list of values (a field given more than once:
    the first).  NUL bytes are dropped."""
    cls = value.__class__
    if cls is str or cls is bytes:  # the usual values, at once
        if cls is bytes:
            value = value.decode("utf-8", "replace")
        return value if "\x00" not in value else value.replace("\x00", "")
    if isinstance(value, bytes):
        # undecodable bytes become U+FFFD
        value = value.decode("utf-8", "replace")
    elif isinstance(value, list) and value:
        if not isinstance(value[0], int):
            return _journal_text(value[0])
        try:
            value = bytes(value).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return None
    if isinstance(value, str):
        # NUL is no text (PostgreSQL refuses it)
        return value if "\x00" not in value else value.replace("\x00", "")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


#: the fields a journald header reads, as the JSON form (str) and the export form (bytes)
#: name them
_JOURNAL_KEYS = ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP", "MESSAGE", "PRIORITY",
                 "SYSLOG_IDENTIFIER", "_COMM", "_PID", "_SYSTEMD_UNIT", "_HOSTNAME")
_JOURNAL_BKEYS = tuple(k.encode() for k in _JOURNAL_KEYS)
#: PRIORITY as JSON (text or number) or export (bytes) gives it -> loglevel
_PRIORITY_LEVEL: Dict[Any, str] = {}
for _i, _lvl in enumerate(_PRI_LEVEL):
    _PRIORITY_LEVEL.update({_i: _lvl, str(_i): _lvl, str(_i).encode(): _lvl})


def journal_header(fields: Mapping[Any, Any]) -> Header:
    """The header of a journald entry: a ``-o json`` object (str keys) or an entry of
    :meth:`JournalExportReader.entries_of` (bytes keys).

    Time: ``_SOURCE_REALTIME_TIMESTAMP`` (when the message was made) or
    ``__REALTIME_TIMESTAMP`` (when it was received), microseconds; host
    ``_HOSTNAME``; level ``PRIORITY``; name ``SYSLOG_IDENTIFIER`` or ``_COMM``;
    tags ``pid`` (``_PID``) and ``unit`` (``_SYSTEMD_UNIT``).
    """
    first = next(iter(fields), "")
    return _journal_header(fields.get,
                           _JOURNAL_BKEYS if isinstance(first, bytes) else _JOURNAL_KEYS)


def _journal_header(get: Callable[[Any], Any], keys: Tuple[Any, ...]) -> Header:
    source, realtime, kmsg, kprio, kident, kcomm, kpid, kunit, khost = keys
    t = None
    for key in (source, realtime):
        v = get(key)
        if v is not None:
            if not isinstance(v, (str, bytes)):
                v = _journal_text(v)
            if v and (v.isdecimal() if isinstance(v, str) else v.isdigit()):
                t = int(v) * 1000
                break
    msg = _journal_text(get(kmsg))
    msg = msg.rstrip("\n") if msg else ""
    v = get(kprio)
    if isinstance(v, (str, bytes, int)):
        level = _PRIORITY_LEVEL.get(v)
    else:
        level = normalize_level(_journal_text(v) or "")
    name = _journal_text(get(kident)) or _journal_text(get(kcomm))
    pid = _journal_text(get(kpid))
    unit = _journal_text(get(kunit))
    tags = None
    if pid or unit:
        tags = {}
        if pid:
            tags["pid"] = pid
        if unit:
            tags["unit"] = unit
    return t, name, _journal_text(get(khost)) or None, level, msg, False, tags


# -- JSON lines ----------------------------------------------------------------------------
#: the keys of a JSON line's time, level, message, host and name (the first present wins),
#: and those whose text (a stack trace) is appended to the message
JSON_TIME = ("time", "timestamp", "ts", "@timestamp", "t", "date", "datetime", "asctime",
             "__REALTIME_TIMESTAMP")
JSON_LEVEL = ("level", "severity", "loglevel", "lvl", "levelname", "log.level", "PRIORITY",
              "priority")
JSON_MSG = ("msg", "message", "MESSAGE", "log", "text")
JSON_HOST = ("host", "hostname", "_HOSTNAME", "host.name")
JSON_NAME = ("logger", "program", "app", "application", "service", "component", "name",
             "logger_name", "SYSLOG_IDENTIFIER", "_COMM")
JSON_EXTRA = ("stack_trace", "stacktrace", "exception", "exc_info", "stack",
              "error.stack_trace")


def number_ns(value: float) -> int:
    """A numeric epoch (s, ms, us or ns, judged by magnitude) as nanoseconds."""
    v = abs(value)
    scale = 1 if v >= 1e17 else 1_000 if v >= 1e14 else 1_000_000 if v >= 1e11 else NS_PER_S
    if isinstance(value, int):
        return value * scale
    return int(round(value * scale))


def json_time(value: Any, clock: Clock) -> Optional[int]:
    """Nanoseconds of a JSON time value: an epoch (number or digits, s to ns) or an ISO
    8601 text (read by ``clock``); None for anything else."""
    if isinstance(value, str):
        value = value.strip()
        # (isdecimal: the digits int() reads; isdigit also takes superscripts)
        return epoch_ns(value) if value.isdecimal() and len(value) >= 9 else clock.iso_ns(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return number_ns(value)
    if isinstance(value, float) and math.isfinite(value):  # not NaN or Infinity
        return number_ns(value)
    return None


def json_message(line: str, msg: Optional[str], extras: Iterable[Any]) -> str:
    """The message of a JSON line: ``msg`` (the first text of :data:`JSON_MSG`) without
    trailing newlines, the whole line when that leaves nothing, and the non-empty texts
    of ``extras`` (the values of :data:`JSON_EXTRA`, None where absent) on lines of
    their own."""
    msg = msg.rstrip("\n") if msg else ""
    if not msg:
        msg = line
    for v in extras:
        if isinstance(v, str) and v:
            msg = msg + "\n" + v.rstrip("\n")
    return msg


def header_json(line: str, clock: Clock) -> Optional[Header]:
    """A line holding a JSON object (format ``json``): time, level, message, host and
    name from the first of their keys (:data:`JSON_TIME`...) present; ``level`` None
    when no key states one (the caller reads the message); no tags."""
    if line[:1] != "{":
        return None
    obj = json_object(line)
    if obj is None:
        return None
    get = obj.get
    t = level = None
    for k in JSON_TIME:
        v = get(k)
        if v is not None:
            t = json_time(v, clock)
            if t is not None:
                break
    for k in JSON_LEVEL:
        v = get(k)
        if v is not None:
            level = normalize_level(v)
            if level is not None:
                break
    msg = None
    for k in JSON_MSG:
        v = get(k)
        if isinstance(v, str):
            msg = v
            break
    return (t, _first_text(get, JSON_NAME), _first_text(get, JSON_HOST), level,
            json_message(line, msg, map(get, JSON_EXTRA)), None, None)


def _first_text(get: Callable[[str], Any], keys: Tuple[str, ...]) -> Optional[str]:
    """The first non-empty text among the values of ``keys``."""
    for k in keys:
        v = get(k)
        if isinstance(v, str) and v:
            return v
    return None


def json_object(line: str) -> Optional[Dict[str, Any]]:
    """The JSON object a line holds; None when it holds something else."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def header_journal_json(line: str) -> Optional[Header]:
    """A line of ``journalctl -o json``."""
    if line[:1] != "{" or ('"__REALTIME_TIMESTAMP"' not in line and '"__CURSOR"' not in line):
        return None
    obj = json_object(line)
    return None if obj is None else _journal_header(obj.get, _JOURNAL_KEYS)


_EXPORT_KEY_RE = re.compile(rb"[A-Za-z0-9_]+")
_SPLIT_FIELD = operator.methodcaller("split", b"=", 1)


class JournalExportReader:
    """Incremental reader of ``journalctl -o export``.

    Entries are ``KEY=value`` lines, ended by an empty line; a value that is not
    plain text comes as ``KEY``, a newline, its length (64-bit little-endian), the
    bytes and a newline.  :meth:`feed` takes the next bytes and returns the headers
    of the entries it completed; :meth:`finish` ends the input.  Offsets are byte
    positions in the stream (``offset`` = position of the first byte fed):
    :attr:`safe_offset` is the start of the entry not yet complete, where to resume
    after a restart.  A field that breaks the framing drops its entry (counted in
    :attr:`skipped`); reading goes on after the next empty line.
    """

    def __init__(self, offset: int = 0, max_field: int = 1 << 26) -> None:
        self.max_field = max_field
        self._buf = b""
        self._base = offset  # stream position of _buf[0]
        self._fields: Dict[bytes, bytes] = {}
        self._entry_start = offset
        self._resync = False
        #: entries read, entries dropped as broken
        self.entries = 0
        self.skipped = 0

    @property
    def safe_offset(self) -> int:
        """Where to resume reading so that no entry is lost or read twice."""
        return self._entry_start

    @property
    def offset(self) -> int:
        """End of the bytes fed so far."""
        return self._base + len(self._buf)

    def entries_of(self, data: bytes) -> List[Dict[bytes, bytes]]:
        """The complete entries after ``data``, as ``{key: value}`` in bytes (the first
        value of a key given twice)."""
        buf = self._buf + data if self._buf else data
        out: List[Dict[bytes, bytes]] = []
        fields = self._fields
        pos = 0
        n = len(buf)
        while pos < n:
            if not fields and not self._resync:
                # a whole entry of text fields at once; one with a binary field (a line
                # without "=") goes field by field below
                end = buf.find(b"\n\n", pos)
                if end >= pos and end - pos <= self.max_field:
                    lines = buf[pos:end].split(b"\n")
                    lines.reverse()  # the first of a key given twice wins
                    try:
                        entry = dict(map(_SPLIT_FIELD, lines))
                    except ValueError:
                        pass
                    else:
                        if entry:
                            out.append(entry)
                        pos = end + 2
                        self._entry_start = self._base + pos
                        continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if n - pos > self.max_field and not self._resync:
                    fields = self._broken()
                    pos = n
                break
            if self._resync:
                if nl == pos:
                    self._resync = False
                    self._entry_start = self._base + nl + 1
                pos = nl + 1
                continue
            if nl == pos:  # an empty line ends the entry
                pos = nl + 1
                if fields:
                    out.append(fields)
                    fields = {}
                self._entry_start = self._base + pos
                continue
            eq = buf.find(b"=", pos, nl)
            if eq >= 0:
                if nl - pos > self.max_field:
                    fields = self._broken()
                    pos = nl + 1
                    continue
                key, value, end = buf[pos:eq], buf[eq + 1:nl], nl + 1
            else:
                key = buf[pos:nl]
                if nl + 9 > n:
                    break
                size = int.from_bytes(buf[nl + 1:nl + 9], "little")
                end = nl + 9 + size + 1
                if size <= self.max_field and end > n:
                    break
                if size > self.max_field or buf[end - 1:end] != b"\n":
                    fields = self._broken()
                    pos = nl + 1
                    continue
                value = buf[nl + 9:end - 1]
            if _EXPORT_KEY_RE.fullmatch(key) is None:
                fields = self._broken()
                pos = nl + 1
                continue
            if key not in fields:
                fields[key] = value
            pos = end
        self._fields = fields
        self._base += pos
        self._buf = buf[pos:]
        self.entries += len(out)
        return out

    @property
    def pending_bytes(self) -> int:
        """The bytes fed and not read yet."""
        return len(self._buf)

    def take(self, data: bytes, scan: Callable[[bytes], Tuple[Any, int, int]]) -> Any:
        """Give the input not read yet, ``data`` appended, to ``scan(buf) -> (result, end,
        entries)``, which reads the ``entries`` whole entries before ``end`` at the start
        of ``buf``; :meth:`feed` reads on from there.  ``result``, or None when an entry
        is being read (it is :meth:`feed`'s to finish)."""
        buf = self._buf + data if self._buf else data
        if self._fields or self._resync:
            self._buf = buf
            return None
        result, end, entries = scan(buf)
        if end:
            self._base += end
            self._entry_start = self._base
            buf = buf[end:]
        self._buf = buf
        self.entries += entries
        return result

    def _broken(self) -> Dict[bytes, bytes]:
        """Drop the entry being read; read on after the next empty line."""
        self.skipped += 1
        self._resync = True
        return {}

    def feed(self, data: bytes) -> List[Header]:
        """The headers of the entries that ``data`` completes."""
        return [_journal_header(e.get, _JOURNAL_BKEYS) for e in self.entries_of(data)]

    def finish(self) -> List[Header]:
        """End of input: an entry without its closing empty line counts; a field cut
        off does not (the entry is dropped and counted in :attr:`skipped`)."""
        out = self.entries_of(b"\n") if self._buf and not self._buf.endswith(b"\n") else []
        if self._buf:
            if not self._resync:
                self.skipped += 1
            self._fields = {}
        elif self._fields:
            out.append(self._fields)
            self.entries += 1
        self._fields = {}
        self._buf = b""
        self._resync = False
        self._entry_start = self._base
        return [_journal_header(e.get, _JOURNAL_BKEYS) for e in out]


# -- Slurm -------------------------------------------------------------------------------
_SLURM_RE = re.compile(
    r"\[(?:(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)|([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d))"
    r"(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?\] "
    r"(?:\[(\d+(?:\+\d+)?(?:\.\w+)?)\] )?"
    r"(?:([A-Za-z]+[1-5]?): +)?(.*)"
)
_SLURM_STEPS: Dict[str, Dict[str, str]] = {}
_SLURM_FILE_RE = re.compile(
    r"(slurmctld|slurmdbd|slurmd|slurmstepd|slurmrestd)(?:[-.](?!log\b)([^.]+))?"
    r"(?:\.log)?(?:[.-]\d[\w.-]*|\.gz|\.old)*")


def slurm_source(path: str) -> Optional[Tuple[str, Optional[str]]]:
    """``(daemon, host)`` from a Slurm log file name, None if it names no daemon.

    ``slurmctld.log`` -> ``("slurmctld", None)``; ``slurmd-n01.log`` and
    ``slurmd.n01.log`` (``SlurmdLogFile=...slurmd.%n.log``) -> ``("slurmd", "n01")``;
    rotated names (``slurmd.log.1``, ``slurmctld.log-20261203.gz``) as their file.
    """
    m = _SLURM_FILE_RE.fullmatch(os.path.basename(path))
    if m is None:
        return None
    return m.group(1), m.group(2) or None


class SlurmFormat:
    """Slurm daemon logs: ``[time] [job.step] level: message``.

    The time in any of Slurm's ``LogTimeFormat`` styles that name a date (ISO 8601
    with or without milliseconds and zone, ``short``), the level from its prefix
    (``fatal``, ``error``, ``warning``, ``verbose``, ``debug`` ... ``debug5``;
    none for ``info``), the job step of slurmstepd's lines as tag ``step``.  The
    daemon (name) and host come from the caller: the file name or config.
    """

    def __init__(self, clock: Optional[Clock] = None, *, name: Optional[str] = None,
                 host: Optional[str] = None) -> None:
        self.clock = clock or Clock()
        self.name = name
        self.host = host

    @classmethod
    def for_file(cls, path: str, clock: Optional[Clock] = None) -> "SlurmFormat":
        """The format of a file, its daemon and host taken from its name."""
        name, host = slurm_source(path) or (None, None)
        return cls(clock, name=name, host=host)

    def header(self, line: str) -> Optional[Header]:
        m = _SLURM_RE.match(line)
        if m is None:
            return None
        minute, sec, bsd, frac, zone, step, word, body = m.groups()
        try:
            if minute is not None:
                t = self.clock.minute(minute, zone) + int(sec)
            else:
                t = self.clock.bsd_seconds(bsd)
                if t is None:
                    return None
                if zone:
                    return None
        except ValueError:
            return None
        t = t * NS_PER_S + _frac_ns(frac)
        level = None
        if word is not None:  # the message keeps it, as syslog's does
            level = _LEVELS.get(word.lower())
            body = line[m.start(7):]
        tags = None
        if step is not None:
            tags = _SLURM_STEPS.get(step)
            if tags is None:
                tags = _remember(_SLURM_STEPS, step, {"step": step})
        return t, self.name, self.host, level, body, None, tags


# -- detection -----------------------------------------------------------------------
def detect_line(line: str) -> Optional[str]:
    """The format of one line among :data:`FORMATS`, None for any other line.

    Of a ``journal_export`` stream only the line that opens an entry is told.
    """
    c = line[:1]
    if c == "-" or "A" <= c <= "Z":
        if _BGL_RE.match(line) is not None:
            return "bgl"
        if _EXPORT_RE.match(line) is not None:
            return "syslog_export"
        return None
    if "0" <= c <= "9":
        return "lanl" if _LANL_RE.match(line) is not None else None
    if c == "[":
        return "slurm" if _SLURM_RE.match(line) is not None else None
    if c == "{":
        return "journal_json" if header_journal_json(line) is not None else None
    if c == "_" and line.startswith(("__CURSOR=", "__REALTIME_TIMESTAMP=")):
        return "journal_export"
    return None


def sniff(lines: Iterable[str], max_lines: int = 50) -> Optional[str]:
    """The format of a file from its first lines: the format of most of its first
    ``max_lines`` non-blank lines, if at least half of them are in it; else None."""
    counts: Counter = Counter()
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        if seen == 0 and line.startswith(("__CURSOR=", "__REALTIME_TIMESTAMP=")):
            return "journal_export"
        seen += 1
        fmt = detect_line(line.rstrip("\r\n"))
        if fmt is not None:
            counts[fmt] += 1
        if seen >= max_lines:
            break
    if not counts:
        return None
    fmt, n = counts.most_common(1)[0]
    return fmt if 2 * n >= seen else None


def sniff_bytes(head: bytes, max_lines: int = 50) -> Optional[str]:
    """:func:`sniff` of the first bytes of a file (a cut-off last line is left out)."""
    if head.startswith((b"__CURSOR=", b"__REALTIME_TIMESTAMP=")):
        return "journal_export"
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines.pop()
    return sniff((raw.decode("utf-8", "replace") for raw in lines), max_lines)


def header_function(format: str, *, clock: Optional[Clock] = None,
                    path: Optional[str] = None) -> Callable[[str], Optional[Header]]:
    """The header function of a line format (:data:`LINE_FORMATS`).

    ``clock`` reads the times that name no zone (Slurm); ``path`` is the file, that
    Slurm's daemon and host are taken from.
    """
    if format == "syslog_export":
        return header_syslog_export
    if format == "bgl":
        return header_bgl
    if format == "lanl":
        return header_lanl
    if format == "journal_json":
        return header_journal_json
    if format == "slurm":
        if path is not None:
            return SlurmFormat.for_file(path, clock).header
        return SlurmFormat(clock).header
    raise ValueError(f"unknown line format {format!r}: expected one of {', '.join(LINE_FORMATS)}")
