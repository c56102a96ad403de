"""PostgreSQL binary COPY data from rows and from line protocol: the choice of
implementation.

``ccstore.backends._pgcopy`` (compiled) or ``ccstore.backends._pypgcopy`` (its
pure-Python twin), chosen as the line-protocol codec is (``CCSTORE_IMPL``, see
:mod:`ccstore._impl`).  :func:`copy_binary` encodes row tuples;
:func:`decode_rows` is :func:`ccstore.lineproto.decode_rows` that can encode the
rows of one group (``copy_group``) as it decodes them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence

from .. import _impl
from ..rows import RowBatch
from ._pgcopyspec import COPY_SIGNATURE, COPY_TRAILER, DAY_NS

__all__ = ["COPY_SIGNATURE", "COPY_TRAILER", "DAY_NS", "IMPLEMENTATION", "copy_binary",
           "decode_rows", "get_implementation"]

_TWIN = _impl.Twin("ccstore.backends._pgcopy", "ccstore.backends._pypgcopy",
                   "COPY encoder")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation behind the functions below
IMPLEMENTATION, _module = _TWIN.name, _TWIN.module
#: ``copy_binary(rows, first_id=None, ints=0) -> bytes``: signature, tuples, trailer
copy_binary: Callable[[Iterable[Sequence[Any]], Optional[int], int], bytes] = \
    _module.copy_binary
#: ``decode_rows(data, *, ..., copy_group=None) -> RowBatch``
decode_rows: Callable[..., RowBatch] = _module.decode_rows
