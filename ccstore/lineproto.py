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

from . import _lpspec, _pylineproto
from .rows import LineError, RowBatch

__all__ = ["IMPLEMENTATION", "LineError", "RowBatch", "RowStream", "Point", "copy_binary",
           "decode", "decode_rows", "decode_stream", "encode", "get_implementation",
           "group_by_host", "DAY_NS", "PRECISIONS"]

#: the names every implementation provides
API = ("Point", "copy_binary", "decode", "decode_rows", "encode", "group_by_host",
       "syslog_chunk")
PRECISIONS = tuple(_lpspec.PRECISIONS)
DAY_NS = _pylineproto.DAY_NS

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


class RowStream:
    """:func:`decode_rows` over a stream of byte chunks, in bounded memory: an
    iterator of :class:`RowBatch`.

    Yields one batch per chunk in which a line ends, and one for a last line
    without a newline.  A line split over chunks is decoded once, whole;
    ``lineno`` counts from the start of the stream, and every line without a
    time gets the same ``default_time`` (now, when not given).

    Its consumer may set ``copy_group`` (see :func:`decode_rows`) before taking
    the next batch: that batch's rows of the group then come as binary COPY data.
    """

    def __init__(self, chunks: Iterable[bytes], *, precision: str = "auto",
                 default_time: Optional[int] = None, cluster: Optional[str] = None) -> None:
        self._chunks = iter(chunks)
        self._precision = precision
        self._default_time = time.time_ns() if default_time is None else default_time
        self._cluster = cluster
        self._pieces: List[bytes] = []  # read, not decoded yet
        self._lineno = 1
        #: ``(cluster, kind, day, first_id)`` for the next batch, or None
        self.copy_group: Optional[tuple] = None

    def __iter__(self) -> "RowStream":
        return self

    def __next__(self) -> RowBatch:
        pieces = self._pieces
        for chunk in self._chunks:
            if not chunk:
                continue
            pieces.append(chunk)
            if b"\n" not in chunk:
                continue  # no line ends in it: decoding now would find nothing new
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            batch = self._decode(data, False)
            self._lineno += batch.lines
            rest = data[batch.consumed:]
            self._pieces = [rest] if rest else []
            return batch
        if pieces:  # the last line, without a newline
            self._pieces = []
            return self._decode(b"".join(pieces), True)
        raise StopIteration

    def _decode(self, data: bytes, final: bool) -> RowBatch:
        return decode_rows(data, precision=self._precision, default_time=self._default_time,
                           cluster=self._cluster, final=final, lineno=self._lineno,
                           copy_group=self.copy_group)


def decode_stream(chunks: Iterable[bytes], *, precision: str = "auto",
                  default_time: Optional[int] = None,
                  cluster: Optional[str] = None) -> Iterator[RowBatch]:
    """:func:`decode_rows` over a stream of byte chunks (a :class:`RowStream`)."""
    return RowStream(chunks, precision=precision, default_time=default_time, cluster=cluster)
