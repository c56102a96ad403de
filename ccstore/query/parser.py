"""Query text -> syntax tree (:mod:`ccstore.query.nodes`).

A hand-written recursive-descent parser over the text itself: what a character
means depends on where it stands (a hostlist's brackets and commas, a time
range's brackets, colons inside ISO times), so the parser scans as it goes
instead of splitting into tokens first.  Grammar (``docs/design/query.md``)::

    query   = [or]                       empty: every record
    or      = and {"OR" and}
    and     = unary {["AND"] unary}
    unary   = ("NOT" | "-" | "!") unary | primary
    primary = "(" or ")" | "*" | string ["*"] | "~" string | field ":" value | word ["*"]
    value   = "(" vor ")" | "in(" leaf {"," leaf} ")" | leaf
    vor     = vand {"OR" vand};  vand = vunary {["AND"] vunary};
    vunary  = "NOT" vunary | "(" vor ")" | leaf
    leaf    = ("=" | ">=" | ">" | "<=" | "<") word | string ["*"] | "~" string | "*" | word ["*"]

Keywords are upper case; ``-``/``!`` negate at filter level only.  Every error is a
:class:`QuerySyntaxError` naming its column (1-based) and what was expected.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import re
import time as _time
from typing import List, Optional, Tuple

from .. import hostlist
from ..timesyntax import duration_ns, parse_instant
from . import levels
from .nodes import (
    FIELDS,
    KEYWORDS,
    NAME_RE,
    All,
    Eq,
    Exists,
    Job,
    Level,
    Node,
    Not,
    Prefix,
    Regex,
    Text,
    Time,
    and_,
    or_,
)
from .text import tokens

__all__ = ["QuerySyntaxError", "parse"]

_RESERVED = sorted(n for n in FIELDS if n.startswith("_"))
_KINDS = {"log": "log", "logs": "log", "event": "event", "events": "event"}
_OPS = (">=", "<=", ">", "<", "=")


# where a word at filter level ends (white space, a parenthesis, a quote), and where a
# field name before ':' may end
_WORD_END = re.compile(r'[()"\s]')
_NAME_END = re.compile(r'[()"\s:]')
# a value written without quotes up to white space, a quote or a parenthesis, when it has
# no bracket
_BARE_PLAIN = re.compile(r'[^\s"()\[\]]*')


def _ends_word(c: str) -> bool:
    """Whether ``c`` ends a word at filter level (white space, a parenthesis, a quote)."""
    return c in '()"' or c.isspace()


class QuerySyntaxError(ValueError):
    """A query that does not parse: ``column`` (1-based) and what was expected there."""

    def __init__(self, message: str, column: int, query: str) -> None:
        self.reason = message
        self.column = column
        self.query = query
        super().__init__(f"column {column}: {message}")


def parse(text: str, *, now_ns: Optional[int] = None,
          tz: Optional[_dt.tzinfo] = None) -> Node:
    """The syntax tree of a query; an empty query is :class:`~.nodes.All`.

    ``now_ns`` fixes "now" for relative times (``_time:1h``); ``tz`` is the zone of
    times written without one (default UTC).
    """
    if not isinstance(text, str):
        raise TypeError(f"query: expected a string, not {type(text).__name__}")
    return _Parser(text, _time.time_ns() if now_ns is None else now_ns, tz).parse()


def _describe(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of query"
    m = re.match(r"[^\s()]+|.", text[pos:])
    return repr(m.group(0)) if m else repr(text[pos])


class _Parser:
    def __init__(self, text: str, now_ns: int, tz: Optional[_dt.tzinfo]) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.now = now_ns
        self.tz = tz

    # ------------------------------------------------------------------ helpers
    def error(self, message: str, pos: Optional[int] = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, (self.i if pos is None else pos) + 1, self.s)

    def expected(self, what: str, pos: Optional[int] = None) -> QuerySyntaxError:
        p = self.i if pos is None else pos
        return self.error(f"expected {what}, found {_describe(self.s, p)}", p)

    def ws(self) -> None:
        while self.i < self.n and self.s[self.i].isspace():
            self.i += 1

    def at_end(self) -> bool:
        return self.i >= self.n

    def cur(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def keyword(self) -> Optional[str]:
        """The keyword at the cursor (after white space), without taking it."""
        self.ws()
        if self.i >= self.n or self.s[self.i] not in "AON":
            return None
        for kw in KEYWORDS:
            j = self.i + len(kw)
            if self.s.startswith(kw, self.i) and (j >= self.n or _ends_word(self.s[j])):
                return kw
        return None

    def take_keyword(self, kw: str) -> None:
        self.i += len(kw)

    def string(self) -> str:
        """A quoted string at the cursor (``"..."`` or ``'...'``), escapes resolved."""
        q = self.s[self.i]
        start = self.i
        self.i += 1
        out: List[str] = []
        while True:
            if self.i >= self.n:
                raise self.error(f"unterminated string: expected a closing {q}", start)
            c = self.s[self.i]
            if c == q:
                self.i += 1
                return "".join(out)
            if c == "\\" and self.i + 1 < self.n and self.s[self.i + 1] in (q, "\\", '"', "'"):
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            out.append(c)
            self.i += 1

    def closing(self, open_pos: int) -> None:
        self.ws()
        if self.cur() != ")":
            raise self.expected(f"')' to close the '(' at column {open_pos + 1}")
        self.i += 1

    # ------------------------------------------------------------------ filters
    def parse(self) -> Node:
        self.ws()
        if self.at_end():
            return All()
        node = self.or_expr()
        self.ws()
        if not self.at_end():
            if self.cur() == ")":
                raise self.error("unexpected ')': no '(' to close")
            raise self.expected("a filter")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.keyword() == "OR":
            self.take_keyword("OR")
            items.append(self.and_expr())
        return or_(*items)

    def and_expr(self) -> Node:
        items = [self.unary()]
        while True:
            kw = self.keyword()
            if self.at_end() or self.cur() == ")" or kw == "OR":
                break
            if kw == "AND":
                self.take_keyword("AND")
            items.append(self.unary())
        return and_(*items) if len(items) > 1 else items[0]

    def unary(self) -> Node:
        self.ws()
        kw = self.keyword()
        if kw == "NOT":
            self.take_keyword("NOT")
            return Not(self.unary())
        if kw is not None:
            raise self.expected("a filter")
        c = self.cur()
        if c in ("-", "!"):
            nxt = self.s[self.i + 1] if self.i + 1 < self.n else ""
            if not nxt or nxt.isspace():
                raise self.expected(f"a filter after {c!r}", self.i + 1)
            self.i += 1
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        self.ws()
        if self.at_end():
            raise self.expected("a filter")
        c = self.cur()
        start = self.i
        if c == "(":
            self.i += 1
            self.ws()
            if self.cur() == ")":
                raise self.error("empty parentheses: expected a filter", self.i)
            node = self.or_expr()
            self.closing(start)
            return node
        if c == ")":
            raise self.error("unexpected ')': expected a filter")
        if c in ('"', "'"):
            value = self.string()
            if self.cur() == ":":
                self.i += 1
                return self.field_value(value, True, start)
            return self.text(value, start)
        if c == "~":
            self.i += 1
            if self.cur() not in ('"', "'"):
                raise self.expected("a quoted regular expression after '~'")
            return self.regex("message", False)
        if c == "*":
            self.i += 1
            if not self.at_end() and not _ends_word(self.cur()):
                raise self.error("'*' ends a prefix: it cannot begin a word", start)
            return All()
        # a word, or a field name before ':'
        m = _NAME_END.search(self.s, self.i)
        j = self.n if m is None else m.start()
        if j < self.n and self.s[j] == ":" and NAME_RE.match(self.s[self.i:j]):
            name = self.s[self.i:j]
            self.i = j + 1
            return self.field_value(name, False, start)
        m = _WORD_END.search(self.s, j)
        j = self.n if m is None else m.start()
        word = self.s[self.i:j]
        self.i = j
        if self.cur() == '"':
            raise self.error("a quote inside a word: put the whole word in quotes", j)
        return self.text(word, start)

    def text(self, word: str, start: int, quoted: Optional[bool] = None) -> Node:
        """A full-text word or phrase at ``start``; a '*' right after makes a prefix."""
        prefix = False
        if quoted is None:
            quoted = self.s[start] in ('"', "'")
        if quoted:
            if self.cur() == "*":
                self.i += 1
                prefix = True
        else:
            star = word.find("*")
            if star != -1 and star != len(word) - 1:
                raise self.error("'*' only ends a word (a prefix search)", start + star)
            if word.endswith("*"):
                word, prefix = word[:-1], True
        if not tokens(word):
            raise self.error(f"{'phrase' if quoted else 'word'} {word!r} has no letters or "
                             f"digits to search for", start)
        return Text(word, prefix)

    def regex(self, field: str, tag: bool) -> Node:
        start = self.i
        pattern = self.string()
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.error(f"invalid regular expression: {exc}", start) from None
        return Regex(pattern, field, tag)

    # ------------------------------------------------------------------ field values
    def field_value(self, name: str, quoted: bool, start: int) -> Node:
        if quoted:
            field, tag = name, True
        elif name in FIELDS:
            field, tag = FIELDS[name], False
        elif name.startswith("_"):
            near = difflib.get_close_matches(name, _RESERVED, 1)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise self.error(f"unknown field {name!r}: names beginning with '_' are reserved "
                             f"({', '.join(_RESERVED)}){hint}", start)
        else:
            field, tag = name, True
        if self.at_end() or self.cur().isspace() or self.cur() == ")":
            raise self.expected(f"a value after '{name}:'")
        if field == "_time" and not tag:
            return self.time_value()
        if self.cur() == "(":
            return self.v_group(field, tag)
        return self.leaf(field, tag)

    def v_group(self, field: str, tag: bool) -> Node:
        """Values of one field in parentheses: ``host:(a OR b)``."""
        open_pos = self.i
        self.i += 1
        self.ws()
        if self.cur() == ")":
            raise self.error("empty parentheses: expected a value", self.i)
        node = self.v_or(field, tag)
        self.closing(open_pos)
        return node

    def v_or(self, field: str, tag: bool) -> Node:
        items = [self.v_and(field, tag)]
        while self.keyword() == "OR":
            self.take_keyword("OR")
            items.append(self.v_and(field, tag))
        return or_(*items)

    def v_and(self, field: str, tag: bool) -> Node:
        items = [self.v_unary(field, tag)]
        while True:
            kw = self.keyword()
            if self.at_end() or self.cur() == ")" or kw == "OR":
                break
            if kw == "AND":
                self.take_keyword("AND")
            items.append(self.v_unary(field, tag))
        return and_(*items) if len(items) > 1 else items[0]

    def v_unary(self, field: str, tag: bool) -> Node:
        kw = self.keyword()
        if kw == "NOT":
            self.take_keyword("NOT")
            return Not(self.v_unary(field, tag))
        if kw is not None or self.at_end():
            raise self.expected("a value")
        if self.cur() == "(":
            return self.v_group(field, tag)
        if self.cur() == ")":
            raise self.expected("a value")
        return self.leaf(field, tag)

    def bare(self, stop: str = "") -> Tuple[str, int]:
        """A value written without quotes: up to white space or a ')' (or a ``stop``
        character) outside brackets."""
        start = self.i
        if not stop:  # the common case, no brackets: one match
            m = _BARE_PLAIN.match(self.s, self.i)
            if m.end() >= self.n or self.s[m.end()] not in "[]":
                self.i = m.end()
                if self.cur() == '"':
                    raise self.error("a quote inside a value: put the whole value in quotes",
                                     self.i)
                return self.s[start:self.i], start
        depth = 0
        while self.i < self.n:
            c = self.s[self.i]
            if c.isspace() or c == '"':
                break
            if c == "[":
                depth += 1
            elif c == "]":
                depth = max(0, depth - 1)
            elif depth == 0 and (c in "()" or c in stop):
                break
            self.i += 1
        if self.cur() == '"':
            raise self.error("a quote inside a value: put the whole value in quotes", self.i)
        return self.s[start:self.i], start

    def leaf(self, field: str, tag: bool, stop: str = "") -> Node:
        c = self.cur()
        start = self.i
        if self.s.startswith("in(", self.i):
            return self.in_list(field, tag)
        if not tag and field == "level":
            return self.level_leaf(stop)
        if c in ('"', "'"):
            value = self.string()
            if self.cur() == "*":
                self.i += 1
                return self.prefix_node(field, tag, value, start)
            return self.exact(field, tag, [value], start, literal=True)
        if c == "~":
            self.i += 1
            if self.cur() not in ('"', "'"):
                raise self.expected("a quoted regular expression after '~'")
            if field in ("kind", "job") and not tag:
                raise self.error(f"{field}: no regular expressions", start)
            return self.regex(field, tag)
        if c == "=":
            self.i += 1
            if self.at_end() or self.cur().isspace() or self.cur() == ")":
                raise self.expected("a value after '='")
            return self.leaf(field, tag, stop)
        if c in "<>":
            raise self.error("comparisons apply to level and _time only", start)
        value, vstart = self.bare(stop)
        if not value:
            raise self.expected("a value")
        if value == "*":
            if field in ("kind", "job") and not tag:
                raise self.error(f"{field}: expected a value, not '*'", start)
            return Exists(field, tag)
        star = value.find("*")
        if star != -1 and star != len(value) - 1:
            raise self.error("'*' only ends a value (a prefix search)", vstart + star)
        if star != -1:
            return self.prefix_node(field, tag, value[:-1], start)
        return self.exact(field, tag, [value], start, literal=False)

    def prefix_node(self, field: str, tag: bool, value: str, start: int) -> Node:
        if tag:
            return Prefix(field, value, True)
        if field == "message":
            if not tokens(value):
                raise self.error(f"prefix {value!r} has no letters or digits to search for",
                                 start)
            return Text(value, True)
        if field in ("kind", "job"):
            raise self.error(f"{field}: no prefix search", start)
        return Prefix(field, value)

    def exact(self, field: str, tag: bool, values: List[str], start: int,
              literal: bool) -> Node:
        """Exact values of a field (a bare host value is a hostlist)."""
        if tag:
            return Eq(field, frozenset(values), True)
        if field == "message":
            return or_(*(self._word(v, start) for v in values))
        if field == "kind":
            kinds = set()
            for v in values:
                k = _KINDS.get(v.lower())
                if k is None:
                    raise self.error(f"kind: expected log or event, found {v!r}", start)
                kinds.add(k)
            return Eq("kind", frozenset(kinds))
        if field == "job":
            return or_(*(self.job(v, start) for v in values))
        if field == "host" and not literal:
            hosts: List[str] = []
            for v in values:
                try:
                    hosts.extend(hostlist.expand(v))
                except ValueError as exc:
                    raise self.error(str(exc), start) from None
            return Eq("host", frozenset(hosts))
        return Eq(field, frozenset(values))

    def _word(self, value: str, start: int) -> Node:
        if not tokens(value):
            raise self.error(f"{value!r} has no letters or digits to search for", start)
        return Text(value)

    def job(self, value: str, start: int) -> Node:
        cluster, sep, job_id = value.rpartition("/")
        if not job_id or (sep and not cluster):
            raise self.error(f"job: expected a job id such as 4711 or alex/4711, found "
                             f"{value!r}", start)
        return Job(job_id, cluster if sep else None)

    def in_list(self, field: str, tag: bool) -> Node:
        open_pos = self.i + 2
        self.i += 3
        items: List[Node] = []
        while True:
            self.ws()
            if self.cur() == ")" and not items:
                raise self.error("empty in(): expected a value", self.i)
            if self.at_end() or self.cur() in ",)":
                raise self.expected("a value")
            items.append(self.leaf(field, tag, stop=","))
            self.ws()
            if self.cur() == ",":
                self.i += 1
                continue
            if self.cur() != ")":
                raise self.expected(f"',' or ')' to close the '(' at column {open_pos + 1}")
            self.i += 1
            break
        eqs = [it for it in items if isinstance(it, Eq)]
        if len(eqs) > 1:  # one Eq holds every exact value
            merged = Eq(eqs[0].field, frozenset().union(*(e.values for e in eqs)), eqs[0].tag)
            items = [merged] + [it for it in items if not isinstance(it, Eq)]
        return or_(*items)

    def level_leaf(self, stop: str) -> Node:
        start = self.i
        op = "="
        for o in _OPS:
            if self.s.startswith(o, self.i):
                op = o
                self.i += len(o)
                break
        if self.cur() in ('"', "'"):
            word, wstart = self.string(), self.i
        else:
            word, wstart = self.bare(stop)
        if word == "*" and op == "=":
            return Level(">=", 0)
        if not word:
            raise self.expected(f"a level ({', '.join(levels.LEVELS)})")
        try:
            rank = levels.rank_of_word(word)
        except ValueError as exc:
            raise self.error(str(exc), wstart if wstart > start else start) from None
        return Level(op, rank)

    # ------------------------------------------------------------------ _time
    def instant(self, text: str, pos: int):
        try:
            return parse_instant(text, now_ns=self.now, tz=self.tz)
        except ValueError as exc:
            raise self.error(str(exc), pos) from None

    def time_value(self) -> Node:
        start = self.i
        c = self.cur()
        if c in "[(":
            j = self.i + 1
            while j < self.n and self.s[j] not in "])":
                j += 1
            if j >= self.n:
                raise self.error("unterminated time range: expected ']' or ')'", start)
            body = self.s[self.i + 1:j]
            parts = body.split(",")
            if len(parts) != 2:
                raise self.error("expected a time range such as "
                                 "[2026-12-01T10:00Z, 2026-12-01T11:00Z)", start)
            a_pos = self.i + 1 + len(parts[0]) - len(parts[0].lstrip())
            b_pos = self.i + 2 + len(parts[0]) + len(parts[1]) - len(parts[1].lstrip())
            if not parts[0].strip():
                raise self.expected("a start time", a_pos)
            if not parts[1].strip():
                raise self.expected("an end time", b_pos)
            a = self.instant(parts[0].strip(), a_pos)
            b = self.instant(parts[1].strip(), b_pos)
            lo = a.lo if c == "[" else a.hi
            hi = b.hi if self.s[j] == "]" else b.lo
            self.i = j + 1
            if lo >= hi:
                raise self.error("empty time range: the start is not before the end", start)
            return Time(lo, hi)
        for op in _OPS:
            if self.s.startswith(op, self.i):
                self.i += len(op)
                value, vpos = self.bare()
                if not value:
                    raise self.expected(f"a time after '{op}'")
                span = self.instant(value, vpos)
                if op == ">=":
                    return Time(span.lo, None)
                if op == ">":
                    return Time(span.hi, None)
                if op == "<=":
                    return Time(None, span.hi)
                if op == "<":
                    return Time(None, span.lo)
                return Time(span.lo, span.hi)
        value, vpos = self.bare()
        if not value:
            raise self.expected("a time, a duration or a time range")
        if not value.isdigit():
            try:
                d = duration_ns(value)
            except ValueError:
                d = None
            if d is not None:
                if d <= 0:
                    raise self.error(f"_time:{value}: expected a positive duration such as "
                                     f"1h (the last hour), or _time:>={value}", vpos)
                return Time(self.now - d, self.now + 1)
        if value.startswith(("now", "+")):
            raise self.error(f"_time:{value} names a single instant: write _time:>={value} "
                             f"or a range", vpos)
        span = self.instant(value, vpos)
        return Time(span.lo, span.hi)
