"""Rows grouped by host for the SQLite backend: the choice of implementation.

``ccstore.backends._hostruns`` (compiled) or ``ccstore.backends._pyhostruns``
(its pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``,
see :mod:`ccstore._impl`).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from .. import _impl

__all__ = ["IMPLEMENTATION", "get_implementation", "group_by_host"]

_TWIN = _impl.Twin("ccstore.backends._hostruns", "ccstore.backends._pyhostruns",
                   "row grouping")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation behind :func:`group_by_host`
IMPLEMENTATION, _module = _TWIN.name, _TWIN.module
#: ``group_by_host(rows, host_at, time_at) -> (rows, runs, min_time, max_time)``
group_by_host: Callable[[List[tuple], int, int],
                        Tuple[List[tuple], List[Tuple[Optional[str], int]], Optional[int],
                              Optional[int]]] = _module.group_by_host
