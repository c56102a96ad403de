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
import time
import types
import warnings
from typing import Dict, Iterable, Iterator, List, Optional

from . import _pylineproto
from ._types import LineError, RowBatch

__all__ = ["IMPLEMENTATION", "LineError", "RowBatch", "Point", "copy_binary", "decode",
           "decode_rows", "decode_stream", "encode", "get_implementation", "group_by_host",
           "PRECISIONS"]

#: the names every implementation provides
API = ("Point", "copy_binary", "decode", "decode_rows", "encode", "group_by_host",
       "syslog_chunk")
PRECISIONS = tuple(_pylineproto.PRECISIONS)

_loaded: Dict[str, types.SimpleNamespace] = {}


def get_implementation(name: str) -> types.SimpleNamespace:
    """The implementation ``"python"`` or ``"cython"`` as a namespace with
    ``Point``, ``copy_binary``, ``decode``, ``decode_rows``, ``encode``,
    ``group_by_host`` and ``syslog_chunk`` (the RFC 3164 fast path of
    :class:`ccstore.logparse.LogParser`).

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
group_by_host = _impl.group_by_host
copy_binary = _impl.copy_binary
syslog_chunk = _impl.syslog_chunk


def decode_stream(chunks: Iterable[bytes], *, precision: str = "auto",
                  default_time: Optional[int] = None,
                  cluster: Optional[str] = None) -> Iterator[RowBatch]:
    """:func:`decode_rows` over a stream of byte chunks, in bounded memory.

    Yields one batch per chunk in which a line ends, and one for a last line
    without a newline.  A line split over chunks is decoded once, whole;
    ``lineno`` counts from the start of the stream, and every line without a
    time gets the same ``default_time`` (now, when not given).
    """
    if default_time is None:
        default_time = time.time_ns()
    pieces: List[bytes] = []  # read, not decoded yet
    lineno = 1
    for chunk in chunks:
        if not chunk:
            continue
        pieces.append(chunk)
        if b"\n" not in chunk:
            continue  # no line ends in it: decoding now would find nothing new
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        batch = decode_rows(data, precision=precision, default_time=default_time,
                            cluster=cluster, final=False, lineno=lineno)
        lineno += batch.lines
        rest = data[batch.consumed:]
        pieces = [rest] if rest else []
        yield batch
    if pieces:
        yield decode_rows(b"".join(pieces), precision=precision, default_time=default_time,
                          cluster=cluster, final=True, lineno=lineno)
