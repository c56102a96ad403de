"""Random regular expressions, each with a text it matches, and messages around them.

A pattern is built together with an example of what it matches (a literal and the
character, a class and one of its members, an alternation and one branch, a repeat
and that many copies), so a message made of noise around the example always matches
and the tests see matches as well as misses.
"""
from __future__ import annotations

import re

from hypothesis import strategies as st

#: characters of messages and literals: ASCII letters, digits and separators, and
#: letters where case folding and FTS5's tokens are not plain ASCII
CHARS = "abikxyzABKSXYZ019 .:-_/\"'\\()[]*+?|{}éÉſKıİµß\u0301\u00a0"
#: letters that match an ASCII letter where case is ignored
_WIDE = str.maketrans({"k": "\u212a", "K": "\u212a", "s": "\u017f", "S": "\u017f",
                       "i": "\u0131", "I": "\u0130"})


def _lit(ch: str):
    return st.just((re.escape(ch), ch))


literal = st.sampled_from(CHARS).flatmap(_lit)


@st.composite
def _klass(draw):
    members = draw(st.lists(st.sampled_from("abxyzAB019 .-é"), min_size=1, max_size=4,
                            unique=True))
    pick = draw(st.sampled_from(members))
    body = "".join("\\" + c if c in "-]\\^" else c for c in members)
    return f"[{body}]", pick


@st.composite
def _shorthand(draw):
    which = draw(st.sampled_from([("\\d", "0123456789"), ("\\w", "abZ_9é"), ("\\s", " \t"),
                                  (".", "a. é"), ("\\S", "x.é"), ("\\W", " .-")]))
    return which[0], draw(st.sampled_from(which[1]))


def _extend(children):
    def concat(parts):
        return "".join(p for p, _ in parts), "".join(e for _, e in parts)

    @st.composite
    def alternation(draw):
        branches = draw(st.lists(children, min_size=2, max_size=3))
        i = draw(st.integers(0, len(branches) - 1))
        return "(?:" + "|".join(p for p, _ in branches) + ")", branches[i][1]

    @st.composite
    def repeat(draw):
        p, e = draw(children)
        lo, hi = draw(st.sampled_from([(0, 1), (1, 1), (0, 3), (1, 3), (2, 2)]))
        k = draw(st.integers(lo, hi))
        op = draw(st.sampled_from(["{%d,%d}" % (lo, hi), "{%d,%d}?" % (lo, hi)]))
        if (lo, hi) == (0, 1):
            op = draw(st.sampled_from(["?", "??"]))
        return f"(?:{p}){op}", e * k

    @st.composite
    def group(draw):
        p, e = draw(children)
        kind = draw(st.sampled_from(["(", "(?:", "(?P<g>", "(?i:", "(?>"]))
        if kind == "(?P<g>":
            kind = "(?:"  # one name only once: plain group instead
        if kind == "(?i:":
            e = e.translate(_WIDE) if draw(st.booleans()) else (
                e.swapcase() if e.isascii() else e)
        return f"{kind}{p})", e

    return st.one_of(st.lists(children, min_size=1, max_size=5).map(concat), alternation(),
                     repeat(), group())


#: (pattern, an example it matches)
pattern_examples = st.recursive(st.one_of(literal, literal, literal, _klass(), _shorthand()),
                                _extend, max_leaves=12)


@st.composite
def flagged(draw):
    """A pattern and an example, sometimes case-insensitive as a whole."""
    p, e = draw(pattern_examples)
    if draw(st.integers(0, 5)) == 0:
        if draw(st.booleans()):
            return "(?i)" + p, e.translate(_WIDE)
        return "(?i)" + p, e.swapcase() if e.isascii() else e
    return p, e


noise = st.text(alphabet=CHARS, max_size=12)


@st.composite
def message_for(draw, example: str):
    """A message containing ``example``, or (sometimes) just noise."""
    if draw(st.integers(0, 3)) == 0:
        return draw(noise)
    return draw(noise) + example + draw(noise)
