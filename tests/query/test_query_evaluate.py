"""ccstore.query.evaluate on records, and its full-text rule against SQLite FTS5 itself."""
from __future__ import annotations

import apsw
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from querygen import NOW, T0

from ccstore.query import compile_query, match, parse
from ccstore.query.levels import LEVELS, RANKS, level_rank, rank_of_word, spellings
from ccstore.query.nodes import Job
from ccstore.query.text import _approximate, fts_term, raw_tokens, tokens
from ccstore.timesyntax import NS_PER_S

S = NS_PER_S


def rec(message="", *, host="a0001", cluster="alex", kind="log", name="ccb", level=None,
        ts=T0 * S, **tags):
    if level is not None:
        tags["loglevel"] = level
    return {"ts_ns": ts, "cluster": cluster, "kind": kind, "host": host, "type": "node",
            "type_id": "0", "stype": None, "stype_id": None, "name": name,
            "level": tags.get("loglevel"), "message": message, "tags": tags}


def m(q: str, r) -> bool:
    return match(parse(q, now_ns=NOW), r)


@pytest.mark.parametrize("q, message, expected", [
    ("disk", "Disk is full", True),
    ("disk", "disks are full", False),
    ("disk full", "full: the disk", True),
    ('"disk full"', "the disk-full error", True),
    ('"disk full"', "full disk", False),
    ('"disk full"', "disk is full", False),
    ("dis*", "the disks", True),
    ("dis*", "a redisk", False),
    ('"disk fu"*', "disk fuller", True),
    ('"disk fu"*', "disk a fuller", False),
    ("java.lang.NullPointerException", "at java.lang.NullPointerException: x", True),
    ("java.lang.NullPointerException", "java lang NullPointerException", True),
    ("café", "CAFE open", True),
    ("CAFE", "Café open", True),
    ("école", "ÉCOLE", True),
    ("a_b", "a b", True),
    ('~"Xid [0-9]+"', "NVRM: Xid 79 on GPU", True),
    ('~"Xid [0-9]+"', "NVRM: xid 79", False),
    ('~"(?i)xid"', "NVRM: XID", True),
    ("-disk", "disk full", False),
    ("-disk", "cpu", True),
    ("disk OR cpu", "cpu hot", True),
    ("_msg:*", "", False),
    ("_msg:*", "x", True),
    ("*", "", True),
    ("-*", "x", False),
])
def test_text(q, message, expected):
    assert m(q, rec(message)) is expected


@pytest.mark.parametrize("q, expected", [
    ("host:a0001", True), ("host:a000[1-2]", True), ("host:a000[2-3]", False),
    ("hostname:a0001", True), ("host:a00*", True), ("host:b*", False), ("host:*", True),
    ('host:~"^a0+1$"', True), ("-host:a0001", False), ("cluster:alex", True),
    ("cluster:fritz", False), ("kind:log", True), ("kind:event", False), ("name:ccb", True),
    ("type:node", True), ("type-id:0", True), ("type_id:1", False), ("stype:*", False),
    ("-stype:x", True), ("stype:x", False), ("function:start_job", True),
    ("function:stop_job", False), ("-function:stop_job", True), ("partition:*", False),
    ("-partition:gpu", True), ("loglevel:WARNING", True), ("loglevel:warn", False),
    ("level:warn", True), ("level:>=warn", True), ("level:>warn", False), ("level:<=warn", True),
    ("level:<warn", False), ("level:*", True), ("level:(error OR warn)", True),
    ("level:in(error, crit)", False), ("-level:>=error", True),
    ("host:a0001 level:>=warn", True), ("host:a0002 OR level:warn", True),
    ("NOT (host:a0002 OR level:warn)", False),
    ('"name":x', False),
])
def test_fields(q, expected):
    r = rec("x", level="WARNING", function="start_job")
    assert m(q, r) is expected


def test_levels_whatever_the_spelling():
    for stored, rank in (("warn", 3), ("WARNING", 3), ("Warn", 3), ("err", 4), ("ERROR", 4),
                         ("fatal", 5), ("Critical", 5), ("EMERG", 7), ("panic", 7),
                         ("trace", 0), ("notice", 2), ("INFO", 1)):
        assert level_rank(stored) == rank
        assert m(f"level:>={LEVELS[rank]}", rec(level=stored))
        assert not m(f"level:>{LEVELS[rank]}", rec(level=stored))
    for odd in ("wArN", "5", "", "warn "):
        assert level_rank(odd) is None
        assert not m("level:*", rec(level=odd))
        assert m("-level:>=debug", rec(level=odd))
    assert not m("level:*", rec())
    assert rank_of_word("WaRnInG") == 3
    with pytest.raises(ValueError, match="unknown level 'x'"):
        rank_of_word("x")
    assert spellings(">=", 4) == {s for s, r in RANKS.items() if r >= 4}
    assert "WARNING" in spellings("=", 3) and "Warning" in spellings("=", 3)


def test_time():
    r = rec(ts=(T0 + 10) * S + 500_000_000)
    assert m(f"_time:{T0 + 10}", r)
    assert m(f"_time:<={T0 + 10}", r)
    assert not m(f"_time:<{T0 + 10}", r)
    assert m("_time:2026-12-01", r) and not m("_time:2026-12-02", r)
    assert m("_time:[2026-12-01T10:00Z, 2026-12-01T10:00Z]", r)
    assert not m("_time:(2026-12-01T10:00Z, 2026-12-01T11:00Z)", r)
    assert not m("_time:1h", r)  # NOW is two hours later
    assert m("_time:3h", r)


def test_missing_values_do_not_match_but_negations_do():
    r = rec("x", host=None)
    for q in ("host:a0001", "host:*", "host:a*", 'host:~"."', "partition:x"):
        assert not m(q, r)
        assert m(f"-{q}", r)
    assert not m("disk", rec(None))


def test_jobs_must_be_resolved_first():
    with pytest.raises(ValueError, match="resolved"):
        match(Job("1"), rec())


def test_compiled_query_is_reusable():
    pred = compile_query(parse("disk level:>=warn"))
    assert [pred(rec(t, level=lv)) for t, lv in (("disk", "error"), ("disk", "info"),
                                                 ("cpu", "crit"))] == [True, False, False]


# ---------------------------------------------------------------------- FTS5 agreement
@pytest.fixture(scope="module")
def fts():
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(field)")
    return conn


_alphabet = st.sampled_from(list("abcAB01 ._-:/é") + ["É", "e\u0301", "ß", "Σ", "ς", "日",
                                                       "\u200d", "İ", "ﬁ", "²", "\ue000"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=12).map("".join),
       st.lists(_alphabet, min_size=1, max_size=6).map("".join), st.booleans())
def test_word_match_agrees_with_fts5(fts, message, query, prefix):
    needle = tokens(query)
    if not needle:
        return
    with fts:
        fts.execute("DELETE FROM t")
        fts.execute("INSERT INTO t(rowid, field) VALUES(1, ?)", (message,))
    term = fts_term(raw_tokens(query), prefix)
    hits = fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (term,)).fetchall()
    from ccstore.query.text import contains

    assert contains(tokens(message), needle, prefix) == bool(hits), (message, term)


def test_fallback_tokenizer_agrees_on_common_text():
    for text in ("Café résumé a_b x²y", "ÉCOLE 10.0.0.1 /dev/nvme0n1", "日本語 テスト"):
        assert _approximate(text) == tokens(text)
