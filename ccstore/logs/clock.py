"""Wall-clock times of log lines as epoch seconds: one zone, one reference time.

Log timestamps often name no zone (read in the :class:`Clock`'s zone) and RFC 3164
dates name no year (taken from the reference time).  The log parser, the HPC
formats and user-defined patterns all read their times through one :class:`Clock`,
whose caches make a repeated minute cost a dict lookup.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
import time as _time
from typing import Callable, Dict, Optional, Tuple

from ..rows import NS_PER_S
from ._grammar import _frac_ns

__all__ = ["Clock", "epoch_ns"]

_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
#: month number -> its RFC 3164 name ("" for 0)
_MONTH_NAMES = ("", *_MONTHS)
_CACHE_MAX = 100_000

# an ISO 8601 timestamp: groups (minute prefix, seconds, fraction, zone)
_ISO = (r"(\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d):(\d\d)(?:[.,](\d{1,9}))?\d*"
        r"(?: ?(Z|[+-]\d\d:?\d\d|UTC\b))?")
_ISO_RE = re.compile(_ISO)


def _zone_seconds(zone: str) -> int:
    if zone in ("Z", "UTC"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    z = zone[1:].replace(":", "")
    return sign * (int(z[:2]) * 3600 + int(z[2:4]) * 60)


def epoch_ns(digits: str, frac: Optional[str] = None) -> int:
    """An epoch in s, ms, us or ns (by its number of digits) as nanoseconds."""
    n = len(digits)
    if n <= 11:
        return int(digits) * NS_PER_S + _frac_ns(frac)
    if n <= 14:
        return int(digits) * 1_000_000
    if n <= 17:
        return int(digits) * 1_000
    return int(digits)


class _BsdCache(dict):
    """RFC 3164 timestamp -> epoch seconds (None: impossible date), computed on a miss.

    A plain dict to its readers, so that the compiled syslog fast path looks
    times up without a call into Python.
    """

    __slots__ = ("compute",)

    def __init__(self, compute: Callable[[str], Optional[int]]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, ts: str) -> Optional[int]:
        if len(self) > _CACHE_MAX:
            self.clear()
        v = self[ts] = self.compute(ts)
        return v


class Clock:
    """Times that name no zone, in ``tz``; dates that name no year, near a reference time.

    ``tz``: None for the local zone, ``"UTC"``, or an IANA name.  A date without a
    year is put in the reference year unless that makes it more than a day later
    than the reference (a December line read in January): then the year before.
    """

    def __init__(self, tz: Optional[str] = None,
                 reference_time: Optional[float] = None) -> None:
        if tz is None:
            self.tz: Optional[_dt.tzinfo] = None
        elif tz.upper() == "UTC":
            self.tz = _dt.timezone.utc
        else:
            from zoneinfo import ZoneInfo
            self.tz = ZoneInfo(tz)
        self._local: Dict[Tuple[int, int, int, int, int], int] = {}
        self._minutes: Dict[Tuple[str, Optional[str]], int] = {}
        #: ``"Mmm dd HH:MM:SS"`` -> epoch seconds or None (a dict, filled on a miss)
        self.bsd = _BsdCache(self._bsd_compute)
        self.reference = 0.0
        self._ref_day = -1
        self.set_reference_time(reference_time)

    def set_reference_time(self, seconds: Optional[float]) -> None:
        """The time (Unix seconds) that dates without a year are near; default now."""
        ref = _time.time() if seconds is None else float(seconds)
        self.reference = ref
        day = int(ref // 86400)
        if day != self._ref_day:
            self._ref_day = day
            self.bsd.clear()

    def local(self, y: int, mo: int, d: int, hh: int, mm: int) -> int:
        """Epoch seconds of a wall-clock minute in the clock's zone (ValueError if
        there is no such date)."""
        key = (y, mo, d, hh, mm)
        v = self._local.get(key)
        if v is None:
            if self.tz is _dt.timezone.utc:
                _dt.datetime(y, mo, d, hh, mm)  # validates
                v = calendar.timegm((y, mo, d, hh, mm, 0))
            else:
                v = int(_dt.datetime(y, mo, d, hh, mm, tzinfo=self.tz).timestamp())
            if len(self._local) > _CACHE_MAX:
                self._local.clear()
            self._local[key] = v
        return v

    def minute(self, prefix: str, zone: Optional[str]) -> int:
        """Epoch seconds of an ISO minute ``YYYY-MM-DD?HH:MM`` in ``zone`` (the
        clock's zone when None).  Raises ValueError for an impossible date."""
        key = (prefix, zone)
        v = self._minutes.get(key)
        if v is None:
            y, mo, d = int(prefix[:4]), int(prefix[5:7]), int(prefix[8:10])
            hh, mm = int(prefix[11:13]), int(prefix[14:16])
            if zone:
                _dt.datetime(y, mo, d, hh, mm)  # validates
                v = calendar.timegm((y, mo, d, hh, mm, 0)) - _zone_seconds(zone)
            else:
                v = self.local(y, mo, d, hh, mm)
            if len(self._minutes) > _CACHE_MAX:
                self._minutes.clear()
            self._minutes[key] = v
        return v

    def iso_ns(self, text: str) -> Optional[int]:
        """Nanoseconds of an ISO 8601 time at the start of ``text`` (``T`` or space,
        fraction and zone optional), None if there is none."""
        m = _ISO_RE.match(text.strip())
        if m is None:
            return None
        try:
            return ((self.minute(m.group(1), m.group(4)) + int(m.group(2))) * NS_PER_S
                    + _frac_ns(m.group(3)))
        except ValueError:
            return None

    def bsd_seconds(self, ts: str) -> Optional[int]:
        """Epoch seconds of ``Mmm dd HH:MM:SS`` (the day space-padded or not), None for
        an impossible date."""
        return self.bsd[ts]

    def _bsd_compute(self, ts: str) -> Optional[int]:
        if len(ts) == 14:  # "Nov 9 12:01:01"
            ts = ts[:4] + " " + ts[4:]
        try:
            mon = _MONTHS[ts[:3]]
            day, hh, mm, ss = int(ts[4:6]), int(ts[7:9]), int(ts[10:12]), int(ts[13:15])
        except (KeyError, ValueError):
            return None
        if ss > 60 or len(ts) != 15:
            return None
        if self.tz is None:
            year = _time.localtime(self.reference).tm_year
        else:
            year = _dt.datetime.fromtimestamp(self.reference, self.tz).year
        limit = self.reference + 86400
        for y in range(year, year - 8, -1):
            try:
                v = self.local(y, mon, day, hh, mm) + ss
            except ValueError:  # Feb 29 outside a leap year
                continue
            if v <= limit:
                return v
        return None
