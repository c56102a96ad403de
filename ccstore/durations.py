"""Go duration strings (``"1h30m"``, ``"500ms"``), as the Go program's config files use them."""
from __future__ import annotations

from typing import Optional, Union

__all__ = ["parse_duration"]


def parse_duration(value: Union[str, int, float, None]) -> Optional[float]:
    """Seconds from a Go duration string (``"1h30m"``, ``"500ms"``) or a number.

    None stays None (no limit).  Raises ValueError for anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    if not s:
        raise ValueError("invalid duration ''")
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    total = 0.0
    i, n = 0, len(s)
    if n == 0:
        raise ValueError(f"invalid duration {value!r}")
    while i < n:
        j = i
        while j < n and (s[j].isdigit() or s[j] == "."):
            j += 1
        num = s[i:j]
        if not num or num == "." or num.count(".") > 1:
            raise ValueError(f"invalid duration {value!r}")
        k = j
        while k < n and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in units:
            raise ValueError(f"invalid duration {value!r}: unknown unit {unit!r}"
                             if unit else f"invalid duration {value!r}: missing unit")
        total += float(num) * units[unit]
        i = k
    return sign * total
