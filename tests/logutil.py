"""Helpers of the log-file tests."""
from __future__ import annotations

from typing import List, Tuple


def append(path, data) -> None:
    """Append text or bytes to a file (created if missing)."""
    if isinstance(data, str):
        data = data.encode()
    with open(path, "ab") as fh:
        fh.write(data)


def stored(store, cluster: str = "alex") -> List[str]:
    """Every stored log message of ``cluster``, oldest first."""
    return [r.value for r in store.query(cluster, limit=None, order="asc")]


def stored_records(store, cluster: str = "alex") -> List[Tuple[str, str, str, str]]:
    """(name, hostname, loglevel, message) of every stored log, oldest first."""
    return [(r.name, r.hostname, r.tags.get("loglevel"), r.value)
            for r in store.query(cluster, limit=None, order="asc")]


def numbered(start: int, n: int, host: str = "a0001", prog: str = "app") -> str:
    """``n`` RFC 3164 lines "line <i>" numbered from ``start``, one second apart."""
    return "".join(
        f"Nov 22 08:{i // 60 % 60:02d}:{i % 60:02d} {host} {prog}[7]: line {i}\n"
        for i in range(start, start + n))


def line_numbers(messages: List[str]) -> List[int]:
    """The numbers of "line <i>" messages, in stored order."""
    return [int(m.split()[1]) for m in messages if m.startswith("line ")]
