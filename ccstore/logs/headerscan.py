"""The headers and rows of a chunk of lines of one format, for
:class:`ccstore.logs.LogParser`: the choice of implementation.

``ccstore.logs._headerscan`` (compiled) or ``ccstore.logs._pyheaderscan`` (its
pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see
:mod:`ccstore._impl`).
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from .. import _impl
from ._pyheaderscan import SCANNED_FORMATS, LineSource
from ..rows import Row
from .formats import Header

__all__ = ["SCANNED_FORMATS", "IMPLEMENTATION", "LineSource", "chunk_headers", "chunk_rows",
           "get_implementation"]

_TWIN = _impl.Twin("ccstore.logs._headerscan", "ccstore.logs._pyheaderscan",
                   "headers scanner")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation behind :func:`chunk_headers`
IMPLEMENTATION, _module = _TWIN.name, _TWIN.module
#: ``chunk_headers(data, format, source=None) -> [header, ...] or None``
chunk_headers: Callable[..., Optional[List[Header]]] = _module.chunk_headers
#: ``chunk_rows(data, format, source, name, hostname, othertags, tagged) -> (rows,
#: last stated its level, last tags, lines without host) or None``
chunk_rows: Callable[..., Optional[Tuple[List[Row], bool, Any, int]]] = _module.chunk_rows
