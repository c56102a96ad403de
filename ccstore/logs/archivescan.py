"""The archive formats' chunk reader of :class:`ccstore.logs.LogParser`: the choice of
implementation.

``ccstore.logs._archivescan`` (compiled) or ``ccstore.logs._pyarchivescan`` (its
pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see
:mod:`ccstore._impl`).
"""
from __future__ import annotations

import types
from typing import Callable, List, Optional

from .. import _impl
from ._pyarchivescan import ARCHIVE_FORMATS
from .formats import Header

__all__ = ["ARCHIVE_FORMATS", "IMPLEMENTATION", "archive_headers", "get_implementation"]

_COMPILED, _PURE, _WHAT = ("ccstore.logs._archivescan", "ccstore.logs._pyarchivescan",
                           "archive scanner")


def get_implementation(name: str) -> types.ModuleType:
    """The module of implementation ``"python"`` or ``"cython"`` (ImportError when
    the compiled one is asked for but not built)."""
    return _impl.load(name, _COMPILED, _PURE, _WHAT)


#: "cython" or "python": the implementation behind :func:`archive_headers`
IMPLEMENTATION, _module = _impl.choose(_COMPILED, _PURE, _WHAT)
#: ``archive_headers(data, format) -> [header, ...] or None``
archive_headers: Callable[[bytes, str], Optional[List[Header]]] = _module.archive_headers
