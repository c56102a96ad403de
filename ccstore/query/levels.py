"""The severity order of messages and the spellings a stored level may have.

debug < info < notice < warn < error < crit < alert < emerg (the syslog order).
Stored levels are whatever the sender wrote (``warn``, ``WARNING``, ``Err``,
``fatal``...): :data:`RANKS` maps every spelling this module knows, written in lower
case, upper case or capitalised, to its rank.  A stored value of another spelling
(``wArN``, a number) has no rank and matches no level condition.  The query's
``level:>=warn`` means "the loglevel tag is one of :func:`spellings` (">=", 3)", which
is what a store can look up in an index.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Optional

__all__ = ["LEVELS", "RANKS", "OPS", "level_rank", "rank_of_word", "spellings", "compare"]

#: the levels in order; a level's rank is its index
LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")

_WORDS = {
    "debug": "debug debug1 debug2 debug3 debug4 debug5 dbg trace fine finer finest",
    "info": "info information informational verbose config",
    "notice": "notice",
    "warn": "warn warning",
    "error": "error err severe",
    "crit": "crit critical fatal",
    "alert": "alert",
    "emerg": "emerg emergency panic",
}

#: the comparison operators of ``level:`` and what they mean
OPS = ("=", ">=", ">", "<=", "<")

#: lower-case spelling -> rank
_LOWER: Dict[str, int] = {w: LEVELS.index(lvl) for lvl, words in _WORDS.items()
                          for w in words.split()}
#: every stored spelling with a rank: each word in lower case, upper case, capitalised
RANKS: Dict[str, int] = {}
for _w, _r in _LOWER.items():
    for _s in (_w, _w.upper(), _w.capitalize()):
        RANKS[_s] = _r


def level_rank(stored: Optional[str]) -> Optional[int]:
    """The rank of a stored level value (None: no level, or a spelling without rank)."""
    if stored is None:
        return None
    return RANKS.get(stored)


def rank_of_word(word: str) -> int:
    """The rank a level word in a query names (any case); ValueError when it names none."""
    r = _LOWER.get(word.strip().lower())
    if r is None:
        raise ValueError(f"unknown level {word!r}: expected one of {', '.join(LEVELS)}")
    return r


def compare(rank: int, op: str, bound: int) -> bool:
    """``rank op bound`` for one of :data:`OPS`."""
    if op == "=":
        return rank == bound
    if op == ">=":
        return rank >= bound
    if op == ">":
        return rank > bound
    if op == "<=":
        return rank <= bound
    if op == "<":
        return rank < bound
    raise ValueError(f"unknown level comparison {op!r}: expected one of {' '.join(OPS)}")


def spellings(op: str, bound: int) -> FrozenSet[str]:
    """Every stored spelling whose rank satisfies ``rank op bound``."""
    return frozenset(s for s, r in RANKS.items() if compare(r, op, bound))
