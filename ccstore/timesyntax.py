"""One syntax for instants and durations, for every interface and the config.

Durations: Go's syntax (``"1h30m"``, ``"300ms"``, ``"-1.5h"``) with the units
``ns us µs ms s m h`` plus ``d`` (24 h) and ``w`` (7 d); a plain number is seconds.

Instants, each parsed to the interval ``[lo, hi)`` in nanoseconds that it names at
the precision it was written with, so that a bound covers its whole unit:

- Unix time as a number, judged by size as writes are (< 1e11 seconds, < 1e14
  milliseconds, < 1e17 microseconds, else nanoseconds); ``1740028021`` covers that
  second, ``1740028021.5`` its tenth;
- ISO 8601: ``2026-12`` (the month), ``2026-12-01`` (the day), ``2026-12-01T10``,
  ``2026-12-01T10:00Z`` (the minute), ``...T10:00:00.123+01:00``; a zone is ``Z`` or an
  offset, without one the ``tz`` argument applies (UTC unless given);
- ``now``, and relative times ``-1h``, ``now-2d``, ``now+30m`` (exact instants);
- an aware :class:`datetime.datetime` (its microsecond), a :class:`datetime.date`
  (its day in ``tz``).

A start bound is the ``lo`` of its interval, an end bound the ``hi`` (exclusive).
"""
from __future__ import annotations

import datetime as _dt
import re
import time as _time
from fractions import Fraction
from typing import NamedTuple, Optional, Tuple, Union

__all__ = [
    "NS_PER_S",
    "UNITS",
    "Span",
    "TimeLike",
    "parse_duration",
    "duration_ns",
    "parse_instant",
    "start_ns",
    "end_ns",
    "time_range",
    "format_iso",
    "format_duration",
]

NS_PER_S = 1_000_000_000

#: duration unit -> nanoseconds
UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
}

TimeLike = Union[str, int, float, _dt.datetime, _dt.date, None]

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_DURATION_EXPECTED = ("a duration such as 90s, 1h30m, 300ms, 2d or 1w "
                      "(units: ns us ms s m h d w) or a number of seconds")
_INSTANT_EXPECTED = ("an instant: Unix time (s, ms, us or ns), ISO 8601 such as 2026-12-01 "
                     "or 2026-12-01T10:00:00Z, now, or a relative time such as -1h or now-2d")

_NUMBER_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)")
_SIMPLE_DURATION_RE = re.compile(r"(\d+)(ns|us|µs|μs|ms|s|m|h|d|w)\Z")
_UNIX_RE = re.compile(r"(\d+)(?:\.(\d+))?\Z")
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})(?:-(\d{2})"
    r"(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?)?\Z")
_RELATIVE_RE = re.compile(r"(?:now)?\s*([+-])\s*(\S.*)\Z")


class Span(NamedTuple):
    """The half-open interval ``[lo, hi)`` of nanoseconds an instant names."""

    lo: int
    hi: int


# ---------------------------------------------------------------------- durations
def duration_ns(value: Union[str, int, float]) -> int:
    """Nanoseconds of a duration: Go syntax plus ``d``/``w``, or a number of seconds.

    Fractions of a nanosecond are truncated toward zero, as Go does.  Raises
    ValueError naming the text and what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected {_DURATION_EXPECTED}")
    if isinstance(value, int):
        return value * NS_PER_S
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"invalid duration {value!r}: not a finite number")
        return int(Fraction(value) * NS_PER_S)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: expected {_DURATION_EXPECTED}")
    s = value.strip()
    m = _SIMPLE_DURATION_RE.match(s)
    if m is not None:  # one whole number and a unit, as most are written
        return int(m.group(1)) * UNITS[m.group(2)]
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        raise ValueError(f"invalid duration {value!r}: expected {_DURATION_EXPECTED}")
    m = _NUMBER_RE.fullmatch(s)
    if m is not None:  # a plain number: seconds
        return sign * int(Fraction(s) * NS_PER_S)
    total = Fraction(0)
    i, n = 0, len(s)
    while i < n:
        m = _NUMBER_RE.match(s, i)
        if m is None:
            raise ValueError(f"invalid duration {value!r}: expected a number at "
                             f"{s[i:]!r}; {_DURATION_EXPECTED}")
        j = k = m.end()
        while k < n and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in UNITS:
            what = f"unknown unit {unit!r}" if unit else "missing unit"
            raise ValueError(f"invalid duration {value!r}: {what}; expected {_DURATION_EXPECTED}")
        total += Fraction(m.group(1)) * UNITS[unit]
        i = k
    return sign * int(total)


def parse_duration(value: Union[str, int, float, None]) -> Optional[float]:
    """Seconds of a duration (``"1h30m"``, ``"500ms"``, ``"2d"``) or a number; None stays None.

    Raises ValueError for anything else.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return duration_ns(value) / NS_PER_S


