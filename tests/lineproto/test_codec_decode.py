"""decode(): the syntax of docs/line-protocol (shared spec), on both implementations."""
from __future__ import annotations

import pytest

from ccstore import LineError
from ccstore._lpspec import MESSAGES

I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
NO_FIELDS = MESSAGES["no_fields"]


# ------------------------------------------------------------- worked examples
def test_example_basic(lp, one):
    p = one(lp, b"cpu,host=a value=1i 1")
    assert (p.name, p.tags, p.fields, p.time) == ("cpu", {"host": "a"}, {"value": 1}, 1)
    assert type(p.fields["value"]) is int


def test_example_escapes(lp, one):
    p = one(lp, b'c\\ pu,ho\\=st=a\\ b v="x\\"y"', default_time=5)
    assert (p.name, p.tags, p.fields, p.time) == ("c pu", {"ho=st": "a b"}, {"v": 'x"y'}, 5)


def test_example_string_backslash(lp, one):
    assert one(lp, b'm v="a\\\\b"').fields == {"v": "a\\b"}


def test_example_string_tab_and_unknown_escape(lp, one):
    assert one(lp, b'm v="a\\tb\\q"').fields == {"v": "a\tb\\q"}


@pytest.mark.parametrize("data, expected", [
    (b"m,t=x v=1 123 9", (1, 15, "unexpected text after timestamp")),
    (b"m,host=a,host=b v=1", (1, 10, 'duplicate tag key "host"')),
    (b"m v=1.0e", (1, 5, 'invalid float for field "v"')),
])
def test_example_errors(lp, errs, data, expected):
    assert errs(lp, data) == [expected]


def test_example_comment(lp):
    assert lp.decode(b"#m v=1") == ([], [])


# -------------------------------------------------------------------- escapes
@pytest.mark.parametrize("data, name, tags", [
    (b"a\\,b v=1", "a,b", {}),
    (b"a\\ b v=1", "a b", {}),
    (b"a\\=b v=1", "a\\=b", {}),            # '=' is not escapable in a measurement
    (b"a\\xb v=1", "a\\xb", {}),            # other backslashes are literal
    (b"a\\\\,t=1 v=1", "a\\,t=1", {}),      # the run's last backslash escapes
    (b"m,k\\,1=v\\,1 v=1", "m", {"k,1": "v,1"}),
    (b"m,k\\=1=v\\=1 v=1", "m", {"k=1": "v=1"}),
    (b"m,k\\ 1=v\\ 1 v=1", "m", {"k 1": "v 1"}),
    (b"m,t=\\\\, v=1", "m", {"t": "\\,"}),  # spec: tag value \\, decodes to \,
    (b"m,t=a\\\\b v=1", "m", {"t": "a\\\\b"}),
    (b"m,t=a\\b v=1", "m", {"t": "a\\b"}),
    (b"m,t=\"q\" v=1", "m", {"t": '"q"'}),  # quotes are plain in tags
    (b"#x v=1", None, None),
    (b"x#y,t=#1 v=1", "x#y", {"t": "#1"}),
])
def test_key_escapes(lp, data, name, tags):
    points, errors = lp.decode(data, default_time=0)
    assert errors == []
    if name is None:
        assert points == []
    else:
        assert [(p.name, p.tags) for p in points] == [(name, tags)]


@pytest.mark.parametrize("raw, value", [
    (b'\\"', '"'), (b"\\\\", "\\"), (b"\\n", "\n"), (b"\\r", "\r"), (b"\\t", "\t"),
    (b"\\x", "\\x"), (b"\\a", "\\a"), (b"\\,", "\\,"), (b"\\\\n", "\\n"),
    (b"\\\\\\\"", '\\"'), (b"a,b=c d", "a,b=c d"), (b"\x01\x7f", "\x01\x7f"),
    (b"\xc3\xa9\xe2\x82\xac", "é€"), (b"", ""), (b"a\nb", "a\nb"), (b"a\r\nb", "a\r\nb"),
])
def test_string_escapes(lp, one, raw, value):
    assert one(lp, b'm v="' + raw + b'"').fields == {"v": value}


def test_field_key_escapes(lp, one):
    assert one(lp, b'm a\\,b\\=c\\ d=1i,x\\y=2i').fields == {"a,b=c d": 1, "x\\y": 2}


