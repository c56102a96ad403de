"""The rows of a chunk of JSON lines: the pure-Python twin, the reference.

:class:`ccstore.logs.LogParser` reads a chunk of lines of format ``json`` (one object
per line) or ``journal_json`` (``journalctl -o json``) at once when every line is a
one-line entry of it: :func:`json_chunk` and :func:`journal_json_chunk` give the rows of
the line loop for such a chunk, or None when the line loop must decide (a line not in
the format, without a time, or one that may continue the entry before it).
:func:`export_chunk` gives the rows of the whole entries at the start of a
``journalctl -o export`` stream, up to the first one that is not plainly well formed,
which is left to :class:`ccstore.logs.formats.JournalExportReader`.
``ccstore.logs._jsonscan`` is the compiled implementation: where it gives rows, the same
rows; it also gives None for lines it leaves to the line loop (nested values, escaped
keys, CR line ends).
"""
from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Tuple

from ..rows import NS_PER_S, Row, othertags_json
from ._grammar import _CONT_RE, _clean_text
from .clock import Clock
from .formats import (
    _EXPORT_KEY_RE,
    _JOURNAL_BKEYS,
    Header,
    _journal_header,
    header_journal_json,
    header_json,
)

__all__ = ["TRACEBACK", "export_chunk", "journal_rows", "json_chunk", "journal_json_chunk"]

#: a message holding this opens a Python traceback: the line loop reads such chunks
TRACEBACK = "Traceback (most recent call last):"

#: ``(rows, last_explicit, last_tags, no_host)``: the rows of the chunk's lines, whether
#: the last one's level was stated (in a key or the words of its message), the tags of
#: the last one (None or a dict), how many named no host
Chunk = Tuple[List[Row], bool, Optional[Mapping[str, str]], int]


def _lines(data: bytes) -> Optional[List[str]]:
    """The lines of a chunk that the chunk functions read, else None."""
    text = _clean_text(data)
    if text is None or TRACEBACK in text:
        return None
    return text.split("\n")


def json_chunk(data: bytes, name: str, hostname: str, othertags: Mapping[str, str],
               clock: Clock, level_of: Callable[[str], Optional[str]]) -> Optional[Chunk]:
    """The rows of ``data`` (whole lines, no final newline) in format ``json``, or None.

    ``name``, ``hostname``: of the rows whose line names none; ``othertags``: level ->
    othertags JSON; ``clock`` reads ISO times; ``level_of(message)``: the level its
    words name, None for none.
    """
    lines = _lines(data)
    if lines is None:
        return None
    rows: List[Row] = []
    no_host = 0
    explicit = False
    for line in lines:
        h = header_json(line, clock)
        if h is None or h[0] is None:
            return None
        t, n, host, level, msg = h[:5]
        if _CONT_RE.match(msg) is not None:
            return None  # it may continue the entry before it: the line loop decides
        if level is None:
            level = level_of(msg)
            if level is None and line.endswith(msg):
                return None  # the line loop reads the level words of the whole line
        explicit = level is not None
        lv = level or "info"
        if not host:
            host = hostname
            no_host += 1
        rows.append((t, t // NS_PER_S, n or name, host, "node", "0", None, None, othertags[lv],
                     msg, lv))
    return rows, explicit, None, no_host


def journal_json_chunk(data: bytes, name: str, hostname: str, base_tags: Mapping[str, str],
                       othertags: Mapping[str, str],
                       level_of: Callable[[str], Optional[str]]) -> Optional[Chunk]:
    """The rows of ``data`` (whole lines, no final newline) in format ``journal_json``,
    or None.  ``base_tags``: the tags of every row (``othertags`` is their JSON with each
    level); the other arguments as for :func:`json_chunk`."""
    lines = _lines(data)
    if lines is None:
        return None
    rows: List[Row] = []
    no_host = 0
    explicit = False
    tags = None
    for line in lines:
        h = header_journal_json(line)
        if h is None or h[0] is None:
            return None
        t, n, host, level, msg, _, tags = h
        if level is None:
            level = level_of(msg)
        explicit = level is not None
        lv = level or "info"
        if not host:
            host = hostname
            no_host += 1
        rows.append((t, t // NS_PER_S, n or name, host, "node", "0", None, None,
                     othertags[lv] if tags is None
                     else othertags_json({**base_tags, **tags, "loglevel": lv}), msg, lv))
    return rows, explicit, tags, no_host