def format_duration(ns: int) -> str:
    """The shortest duration text for ``ns`` nanoseconds in whole units (``1h30m``, ``2d``)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    rest = abs(ns)
    parts = []
    for unit in ("w", "d", "h", "m", "s", "ms", "us", "ns"):
        q, rest = divmod(rest, UNITS[unit])
        if q:
            parts.append(f"{q}{unit}")
    return sign + "".join(parts)


# ---------------------------------------------------------------------- instants
def _now(now_ns: Optional[int]) -> int:
    return _time.time_ns() if now_ns is None else now_ns


def _dt_ns(d: _dt.datetime) -> int:
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def _unix_scale(v: int) -> int:
    """Nanoseconds per unit of a Unix time, judged by its size as writes judge it."""
    v = abs(v)
    if v < 10 ** 11:
        return NS_PER_S
    if v < 10 ** 14:
        return 1_000_000
    if v < 10 ** 17:
        return 1_000
    return 1


def _unix_span(whole: str, frac: Optional[str]) -> Span:
    scale = _unix_scale(int(whole))
    frac = frac or ""
    unit = Fraction(scale, 10 ** len(frac))
    lo = Fraction(int(whole + frac)) * unit
    step = unit if unit >= 1 else Fraction(1)
    lo_i = int(lo)  # whole ns (a finer fraction than 1 ns falls in this one)
    return Span(lo_i, max(lo_i + 1, int(lo + step)))


def _add_months(d: _dt.datetime, months: int) -> _dt.datetime:
    y, m = divmod(d.month - 1 + months, 12)
    return d.replace(year=d.year + y, month=m + 1)


def _iso_span(m: "re.Match[str]", tz: _dt.tzinfo) -> Span:
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    if zone is not None:
        if zone in ("Z", "z"):
            tz = _UTC
        else:
            sgn = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
            if int(digits[:2]) > 23 or (len(digits) > 2 and int(digits[2:]) > 59):
                raise ValueError("zone offset out of range")
            tz = _dt.timezone(sgn * _dt.timedelta(minutes=minutes))
    start = _dt.datetime(int(y), int(mo), int(d or 1), int(hh or 0), int(mi or 0),
                         int(ss or 0), tzinfo=tz)
    if d is None:
        return Span(_dt_ns(start), _dt_ns(_add_months(start, 1)))
    if hh is None:
        # the next day's midnight by the wall clock (a day with a DST change is 23 or 25 h)
        nxt = _dt.datetime.combine(start.date() + _dt.timedelta(days=1), _dt.time(),
                                   tzinfo=tz)
        return Span(_dt_ns(start), _dt_ns(nxt))
    lo = _dt_ns(start)
    if mi is None:
        return Span(lo, lo + 3600 * NS_PER_S)
    if ss is None:
        return Span(lo, lo + 60 * NS_PER_S)
    if frac is None:
        return Span(lo, lo + NS_PER_S)
    unit = 10 ** (9 - len(frac))
    lo += int(frac) * unit
    return Span(lo, lo + unit)


def parse_instant(value: TimeLike, *, now_ns: Optional[int] = None,
                  tz: Optional[_dt.tzinfo] = None) -> Span:
    """The interval ``[lo, hi)`` (ns) that an instant names at its precision.

    ``now_ns`` fixes "now" (default: the clock); ``tz`` is the zone of ISO times
    written without one, and of dates (default UTC).  Raises ValueError naming the
    text and what was expected.
    """
    tz = _UTC if tz is None else tz
    if value is None or isinstance(value, bool):
        raise ValueError(f"invalid time {value!r}: expected {_INSTANT_EXPECTED}")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"invalid time {value!r}: a naive datetime is ambiguous; "
                             f"give it a timezone")
        lo = _dt_ns(value)
        return Span(lo, lo + 1000)
    if isinstance(value, _dt.date):
        start = _dt.datetime.combine(value, _dt.time(), tzinfo=tz)
        nxt = _dt.datetime.combine(value + _dt.timedelta(days=1), _dt.time(), tzinfo=tz)
        return Span(_dt_ns(start), _dt_ns(nxt))
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid time {value!r}: a Unix time is not negative")
        scale = _unix_scale(value)
        return Span(value * scale, (value + 1) * scale)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            raise ValueError(f"invalid time {value!r}: expected a finite, non-negative "
                             f"Unix time")
        lo = int(Fraction(value) * _unix_scale(int(value)))
        return Span(lo, lo + 1)
    if not isinstance(value, str):
        raise ValueError(f"invalid time {value!r}: expected {_INSTANT_EXPECTED}")
    s = value.strip()
    m = _UNIX_RE.match(s)
    if m is not None:
        return _unix_span(m.group(1), m.group(2))
    m = _ISO_RE.match(s)
    if m is not None:
        try:
            return _iso_span(m, tz)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid time {value!r}: {exc}") from None
    if s == "now":
        now = _now(now_ns)
        return Span(now, now + 1)
    m = _RELATIVE_RE.match(s)
    if m is not None:
        try:
            d = duration_ns(m.group(2))
        except ValueError:
            raise ValueError(f"invalid time {value!r}: expected a duration after "
                             f"{m.group(1)!r}, such as -1h or now-2d") from None
        if _NUMBER_RE.fullmatch(m.group(2).strip()) is not None:
            raise ValueError(f"invalid time {value!r}: a relative time needs a unit, "
                             f"such as {m.group(1)}{m.group(2).strip()}s")
        at = _now(now_ns) + (d if m.group(1) == "+" else -d)
        return Span(at, at + 1)
    hint = ""
    try:
        duration_ns(s)
        hint = f"; for {s} ago write -{s}"
    except ValueError:
        pass
    raise ValueError(f"invalid time {value!r}: expected {_INSTANT_EXPECTED}{hint}")


def start_ns(value: TimeLike, *, now_ns: Optional[int] = None,
             tz: Optional[_dt.tzinfo] = None) -> Optional[int]:
    """A start bound: the first nanosecond of the instant's unit (None stays None)."""
    if value is None:
        return None
    return parse_instant(value, now_ns=now_ns, tz=tz).lo


