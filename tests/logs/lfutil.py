"""Helpers of the log-format tests: headers as dicts, UTC times in nanoseconds."""
from __future__ import annotations

import calendar
from typing import Any, Dict, Optional

NS = 1_000_000_000
FIELDS = ("time", "name", "host", "level", "msg", "cont", "tags")


def utc(*fields: int, us: int = 0, ns: int = 0) -> int:
    """Nanoseconds of a UTC date and time (plus microseconds or nanoseconds)."""
    return calendar.timegm(fields + (0,) * (6 - len(fields))) * NS + us * 1000 + ns


def as_dict(header: Optional[tuple]) -> Optional[Dict[str, Any]]:
    """A header tuple as a dict of FIELDS (None stays None); checks its shape."""
    if header is None:
        return None
    assert len(header) == len(FIELDS), header
    assert header[3] in (None, "debug", "info", "warn", "error"), header
    assert isinstance(header[4], str), header
    return dict(zip(FIELDS, header))
