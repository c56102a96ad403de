"""Full-text search on PostgreSQL: FTS5 queries translated to trigram-indexed conditions.

A query in FTS5's syntax (:mod:`ccstore.backends.fts5`) becomes ``field ILIKE``
terms, which the ``pg_trgm`` GIN index of a sealed segment answers, plus a
case-insensitive regular expression that checks token boundaries as FTS5's
unicode61 tokenizer sees them (runs of letters and digits), so both backends give
the same answers.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

from psycopg import sql

from ..fts5 import fts5_query

__all__ = ["fts_to_sql"]

_B = "[^[:alnum:]]"


class _Lexer:
    """Tokens of an SQLite FTS5 query: (kind, value) with kind in
    ``( ) + * : AND OR NOT WORD PHRASE``."""

    def __init__(self, text: str) -> None:
        self.toks: List[Tuple[str, str]] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()+*:":
                self.toks.append((c, c))
                i += 1
            elif c == '"':
                j = i + 1
                buf = []
                while True:
                    if j >= n:
                        raise ValueError("invalid full-text query: unterminated string")
                    if text[j] == '"':
                        if j + 1 < n and text[j + 1] == '"':
                            buf.append('"')
                            j += 2
                            continue
                        break
                    buf.append(text[j])
                    j += 1
                self.toks.append(("PHRASE", "".join(buf)))
                i = j + 1
            elif c.isalnum() or c == "_" or c == "\x1a" or ord(c) > 127:
                j = i
                while j < n and (text[j].isalnum() or text[j] in "_\x1a" or ord(text[j]) > 127):
                    j += 1
                word = text[i:j]
                self.toks.append((word, word) if word in ("AND", "OR", "NOT", "NEAR")
                                 else ("WORD", word))
                i = j
            elif c in "^-{}":
                raise ValueError(f"full-text syntax {c!r} is not supported")
            else:
                raise ValueError(f"invalid full-text query: unexpected {c!r}")
        self.pos = 0

    def peek(self) -> Optional[str]:
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def take(self) -> Tuple[str, str]:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok


def _tokens(text: str) -> List[str]:
    """Lower-cased tokens as FTS5's unicode61 tokenizer forms them (runs of
    letters and digits)."""
    out, cur = [], []
    for ch in text:
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur).lower())
            cur = []
    if cur:
        out.append("".join(cur).lower())
    return out


def _phrase_sql(tokens: List[str], prefix: bool, func: bool) -> Tuple[sql.Composable, list]:
    if not tokens:
        return sql.SQL("FALSE"), []
    conds: List[sql.Composable] = []
    args: list = []
    for t in tokens:
        conds.append(sql.SQL("field ILIKE %s"))
        args.append("%" + t + "%")
    pattern = f"(^|{_B})" + f"{_B}+".join(re.escape(t) for t in tokens)
    if not prefix:
        pattern += f"($|{_B})"
    # regexp_like() rather than ~*: the planner then estimates the rows from the
    # ILIKE conditions alone (a regex guess is far too selective, which turns a
    # "first 100 of a frequent word" into reading every match of the segment)
    conds.append(sql.SQL("regexp_like(field, %s, 'i')" if func else "field ~* %s"))
    args.append(pattern)
    return sql.SQL("({})").format(sql.SQL(" AND ").join(conds)), args


class _Parser:
    def __init__(self, text: str, func: bool) -> None:
        self.lx = _Lexer(text)
        self.func = func

    def parse(self) -> Tuple[sql.Composable, list]:
        if self.lx.peek() is None:
            raise ValueError("invalid full-text query: empty")
        expr = self.or_expr()
        if self.lx.peek() is not None:
            raise ValueError(f"invalid full-text query near {self.lx.take()[1]!r}")
        return expr

    def or_expr(self):
        left, args = self.and_expr()
        while self.lx.peek() == "OR":
            self.lx.take()
            right, rargs = self.and_expr()
            left, args = sql.SQL("({} OR {})").format(left, right), args + rargs
        return left, args

    def and_expr(self):
        left, args = self.not_expr()
        while self.lx.peek() in ("AND", "WORD", "PHRASE", "("):
            if self.lx.peek() == "AND":
                self.lx.take()
            right, rargs = self.not_expr()
            left, args = sql.SQL("({} AND {})").format(left, right), args + rargs
        return left, args

    def not_expr(self):
        left, args = self.primary()
        while self.lx.peek() == "NOT":
            self.lx.take()
            right, rargs = self.primary()
            left, args = sql.SQL("({} AND NOT {})").format(left, right), args + rargs
        return left, args

    def primary(self):
        kind = self.lx.peek()
        if kind == "(":
            self.lx.take()
            expr = self.or_expr()
            if self.lx.peek() != ")":
                raise ValueError("invalid full-text query: missing ')'")
            self.lx.take()
            return expr
        if kind == "WORD" and self.lx.pos + 1 < len(self.lx.toks) and \
                self.lx.toks[self.lx.pos + 1][0] == ":":
            col = self.lx.take()[1]
            self.lx.take()
            if col.lower() != "field":
                raise ValueError(f"invalid full-text query: no column {col!r}")
            return self.primary()
        if kind == "NEAR":
            raise ValueError("full-text NEAR() is not supported")
        tokens: List[str] = []
        prefix = False
        while True:
            kind = self.lx.peek()
            if kind not in ("WORD", "PHRASE"):
                raise ValueError("invalid full-text query: expected a word or a phrase")
            tokens.extend(_tokens(self.lx.take()[1]))
            prefix = False
            if self.lx.peek() == "*":
                self.lx.take()
                prefix = True
            if self.lx.peek() == "+":
                self.lx.take()
                if prefix:
                    raise ValueError("invalid full-text query: '*' inside a phrase")
                continue
            break
        return _phrase_sql(tokens, prefix, self.func)


def fts_to_sql(text: str, regexp_like: bool = True) -> Tuple[sql.Composable, list]:
    """An SQLite FTS5 query -> (SQL condition on ``field``, bound values).

    Raises ValueError for what FTS5 rejects and for NEAR/``^``/column sets.
    """
    return _Parser(text, regexp_like).parse()


class FullText:
    """The queries the full-text conditions take."""

    def fulltext_query(self, text: str) -> str:
        return fts5_query(text)
