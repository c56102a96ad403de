"""ccstore.query.parser: every construct, every error with its column, round trips."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from querygen import NOW, T0, queries

from ccstore.query import QuerySyntaxError, parse
from ccstore.query.nodes import All, And, Eq, Exists, Job, Level, Not, Or, Prefix, Regex, Text, Time
from ccstore.timesyntax import NS_PER_S, parse_instant

S = NS_PER_S


def P(q: str):
    return parse(q, now_ns=NOW)


def hosts(*names: str) -> Eq:
    return Eq("host", frozenset(names))


DAY = parse_instant("2026-12-01")


@pytest.mark.parametrize("q, tree", [
    # full text
    ("disk full", And((Text("disk"), Text("full")))),
    ("disk AND full", And((Text("disk"), Text("full")))),
    ('"disk full"', Text("disk full")),
    ("'disk full'", Text("disk full")),
    ("Xid*", Text("Xid", True)),
    ('"disk fu"*', Text("disk fu", True)),
    ("java.lang.NullPointerException", Text("java.lang.NullPointerException")),
    ("don't", Text("don't")),
    ("12:30", Text("12:30")),
    ('"AND"', Text("AND")),
    ("and or not", And((Text("and"), Text("or"), Text("not")))),
    ("_msg:disk", Text("disk")),
    ('message:"disk full"', Text("disk full")),
    ("_msg:xi*", Text("xi", True)),
    ("_msg:*", Exists("message")),
    ('~"Xid [0-9]+"', Regex("Xid [0-9]+")),
    (r'~"\d+ \"q\""', Regex(r'\d+ "q"')),
    (r'~"a\\b"', Regex(r"a\b")),
    ("*", All()),
    ("", All()),
    ("   ", All()),
    # fields
    ("cluster:alex", Eq("cluster", frozenset({"alex"}))),
    ("kind:log", Eq("kind", frozenset({"log"}))),
    ("kind:Events", Eq("kind", frozenset({"event"}))),
    ("kind:in(log, event)", Eq("kind", frozenset({"log", "event"}))),
    ("host:a0001", hosts("a0001")),
    ("hostname:a0001", hosts("a0001")),
    ("host:node[001-003,100]", hosts("node001", "node002", "node003", "node100")),
    ("host:rack[1-2]-n[01-02]", hosts("rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02")),
    ("host:a1,b2", hosts("a1", "b2")),
    ('host:"n[1-2]"', hosts("n[1-2]")),
    ("host:in(n[1-2], m3)", hosts("n1", "n2", "m3")),
    ("host:=n[1-2]", hosts("n1", "n2")),
    ("host:node0*", Prefix("host", "node0")),
    ("host:*", Exists("host")),
    ('host:~"^a"', Regex("^a", "host")),
    ("type:node", Eq("type", frozenset({"node"}))),
    ("type-id:0", Eq("type_id", frozenset({"0"}))),
    ("type_id:-1", Eq("type_id", frozenset({"-1"}))),
    ("stype:filesystem", Eq("stype", frozenset({"filesystem"}))),
    ("stype-id:/home", Eq("stype_id", frozenset({"/home"}))),
    ("stype_id:/home", Eq("stype_id", frozenset({"/home"}))),
    ("name:ccb", Eq("name", frozenset({"ccb"}))),
    ("name:in(a, b, \"c d\")", Eq("name", frozenset({"a", "b", "c d"}))),
    ("function:start_job", Eq("function", frozenset({"start_job"}), True)),
    ("loglevel:error", Eq("loglevel", frozenset({"error"}), True)),
    ("log.level:x", Eq("log.level", frozenset({"x"}), True)),
    ('"my tag":v', Eq("my tag", frozenset({"v"}), True)),
    ('"_time":v', Eq("_time", frozenset({"v"}), True)),
    ('"host":v', Eq("host", frozenset({"v"}), True)),
    ("location:/var/log/x:1", Eq("location", frozenset({"/var/log/x:1"}), True)),
    ('partition:""', Eq("partition", frozenset({""}), True)),
    ("partition:*", Exists("partition", True)),
    ("partition:ma*", Prefix("partition", "ma", True)),
    ('partition:"m a"*', Prefix("partition", "m a", True)),
    ('partition:~"x"', Regex("x", "partition", True)),
    ("host:(a OR b)", Or((hosts("a"), hosts("b")))),
    ("host:(a OR NOT b)", Or((hosts("a"), Not(hosts("b"))))),
    ("host:(a b)", And((hosts("a"), hosts("b")))),
    ("host:((a))", hosts("a")),
    ("-host:a", Not(hosts("a"))),
    ("!host:a", Not(hosts("a"))),
    ("NOT host:a", Not(hosts("a"))),
    # levels
    ("level:warn", Level("=", 3)),
    ("level:=WARNING", Level("=", 3)),
    ("level:>=warn", Level(">=", 3)),
    ("level:>err", Level(">", 4)),
    ("level:<=info", Level("<=", 1)),
    ("level:<notice", Level("<", 2)),
    ("level:fatal", Level("=", 5)),
    ("level:*", Level(">=", 0)),
    ('level:"emerg"', Level("=", 7)),
    ("level:(warn OR error)", Or((Level("=", 3), Level("=", 4)))),
    ("level:in(warn, error)", Or((Level("=", 3), Level("=", 4)))),
    # time
    ("_time:1h", Time(NOW - 3600 * S, NOW + 1)),
    ("_time:1h30m", Time(NOW - 5400 * S, NOW + 1)),
    ("_time:2026-12-01", Time(DAY.lo, DAY.hi)),
    ("_time:2026-12-01T10:00Z", Time(T0 * S, (T0 + 60) * S)),
    (f"_time:{T0}", Time(T0 * S, (T0 + 1) * S)),
    ("_time:[2026-12-01T10:00Z, 2026-12-01T11:00Z)", Time(T0 * S, (T0 + 3600) * S)),
    ("_time:[2026-12-01T10:00Z, 2026-12-01T11:00Z]", Time(T0 * S, (T0 + 3660) * S)),
    ("_time:(2026-12-01T10:00Z, 2026-12-01T11:00Z)", Time((T0 + 60) * S, (T0 + 3600) * S)),
    ("_time:[-2h,now]", Time(NOW - 7200 * S, NOW + 1)),
    ("_time:>=2026-12-01T10:00Z", Time(T0 * S, None)),
    ("_time:>2026-12-01T10:00Z", Time((T0 + 60) * S, None)),
    ("_time:<=2026-12-01T10:00Z", Time(None, (T0 + 60) * S)),
    ("_time:<2026-12-01T10:00Z", Time(None, T0 * S)),
    ("_time:>=-1h", Time(NOW - 3600 * S, None)),
    ("_time:=2026-12-01", Time(DAY.lo, DAY.hi)),
    # jobs
    ("job:4711", Job("4711")),
    ("job:alex/4711", Job("4711", "alex")),
    ("job:in(1, alex/2)", Or((Job("1"), Job("2", "alex")))),
    # logic
    ("a OR b c", Or((Text("a"), And((Text("b"), Text("c")))))),
    ("(a OR b) c", And((Or((Text("a"), Text("b"))), Text("c")))),
    ("a AND (b OR c)", And((Text("a"), Or((Text("b"), Text("c")))))),
    ("NOT a b", And((Not(Text("a")), Text("b")))),
    ("NOT NOT a", Not(Not(Text("a")))),
    ("-(a OR b)", Not(Or((Text("a"), Text("b"))))),
    ("NOT(a)", Not(Text("a"))),
    ("-*", Not(All())),
    ("a (b) ((c))", And((Text("a"), Text("b"), Text("c")))),
    ("host:a level:>=warn disk", And((hosts("a"), Level(">=", 3), Text("disk")))),
])
def test_construct(q, tree):
    assert P(q) == tree


@pytest.mark.parametrize("q, column, what", [
    ("(a", 3, "expected ')' to close the '(' at column 1, found end of query"),
    ("a)", 2, "unexpected ')'"),
    ("()", 2, "empty parentheses"),
    ("host:", 6, "expected a value after 'host:'"),
    ("host: a", 6, "expected a value after 'host:'"),
    ("disk AND", 9, "expected a filter, found end of query"),
    ("disk OR", 8, "expected a filter, found end of query"),
    ("OR x", 1, "expected a filter, found 'OR'"),
    ("a AND OR b", 7, "expected a filter, found 'OR'"),
    ("NOT", 4, "expected a filter, found end of query"),
    ("- a", 2, "expected a filter after '-'"),
    ("a !", 4, "expected a filter after '!'"),
    ("_tme:1h", 1, "unknown field '_tme'"),
    ("x _tmie:1h", 3, "did you mean _time?"),
    ("_foo:1", 1, "names beginning with '_' are reserved"),
    ('"abc', 1, 'unterminated string: expected a closing "'),
    ("a 'abc", 3, "unterminated string: expected a closing '"),
    ("~x", 2, "expected a quoted regular expression after '~'"),
    ("host:~x", 7, "expected a quoted regular expression after '~'"),
    ('~"("', 2, "invalid regular expression"),
    ("a*b", 2, "'*' only ends a word"),
    ("*a", 1, "'*' ends a prefix: it cannot begin a word"),
    ("name:a*b", 7, "'*' only ends a value"),
    ('a"b"', 2, "a quote inside a word"),
    ('name:a"b"', 7, "a quote inside a value"),
    ("...", 1, "has no letters or digits"),
    ('"..."', 1, "has no letters or digits"),
    ("_msg:..*", 6, "has no letters or digits"),
    ("level:>=wrn", 9, "unknown level 'wrn'"),
    ("level:", 7, "expected a value after 'level:'"),
    ("level:>=", 9, "expected a level"),
    ("kind:metric", 6, "kind: expected log or event, found 'metric'"),
    ("kind:lo*", 6, "kind: no prefix search"),
    ("kind:*", 6, "kind: expected a value, not '*'"),
    ('kind:~"l"', 6, "kind: no regular expressions"),
    ("job:alex/", 5, "job: expected a job id"),
    ("job:/1", 5, "job: expected a job id"),
    ("job:4*", 5, "job: no prefix search"),
    ("name:>a", 6, "comparisons apply to level and _time only"),
    ("name:=", 7, "expected a value after '='"),
    ("name:in()", 9, "empty in(): expected a value"),
    ("name:in(a b)", 11, "expected ',' or ')' to close the '(' at column 8"),
    ("name:in(a,", 11, "expected a value"),
    ("name:()", 7, "empty parentheses: expected a value"),
    ("name:(a", 8, "expected ')' to close the '(' at column 6"),
    ("name:(a OR)", 11, "expected a value"),
    ("host:n[1-", 6, "invalid hostlist 'n[1-': '[' is not closed"),
    ("host:n[3-1]", 6, "runs backwards"),
    ("_time:1x", 7, "invalid time '1x'"),
    ("_time:-1h", 7, "expected a positive duration such as 1h"),
    ("_time:now", 7, "names a single instant"),
    ("_time:[2026-13-01, 2026-12-02)", 8, "month must be in 1..12"),
    ("_time:[2026-12-01, x)", 20, "invalid time 'x'"),
    ("_time:[2026-12-01 2026-12-02)", 7, "expected a time range such as"),
    ("_time:[2026-12-01,", 7, "unterminated time range"),
    ("_time:[, 2026-12-01)", 8, "expected a start time"),
    ("_time:[2026-12-02, 2026-12-01)", 7, "empty time range"),
    ("_time:>=", 9, "expected a time after '>='"),
])
def test_error(q, column, what):
    with pytest.raises(QuerySyntaxError) as exc:
        P(q)
    err = exc.value
    assert isinstance(err, ValueError)
    assert what in str(err), str(err)
    assert err.column == column, str(err)
    assert str(err).startswith(f"column {column}: ") and err.query == q


def test_parse_refuses_non_strings():
    with pytest.raises(TypeError):
        parse(b"disk")  # type: ignore[arg-type]


@pytest.mark.parametrize("q, text", [
    ("disk  full", "disk full"),
    ("host:(a OR b)", "host:a OR host:b"),
    ("host:a0[001-003]", "host:a[0001-0003]"),
    ("host:in(a1, a2, b)", "host:a[1-2],b"),
    ('host:in("a,b", c)', 'host:in("a,b", "c")'),
    ("type-id:0", "type_id:0"),
    ("NOT disk", "-disk"),
    ('"AND"', '"AND"'),
    ("'x y'*", '"x y"*'),
    ("_time:2026-12-01T10:00Z", "_time:[2026-12-01T10:00:00Z, 2026-12-01T10:01:00Z)"),
    ('"my tag":"a b"', '"my tag":"a b"'),
    ('"level":x', '"level":x'),
    ("name:in(a, b)", "name:in(a, b)"),
    ("level:warning", "level:warn"),
    ("(a OR b) -(c d)", "(a OR b) -(c d)"),
])
def test_printing(q, text):
    assert str(P(q)) == text
    assert P(text) == P(q)


@settings(max_examples=400, deadline=None)
@given(queries)
def test_printed_query_parses_to_the_same_tree(q):
    tree = P(q)
    assert P(str(tree)) == tree


_chars = st.sampled_from(list('ab01 :()"\'*~-!,[]<>=_\\') + ["AND", "OR", "NOT", "host:",
                                                            "_time:", "level:", "in(", "é",
                                                            "\u00a0", "job:", "kind:"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(_chars, max_size=14).map("".join))
def test_any_text_parses_or_fails_with_a_column(q):
    try:
        tree = P(q)
    except QuerySyntaxError as exc:
        assert 1 <= exc.column <= len(q) + 1
        return
    assert P(str(tree)) == tree