# --------------------------------------------------------------- field types
@pytest.mark.parametrize("text, value", [
    (b"1", 1.0), (b"-1", -1.0), (b"1.", 1.0), (b".5", 0.5), (b"-.5", -0.5), (b"-1.5e-3", -1.5e-3),
    (b"1e5", 1e5), (b"1E5", 1e5), (b"1e+5", 1e5), (b"1.5E-5", 1.5e-5), (b"007", 7.0),
    (b"-0", -0.0), (b"5e-324", 5e-324), (b"1.7976931348623157e308", 1.7976931348623157e308),
    (b"1e-400", 0.0), (b"0" * 5000 + b"1.5", 1.5), (b"1e" + b"0" * 5000 + b"1", 10.0),
])
def test_floats(lp, one, text, value):
    v = one(lp, b"m v=" + text).fields["v"]
    assert type(v) is float and repr(v) == repr(value)


@pytest.mark.parametrize("text", [
    b"1.0e", b"1e", b".", b"-", b"-.", b"1..2", b"1.2.3", b"0x10", b"1_0", b"1e5.5", b"--1",
    b"1.5f", b".e5", b"1e+", b"-Inf", b"-nan", b"2e",
])
def test_invalid_floats(lp, errs, text):
    assert errs(lp, b"m v=" + text) == [(1, 5, 'invalid float for field "v"')]


@pytest.mark.parametrize("text", [b"NaN", b"nan", b"Inf", b"inf", b"+1", b"+1i", b"+1.5",
                                  b"abc", b"tru", b"yes", b"'x'", b"i", b"u", b"ti", b"tRUE"])
def test_not_numbers(lp, errs, text):
    assert errs(lp, b"m v=" + text) == [
        (1, 5, 'invalid value for field "v": not a number, boolean or quoted string')]


@pytest.mark.parametrize("text", [b"1e309", b"-1e309", b"1" * 400])
def test_float_out_of_range(lp, errs, text):
    assert errs(lp, b"m v=" + text) == [(1, 5, 'float out of range for field "v"')]


@pytest.mark.parametrize("text, value", [
    (b"0i", 0), (b"-0i", 0), (b"12i", 12), (b"-12i", -12), (b"007i", 7),
    (b"9223372036854775807i", I64_MAX), (b"-9223372036854775808i", I64_MIN),
    (b"0u", 0), (b"18446744073709551615u", U64_MAX), (b"0000000000000000000000000001u", 1),
    (b"0" * 5000 + b"1i", 1), (b"-" + b"0" * 5000 + b"1i", -1), (b"0" * 5000 + b"u", 0),
    (b"0" * 5000 + b"18446744073709551615u", U64_MAX), (b"-" + b"0" * 30 + b"i", 0),
])
def test_integers(lp, one, text, value):
    v = one(lp, b"m v=" + text).fields["v"]
    assert type(v) is int and v == value


@pytest.mark.parametrize("text, message", [
    (b"9223372036854775808i", "integer out of range"),
    (b"-9223372036854775809i", "integer out of range"),
    (b"9" * 5000 + b"i", "integer out of range"),
    (b"0" * 5000 + b"9223372036854775808i", "integer out of range"),
    (b"-" + b"1" * 21 + b"i", "integer out of range"),
    (b"18446744073709551616u", "unsigned integer out of range"),
    (b"9" * 5000 + b"u", "unsigned integer out of range"),
    (b"1.5i", "invalid integer"), (b"-i", "invalid integer"), (b".i", "invalid integer"),
    (b"1ii", "invalid integer"), (b"0x1i", "invalid integer"),
    (b"-1u", "invalid unsigned integer"), (b"1.0u", "invalid unsigned integer"),
])
def test_integer_errors(lp, errs, text, message):
    assert errs(lp, b"m v=" + text) == [(1, 5, message + ' for field "v"')]


@pytest.mark.parametrize("text, value", [
    (b"t", True), (b"T", True), (b"true", True), (b"True", True), (b"TRUE", True),
    (b"f", False), (b"F", False), (b"false", False), (b"False", False), (b"FALSE", False),
])
def test_booleans(lp, one, text, value):
    v = one(lp, b"m v=" + text).fields["v"]
    assert v is value




def test_several_fields_keep_order(lp, one):
    p = one(lp, b'm z=1i,a="s,t",m=t,b=2.5,c=3u 9')
    assert list(p.fields.items()) == [("z", 1), ("a", "s,t"), ("m", True), ("b", 2.5), ("c", 3)]
    assert list(one(lp, b"m,z=1,a=2 v=1").tags) == ["z", "a"]


