"""The syslog fast path of the log parser: the pure-Python twin, the reference.

:class:`ccstore.logs.LogParser` hands a chunk of lines to :func:`syslog_chunk`
first; when it is nothing but single-line RFC 3164 entries, one regex pass
makes all its rows.  ``ccstore.logs._syslogscan`` is the compiled
implementation, with the same results on every input.
"""
from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

from ..rows import NS_PER_S
from . import _grammar as _g

__all__ = ["syslog_chunk"]


def syslog_chunk(data: bytes, name: str, othertags: Mapping[str, str],
                 bsd: Mapping[str, Optional[int]]) -> Optional[Tuple[List[tuple], bool]]:
    """Log rows of a chunk that is nothing but single-line RFC 3164 entries.

    ``data``: whole lines (``\\n``-separated, no final newline; CRLF line ends
    allowed) that must be valid UTF-8 without control characters;
    ``name``: the measurement of lines without a tag; ``othertags``: loglevel ->
    othertags JSON; ``bsd``: ``"Mmm dd HH:MM:SS"`` -> epoch seconds, None for an
    impossible date (:class:`ccstore.logs.LogParser`'s year-inferring cache).

    Returns ``(rows, last_explicit)``, one row per line (the shape of
    :data:`ccstore.rows.ROW_COLUMNS`; ``last_explicit``: whether the last
    line states its level), or None when any line is something else: no RFC
    3164 header (``_FAST_SYSLOG_RE``), an impossible date, a line that
    continues an entry (``_CONT_RE``), a blank line, or when the chunk is not
    clean text.  The line loop of the parser takes over then.

    Levels: the ``<PRI>`` severity, else a level word opening the message
    (``_LEVEL_START``), else the first upper-case level word or ``level=``
    within the message's first ``_LEVEL_WINDOW`` characters, else ``info``.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"syslog_chunk: bytes expected, not {type(data).__name__}")
    text = _g._clean_text(data)
    if text is None:
        return None
    tuples = _g._SYSLOG_LINES_RE.findall(text)
    if len(tuples) != text.count("\n") + 1:
        return None
    if any(map(_g._CONT_GROUP, tuples)):
        cont_match = _g._CONT_RE.match
        if any(cont_match(t[7]) for t in tuples if t[6]):
            return None
    secs = [bsd[t[1]] for t in tuples]
    if None in secs:
        return None
    token_level, pri_level = _g._token_level, _g._PRI_LEVEL
    levels: List[Optional[str]] = [
        pri_level[int(p) & 7] if p else (token_level(w) if w else None)
        for p, _, _, _, _, w, _, _ in tuples]
    hits = _g._level_hits(text)
    if hits:
        for i, level in _g._body_hits(text, hits, [t[7] for t in tuples]).items():
            if level and levels[i] is None:
                levels[i] = level
    last_explicit = levels[-1] is not None
    levels = [lv or "info" for lv in levels]
    ns, frac_ns = NS_PER_S, _g._frac_ns
    rows = [(sec * ns + (frac_ns(f) if f else 0), sec, tag or name, host, "node", "0",
             None, None, othertags[lv], body, lv)
            for (_, _, f, host, tag, _, _, body), sec, lv in zip(tuples, secs, levels)]
    return rows, last_explicit
