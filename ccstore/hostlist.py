"""Slurm hostlists: ``node[001-064,100]`` to host names and back.

:func:`expand` reads the forms Slurm's ``scontrol show hostnames`` reads: comma
lists (``a1,b2``), bracketed ranges and numbers (``node[001-064,100]``, zero padding
as written, the width of a range is that of its first number) and several brackets
in one name (``rack[1-2]-n[01-16]``, the first bracket varying slowest).

:func:`compress` writes a set of names in the shortest form it finds, like
``scontrol show hostlist``: names that differ only in their last number share a
bracket (``node[001-064,100]``), and names whose brackets are alike share a bracket
in front as well (``rack[1-2]-n[01-16]``).  ``expand(compress(hosts))`` gives the
same set of names.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, Iterable, List, Tuple

__all__ = ["HostlistError", "MAX_HOSTS", "expand", "compress", "hostlist_safe"]

#: expand() refuses lists naming more hosts than this (a typo must not allocate GBs)
MAX_HOSTS = 1_000_000

# characters a name in a hostlist cannot contain (they are its syntax)
_SPECIAL = re.compile(r"[\[\],\s]")
_SPACE = re.compile(r"\s")
# a bracket of a hostlist item, kept by split()
_BRACKETS = re.compile(r"(\[[^\]]*\])")
# the last run of ASCII digits in a name
_LAST_NUMBER = re.compile(r"^(.*?)([0-9]+)([^0-9]*)$", re.S)


class HostlistError(ValueError):
    """A malformed hostlist, or a name a hostlist cannot hold."""


def hostlist_safe(name: str) -> bool:
    """Whether ``name`` can stand in a hostlist as it is (no brackets, commas, spaces)."""
    return bool(name) and _SPECIAL.search(name) is None


# ---------------------------------------------------------------------- expand
def _split_top(text: str) -> List[Tuple[int, str]]:
    """Items of a comma list, commas inside brackets excepted, with their offsets."""
    items = []
    depth = 0
    begin = 0
    for i, c in enumerate(text):
        if c == "[":
            if depth:
                raise HostlistError(f"invalid hostlist {text!r}: nested '[' at offset {i}")
            depth = 1
        elif c == "]":
            if not depth:
                raise HostlistError(f"invalid hostlist {text!r}: ']' without '[' at offset {i}")
            depth = 0
        elif c == "," and not depth:
            items.append((begin, text[begin:i]))
            begin = i + 1
    if depth:
        raise HostlistError(f"invalid hostlist {text!r}: '[' is not closed")
    items.append((begin, text[begin:]))
    return items


def _bracket(text: str, body: str) -> List[str]:
    """The numbers a bracket's body names, as strings, in order."""
    out: List[str] = []
    for elem in body.split(","):
        lo, sep, hi = elem.partition("-")
        if not (lo.isascii() and lo.isdigit()) or (sep and not (hi.isascii() and hi.isdigit())):
            raise HostlistError(f"invalid hostlist {text!r}: expected a number or a range "
                                f"such as 01-16 in brackets, found {elem!r}")
        if not sep:
            out.append(lo)
            continue
        a, b = int(lo), int(hi)
        if a > b:
            raise HostlistError(f"invalid hostlist {text!r}: range {elem!r} runs backwards")
        if b - a >= MAX_HOSTS:
            raise HostlistError(f"invalid hostlist {text!r}: more than {MAX_HOSTS} hosts")
        out.extend(_padded(a, b, len(lo)))
    return out


@functools.lru_cache(maxsize=None)
def _numbers(width: int) -> Tuple[str, ...]:
    """Every number of ``width`` digits, zero padded (width 1 to 4: at most 10,000)."""
    return tuple(str(v)[1:] for v in range(10 ** width, 2 * 10 ** width))


def _padded(a: int, b: int, width: int) -> List[str]:
    """The numbers ``a..b`` as text, zero padded to ``width`` (a query's hostlist is
    expanded each time it is parsed: short widths come from a table)."""
    top = min(b, 10 ** width - 1) if width else a - 1
    out: List[str] = []
    if a <= top:
        if width <= 4:
            out = list(_numbers(width)[a:top + 1])
        else:  # 10**width + v written out is "1" and v padded to width
            base = 10 ** width
            out = [str(v)[1:] for v in range(base + a, base + top + 1)]
    if b > top:  # wider than the padding: as they are
        out.extend(map(str, range(max(a, top + 1), b + 1)))
    return out