def test_duplicate_field_last_value_wins(lp, one):
    assert list(one(lp, b"m a=1i,b=2i,a=3i").fields.items()) == [("a", 3), ("b", 2)]


# ----------------------------------------------------------------- timestamps
@pytest.mark.parametrize("precision, text, ns", [
    ("ns", b"1", 1), ("us", b"1", 1_000), ("ms", b"1", 1_000_000), ("s", b"1", 10**9),
    ("ns", b"-1", -1), ("s", b"-2", -2 * 10**9), ("ns", str(I64_MAX).encode(), I64_MAX),
    ("ns", str(I64_MIN).encode(), I64_MIN), ("s", b"9223372036", 9223372036 * 10**9),
    ("ns", b"0000000000000000000000000000042", 42), ("ns", b"0" * 5000 + b"42", 42),
    ("auto", b"-" + b"0" * 5000 + b"1", -(10**9)), ("ns", b"0" * 5000, 0),
    ("auto", b"1740027951", 1740027951 * 10**9),
    ("auto", b"99999999999", None),  # seconds: 9.9e19 ns does not fit
    ("auto", b"100000000000", 100000000000 * 10**6),
    ("auto", b"1740027951123", 1740027951123 * 10**6),
    ("auto", b"9223372036854", 9223372036854 * 10**6),
    ("auto", b"9223372036855", None),  # milliseconds beyond int64 ns
    ("auto", b"100000000000000", 100000000000000 * 10**3),
    ("auto", b"1740027951123456", 1740027951123456 * 10**3),
    ("auto", b"100000000000000000", 100000000000000000),
    ("auto", b"1740027951123456789", 1740027951123456789),
    ("auto", b"-1740027951", -1740027951 * 10**9),
    ("auto", b"-1740027951123", -1740027951123 * 10**6),
    ("auto", b"0", 0),
])
def test_precisions(lp, precision, text, ns):
    points, errors = lp.decode(b"m v=1 " + text, precision=precision)
    if ns is None:
        assert [(e.column, e.message) for e in errors] == [(7, "timestamp out of range")]
    else:
        assert errors == [] and points[0].time == ns


@pytest.mark.parametrize("precision, text", [
    ("ns", str(I64_MAX + 1).encode()), ("ns", str(I64_MIN - 1).encode()),
    ("s", b"9223372037"), ("ms", b"9223372036855"), ("us", b"-9223372036854776"),
    ("ns", b"9" * 5000),
])
def test_timestamp_out_of_range(lp, errs, precision, text):
    assert errs(lp, b"m v=1 " + text, precision=precision) == [(1, 7, "timestamp out of range")]


@pytest.mark.parametrize("text", [b"1.5", b"+1", b"1e9", b"0x1", b"12x", b"-", b"1-", b'"1"',
                                  b"1,2"])
def test_invalid_timestamps(lp, errs, text):
    assert errs(lp, b"m v=1 " + text) == [(1, 7, "invalid timestamp")]


def test_default_time(lp):
    points, _ = lp.decode(b"m v=1\nm v=2 5\n", default_time=123)
    assert [p.time for p in points] == [123, 5]


def test_default_time_none_is_now(lp):
    import time
    before = time.time_ns()
    points, _ = lp.decode(b"m v=1\nm v=2\n")
    after = time.time_ns()
    assert before <= points[0].time <= after and points[0].time == points[1].time


@pytest.mark.parametrize("precision", ["ms ", "n", "", "NS", None, "h"])
def test_invalid_precision(lp, precision):
    with pytest.raises(ValueError):
        lp.decode(b"m v=1", precision=precision)


# ----------------------------------------------------------------- lines, spaces
def test_spaces_and_blank_lines(lp, canon):
    data = b"\n   \n  m  v=1i   7   \n\n\nm v=2i 8\n   "
    pts, errors = canon(lp.decode(data))
    assert errors == [] and [(p[0], p[3]) for p in pts] == [("m", 7), ("m", 8)]


def test_crlf(lp):
    points, errors = lp.decode(b"m v=1i 1\r\n# c\r\n\r\nm v=2i\r\nm v=\"x\" 3\r", default_time=0)
    assert errors == []
    assert [(p.fields["v"], p.time) for p in points] == [(1, 1), (2, 0), ("x", 3)]


def test_lone_cr_is_an_error(lp, errs):
    assert errs(lp, b"m v=1i 1\r \nm\r v=1\n") == [
        (1, 9, "non-printable character 0x0D in timestamp"),
        (2, 2, "non-printable character 0x0D in measurement")]


