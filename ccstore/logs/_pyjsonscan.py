"""The rows of a chunk of JSON lines: the pure-Python twin, the reference.

:class:`ccstore.logs.LogParser` reads a chunk of lines of format ``json`` (one object
per line) or ``journal_json`` (``journalctl -o json``) at once when every line is a
one-line entry of it: :func:`json_chunk` and :func:`journal_json_chunk` give the rows of
the line loop for such a chunk, or None when the line loop must decide (a line not in
the format, without a time, or one that may continue the entry before it).
``ccstore.logs._jsonscan`` is the compiled implementation: where it gives rows, the same
rows; it also gives None for lines it leaves to the line loop (nested values, escaped
keys, CR line ends).
"""
from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Tuple

from ..rows import NS_PER_S, Row, othertags_json
from ._grammar import _CONT_RE, _clean_text
from .clock import Clock
from .formats import header_journal_json, header_json

__all__ = ["TRACEBACK", "json_chunk", "journal_json_chunk"]

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
