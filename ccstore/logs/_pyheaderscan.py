"""The headers and rows of a chunk of lines of one format: the pure-Python twin, the
reference.

:class:`ccstore.logs.LogParser` reads a chunk of a one-line format at once
(``syslog_export``, ``bgl``, ``lanl``, ``journal_json``, ``slurm``):
:func:`chunk_headers` gives the header of every line, as the format's header function
(:mod:`ccstore.logs.formats`) does, and :func:`chunk_rows` the rows the parser's line
loop makes of them.  ``ccstore.logs._headerscan`` is the compiled implementation,
with the same results on every input.
"""
from __future__ import annotations

from typing import Callable, List, Mapping, NamedTuple, Optional, Tuple

from ..rows import NS_PER_S, Row
from . import formats as _f
from .clock import Clock
from ._grammar import (_CONT_RE, _HPC_ERROR_RE, _LEVEL_WINDOW, _body_hits, _clean_text,
                       _level_hits, _level_of)

__all__ = ["SCANNED_FORMATS", "LineSource", "chunk_headers", "chunk_rows", "hpc_error",
           "message_level"]

#: the formats :func:`chunk_headers` reads
SCANNED_FORMATS = ("syslog_export", "bgl", "lanl", "journal_json", "slurm", "rfc5424",
                   "plain")
_HEADER = {"syslog_export": _f.header_syslog_export, "bgl": _f.header_bgl,
           "lanl": _f.header_lanl, "journal_json": _f.header_journal_json}
#: of those, the ones whose message may continue an entry (a stack trace): a chunk with
#: such a line is left to the line loop
CONT_BODIES = ("slurm", "rfc5424", "plain")


class LineSource(NamedTuple):
    """The ``source`` of the formats a :class:`~ccstore.logs.LogParser` reads with its
    own header function (``rfc5424``, ``plain``): that function and the clock it
    reads times with."""

    header: Callable[[str], Optional[_f.Header]]
    clock: Clock
_TRACEBACK = "Traceback (most recent call last):"


def chunk_headers(data: bytes, format: str,
                  source: Optional[_f.SlurmFormat] = None) -> Optional[List[_f.Header]]:
    """The header of each line of ``data`` (whole lines, ``\\n``-separated, no final
    newline, CRLF allowed) in ``format`` (one of :data:`SCANNED_FORMATS`), or None when
    any line is not in it or the chunk is not clean text (valid UTF-8 without control
    characters).  ``source``: the :class:`~ccstore.logs.formats.SlurmFormat` of a
    ``slurm`` file (its clock, daemon and host), the :class:`LineSource` of ``rfc5424``
    and ``plain``."""
    if not isinstance(data, bytes):
        raise TypeError(f"chunk_headers: bytes expected, not {type(data).__name__}")
    header = _HEADER[format] if format in _HEADER else source.header
    text = _clean_text(data)
    if text is None:
        return None
    hdrs = [header(line) if line else None for line in text.split("\n")]
    return None if None in hdrs else hdrs


def line_level(line: str, body: str) -> Optional[str]:
    """The level of the first upper-case level word or ``level=`` of ``line`` (see
    :func:`~ccstore.logs._grammar._level_hits`) within the first characters of its
    message ``body``, a suffix of it; None for none."""
    start = len(line) - len(body)
    for p, level in _level_hits(line):
        if p >= start:
            return level if p < start + _LEVEL_WINDOW else None
    return None


def message_level(line: str, body: str) -> Optional[str]:
    """The level the line loop finds for a line whose header states none: that of
    :func:`line_level` when the message ``body`` ends the line, else of
    :func:`~ccstore.logs._grammar._level_of`."""
    if line.endswith(body):
        return line_level(line, body)
    return _level_of(body)


def hpc_error(body: str) -> bool:
    """Whether the message ``body`` reports an error of HPC software within its first
    characters (:data:`~ccstore.logs._grammar._HPC_ERROR_RE`): the entry is an error
    whatever level its line states."""
    return (("Xid" in body or "Error" in body)
            and _HPC_ERROR_RE.search(body, 0, _LEVEL_WINDOW) is not None)


def chunk_rows(data: bytes, format: str, source: Optional[_f.SlurmFormat], name: str,
               hostname: str, othertags: Mapping[str, str],
               tagged: Callable[[str, Mapping[str, str]], str]
               ) -> Optional[Tuple[List[Row], bool, Optional[Mapping[str, str]], int]]:
    """The rows of a chunk of one-line entries in ``format`` (``data`` and ``source`` as
    for :func:`chunk_headers`), as the parser's line loop makes them: ``(rows, whether
    the last line stated its level, the tags of the last line, how many lines named no
    host)``; None when the line loop must decide (a line not in the format, one
    without time, one that may continue an entry, a Python traceback, text that is
    not clean).  ``name``/``hostname``: of lines that name none; ``othertags``: level
    -> othertags JSON of the entries without tags of their format, ``tagged(level,
    tags)`` that of the others.  An entry that reports an error of HPC software
    (:func:`hpc_error`) is an error, as the parser makes every entry it emits."""
    text = _clean_text(data)
    if text is None or _TRACEBACK in text:
        return None
    hdrs = chunk_headers(data, format, source)
    if hdrs is None:
        return None
    if format in CONT_BODIES and any(map(_CONT_RE.match, [h[4] for h in hdrs])):
        return None  # a line that may continue the entry before it: the loop decides
    if any(h[0] is None for h in hdrs):
        return None
    levels: List[Optional[str]] = [h[3] for h in hdrs]
    if None in levels:
        bodies = [h[4] for h in hdrs]
        if format == "journal_json":
            levels = [lv if lv is not None else _level_of(b) for lv, b in zip(levels, bodies)]
        else:  # message_level of each line, the level words of the chunk found at once
            hits = _level_hits(text)
            found = _body_hits(text, hits, bodies) if hits else {}
            for i, line in enumerate(text.split("\n")):
                if levels[i] is None:
                    if line.endswith(bodies[i]):
                        levels[i] = found.get(i) or None
                    else:
                        levels[i] = _level_of(bodies[i])
    last_explicit = levels[-1] is not None
    ns = NS_PER_S
    rows = []
    for (t, nm, host, _, body, _, tags), lv in zip(hdrs, levels):
        lv = lv or "info"
        if lv != "error" and hpc_error(body):
            lv = "error"
        rows.append((t, t // ns, nm or name, host or hostname, "node", "0", None, None,
                     othertags[lv] if tags is None else tagged(lv, tags), body, lv))
    return rows, last_explicit, hdrs[-1][6], sum(1 for h in hdrs if not h[2])