def expand(hostlist: str) -> List[str]:
    """The host names of a hostlist, in order, each once.

    Raises :class:`HostlistError` (a ValueError) naming the text and what was
    expected.
    """
    if not isinstance(hostlist, str):
        raise HostlistError(f"invalid hostlist {hostlist!r}: expected a string")
    text = hostlist.strip()
    if not text:
        raise HostlistError("invalid hostlist '': expected host names such as node[001-064]")
    seen: Dict[str, None] = {}
    for _, item in _split_top(text):
        if not item or _SPACE.search(item) is not None:
            raise HostlistError(f"invalid hostlist {hostlist!r}: expected a host name, "
                                f"found {item!r}")
        names = [""]
        for part in _BRACKETS.split(item):
            if part.startswith("["):
                nums = _bracket(hostlist, part[1:-1])
                if len(names) * len(nums) > MAX_HOSTS:
                    raise HostlistError(f"invalid hostlist {hostlist!r}: more than "
                                        f"{MAX_HOSTS} hosts")
                names = [x for n in names for x in map(n.__add__, nums)]
            elif part:
                names = [n + part for n in names]
        seen.update(dict.fromkeys(names))
        if len(seen) > MAX_HOSTS:
            raise HostlistError(f"invalid hostlist {hostlist!r}: more than {MAX_HOSTS} hosts")
    return list(seen)


# ---------------------------------------------------------------------- compress
def _natural(name: str) -> Tuple:
    """Sort key: digit runs by value, so node2 comes before node10."""
    return tuple((0, int(p), len(p)) if p.isdigit() else (1, p, 0)
                 for p in re.split(r"([0-9]+)", name))


def _ranges(numbers: Iterable[str]) -> str:
    """Bracket body for number strings: runs of consecutive values of one width."""
    padded: Dict[int, set] = {}  # width -> values written with leading zeros
    natural: Dict[int, str] = {}  # value -> text, written without leading zeros
    for s in set(numbers):
        if len(s) > 1 and s[0] == "0":
            padded.setdefault(len(s), set()).add(int(s))
        else:
            natural[int(s)] = s
    runs: List[Tuple[int, int, int]] = []  # (first value, width, last value)
    for width in sorted(padded):
        values = padded[width]
        for v in sorted(values):
            if v not in values:
                continue  # taken by a run already
            last = v
            values.discard(v)
            while True:  # a run of width w goes on through padded and long enough numbers
                nxt = last + 1
                if nxt in values:
                    values.discard(nxt)
                elif nxt in natural and len(natural[nxt]) >= width:
                    del natural[nxt]
                else:
                    break
                last = nxt
            runs.append((v, width, last))
    for v in sorted(natural):
        if v in natural:
            last = v
            while last + 1 in natural:
                last += 1
                del natural[last]
            del natural[v]
            runs.append((v, 1, last))
    runs.sort()
    return ",".join(str(a).zfill(w) if a == b else f"{str(a).zfill(w)}-{str(b).zfill(w)}"
                    for a, w, b in runs)


def _items(hosts: List[str]) -> List[Tuple[Tuple, str]]:
    """Hostlist items (with sort keys) that name exactly ``hosts`` (distinct names)."""
    groups: Dict[Tuple[str, str], List[str]] = {}
    out: List[Tuple[Tuple, str]] = []
    for h in hosts:
        m = _LAST_NUMBER.match(h)
        if m is None:
            out.append((_natural(h), h))
        else:
            groups.setdefault((m.group(1), m.group(3)), []).append(m.group(2))
    # one bracket per (prefix, suffix); then prefixes sharing a bracket and suffix
    shared: Dict[Tuple[str, str], List[str]] = {}
    for (prefix, suffix), numbers in groups.items():
        shared.setdefault((_ranges(numbers), suffix), []).append(prefix)
    for (body, suffix), prefixes in shared.items():
        bracket = body if body.isdigit() else f"[{body}]"
        first = min(body.split(","), key=lambda s: int(s.split("-")[0]))
        if len(prefixes) == 1:
            subs = [(_natural(prefixes[0]), prefixes[0])]
        else:
            subs = _items(prefixes)
        for key, sub in subs:
            out.append((key + _natural(first.split("-")[0] + suffix), sub + bracket + suffix))
    return out


def compress(hosts: Iterable[str]) -> str:
    """The shortest hostlist this function finds for a set of host names.

    Raises :class:`HostlistError` for an empty set and for a name a hostlist cannot
    hold (brackets, commas, white space).
    """
    names = list(dict.fromkeys(hosts))
    if not names:
        raise HostlistError("no hosts to write as a hostlist")
    for n in names:
        if not isinstance(n, str) or not hostlist_safe(n):
            raise HostlistError(f"host name {n!r} cannot be written in a hostlist")
    return ",".join(item for _, item in sorted(_items(names)))
