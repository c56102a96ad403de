"""Large and hostile inputs complete with the right answer (no crash, no hang)."""
from __future__ import annotations

MB = 1_000_000


def test_10mb_string_value(lp):
    value = b"x" * (10 * MB)
    points, errors = lp.decode(b'm v="' + value + b'" 1\nn v=1i 2\n')
    assert errors == [] and len(points) == 2 and len(points[0].fields["v"]) == 10 * MB
    escaped = b'\\"\\\\' * (MB // 2)
    (p,), errors = lp.decode(b'm v="' + escaped + b'" 1\n')
    assert errors == [] and p.fields["v"] == '"\\' * (MB // 2)


def test_10mb_unterminated_string(lp):
    data = b'm v=1i 1\nm v="' + b"y\n" * (5 * MB)
    points, errors = lp.decode(data)
    assert len(points) == 1 and [(e.lineno, e.column) for e in errors] == [(2, 5)]
    batch = lp.decode_rows(data, final=False, cluster="c")
    assert batch.consumed == 9 and batch.lines == 1


def test_a_million_empty_lines(lp):
    for data in (b"\n" * MB, b"\r\n" * MB, b"   \n" * MB):
        assert lp.decode(data) == ([], [])
        batch = lp.decode_rows(data)
        assert (batch.rows, batch.errors, batch.consumed, batch.lines) == (0, [], len(data), MB)


def test_a_line_of_only_backslashes(lp):
    for n in (1, 2, 3, MB, MB + 1):
        points, errors = lp.decode(b"\\" * n + b"\nm v=1i 1\n")
        assert len(points) == 1 and len(errors) == 1 and errors[0].lineno == 1
    _, errors = lp.decode(b'm v="' + b"\\" * MB + b'"')
    assert errors == []  # an even run: MB/2 escaped backslashes
    _, errors = lp.decode(b'm v="' + b"\\" * (MB + 1) + b'"')
    assert [e.message for e in errors] == ['unterminated string value for field "v"']


def test_long_runs_of_separators(lp):
    for data in (b"=" * MB, b"," * MB, b" " * MB + b"x", b'"' * MB, b"m " + b"a=1," * 100_000,
                 b"m" + b",a=1" * 100_000 + b" v=1", b"m v=1 " + b"1" * MB, b"#\x01" * MB,
                 b"m v=" + b"9" * MB + b"i", b"m v=" + b"1" * MB):
        points, errors = lp.decode(data)
        assert len(points) + len(errors) == 1


def test_many_points(lp):
    data = b"".join(b"m,h=%d v=%di %d\n" % (i % 100, i, i) for i in range(100_000))
    points, errors = lp.decode(data)
    assert errors == [] and len(points) == 100_000
    assert points[-1].fields == {"v": 99_999} and points[-1].tags == {"h": "99"}