def test_cr_inside_string_is_kept(lp, one):
    assert one(lp, b'm v="a\r\nb\r"\r\n').fields == {"v": "a\r\nb\r"}


def test_comments(lp, errs):
    assert lp.decode(b"# a comment\n   #x\n#\tall\ttabs\t\n#\n# \xff not checked\n") == ([], [])
    assert errs(lp, b"# bell\x07\n# del\x7f\nm v=1\n#\r\n") == [
        (1, 7, "non-printable character 0x07 in comment"),
        (2, 6, "non-printable character 0x7F in comment")]


# ------------------------------------------------------------ multi-line strings
def test_string_spans_lines(lp):
    data = b'log,cluster=a log="trace:\n  at x\n  at y" 5\nm v=1i 6\nbad\n'
    points, errors = lp.decode(data)
    assert [(p.fields, p.time) for p in points] == [
        ({"log": "trace:\n  at x\n  at y"}, 5), ({"v": 1}, 6)]
    assert [(e.lineno, e.column, e.text) for e in errors] == [(5, 4, "bad")]


def test_error_after_multiline_string_counts_physical_lines(lp, errs):
    data = b'm v="a\nb\nc" x\nm v=1\nm v="\n\n" 1 2\n'
    assert errs(lp, data) == [(3, 4, "invalid timestamp"),
                              (7, 5, "unexpected text after timestamp")]


def test_error_before_multiline_string_spoils_whole_line(lp, errs):
    data = b'm,t=a,t=b v="line1\nline2 x=1\nline3" 5\nnext v=1i\n'
    points, errors = lp.decode(data)
    assert [(e.lineno, e.column) for e in errors] == [(1, 7)]
    assert [p.name for p in points] == ["next"]


def test_unterminated_string_runs_to_end(lp, errs):
    assert errs(lp, b'm v=1\nm v="abc\nm v=2\n') == [
        (2, 5, 'unterminated string value for field "v"')]


def test_quote_in_tag_does_not_open_a_string(lp):
    points, errors = lp.decode(b'm,t="a v=1 1\nm v=2 2\n')
    assert errors == [] and [p.tags for p in points] == [{"t": '"a'}, {}]


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("data, expected", [
    (b",t=1 v=1", (1, "missing measurement")),
    (b"m", (2, NO_FIELDS)),
    (b"m   ", (5, NO_FIELDS)),
    (b"m,t=1", (6, NO_FIELDS)),
    (b"m\r\n", (2, NO_FIELDS)),
    (b"m,=1 v=1", (3, "empty tag key")),
    (b"m, v=1", (3, "empty tag key")),
    (b"m,t v=1", (4, "expected '=' after tag key \"t\"")),
    (b"m,t,u=1 v=1", (4, "expected '=' after tag key \"t\"")),
    (b"m,t", (4, "expected '=' after tag key \"t\"")),
    (b"m,t= v=1", (5, 'empty value for tag "t"')),
    (b"m,t=,u=1 v=1", (5, 'empty value for tag "t"')),
    (b"m,t=a=b v=1", (6, "unescaped '=' in value of tag \"t\" (write it as \\=)")),
    (b"m,t==b v=1", (5, "unescaped '=' in value of tag \"t\" (write it as \\=)")),
    (b"m,a=1,b=2,a=3 v=1", (11, 'duplicate tag key "a"')),
    (b"m,a\\ b=1,a\\ b=2 v=1", (10, 'duplicate tag key "a b"')),
    (b"m =1", (3, "empty field key")),
    (b"m v=1,", (7, "empty field key")),
    (b"m v=1,,w=2", (7, "empty field key")),
    (b"m v", (4, "expected '=' after field key \"v\"")),
    (b"m v w=1", (4, "expected '=' after field key \"v\"")),
    (b"m v,w=1", (4, "expected '=' after field key \"v\"")),
    (b"m v=", (5, 'missing value for field "v"')),
    (b"m v= 1", (5, 'missing value for field "v"')),
    (b"m v=,w=1", (5, 'missing value for field "v"')),
    (b'm v="abc', (5, 'unterminated string value for field "v"')),
    (b'm v="abc\\"', (5, 'unterminated string value for field "v"')),
    (b'm v="a"b', (8, 'unexpected text after string value of field "v"')),
    (b'm v="a""b"', (8, 'unexpected text after string value of field "v"')),
    (b'm v=1"a"', (5, 'invalid float for field "v"')),
    (b"m v=1 1 ", None),
    (b"m v=1 1 x", (9, "unexpected text after timestamp")),
    (b"m v=1 1 2", (9, "unexpected text after timestamp")),
    (b"\tm v=1", (1, "non-printable character 0x09 in measurement")),
    (b"m\x00 v=1", (2, "non-printable character 0x00 in measurement")),
    (b"m,t\x1f=1 v=1", (4, "non-printable character 0x1F in tag key")),
    (b"m,t=\x7f v=1", (5, "non-printable character 0x7F in tag value")),
    (b"m v\x01=1", (4, "non-printable character 0x01 in field key")),
    (b"m,t=a\\\x01 v=1", (7, "non-printable character 0x01 in tag value")),
    (b"m v=1\x00", (6, "non-printable character 0x00 in field value")),
    (b"m v=\x01", (5, "non-printable character 0x01 in field value")),
    (b"m v=1\t2", (6, "non-printable character 0x09 in field value")),
    (b"m v=1 1\t", (8, "non-printable character 0x09 in timestamp")),
    (b"m v=1 1 \t", (9, "unexpected text after timestamp")),
    (b'm v="a"\t', (8, 'unexpected text after string value of field "v"')),
    (b"\\", (2, NO_FIELDS)),
    (b"\\\\\\\\\\\\", (7, NO_FIELDS)),
    (b"\\ v=1", (6, NO_FIELDS)),
    (b"m," + b"k" * 100 + b" v=1", (103, "expected '=' after tag key \"" + "k" * 64 + '..."')),
])
def test_error_columns(lp, errs, data, expected):
    assert errs(lp, data) == ([] if expected is None else [(1,) + expected])


