"""Line-protocol codec: the public module and the choice of implementation.

Two implementations behave identically: the compiled core
``ccstore._lineproto`` (Cython) and the pure-Python twin
``ccstore._pylineproto`` (the reference semantics).  Which one is used:

- ``CCSTORE_IMPL=python``: the twin;
- ``CCSTORE_IMPL=cython``: the compiled core, ImportError when it is missing;
- unset: the compiled core when it imports, else the twin with a RuntimeWarning.

``IMPLEMENTATION`` tells which one was chosen; :func:`get_implementation`
gives either one explicitly (the tests run everything against both).
"""
from __future__ import annotations

import importlib
import os
import types
import warnings
from typing import Dict

from . import _pylineproto
from ._types import LineError, RowBatch

__all__ = ["IMPLEMENTATION", "LineError", "RowBatch", "Point", "decode", "decode_rows",
           "encode", "get_implementation", "PRECISIONS"]

#: the names every implementation provides
API = ("Point", "decode", "decode_rows", "encode")
PRECISIONS = tuple(_pylineproto.PRECISIONS)

_loaded: Dict[str, types.SimpleNamespace] = {}


def get_implementation(name: str) -> types.SimpleNamespace:
    """The implementation ``"python"`` or ``"cython"`` as a namespace with
    ``Point``, ``decode``, ``decode_rows`` and ``encode``.

    Raises ImportError when the compiled core is asked for but not built.
    Names the compiled module does not define come from the twin.
    """
    if name in _loaded:
        return _loaded[name]
    if name == "python":
        module = _pylineproto
    elif name == "cython":
        try:
            module = importlib.import_module("ccstore._lineproto")
        except ImportError as exc:
            raise ImportError(
                "the compiled line-protocol core ccstore._lineproto is not built "
                f"({exc}); build it (pip install -e .) or set CCSTORE_IMPL=python") from exc
    else:
        raise ValueError(f"unknown implementation {name!r}: use 'python' or 'cython'")
    ns = types.SimpleNamespace(
        name=name, module=module,
        **{attr: getattr(module, attr, getattr(_pylineproto, attr)) for attr in API})
    _loaded[name] = ns
    return ns


def _choose() -> types.SimpleNamespace:
    wanted = os.environ.get("CCSTORE_IMPL", "").strip().lower()
    if wanted in ("python", "cython"):
        return get_implementation(wanted)
    if wanted:
        raise ImportError(f"CCSTORE_IMPL={wanted!r}: use 'python' or 'cython'")
    try:
        return get_implementation("cython")
    except ImportError as exc:
        warnings.warn(f"{exc}; using the pure-Python line-protocol codec (slower)",
                      RuntimeWarning, stacklevel=3)
        return get_implementation("python")


_impl = _choose()
#: "cython" or "python": the implementation behind the functions below
IMPLEMENTATION: str = _impl.name
Point = _impl.Point
decode = _impl.decode
decode_rows = _impl.decode_rows
encode = _impl.encode
