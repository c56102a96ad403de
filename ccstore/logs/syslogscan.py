"""The syslog fast path of :class:`ccstore.logs.LogParser`: the choice of implementation.

``ccstore.logs._syslogscan`` (compiled) or ``ccstore.logs._pysyslogscan`` (its
pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see
:mod:`ccstore._impl`).
"""
from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Tuple

from .. import _impl

__all__ = ["IMPLEMENTATION", "get_implementation", "syslog_chunk"]

_TWIN = _impl.Twin("ccstore.logs._syslogscan", "ccstore.logs._pysyslogscan",
                   "syslog fast path")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation behind :func:`syslog_chunk`
IMPLEMENTATION, _module = _TWIN.name, _TWIN.module
#: ``syslog_chunk(data, name, othertags, bsd) -> (rows, last_explicit) or None``
syslog_chunk: Callable[[bytes, str, Mapping[str, str], Mapping[str, Optional[int]]],
                       Optional[Tuple[List[tuple], bool]]] = _module.syslog_chunk
