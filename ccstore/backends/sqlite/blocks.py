"""Blocks of a compacted SQLite segment: rows stored column by column, compressed.

A compacted segment keeps its rows, sorted by (hostname, time, id), in blocks.  A
block holds each column apart: ids and times as 64-bit differences, ``timestamp``
left out where it is the second of ``time``, low-cardinality columns (hostname,
name, type, ..., tags, level) as a dictionary of their values and an index per row,
texts as one string and their lengths; the whole is compressed with zlib, with a
preset dictionary per segment (:func:`make_dictionary`).  Values
keep their SQLite type (NULL, integer, real, text, blob): a column holding anything
but integers, or text and NULL, is kept as JSON with blobs tagged.  So a block
decodes to exactly the rows that were read.

Layout (integers little-endian): ``b"CB2"``, the row count (u32), then one section
per column of :data:`COLUMNS` in the order hostname (first: a read of some hosts
takes only their rows from the other columns), id, time, timestamp, the other
dictionary columns, field; a section is a kind byte, a payload length (u32) and the
payload; a dictionary's payload is the count of its values (u32), their section, the
index type (``B``, ``H`` or ``I``) and the index of each row.

The layout is made and read by ``ccstore.backends.sqlite._blocks`` (compiled) or
``ccstore.backends.sqlite._pyblocks`` (its pure-Python twin), chosen as the
line-protocol codec is (``CCSTORE_IMPL``, see :mod:`ccstore._impl`).  The
compiled one, built with zlib, also compresses all blocks of a segment in one call
without the GIL (:func:`encode_blocks`); otherwise the standard library's zlib
compresses each block here.
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Container, List, Optional, Sequence

from ... import _impl
from ._blockspec import COLUMNS

__all__ = ["COLUMNS", "DICTIONARY_BYTES", "IMPLEMENTATION", "LEVEL", "block_layout",
           "compress", "compress_layouts", "decode_block", "encode_block", "encode_blocks",
           "get_implementation",
           "make_dictionary", "rows_of_layout"]

#: zlib level of the blocks
LEVEL = 6
#: bytes of a segment's preset dictionary (zlib uses at most 32 KiB)
DICTIONARY_BYTES = 32768

_TWIN = _impl.Twin("ccstore.backends.sqlite._blocks", "ccstore.backends.sqlite._pyblocks",
                   "block codec")
#: ``get_implementation(name)``: the module of implementation ``"python"`` or
#: ``"cython"`` (ImportError when the compiled one is asked for but not built)
get_implementation = _TWIN.get
#: "cython" or "python": the implementation behind :func:`block_layout` and
#: :func:`rows_of_layout`
IMPLEMENTATION, _module = _TWIN.name, _TWIN.module
#: ``block_layout(rows) -> bytes``: rows shaped as :data:`COLUMNS` (values past
#: those ignored) -> a block's layout, uncompressed
block_layout: Callable[[Sequence[Sequence[Any]]], bytes] = _module.block_layout
#: ``rows_of_layout(raw, hosts=None) -> rows``: a block's uncompressed layout -> its
#: rows, in stored order; with ``hosts``, only those whose hostname is one of them
#: or not text
rows_of_layout: Callable[..., List[tuple]] = _module.rows_of_layout


#: ``compress_layouts(layouts, level, zdict) -> blocks``: zlib's C library without
#: the GIL, when the compiled implementation has it; else None
compress_layouts: Optional[Callable[[List[bytes], int, Optional[bytes]], List[bytes]]] = (
    _module.compress_layouts if getattr(_module, "HAVE_ZLIB", False) else None)


def compress(raw: bytes, level: int = LEVEL, zdict: Optional[bytes] = None) -> bytes:
    """A block's layout compressed with the standard library's zlib."""
    if zdict is None:
        return zlib.compress(raw, level)
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(raw) + c.flush()


def encode_block(rows: Sequence[Sequence[Any]], level: int = LEVEL,
                 zdict: Optional[bytes] = None) -> bytes:
    """Rows shaped as :data:`COLUMNS` -> one compressed block (with ``zdict``, zlib's
    preset dictionary: the block is decoded with the same)."""
    return compress(block_layout(rows), level, zdict)


def encode_blocks(groups: Sequence[Sequence[Sequence[Any]]], level: int = LEVEL,
                  zdict: Optional[bytes] = None) -> List[bytes]:
    """:func:`encode_block` of each group of rows, the same bytes; their compression
    in one call without the GIL where the compiled implementation can."""
    layouts = [block_layout(rows) for rows in groups]
    if compress_layouts is not None:
        return compress_layouts(layouts, level, zdict)
    return [compress(raw, level, zdict) for raw in layouts]


def make_dictionary(samples: Sequence[bytes], size: int = DICTIONARY_BYTES) -> bytes:
    """A preset dictionary for the blocks of one segment from the uncompressed layouts
    of some of them (zlib looks back at most 32 KiB, nearest first)."""
    per = max(size // max(len(samples), 1), 1)
    return b"".join(s[:per] for s in samples)[-size:]


def decode_block(data: bytes, hosts: Optional[Container[str]] = None,
                 zdict: Optional[bytes] = None) -> List[tuple]:
    """One block -> its rows shaped as :data:`COLUMNS`, in stored order; with
    ``hosts``, only those whose hostname is one of them or not text.  ``zdict``: the
    preset dictionary it was compressed with."""
    if zdict is None:
        raw = zlib.decompress(data)
    else:
        d = zlib.decompressobj(15, zdict)
        raw = d.decompress(data)
        if not d.eof:
            raise ValueError("truncated block")
    return rows_of_layout(raw, hosts)
