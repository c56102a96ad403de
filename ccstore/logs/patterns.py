"""User-defined log formats: a pattern with named fields, or a regular expression.

``<_> <time:epoch> <_> <host> <msg>`` (in the spirit of Loki's pattern parser) or
``(?P<host>\\S+) (?P<msg>.*)``: :func:`compile_pattern` and :func:`compile_regex`
make a :class:`UserFormat`, whose :meth:`UserFormat.header` has the shape of the
header functions of :mod:`ccstore.logs.formats`.  A pattern that does not compile
raises :class:`PatternError` naming the column and what was expected there.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from ..rows import NS_PER_S
from ._grammar import LOGLEVELS, _frac_ns, normalize_level
from .clock import _CACHE_MAX, _MONTH_NAMES, _MONTHS, Clock, _zone_seconds
from .formats import PARSE_TAG, Header

__all__ = ["PatternError", "TIME_TYPES", "UserFormat", "compile_pattern", "compile_regex"]


class PatternError(ValueError):
    """A user format that does not compile.

    :attr:`position`: index in the pattern (None when the error is not at a place
    in it, e.g. a level map); the message names the column (1-based) and what was
    expected there.
    """

    def __init__(self, message: str, position: Optional[int] = None) -> None:
        self.position = position
        self.reason = message
        super().__init__(message if position is None
                         else f"column {position + 1}: {message}")


#: field name -> its role; any other name is a tag
_ROLES = {"time": "time", "host": "host", "hostname": "host", "level": "level",
          "loglevel": "level", "name": "name", "program": "name", "msg": "msg",
          "message": "msg"}
#: tags that a user format may not set: they have columns or meanings of their own
_RESERVED_TAGS = ("cluster", "type", "type-id", "stype", "stype-id", "location", PARSE_TAG)

_ISO_CAPTURE = (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?"
                r"(?:Z|[+-]\d\d:?\d\d)?")
_BSD_CAPTURE = r"[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d{1,9})?"
_EPOCH_CAPTURE = r"\d+(?:\.\d{1,9})?"
#: the named time types of a time field (besides strftime formats)
TIME_TYPES = ("epoch", "epoch_ms", "epoch_us", "epoch_ns", "iso", "bsd", "auto")
#: epoch unit -> nanoseconds
_EPOCH_SCALE = {"epoch": NS_PER_S, "epoch_ms": 1_000_000, "epoch_us": 1_000, "epoch_ns": 1}
#: time type -> regex of the field in a pattern
_TIME_REGEX = {
    "epoch": _EPOCH_CAPTURE, "epoch_ms": r"\d+", "epoch_us": r"\d+", "epoch_ns": r"\d+",
    "iso": _ISO_CAPTURE, "bsd": _BSD_CAPTURE,
    "auto": "%s|%s|%s" % (_ISO_CAPTURE, _BSD_CAPTURE, _EPOCH_CAPTURE),
}
_BSD_TEXT_RE = re.compile(r"([A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d)(?:\.(\d{1,9}))?$")
_EPOCH_TEXT_RE = re.compile(r"(\d+)(?:\.(\d{1,9}))?$")
#: strftime directives: (regex, value it gives)
_STRFTIME = {
    "Y": (r"\d{4}", "Y"), "y": (r"\d\d", "y"), "m": (r"\d\d?", "m"), "d": (r"\d\d?", "d"),
    "e": (r" ?\d\d?", "d"), "H": (r"\d\d?", "H"), "I": (r"\d\d?", "I"), "p": (r"[AaPp][Mm]", "p"),
    "M": (r"\d\d", "M"), "S": (r"\d\d", "S"), "f": (r"\d{1,9}", "f"),
    "b": (r"[A-Za-z]{3}", "b"), "h": (r"[A-Za-z]{3}", "b"), "B": (r"[A-Za-z]+", "B"),
    "a": (r"[A-Za-z]{3}", None), "A": (r"[A-Za-z]+", None),
    "z": (r"Z|[+-]\d\d:?\d\d", "z"), "s": (r"\d+", "s"),
}
_STRFTIME_SHORT = {"T": "%H:%M:%S", "F": "%Y-%m-%d", "D": "%m/%d/%y", "R": "%H:%M"}
_MONTH_WORDS = {name.lower(): i for i, name in enumerate(
    "January February March April May June July August September October November "
    "December".split(), 1)}
_MONTH_WORDS.update((m.lower(), i) for m, i in _MONTHS.items())


def _time_types() -> str:
    return ", ".join(TIME_TYPES) + " or a strftime format such as %Y-%m-%d %H:%M:%S"


def _strftime(spec: str, at: int) -> Tuple[str, "re.Pattern[str]"]:
    """``(regex to capture it, regex with a group per directive)`` of a strftime format;
    ``at``: position of ``spec`` in the pattern, for errors."""
    capture: List[str] = []
    parse: List[str] = []
    seen: Dict[str, int] = {}
    # %T, %F ... expanded, each character with its position in the pattern
    expanded: List[Tuple[str, int]] = []
    i = 0
    while i < len(spec):
        if spec[i] == "%" and spec[i + 1:i + 2] in _STRFTIME_SHORT:
            expanded.extend((ch, at + i) for ch in _STRFTIME_SHORT[spec[i + 1]])
            i += 2
        else:
            expanded.append((spec[i], at + i))
            i += 1
    i = 0
    while i < len(expanded):
        c, pos = expanded[i]
        if c != "%":
            capture.append(re.escape(c))
            parse.append(re.escape(c))
            i += 1
            continue
        if i + 1 >= len(expanded):
            raise PatternError("expected a directive after '%' (such as %Y or %H)", pos)
        d = expanded[i + 1][0]
        if d == "%":
            capture.append("%")
            parse.append("%")
            i += 2
            continue
        if d not in _STRFTIME:
            raise PatternError(
                f"unknown strftime directive %{d}: expected one of "
                + " ".join("%" + k for k in (*_STRFTIME, *_STRFTIME_SHORT)), pos)
        rx, value = _STRFTIME[d]
        capture.append("(?:%s)" % rx)
        if value is None:
            parse.append("(?:%s)" % rx)
        else:
            if value in seen:
                raise PatternError(f"the time format gives %{d} twice", pos)
            seen[value] = pos
            parse.append("(?P<%s>%s)" % (value, rx))
        i += 2
    if "s" not in seen and not (("m" in seen or "b" in seen or "B" in seen) and "d" in seen):
        raise PatternError("expected a date in the time format: %s, or a month (%m, %b, %B) "
                           "and a day (%d)", at)
    if ("I" in seen) != ("p" in seen):
        raise PatternError("expected %I and %p together (12-hour clock)", at)
    return "".join(capture), re.compile("".join(parse) + "$")


def _time_converter(kind: str, clock: Clock,
                    strftime: Optional["re.Pattern[str]"] = None
                    ) -> Callable[[str], Optional[int]]:
    """A function: time text -> nanoseconds (None if it is not such a time)."""
    if kind in _EPOCH_SCALE:
        scale = _EPOCH_SCALE[kind]
        match = _EPOCH_TEXT_RE.match

        def epoch(text: str) -> Optional[int]:
            m = match(text)
            if m is None:
                return None
            whole, frac = m.groups()
            if frac and scale != 1:
                return int(whole) * scale + int((frac + "000000000")[:9]) * scale // NS_PER_S
            return int(whole) * scale
        return epoch
    if kind == "iso":
        return clock.iso_ns
    bsd_match = _BSD_TEXT_RE.match

    def bsd(text: str) -> Optional[int]:
        m = bsd_match(text)
        if m is None:
            return None
        s = clock.bsd_seconds(m.group(1))
        return None if s is None else s * NS_PER_S + _frac_ns(m.group(2))
    if kind == "bsd":
        return bsd
    if kind == "auto":
        epoch_ns = _time_converter("epoch", clock)

        def auto(text: str) -> Optional[int]:
            c = text[:1]
            if "A" <= c <= "Z":
                return bsd(text)
            if text[4:5] == "-":
                return clock.iso_ns(text)
            return epoch_ns(text)
        return auto
    assert strftime is not None
    return _strftime_converter(strftime, clock)


#: the strftime values that name a minute (seconds and fractions are added per line)
_MINUTE_VALUES = ("Y", "y", "m", "b", "B", "d", "H", "I", "p", "M", "z")


def _strftime_converter(rx: "re.Pattern[str]", clock: Clock) -> Callable[[str], Optional[int]]:
    """Time text -> ns for a strftime regex of :func:`_strftime`: the minute's epoch is
    cached by the text of its fields, the seconds and fraction added per line."""
    match = rx.match
    groups = rx.groupindex
    names = tuple(g for g in _MINUTE_VALUES if g in groups)
    has_epoch, has_sec, has_frac = "s" in groups, "S" in groups, "f" in groups
    no_year = "Y" not in groups and "y" not in groups
    minutes: Dict[Tuple[str, ...], Optional[int]] = {}

    def minute(key: Tuple[str, ...]) -> Optional[int]:
        v = dict(zip(names, key))
        try:
            if v.get("m") is not None:
                mon = int(v["m"])
            else:
                mon = _MONTH_WORDS[(v.get("b") or v.get("B") or "").lower()]
            day = int(v["d"])
            if v.get("I") is not None:
                hh = int(v["I"]) % 12 + (12 if v["p"].lower() == "pm" else 0)
            else:
                hh = int(v.get("H") or 0)
            mm = int(v.get("M") or 0)
            zone = v.get("z")
            if no_year:
                if zone:
                    return None
                return clock.bsd_seconds("%s %2d %02d:%02d:00" % (_MONTH_NAMES[mon], day, hh, mm))
            year = int(v["Y"]) if v.get("Y") is not None else None
            if year is None:
                y2 = int(v["y"])
                year = y2 + (1900 if y2 >= 69 else 2000)
            if zone:
                _dt.datetime(year, mon, day, hh, mm)  # validates
                return calendar.timegm((year, mon, day, hh, mm, 0)) - _zone_seconds(zone)
            return clock.local(year, mon, day, hh, mm)
        except (KeyError, IndexError, ValueError):
            return None

    def convert(text: str) -> Optional[int]:
        m = match(text)
        if m is None:
            return None
        frac = _frac_ns(m.group("f")) if has_frac else 0
        if has_epoch:
            return int(m.group("s")) * NS_PER_S + frac
        key = m.group(*names) if len(names) > 1 else (m.group(names[0]),)
        if no_year:  # the clock caches it, and knows when its reference time moves
            t = minute(key)
        else:
            t = minutes.get(key, -1)
            if t == -1:
                if len(minutes) > _CACHE_MAX:
                    minutes.clear()
                t = minutes[key] = minute(key)
        if t is None:
            return None
        if has_sec:
            sec = int(m.group("S"))
            if sec > 60:
                return None
            t += sec
        return t * NS_PER_S + frac
    return convert


def _level_map(levels: Optional[Mapping[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in (levels or {}).items():
        level = normalize_level(value) if isinstance(value, str) else None
        if level is None:
            raise PatternError(f"level map: {key!r} -> {value!r}: expected one of "
                               + ", ".join(LOGLEVELS))
        out[key] = level
    return out


class UserFormat:
    """A format defined by a user: a compiled pattern or regular expression.

    Made by :func:`compile_pattern` or :func:`compile_regex`.  :meth:`header`
    parses a line (None if the line does not match, or its time field does not
    read as a time).  Without a ``msg`` field the message is the whole line;
    without a ``time`` field the time is None (the caller's).
    """

    def __init__(self, regex: "re.Pattern[str]", roles: Dict[str, int],
                 tags: List[Tuple[str, int]], time: Optional[Callable[[str], Optional[int]]],
                 levels: Dict[str, str], source: str) -> None:
        self.regex = regex
        self.source = source
        self._match = regex.match
        self._time = time
        self._ti = roles.get("time")
        self._hi = roles.get("host")
        self._li = roles.get("level")
        self._ni = roles.get("name")
        self._mi = roles.get("msg")
        self._tags = tags
        self._levels = levels
        #: the fields, in order: roles and tag names
        self.fields = tuple(sorted(list(roles) + [name for name, _ in tags]))

    def __repr__(self) -> str:
        return f"UserFormat({self.source!r})"

    def level(self, value: str) -> Optional[str]:
        """The loglevel of a level field's value: the format's map, then the usual
        level words and syslog severities; None if unknown."""
        level = self._levels.get(value)
        if level is None:
            level = normalize_level(value)
        return level

    def header(self, line: str) -> Optional[Header]:
        m = self._match(line)
        if m is None:
            return None
        v = m.groups()
        t = None
        if self._ti is not None:
            text = v[self._ti]
            if text is not None:  # else an optional group of a regex: no time
                t = self._time(text)  # type: ignore[misc]
                if t is None:
                    return None
        host = v[self._hi] or None if self._hi is not None else None
        name = v[self._ni] or None if self._ni is not None else None
        msg = v[self._mi] if self._mi is not None else line
        if msg is None:
            msg = ""
        level = None
        if self._li is not None and v[self._li]:
            level = self.level(v[self._li])
        tags = None
        if self._tags:
            tags = {k: v[i] for k, i in self._tags if v[i] is not None}
        return t, name, host, level, msg, None, tags


def _check_tag_name(name: str, pos: int) -> None:
    if name in _RESERVED_TAGS:
        raise PatternError(f"a field name other than {name!r} (a tag of its own "
                           f"meaning): rename the field", pos)


def compile_pattern(pattern: str, *, levels: Optional[Mapping[str, str]] = None,
                    clock: Optional[Clock] = None) -> UserFormat:
    """A format from a pattern such as ``<_> <time:epoch> <_> <host> <msg>``.

    ``<name>`` captures up to the text that follows it (the last one to the end
    of the line), ``<_>`` skips; any other text must be there as written.
    Fields: ``time`` (``<time:TYPE>``, TYPE one of :data:`TIME_TYPES` or a
    strftime format, default ``auto``), ``host``, ``level``, ``name`` or
    ``program``, ``msg``; any other name is a tag.  ``levels`` maps the values of
    the level field to loglevels (``{"E": "error", "W": "warn"}``).  Raises
    :class:`PatternError` naming the column and what was expected there.
    """
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("expected a pattern with at least one field such as <msg>", 0)
    clock = clock or Clock()
    level_map = _level_map(levels)
    # (kind, text or name, position, spec, spec position)
    parts: List[Tuple[str, str, int, Optional[str], int]] = []
    n = len(pattern)
    pos = 0
    lit_start = 0
    while pos < n:
        if pattern[pos] != "<" or pos + 1 >= n or not (
                pattern[pos + 1].isalpha() or pattern[pos + 1] == "_"):
            pos += 1
            continue
        if pos > lit_start:
            parts.append(("lit", pattern[lit_start:pos], lit_start, None, 0))
        start = pos
        j = pos + 1
        while j < n and (pattern[j].isalnum() or pattern[j] in "_.-"):
            j += 1
        name = pattern[pos + 1:j]
        spec = None
        spec_pos = j + 1
        if j < n and pattern[j] == ":":
            close = pattern.find(">", j + 1)
            lt = pattern.find("<", j + 1, n if close < 0 else close)
            if close < 0 or lt >= 0:
                raise PatternError(f"expected '>' closing the field <{name}: opened at "
                                   f"column {start + 1}", n if lt < 0 else lt)
            spec = pattern[j + 1:close]
            j = close
        elif j >= n or pattern[j] != ">":
            got = "the end of the pattern" if j >= n else repr(pattern[j])
            raise PatternError(f"expected '>' or ':' after the field name <{name}, "
                               f"found {got}", j)
        parts.append(("field", name, start, spec, spec_pos))
        pos = lit_start = j + 1
    if lit_start < n:
        parts.append(("lit", pattern[lit_start:], lit_start, None, 0))

    regex: List[str] = []
    roles: Dict[str, int] = {}
    tags: List[Tuple[str, int]] = []
    first_at: Dict[str, int] = {}
    time_conv = None
    group = 0
    prev_field: Optional[Tuple[str, bool]] = None  # (name, has a regex of its own)
    for idx, (kind, text, at, spec, spec_at) in enumerate(parts):
        if kind == "lit":
            regex.append(re.escape(text))
            prev_field = None
            continue
        name = text
        role = _ROLES.get(name)
        if name != "_":
            if name in first_at or (role is not None and role in roles):
                raise PatternError(f"a field named once: <{name}> is already at column "
                                   f"{first_at.get(name, first_at.get(role, at)) + 1}", at)
            first_at[name] = at
            if role is not None:
                first_at[role] = at
        if spec is not None and role != "time":
            raise PatternError(f"expected '>' after <{name}: only <time:...> takes a type",
                               spec_at - 1)
        own = False
        if role == "time":
            kind_of = (spec if spec is not None else "auto").strip()
            if not kind_of:
                raise PatternError("expected a time type: " + _time_types(), spec_at)
            if kind_of in _TIME_REGEX:
                sub = _TIME_REGEX[kind_of]
                time_conv = _time_converter(kind_of, clock)
            elif "%" in kind_of:
                sub, parse_rx = _strftime(kind_of, spec_at)
                time_conv = _time_converter("strftime", clock, parse_rx)
            else:
                raise PatternError(f"unknown time type {kind_of!r}: expected "
                                   + _time_types(), spec_at)
            own = True
        else:
            nxt = parts[idx + 1][1] if idx + 1 < len(parts) else None
            if nxt is None:
                sub = ".*"
            elif parts[idx + 1][0] == "field":
                sub = ""  # checked below: the next field must have a regex of its own
            elif len(nxt) == 1:
                sub = "[^%s]*" % re.escape(nxt)
            else:
                sub = ".*?"
        if prev_field is not None and not prev_field[1] and not own:
            raise PatternError(f"expected literal text between the fields <{prev_field[0]}> "
                               f"and <{name}>", at)
        if not sub:
            # an untyped field right before a typed time field: up to where the time starts
            sub = ".*?"
        if name == "_":
            regex.append("(?:%s)" % sub)
        else:
            regex.append("(%s)" % sub)
            if role is not None:
                roles[role] = group
            else:
                _check_tag_name(name, at)
                tags.append((name, group))
            group += 1
        prev_field = (name, own)
    if group == 0:
        raise PatternError("expected at least one named field such as <msg> "
                           "(<_> only skips)", 0)
    try:
        rx = re.compile("".join(regex))
    except re.error as exc:  # pragma: no cover - the pieces are escaped or fixed
        raise PatternError(f"does not compile: {exc}", 0) from exc
    return UserFormat(rx, roles, tags, time_conv, level_map, pattern)


def compile_regex(regex: str, *, time_format: Optional[str] = None,
                  levels: Optional[Mapping[str, str]] = None,
                  clock: Optional[Clock] = None) -> UserFormat:
    """A format from a regular expression with named groups.

    Group names as the fields of :func:`compile_pattern` (``time``, ``host``,
    ``level``, ``name``/``program``, ``msg``; other names are tags).  The time
    group is read as ``time_format`` (one of :data:`TIME_TYPES` or a strftime
    format; default ``auto``).  The expression matches from the start of a line.
    """
    if not isinstance(regex, str) or not regex:
        raise PatternError("expected a regular expression with named groups such as "
                           "(?P<msg>.*)", 0)
    clock = clock or Clock()
    level_map = _level_map(levels)
    try:
        rx = re.compile(regex)
    except re.error as exc:
        raise PatternError(f"expected a regular expression: {exc.msg}", exc.pos) from exc
    if not rx.groupindex:
        raise PatternError("expected at least one named group such as (?P<msg>.*)", 0)
    roles: Dict[str, int] = {}
    tags: List[Tuple[str, int]] = []
    for name, index in sorted(rx.groupindex.items(), key=lambda kv: kv[1]):
        at = max(regex.find("(?P<%s>" % name), 0)
        role = _ROLES.get(name)
        if role is None:
            _check_tag_name(name, at)
            tags.append((name, index - 1))
        elif role in roles:
            raise PatternError(f"one group per field: {name!r} and another group "
                               f"both give the {role}", at)
        else:
            roles[role] = index - 1
    time_conv = None
    if "time" in roles:
        kind = (time_format or "auto").strip()
        if kind in _TIME_REGEX:
            time_conv = _time_converter(kind, clock)
        elif "%" in kind:
            try:
                _, parse_rx = _strftime(kind, 0)
            except PatternError as exc:
                raise PatternError(f"time format {kind!r}: at {exc.position + 1}: "
                                   f"{exc.reason}") from None
            time_conv = _time_converter("strftime", clock, parse_rx)
        else:
            raise PatternError(f"time format: unknown time type {kind!r}: expected "
                               + _time_types())
    elif time_format is not None:
        raise PatternError("time format given but no group named time, such as "
                           "(?P<time>\\S+)", 0)
    return UserFormat(rx, roles, tags, time_conv, level_map, regex)