#: ``(rows, end, entries, no_host, last_time, cut)``: the rows of the whole entries
#: before ``end``, how many there are, how many named no host, the time of the last with
#: one, and whether what follows them is an entry cut off by the end of the input
Export = Tuple[List[Row], int, int, int, Optional[int], bool]


def journal_rows(headers: List[Header], name: str, hostname: str,
                 base_tags: Mapping[str, str], othertags: Mapping[str, str],
                 level_of: Callable[[str], Optional[str]], last_time: Optional[int],
                 reference_ns: int) -> Tuple[List[Row], int, Optional[int]]:
    """``(rows, no_host, last_time)`` of the headers of journald entries (each its row);
    an entry without a time takes ``last_time`` (the time of the entry before), else
    ``reference_ns``."""
    rows: List[Row] = []
    no_host = 0
    for t, n, host, level, body, _, tags in headers:
        if level is None:
            level = level_of(body) or "info"
        if t is None:
            t = last_time if last_time is not None else reference_ns
        else:
            last_time = t
        if not host:
            host = hostname
            no_host += 1
        rows.append((t, t // NS_PER_S, n or name, host, "node", "0", None, None,
                     othertags[level] if tags is None
                     else othertags_json({**base_tags, **tags, "loglevel": level}), body, level))
    return rows, no_host, last_time


def export_chunk(buf: bytes, max_field: int, name: str, hostname: str,
                 base_tags: Mapping[str, str], othertags: Mapping[str, str],
                 level_of: Callable[[str], Optional[str]], last_time: Optional[int],
                 reference_ns: int) -> Export:
    """The rows of the whole entries at the start of ``buf``, a ``journalctl -o export``
    stream from the start of an entry: up to the end of the input, or to an entry that
    is cut off, has a field longer than ``max_field``, an empty line where it should
    start, broken framing or, with a binary field, a key that is not ``[A-Za-z0-9_]+``
    (those are :class:`ccstore.logs.formats.JournalExportReader`'s to read).  The other
    arguments as for :func:`journal_rows`."""
    entries = []
    n = len(buf)
    pos = 0
    cut = False
    while True:
        fields = {}
        p = pos
        binary = False
        keys_ok = True
        while True:
            nl = buf.find(b"\n", p)
            if nl < 0:
                cut = True
                break
            if nl == pos:
                break
            if nl == p:  # the empty line that ends the entry
                break
            eq = buf.find(b"=", p, nl)
            if eq >= 0:
                key, value, end = buf[p:eq], buf[eq + 1:nl], nl + 1
            else:
                key = buf[p:nl]
                if nl + 9 > n:
                    nl = -1
                    cut = True
                    break
                size = int.from_bytes(buf[nl + 1:nl + 9], "little")
                end = nl + 9 + size + 1
                if size <= max_field and end > n:
                    nl = -1
                    cut = True
                    break
                if size > max_field or buf[end - 1:end] != b"\n":
                    nl = -1
                    break
                value = buf[nl + 9:end - 1]
                binary = True
            if end - p > max_field + 1 and eq >= 0:
                nl = -1
                break
            if keys_ok and _EXPORT_KEY_RE.fullmatch(key) is None:
                keys_ok = False
            fields.setdefault(key, value)
            p = end
        if nl < 0 or nl == pos or (binary and not keys_ok) or (not binary
                                                              and nl - pos > max_field):
            cut = cut and keys_ok  # the reader drops an entry with a bad key at once
            break
        entries.append(fields)
        pos = nl + 1
    rows, no_host, last_time = journal_rows(
        [_journal_header(e.get, _JOURNAL_BKEYS) for e in entries], name, hostname, base_tags,
        othertags, level_of, last_time, reference_ns)
    return rows, pos, len(entries), no_host, last_time, cut