@pytest.mark.parametrize("data, column", [
    (b"m\xff v=1", 2), (b"m v=\"\xff\"", 6), (b"m,t=\xc3 v=1", 5), (b"m v=1 \xff", 7),
    (b"\xed\xa0\x80 v=1", 1), (b"\xc0\x80 v=1", 1), (b"m v=\"ok\",w=\"\xe2\x82\"", 13),
    (b"m,t=1\xff,t=2 v=1", 6),      # invalid UTF-8 before the duplicate wins
    (b"m v=\xff", 5),                # tie with the invalid value: UTF-8 wins
    (b"m\xff", 2),
])
def test_invalid_utf8(lp, errs, data, column):
    assert errs(lp, data) == [(1, column, "invalid UTF-8")]


def test_syntax_error_before_invalid_utf8_wins(lp, errs):
    assert errs(lp, b"m,t=a,t=b v=\"\xff\"") == [(1, 7, 'duplicate tag key "t"')]
    assert errs(lp, b"m\x01\xff v=1") == [(1, 2, "non-printable character 0x01 in measurement")]


def test_bad_line_never_costs_the_next(lp):
    bad = [b"m", b"m v=1.0e", b'm v="x', b"m,t=1,t=2 v=1", b"m v=1 2 3", b"\xff v=1", b",",
           b"m v=\"\\\"", b"\\", b"=", b"m v=1 -", b"# \x01"]
    for b in bad:
        data = b"a v=1i 1\n" + b + b"\nz v=2i 2\n"
        points, errors = lp.decode(data)
        names = [p.name for p in points]
        if b.startswith(b'm v="'):  # an unterminated string swallows the rest
            assert names == ["a"], b
        else:
            assert names == ["a", "z"], b
        assert len(errors) == 1 and errors[0].lineno == 2, b


def test_error_text(lp):
    long_line = b"m,t=" + b"x" * 300 + b" v=bad"
    _, errors = lp.decode(b"ok v=1\r\n" + b"m v=\"\xff\" 1\r\n" + long_line + b"\n")
    assert isinstance(errors[0], LineError)
    assert [e.text for e in errors] == ["m v=\"\ufffd\" 1", long_line[:200].decode()]
    assert errors[1].column == 308


def test_input_types(lp, canon):
    data = "m,t=é v=\"ü\" 1\n"
    expected = canon(lp.decode(data.encode()))
    assert expected[0][0][1] == [("t", "é")]
    for d in (data, bytearray(data.encode()), memoryview(data.encode())):
        assert canon(lp.decode(d)) == expected


def test_empty_input(lp):
    assert lp.decode(b"") == ([], [])
    assert lp.decode("") == ([], [])
