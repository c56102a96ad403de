"""The chunks of JSON lines of :class:`ccstore.logs.LogParser`: the choice of implementation.

``ccstore.logs._jsonscan`` (compiled) or ``ccstore.logs._pyjsonscan`` (its pure-Python
twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see :mod:`ccstore._impl`).
"""
from __future__ import annotations

from types import ModuleType

from .. import _impl

__all__ = ["IMPLEMENTATION", "get_implementation", "module"]

_TWIN = _impl.Twin("ccstore.logs._jsonscan", "ccstore.logs._pyjsonscan", "JSON lines scanner")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation in use
IMPLEMENTATION: str = _TWIN.name
#: the module in use: ``json_chunk(...)`` and ``journal_json_chunk(...)`` (see
#: :mod:`ccstore.logs._pyjsonscan`)
module: ModuleType = _TWIN.module