def end_ns(value: TimeLike, *, now_ns: Optional[int] = None,
           tz: Optional[_dt.tzinfo] = None) -> Optional[int]:
    """An end bound, exclusive: just after the instant's unit (None stays None)."""
    if value is None:
        return None
    return parse_instant(value, now_ns=now_ns, tz=tz).hi


def time_range(start: TimeLike = None, end: TimeLike = None, *,
               since: Union[str, int, float, None] = None, now_ns: Optional[int] = None,
               tz: Optional[_dt.tzinfo] = None) -> Tuple[Optional[int], Optional[int]]:
    """``[start, end)`` in ns from bounds as users give them; ``since`` is a duration
    back from now (``since="1h"``: the last hour) and excludes ``start``.

    Raises ValueError when start is after end.
    """
    now = _now(now_ns)
    if since is not None:
        if start is not None:
            raise ValueError("give either since or start, not both")
        d = duration_ns(since)
        if d < 0:
            raise ValueError(f"invalid since {since!r}: expected a positive duration")
        lo: Optional[int] = now - d
    else:
        lo = start_ns(start, now_ns=now, tz=tz)
    hi = end_ns(end, now_ns=now, tz=tz)
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(f"the time range is empty: start {start if since is None else since!r} "
                         f"is not before end {end!r}")
    return lo, hi


def format_iso(ns: int, *, digits: int = 9) -> str:
    """``ns`` as ISO 8601 in UTC with ``digits`` fractional digits (0, 3, 6 or 9) and ``Z``.

    With 9 digits the texts of increasing times sort in time order.
    """
    secs, frac = divmod(ns, NS_PER_S)
    text = (_EPOCH + _dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{frac:09d}"[:digits]
    return text + "Z"
