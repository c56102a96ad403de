"""Line-protocol codec: the public module and the choice of implementation.

Two implementations of the decoder behave identically: the compiled core
``ccstore._lineproto`` (Cython) and the pure-Python twin
``ccstore._pylineproto`` (the reference semantics).  ``CCSTORE_IMPL`` chooses
(see :mod:`ccstore._impl`); ``IMPLEMENTATION`` tells which one is in use and
:func:`get_implementation` gives either one (the tests run everything against
both).  :func:`encode` has one implementation, for both.
"""
from __future__ import annotations

import time
import types
from typing import Callable, Dict, Iterable, Iterator, List, Optional

from . import _impl, _lpspec
from ._lpencode import encode
from .rows import LineError, RowBatch

__all__ = ["IMPLEMENTATION", "LineError", "RowBatch", "RowStream", "Point", "decode",
           "decode_rows", "decode_stream", "encode", "get_implementation", "PRECISIONS"]

#: the names every implementation provides
API = ("Point", "decode", "decode_rows")
PRECISIONS = tuple(_lpspec.PRECISIONS)
_TWIN = _impl.Twin("ccstore._lineproto", "ccstore._pylineproto", "line-protocol core")

_loaded: Dict[str, types.SimpleNamespace] = {}


def _namespace(name: str, module: types.ModuleType) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=name, module=module, encode=encode,
                               **{attr: getattr(module, attr) for attr in API})
    _loaded[name] = ns
    return ns


def get_implementation(name: str) -> types.SimpleNamespace:
    """The implementation ``"python"`` or ``"cython"`` as a namespace with
    ``Point``, ``decode``, ``decode_rows`` and ``encode`` (the same for both).

    Raises ImportError when the compiled core is asked for but not built.
    """
    if name not in _loaded:
        _namespace(name, _TWIN.get(name))
    return _loaded[name]


_chosen = _namespace(_TWIN.name, _TWIN.module)
#: "cython" or "python": the implementation behind the functions below
IMPLEMENTATION: str = _chosen.name
Point = _chosen.Point
decode = _chosen.decode
decode_rows = _chosen.decode_rows

#: what a :class:`RowStream` decodes its pieces with: :func:`decode_rows` or a
#: function taking the same arguments and giving a :class:`RowBatch`
DecodeRows = Callable[..., RowBatch]


class RowStream:
    """:func:`decode_rows` over a stream of byte chunks, in bounded memory: an
    iterator of :class:`RowBatch`.

    Yields one batch per chunk in which a line ends, and one for a last line
    without a newline.  A line split over chunks is decoded once, whole;
    ``lineno`` counts from the start of the stream, and every line without a
    time gets the same ``default_time`` (now, when not given).

    ``decode_rows`` (default: :func:`decode_rows`) decodes each piece; its
    consumer may replace it before taking the next batch, e.g. by a backend's
    decoder that encodes some rows itself as it decodes them.
    """

    def __init__(self, chunks: Iterable[bytes], *, precision: str = "auto",
                 default_time: Optional[int] = None, cluster: Optional[str] = None,
                 decode_rows: Optional[DecodeRows] = None) -> None:
        self._chunks = iter(chunks)
        self._precision = precision
        self._default_time = time.time_ns() if default_time is None else default_time
        self._cluster = cluster
        self._pieces: List[bytes] = []  # read, not decoded yet
        self._lineno = 1
        #: decodes the next batch
        self.decode_rows: DecodeRows = (_decode_rows_now() if decode_rows is None
                                        else decode_rows)

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
        return self.decode_rows(data, precision=self._precision, default_time=self._default_time,
                                cluster=self._cluster, final=final, lineno=self._lineno)


def _decode_rows_now() -> DecodeRows:
    """This module's decode_rows as it is now (tests may replace it)."""
    return decode_rows


def decode_stream(chunks: Iterable[bytes], *, precision: str = "auto",
                  default_time: Optional[int] = None,
                  cluster: Optional[str] = None) -> Iterator[RowBatch]:
    """:func:`decode_rows` over a stream of byte chunks (a :class:`RowStream`)."""
    return RowStream(chunks, precision=precision, default_time=default_time, cluster=cluster)
