"""ccstore.timesyntax: durations, instants at their precision, ranges."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccstore.timesyntax import (
    NS_PER_S,
    Span,
    duration_ns,
    end_ns,
    format_duration,
    format_iso,
    parse_duration,
    parse_instant,
    start_ns,
    time_range,
)

S = NS_PER_S
NOW = 1_800_000_000 * S
T = 1740028021  # 2025-02-20T05:07:01Z


# ---------------------------------------------------------------------- durations
@pytest.mark.parametrize("text, ns", [
    ("1h30m", 5400 * S), ("300ms", 300_000_000), ("1.5h", 5400 * S), ("90s", 90 * S),
    ("1d", 86400 * S), ("2w", 14 * 86400 * S), ("1d12h", 36 * 3600 * S), ("-1h", -3600 * S),
    ("+5s", 5 * S), ("0", 0), ("3600", 3600 * S), ("2.5", 2_500_000_000), ("1us", 1_000),
    ("1µs", 1_000), ("1μs", 1_000), ("7ns", 7), (".5s", S // 2), ("1.5ns", 1),
    ("1h0m0.5s", 3600 * S + S // 2),
])
def test_duration(text, ns):
    assert duration_ns(text) == ns
    assert parse_duration(text) == pytest.approx(ns / S)


@pytest.mark.parametrize("text, what", [
    ("", "expected a duration"), ("1x", "unknown unit 'x'"), ("h", "expected a number"),
    ("1h30", "missing unit"), ("1e5s", "unknown unit"), ("1H", "unknown unit 'H'"),
    ("--1h", "expected a number"), ("1..5s", "missing unit"),
])
def test_duration_errors_name_text_and_expectation(text, what):
    with pytest.raises(ValueError) as exc:
        duration_ns(text)
    assert repr(text) in str(exc.value) and what in str(exc.value)


def test_parse_duration_reads_go_durations_as_the_config_writes_them():
    for v, seconds in (("1h30m", 5400.0), ("500ms", 0.5), ("24h", 86400.0), ("0", 0.0),
                       ("-2m", -120.0), ("1.25s", 1.25), (90, 90.0), (1.5, 1.5), (None, None),
                       ("+3h", 10800.0), ("2d", 172800.0)):
        assert parse_duration(v) == seconds
    for bad in ("", "x", "1h30", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


@given(st.integers(-10**18, 10**18))
def test_format_duration_round_trips(ns):
    assert duration_ns(format_duration(ns)) == ns


# ---------------------------------------------------------------------- instants
@pytest.mark.parametrize("text, span", [
    # Unix time judged by size, covering its unit
    (str(T), Span(T * S, (T + 1) * S)),
    (f"{T}.5", Span(T * S + S // 2, T * S + 6 * S // 10)),
    (f"{T}123", Span(T * S + 123_000_000, T * S + 124_000_000)),
    (f"{T}123456", Span(T * S + 123_456_000, T * S + 123_457_000)),
    (f"{T}123456789", Span(T * S + 123_456_789, T * S + 123_456_790)),
    ("0", Span(0, S)),
    # ISO 8601 at each precision
    ("2026-12", Span(1796083200 * S, 1796083200 * S + 31 * 86400 * S)),
    ("2026-12-01", Span(1796083200 * S, 1796169600 * S)),
    ("2026-12-01T10", Span(1796119200 * S, 1796122800 * S)),
    ("2026-12-01T10:00Z", Span(1796119200 * S, 1796119260 * S)),
    ("2026-12-01T10:00:05Z", Span(1796119205 * S, 1796119206 * S)),
    ("2026-12-01t10:00:05z", Span(1796119205 * S, 1796119206 * S)),
    ("2026-12-01 10:00:05Z", Span(1796119205 * S, 1796119206 * S)),
    ("2026-12-01T10:00:05.25Z", Span(1796119205 * S + S // 4, 1796119205 * S + 26 * S // 100)),
    ("2026-12-01T10:00:05,123456789Z", Span(1796119205 * S + 123456789,
                                            1796119205 * S + 123456790)),
    ("2026-12-01T11:00+01:00", Span(1796119200 * S, 1796119260 * S)),
    ("2026-12-01T11:00+0100", Span(1796119200 * S, 1796119260 * S)),
    ("2026-12-01T05:00-05", Span(1796119200 * S, 1796119260 * S)),
    # relative: exact instants
    ("now", Span(NOW, NOW + 1)),
    ("-1h", Span(NOW - 3600 * S, NOW - 3600 * S + 1)),
    ("now-2d", Span(NOW - 2 * 86400 * S, NOW - 2 * 86400 * S + 1)),
    ("now - 1h30m", Span(NOW - 5400 * S, NOW - 5400 * S + 1)),
    ("now+30m", Span(NOW + 1800 * S, NOW + 1800 * S + 1)),
])
def test_instant(text, span):
    assert parse_instant(text, now_ns=NOW) == span


def test_month_spans_are_calendar_months():
    assert parse_instant("2026-02") == Span(
        int(dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc).timestamp()) * S,
        int(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp()) * S)
    dec = parse_instant("2026-12")
    assert format_iso(dec.lo, digits=0) == "2026-12-01T00:00:00Z"
    assert format_iso(dec.hi, digits=0) == "2027-01-01T00:00:00Z"


def test_zone_argument_applies_to_times_and_dates_without_zone():
    cet = dt.timezone(dt.timedelta(hours=1))
    assert parse_instant("2026-12-01T11:00", tz=cet) == parse_instant("2026-12-01T10:00Z")
    assert parse_instant("2026-12-01", tz=cet).lo == parse_instant("2026-11-30T23:00Z").lo
    assert parse_instant("2026-12-01T11:00Z", tz=cet) == parse_instant("2026-12-01T11:00Z")


def test_a_day_with_a_dst_change_is_23_hours():
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    span = parse_instant("2026-03-29", tz=berlin)
    assert span.hi - span.lo == 23 * 3600 * S


def test_python_values():
    utc = dt.timezone.utc
    d = dt.datetime(2026, 12, 1, 10, 0, 0, 5, tzinfo=utc)
    assert parse_instant(d) == Span(1796119200 * S + 5000, 1796119200 * S + 6000)
    assert parse_instant(dt.date(2026, 12, 1)) == parse_instant("2026-12-01")
    assert parse_instant(T) == Span(T * S, (T + 1) * S)
    assert parse_instant(T * 1000) == Span(T * S, T * S + 1_000_000)
    assert parse_instant(T * S) == Span(T * S, T * S + 1)
    assert parse_instant(T + 0.5) == Span(T * S + S // 2, T * S + S // 2 + 1)


@pytest.mark.parametrize("value, what", [
    ("yesterday", "expected an instant"), ("1h", "for 1h ago write -1h"),
    ("2026-13-01", "month must be in 1..12"), ("2026-12-01T25:00Z", "hour must be in"),
    ("2026-12-01T10:00+25:00", "zone offset out of range"), ("-3600", "needs a unit"),
    ("now-x", "expected a duration after '-'"), ("", "expected an instant"),
    (-5, "not negative"), (float("nan"), "finite"), (dt.datetime(2026, 1, 1), "naive"),
    (None, "expected an instant"), (True, "expected an instant"), ([1], "expected an instant"),
    ("2026-12-01T10:00:00.1234567891Z", "expected an instant"),
])
def test_instant_errors_name_text_and_expectation(value, what):
    with pytest.raises(ValueError) as exc:
        parse_instant(value, now_ns=NOW)
    assert "invalid time" in str(exc.value) and what in str(exc.value)


def test_end_bound_covers_the_whole_unit():
    # a line stamped half a second after end=T is inside
    assert start_ns(T) == T * S
    assert end_ns(T) == (T + 1) * S
    assert T * S + S // 2 < end_ns(str(T))
    assert end_ns("2026-12-01") == parse_instant("2026-12-02").lo
    assert start_ns(None) is None and end_ns(None) is None


def test_time_range():
    assert time_range("2026-12-01", "2026-12-01") == (parse_instant("2026-12-01").lo,
                                                      parse_instant("2026-12-01").hi)
    assert time_range(since="1h", now_ns=NOW) == (NOW - 3600 * S, None)
    assert time_range("-1h", "now", now_ns=NOW) == (NOW - 3600 * S, NOW + 1)
    with pytest.raises(ValueError, match="empty"):
        time_range("2026-12-02", "2026-12-01")
    with pytest.raises(ValueError, match="either since or start"):
        time_range("-1h", since="1h")
    with pytest.raises(ValueError, match="positive"):
        time_range(since="-1h")


@given(st.integers(0, 4 * 10**18))
def test_iso_round_trip(ns):
    text = format_iso(ns)
    assert parse_instant(text) == Span(ns, ns + 1)
    assert parse_instant(format_iso(ns - ns % S, digits=0)).lo == ns - ns % S


@given(st.integers(0, 4 * 10**18), st.integers(0, 4 * 10**18))
def test_iso_text_sorts_as_time(a, b):
    assert (format_iso(a) < format_iso(b)) == (a < b)
