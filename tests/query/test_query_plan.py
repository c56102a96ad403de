"""ccstore.query.plan: the pushdown never drops a match, pushdown + residual == the query.

Checked on a model of the store's keyword filters (:meth:`Pushdown.matches`), with
substring search for a store without a full-text index, and on real stores (SQLite
and PostgreSQL) holding the same random records.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from querygen import NOW, S, queries, random_records, records, to_point

import ccstore
from ccstore.query import from_result, match, parse, plan
from ccstore.query.levels import RANKS
from ccstore.query.nodes import And, Job, Not, Or, Text, transform
from ccstore.query.plan import KINDS

FULL = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def P(q: str):
    return parse(q, now_ns=NOW)


@FULL
@given(queries, st.lists(records(), min_size=1, max_size=8))
def test_pushdown_and_residual_answer_the_query(q, recs):
    tree = P(q)
    p = plan(tree)
    for r in recs:
        want = match(tree, r)
        selected = p.pushdown.matches(r)
        assert selected or not want, "the pushdown dropped a match"
        got = selected and (p.residual is None or match(p.residual, r))
        assert got == want
        if want:  # what a store may narrow its read with keeps every match
            assert all(lit in r["message"] for lit in p.pushdown.contains)


@FULL
@given(queries, st.lists(records(), min_size=1, max_size=8))
def test_without_fulltext_index_text_is_checked_after(q, recs):
    tree = P(q)
    p = plan(tree, fulltext=False)
    assert p.pushdown.text is None
    for r in recs:
        want = match(tree, r)
        selected = p.pushdown.matches(r)
        assert selected or not want
        assert (selected and (p.residual is None or match(p.residual, r))) == want


@FULL
@given(queries, st.lists(records(), min_size=1, max_size=8))
def test_known_stored_levels_shorten_the_lists(q, recs):
    tree = P(q)
    stored = {r["level"] for r in recs if r["level"] is not None}
    p = plan(tree, levels=stored)
    for values in list(p.pushdown.tags.values()) + list(p.pushdown.tags_not.values()):
        assert values
    for r in recs:
        assert (p.pushdown.matches(r) and (p.residual is None or match(p.residual, r))) == \
            match(tree, r)


@pytest.mark.parametrize("q, filters, residual", [
    ("host:a0[000-001] level:>=error _time:1h",
     {"hosts": ["a0000", "a0001"],
      "tags": {"loglevel": sorted(w for w, r in RANKS.items() if r >= 4)}}, None),
    ("disk full", {"text": '("disk" AND "full")'}, None),
    ('"disk full" Xid*', {"text": '("disk full" AND "Xid"*)'}, None),
    ("disk -full", {"text": '(("disk") NOT "full")'}, None),
    ("-full", {}, "-full"),
    ("disk OR cpu", {"text": '("disk" OR "cpu")'}, None),
    ("(a -b) OR c", {"text": '((("a") NOT "b") OR "c")'}, None),
    ("a OR host:x", {}, "a OR host:x"),
    ('~"Xid [0-9]+" Xid', {"text": '"Xid"'}, '~"Xid [0-9]+"'),
    ("host:a OR host:b", {"hosts": ["a", "b"]}, None),
    ("-host:a -host:b", {"tags": {"hostname": {"not": ["a", "b"]}}}, None),
    ("host:(a OR b) -host:b", {"hosts": ["a"]}, None),
    ("-host:a OR -host:b", {}, None),
    ("-host:a OR -host:a", {"tags": {"hostname": {"not": ["a"]}}}, None),
    ("cluster:alex OR cluster:fritz", {"cluster": ["alex", "fritz"]}, None),
    ("-cluster:alex", {}, "-cluster:alex"),
    ("function:start_job -partition:gpu",
     {"tags": {"function": ["start_job"], "partition": {"not": ["gpu"]}}}, None),
    ("loglevel:error level:>=warn", {"tags": {"loglevel": ["error"]}}, None),
    ("host:a0* name:ccb", {"names": ["ccb"]}, "host:a0*"),
    ("type-id:0 stype:fs stype_id:/home type:node",
     {"type_ids": ["0"], "stypes": ["fs"], "stype_ids": ["/home"], "types": ["node"]}, None),
    ('"name":x', {}, '"name":x'),
    ('"hostname":x', None, None),
    ("kind:log -kind:log", None, None),
    ("-*", None, None),
    ("host:a host:b", None, None),
    ("_time:[2026-12-01, 2026-12-02) _time:[2026-12-03, 2026-12-04)", None, None),
])
def test_plans(q, filters, residual):
    p = plan(P(q))
    if filters is None:
        assert p.pushdown.empty and p.pushdown.kind_list() == () and p.residual is None
        return
    assert p.pushdown.store_filters() == filters
    assert (None if p.residual is None else str(p.residual)) == residual


def test_time_and_kinds():
    p = plan(P("kind:log _time:[2026-12-01, 2026-12-02) _time:>=2026-12-01T12:00Z"))
    assert p.pushdown.kind_list() == ("log",) and p.residual is None
    assert (p.pushdown.start_ns, p.pushdown.end_ns) == (P("_time:2026-12-01T12:00Z").lo,
                                                        P("_time:2026-12-02").lo)
    assert plan(P("-kind:log")).pushdown.kind_list() == ("event",)
    assert plan(P("disk")).pushdown.kind_list() == KINDS
    # overlapping intervals: their hull is exact; apart, the gap is checked after
    assert plan(P("_time:[2026-12-01, 2026-12-03) OR _time:[2026-12-02, 2026-12-04)")
                ).residual is None
    gap = plan(P("_time:2026-12-01 OR _time:2026-12-03"))
    assert gap.residual is not None and gap.pushdown.end_ns == P("_time:2026-12-04").lo


def test_jobs_must_be_resolved_first():
    with pytest.raises(ValueError, match="resolved"):
        plan(Job("4711"))


# ---------------------------------------------------------------------- real stores
@pytest.fixture(scope="module", params=["sqlite", "sqlite-compact", "postgres"])
def loaded(request, tmp_path_factory):
    recs = random_records(400, seed=3)
    if request.param == "postgres":
        target = request.getfixturevalue("postgres_dsn").fresh_database("ccs_query")
        # PostgreSQL's full text does not fold diacritics as FTS5 does: ASCII only there
        recs = [r for r in recs if r["message"].isascii()]
    else:
        target = str(tmp_path_factory.mktemp("query") / "store.db")
    store = ccstore.open(target, seal_rows=128, retention=None,
                         **({"compact": True} if request.param == "sqlite-compact" else {}))
    result = store.write_points(to_point(r) for r in recs[: len(recs) // 2])
    store.flush()  # some rows in sealed segments, some in open ones
    result2 = store.write_points(to_point(r) for r in recs[len(recs) // 2:])
    assert result.ok and result2.ok
    stored = [from_result(x) for k in KINDS for x in store.query(kind=k, limit=None)]
    assert len(stored) == len(recs)
    yield store, stored, request.param
    store.close()


def _select(store, pushdown):
    out = []
    for kind in pushdown.kind_list():
        start = end = None
        if pushdown.start_ns is not None:
            start = -(-pushdown.start_ns // S)  # records are stamped in whole seconds
        if pushdown.end_ns is not None:
            end = (pushdown.end_ns - 1) // S
            if start is not None and start > end:
                continue
        out += [from_result(x) for x in store.query(kind=kind, start=start, end=end, limit=None,
                                                    **pushdown.store_filters())]
    return out


def _ascii_only(tree) -> bool:
    return str(tree).isascii()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=queries)
def test_store_answers_with_pushdown_then_residual(loaded, q):
    store, stored, backend = loaded
    tree = P(q)
    if backend == "postgres" and not _ascii_only(tree):
        return
    p = plan(tree)
    want = sorted(r["cursor"] for r in stored if match(tree, r))
    selected = _select(store, p.pushdown)
    got = sorted(r["cursor"] for r in selected if p.residual is None or match(p.residual, r))
    assert got == want
    # the pushdown selects exactly what the model says
    assert sorted(r["cursor"] for r in selected) == sorted(
        r["cursor"] for r in stored if p.pushdown.matches(r))


def test_pushed_text_is_what_the_index_answers(loaded):
    store, stored, backend = loaded
    for q in ("disk full", '"java lang"', "xi*", "disk -full", "(disk -npe) OR mount",
              "java.lang.npe", "a0001", "42 OR node"):
        tree = P(q)
        p = plan(tree)
        assert p.residual is None and p.pushdown.text is not None
        got = sorted(r["cursor"] for r in _select(store, p.pushdown))
        assert got == sorted(r["cursor"] for r in stored if match(tree, r))
        assert got, q  # the universe has matches for each


def test_text_negation_in_a_tree_stays_pushable():
    tree = P("-(disk OR full) mount")
    p = plan(tree)
    assert p.residual is None
    assert p.pushdown.fts() == '(("mount") NOT ("disk" OR "full"))'
    inner = transform(tree, lambda n: Text(n.value.upper()) if isinstance(n, Text) else None)
    assert isinstance(inner, And) and isinstance(inner.items[0], Not)
    assert isinstance(inner.items[0].item, Or)
