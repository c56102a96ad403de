"""Words of a message as the store's full-text index sees them.

The SQLite store indexes messages with FTS5's ``unicode61`` tokenizer: a token is a
run of letters and digits, folded to lower case with diacritics removed
(``Café`` is ``cafe``); everything else separates tokens.  A query's words,
phrases and prefixes match token sequences, never substrings, and the evaluator
must answer as the index does: ASCII text is split here, other text by SQLite's own
tokenizer (through APSW), so both agree on every character.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from typing import List, Optional, Sequence

__all__ = ["tokens", "raw_tokens", "contains", "fts_term"]

_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_ASCII_TOKEN_ANY_CASE = re.compile(r"[A-Za-z0-9]+")
_local = threading.local()
_DOCUMENT = 4  # apsw.FTS5_TOKENIZE_DOCUMENT


def _unicode61():
    """This thread's FTS5 unicode61 tokenizer (a callable of APSW), or None when
    this APSW has no tokenizer API."""
    try:
        return _local.tok
    except AttributeError:
        pass
    import apsw

    conn = apsw.Connection(":memory:")
    _local.conn = conn
    _local.tok = getattr(conn, "fts5_tokenizer", lambda name: None)("unicode61")
    return _local.tok


def _fold(ch: str) -> str:
    """Lower case without a single diacritic (unicode61's folding, near enough)."""
    low = ch.lower()
    if len(low) != 1:
        low = ch
    d = unicodedata.normalize("NFD", low)
    return d[0] if len(d) == 2 and unicodedata.category(d[1]) == "Mn" else low


def _approximate(text: str) -> List[str]:
    out: List[str] = []
    cur: List[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or cat == "Co":
            cur.append(_fold(ch))
        elif cat == "Mn":
            continue  # a combining mark is part of the token, and removed
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def tokens(text: Optional[str]) -> List[str]:
    """The folded tokens of ``text`` in order (none for None)."""
    if not text:
        return []
    if text.isascii():
        return _ASCII_TOKEN.findall(text.lower())
    tok = _unicode61()
    if tok is None:
        return _approximate(text)
    return [t[2] for t in tok(text.encode("utf-8", "replace"), _DOCUMENT, None)]


def raw_tokens(text: str) -> List[str]:
    """The tokens of ``text`` as written, not folded (``Café`` stays ``Café``): what a
    query sends to a full-text index, which folds them itself."""
    if text.isascii():
        return _ASCII_TOKEN_ANY_CASE.findall(text)
    tok = _unicode61()
    if tok is None:
        return _approximate(text)
    data = text.encode("utf-8", "replace")
    return [data[a:b].decode("utf-8", "replace") for a, b, _ in tok(data, _DOCUMENT, None)]


def contains(haystack: Sequence[str], needle: Sequence[str], prefix: bool = False) -> bool:
    """Whether ``needle`` occurs as consecutive tokens of ``haystack``; with ``prefix``
    its last token need only begin a token there (FTS5's ``"a b"*``)."""
    k = len(needle)
    if k == 0:
        return False
    if k == 1:
        w = needle[0]
        if prefix:
            return any(t.startswith(w) for t in haystack)
        return w in haystack
    head, last = needle[:-1], needle[-1]
    first = head[0]
    for i in range(len(haystack) - k + 1):
        if haystack[i] != first:
            continue
        if list(haystack[i:i + k - 1]) == list(head):
            t = haystack[i + k - 1]
            if t == last or (prefix and t.startswith(last)):
                return True
    return False


def fts_term(words: Sequence[str], prefix: bool = False) -> str:
    """An FTS5 phrase for tokens: ``"disk full"``, ``"xid"*``."""
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"' + ("*" if prefix else "")
