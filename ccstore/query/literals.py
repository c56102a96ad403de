"""What a regular expression's every match must contain, for a store to narrow its read.

:func:`required_literals` reads a pattern with Python's own regular-expression parser
and returns the runs of literal characters that every match of ``re.search`` contains,
case-sensitive: a store may leave out any message lacking one of them (a substring
test, or the full-text index through :func:`literal_words`) and then run the regular
expression on what is left only, with the same answers.  Where case is ignored
(``(?i)``), the literals are compared in lower case, of ASCII letters that match no
other letter only.  A pattern whose matches need no literal (``\\d+``, an
alternation) gives none: a full scan.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

__all__ = ["required_literals", "literal_words"]

#: at most this many literals are kept (the longest), each a condition on every row
MAX_LITERALS = 3
_REPEATS = tuple(getattr(_c, n) for n in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
                 if hasattr(_c, n))
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)
#: ASCII letters and digits: FTS5's unicode61 token characters among ASCII
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def required_literals(pattern: str, ignore_case: bool = False) -> Tuple[str, ...]:
    """Substrings that every match of ``re.search(pattern, s)`` contains (at most
    :data:`MAX_LITERALS`, longest first; none when nothing is required).

    ``ignore_case``: instead, from the parts of the pattern where case is ignored,
    substrings (in lower case) that every match contains but for the case of ASCII
    letters.  Only ASCII other than ``i``, ``k`` and ``s`` counts there: each of
    those three also matches a letter beyond ASCII (``ı``, ``İ``, the Kelvin sign,
    ``ſ``), every other ASCII character just itself and its other case.
    """
    try:
        parsed = _sre.parse(pattern)
    except (re.error, TypeError, ValueError):
        return ()
    out: List[Tuple[str, bool]] = []
    _walk(list(parsed), bool(parsed.state.flags & _c.SRE_FLAG_IGNORECASE), out)
    found = {lit.lower() if icase else lit for lit, icase in out if icase == ignore_case}
    kept: List[str] = []
    for lit in sorted(found, key=lambda s: (-len(s), s)):
        if not any(lit in k for k in kept):
            kept.append(lit)
    return tuple(kept[:MAX_LITERALS])


#: ASCII characters that, with case ignored, match a character beyond ASCII
_WIDE_CASE = frozenset(map(ord, "iksIKS"))


def _walk(items: list, icase: bool, out: List[Tuple[str, bool]]) -> None:
    """Add the literal runs every match of the sequence ``items`` passes through,
    each with whether case is ignored there."""
    run: List[str] = []

    def flush() -> None:
        if run:
            out.append(("".join(run), icase))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL and av and not 0xD800 <= av <= 0xDFFF and (
                not icase or (av < 128 and av not in _WIDE_CASE)):
            run.append(chr(av))
            continue
        # (a NUL, which PostgreSQL cannot hold, or a lone surrogate, which no text
        # binds as, ends the run and is not required; so does, where case is
        # ignored, a character that matches more than itself and its ASCII case)
        flush()
        if op is _c.SUBPATTERN:
            add_flags, del_flags, sub = av[1], av[2], av[3]
            inner = (icase or bool(add_flags & _c.SRE_FLAG_IGNORECASE)) and not (
                del_flags & _c.SRE_FLAG_IGNORECASE)
            _walk(list(sub), inner, out)
        elif op in _REPEATS:
            lo, _, sub = av
            if lo >= 1:
                _walk(list(sub), icase, out)
        elif _ATOMIC is not None and op is _ATOMIC:
            _walk(list(av), icase, out)
        # anything else (classes, alternations, anchors, look-arounds, back
        # references) requires no literal of its own and ends the run
    flush()


def literal_words(literal: str) -> Optional[Tuple[str, bool]]:
    """A full-text phrase that every message containing ``literal`` matches, as
    ``(phrase, prefix)`` (a :class:`~.nodes.Text`), or None when there is none.

    Only ASCII is used, where FTS5's unicode61 tokens are plain: runs of letters and
    digits, everything else a separator.  A run counts from where a separator in
    ``literal`` precedes it (else the message may continue the token to the left);
    the phrase is the longest stretch of such runs with only ASCII separators
    between them, and its last run is a prefix unless a separator in ``literal``
    follows it.
    """
    best: Optional[Tuple[List[str], bool]] = None
    words: List[str] = []
    prefix = False
    prev_end = -1

    def close() -> None:
        nonlocal best
        if words and (best is None or sum(map(len, words)) > sum(map(len, best[0]))):
            best = (list(words), prefix)

    for m in _ASCII_WORD.finditer(literal):
        s, e = m.start(), m.end()
        left_bounded = s > 0 and literal[s - 1].isascii()
        between_ascii = prev_end >= 0 and literal[prev_end:s].isascii()
        if not (words and between_ascii and not prefix):
            close()
            words = []
        if not left_bounded:
            prev_end = e
            words = []
            continue
        words.append(m.group())
        prefix = not (e < len(literal) and literal[e].isascii())
        prev_end = e
    close()
    if best is None:
        return None
    return " ".join(best[0]), best[1]
