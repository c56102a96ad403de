"""The syslog fast path of :class:`ccstore.logs.LogParser`: the choice of implementation.

``ccstore.logs._syslogscan`` (compiled) or ``ccstore.logs._pysyslogscan`` (its
pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see
:mod:`ccstore._impl`).
"""
from __future__ import annotations

import types
from typing import Callable, List, Mapping, Optional, Tuple

from .. import _impl

__all__ = ["IMPLEMENTATION", "get_implementation", "syslog_chunk"]

_COMPILED, _PURE, _WHAT = ("ccstore.logs._syslogscan", "ccstore.logs._pysyslogscan",
                           "syslog fast path")


def get_implementation(name: str) -> types.ModuleType:
    """The module of implementation ``"python"`` or ``"cython"`` (ImportError when
    the compiled one is asked for but not built)."""
    return _impl.load(name, _COMPILED, _PURE, _WHAT)


#: "cython" or "python": the implementation behind :func:`syslog_chunk`
IMPLEMENTATION, _module = _impl.choose(_COMPILED, _PURE, _WHAT)
#: ``syslog_chunk(data, name, othertags, bsd) -> (rows, last_explicit) or None``
syslog_chunk: Callable[[bytes, str, Mapping[str, str], Mapping[str, Optional[int]]],
                       Optional[Tuple[List[tuple], bool]]] = _module.syslog_chunk
