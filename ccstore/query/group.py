"""Identical messages across hosts, in the spirit of ``dshbak -c``.

:func:`mask` turns a message into a template: UUIDs, MAC and IP addresses, hex ids
and every run of digits (in paths and host names too) become placeholders, so that
``Xid 79 on GPU 0000:3b:00.0 (pid 4711)`` from 512 nodes is one line.
:func:`group` counts the records of each template, with the first and last time and
the hosts as a Slurm hostlist.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional

from .. import hostlist
from ..timesyntax import format_iso

__all__ = ["mask", "group", "Group"]

_MASK = re.compile(
    r"(?P<uuid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)"
    r"|(?P<mac>\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b)"
    r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}\b(?::\d+)?"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:)+:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![\w:]))"
    r"|(?P<hex>\b0[xX][0-9A-Fa-f]+\b"
    r"|\b(?=[0-9A-Fa-f]*[0-9])(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{8,}\b)"
    r"|(?P<num>\d+(?:\.\d+)?)")
_PLACEHOLDER = {"uuid": "<uuid>", "mac": "<mac>", "ip": "<ip>", "hex": "<hex>", "num": "<num>"}


def _placeholder(m: "re.Match[str]") -> str:
    return _PLACEHOLDER[m.lastgroup or "num"]


def mask(message: Optional[str]) -> str:
    """The message with its variable parts replaced by ``<uuid> <mac> <ip> <hex> <num>``."""
    if not message:
        return ""
    return _MASK.sub(_placeholder, message)


class Group(NamedTuple):
    """One template: how many records, first and last time (ns), the hosts as a
    hostlist, and one of its messages as it was written."""

    template: str
    count: int
    first: int
    last: int
    hosts: str
    sample: str = ""

    def as_dict(self) -> Dict[str, Any]:
        """The output form: times as ISO 8601 (``first``, ``last``) and in ns
        (``first_ns``, ``last_ns``)."""
        return {"template": self.template, "count": self.count,
                "first": format_iso(self.first), "last": format_iso(self.last),
                "first_ns": self.first, "last_ns": self.last, "hosts": self.hosts,
                "sample": self.sample}


def _hosts_text(hosts: Iterable[str]) -> str:
    names = sorted(hosts)
    if not names:
        return ""
    try:
        return hostlist.compress(names)
    except ValueError:  # a name a hostlist cannot hold: list them plainly
        return ",".join(names)


def group(records: Iterable[Mapping[str, Any]]) -> List[Group]:
    """Records (output dicts) grouped by :func:`mask` of their message, most frequent
    first (then by first time); a group's sample is the message of its first record
    given."""
    templates: Dict[str, str] = {}  # message -> template, for repeated messages
    acc: Dict[str, list] = {}  # template -> [count, first, last, hosts, sample]
    for r in records:
        msg = r.get("message") or ""
        tpl = templates.get(msg)
        if tpl is None:
            if len(templates) > 100_000:
                templates.clear()
            tpl = templates[msg] = mask(msg)
        t = r["ts_ns"]
        a = acc.get(tpl)
        if a is None:
            a = acc[tpl] = [0, t, t, {}, msg]
        a[0] += 1
        if t < a[1]:
            a[1] = t
        if t > a[2]:
            a[2] = t
        host = r.get("host")
        if host is not None:
            a[3][host] = None
    out = [Group(tpl, a[0], a[1], a[2], _hosts_text(a[3]), a[4]) for tpl, a in acc.items()]
    out.sort(key=lambda g: (-g.count, g.first, g.template))
    return out
