"""Blocks of a compacted SQLite segment: rows stored column by column, compressed.

A compacted segment keeps its rows, sorted by (hostname, time, id), in blocks.  A
block holds each column apart: ids and times as 64-bit differences, ``timestamp``
left out where it is the second of ``time``, low-cardinality columns (hostname,
name, type, ..., tags, level) as a dictionary of their values and an index per row,
texts as one string and their lengths; the whole is compressed with one
dictionary per segment (:func:`segment_dictionary`): zstd with a dictionary trained
on the segment's blocks, or zlib with a preset dictionary where zstandard is missing
or the training fails, and in the segments written before zstd.  The dictionary's
kind says the codec of the segment's blocks, and a zstd frame and a zlib stream
begin differently, so :func:`decode_block` reads both.  Values
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
line-protocol codec is (``CCSTORE_IMPL``, see :mod:`ccstore._impl`); both feed the
same compression here.  The blocks of a segment are compressed in one call without
the GIL (:func:`compress_all`): zstandard's C backend for zstd, the compiled module
(built with zlib) for zlib; otherwise block by block.
"""
from __future__ import annotations

import functools
import threading
import zlib
from typing import Any, Callable, Container, List, Optional, Sequence, Tuple

try:
    import zstandard
except ImportError:  # pragma: no cover - a dependency; zlib segments need none
    zstandard = None  # type: ignore[assignment]

from ... import _impl
from ._blockspec import COLUMNS

__all__ = ["COLUMNS", "DICTIONARY_BYTES", "IMPLEMENTATION", "LEVEL", "ZSTD_DICTIONARY_BYTES",
           "ZSTD_LEVEL", "block_layout", "block_spans", "compress", "compress_all",
           "compress_layouts", "decode_block", "encode_block", "encode_blocks",
           "get_implementation", "is_zstd_dictionary", "make_dictionary", "rows_of_layout",
           "segment_dictionary", "time_range"]

#: zlib level of the blocks
LEVEL = 6
#: bytes of a segment's preset dictionary (zlib uses at most 32 KiB)
DICTIONARY_BYTES = 32768
#: zstd level of the blocks of a segment whose dictionary is a trained zstd one
ZSTD_LEVEL = 6
#: bytes of a segment's trained zstd dictionary
ZSTD_DICTIONARY_BYTES = 32768
#: how a trained zstd dictionary begins (its magic number, little-endian)
ZSTD_DICT_MAGIC = b"\x37\xa4\x30\xec"

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
#: ``block_spans(rows, host_rows, max_rows) -> [(start, end), ...]``: the blocks of a
#: segment's rows sorted by host, a block ending at a host's last row once it holds
#: ``host_rows`` rows, and at ``max_rows`` rows
block_spans: Callable[[Sequence[Sequence[Any]], int, int], List[Tuple[int, int]]] = (
    _module.block_spans)
#: ``time_range(rows) -> (least, greatest)``: a block's ``time`` range, or (None, None)
#: unless every ``time`` that is not NULL is an integer and there is one
time_range: Callable[[Sequence[Sequence[Any]]], Tuple[Optional[int], Optional[int]]] = (
    _module.time_range)


#: ``compress_layouts(layouts, level, zdict) -> blocks``: zlib's C library without
#: the GIL, when the compiled implementation has it; else None
compress_layouts: Optional[Callable[[List[bytes], int, Optional[bytes]], List[bytes]]] = (
    _module.compress_layouts if getattr(_module, "HAVE_ZLIB", False) else None)


def is_zstd_dictionary(zdict: Optional[bytes]) -> bool:
    """Whether a segment's dictionary is a trained zstd one (its blocks are zstd
    frames) rather than zlib's preset dictionary (its blocks are zlib streams)."""
    return zdict is not None and zdict[:4] == ZSTD_DICT_MAGIC


#: zstd compressors and decompressors of this thread (they are not to be shared
#: between threads) by (dictionary, level); their dictionaries, made once, are shared
_zstd_local = threading.local()
#: zstd compressors and decompressors a thread keeps, each
_ZSTD_KEPT = 64


@functools.lru_cache(maxsize=_ZSTD_KEPT)
def _zstd_dict(zdict: bytes) -> Any:
    return zstandard.ZstdCompressionDict(zdict)


def _kept(name: str, key: Any, make: Callable[[], Any]) -> Any:
    cache = _zstd_local.__dict__.setdefault(name, {})
    try:
        return cache[key]
    except KeyError:
        pass
    if len(cache) >= _ZSTD_KEPT:
        cache.pop(next(iter(cache)))
    cache[key] = made = make()
    return made


def _zstd_compressor(zdict: bytes, level: int) -> Any:
    return _kept("compressors", (zdict, level), lambda: zstandard.ZstdCompressor(
        level=level, dict_data=_zstd_dict(zdict), write_checksum=False,
        write_content_size=True, write_dict_id=False))


def _zstd_decompressor(zdict: Optional[bytes]) -> Any:
    if zstandard is None:
        raise ValueError("a zstd block needs the zstandard package")
    return _kept("decompressors", zdict, lambda: zstandard.ZstdDecompressor(
        dict_data=None if zdict is None else _zstd_dict(zdict)))


def compress(raw: bytes, level: int = LEVEL, zdict: Optional[bytes] = None) -> bytes:
    """A block's layout compressed: with zstd at :data:`ZSTD_LEVEL` when ``zdict`` is
    a trained zstd dictionary, else with the standard library's zlib at ``level``."""
    if is_zstd_dictionary(zdict):
        return _zstd_compressor(zdict, ZSTD_LEVEL).compress(raw)
    if zdict is None:
        return zlib.compress(raw, level)
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(raw) + c.flush()


def encode_block(rows: Sequence[Sequence[Any]], level: int = LEVEL,
                 zdict: Optional[bytes] = None) -> bytes:
    """Rows shaped as :data:`COLUMNS` -> one compressed block (with ``zdict``, the
    segment's dictionary: the block is decoded with the same)."""
    return compress(block_layout(rows), level, zdict)


def encode_blocks(groups: Sequence[Sequence[Sequence[Any]]], level: int = LEVEL,
                  zdict: Optional[bytes] = None) -> List[bytes]:
    """:func:`encode_block` of each group of rows, the same bytes; their compression
    in one call without the GIL where the compiled code can."""
    return compress_all([block_layout(rows) for rows in groups], level, zdict)


def compress_all(layouts: List[bytes], level: int = LEVEL,
                 zdict: Optional[bytes] = None) -> List[bytes]:
    """:func:`compress` of each layout, in one call without the GIL where the
    compiled code can (zstandard's C backend; the compiled block module's zlib)."""
    if is_zstd_dictionary(zdict):
        c = _zstd_compressor(zdict, ZSTD_LEVEL)
        if layouts and hasattr(c, "multi_compress_to_buffer"):
            return [bytes(b) for b in c.multi_compress_to_buffer(layouts)]
        return [c.compress(raw) for raw in layouts]
    if compress_layouts is not None:
        return compress_layouts(layouts, level, zdict)
    return [compress(raw, level, zdict) for raw in layouts]


def make_dictionary(samples: Sequence[bytes], size: int = DICTIONARY_BYTES) -> bytes:
    """A preset dictionary for the blocks of one segment from the uncompressed layouts
    of some of them (zlib looks back at most 32 KiB, nearest first)."""
    per = max(size // max(len(samples), 1), 1)
    zdict = b"".join(s[:per] for s in samples)[-size:]
    # never taken for a trained zstd dictionary (its kind says the blocks' codec)
    return zdict[1:] if zdict[:4] == ZSTD_DICT_MAGIC else zdict


#: layouts a zlib preset dictionary is made from when no zstd one can be trained
_ZLIB_SAMPLES = 16
#: layouts a zstd dictionary is trained on (at least; every n-th of a segment's)
_ZSTD_SAMPLES = 256
#: the segment and d-mer sizes of zstd's dictionary training (fastCover), given: the
#: search for the best costs several times the training
_ZSTD_K, _ZSTD_D = 256, 8
#: bytes of the pieces of the layouts a zstd dictionary is trained on when a segment
#: has fewer than _ZSTD_SAMPLES blocks (training wants many samples)
_ZSTD_PIECE = 256


def segment_dictionary(layouts: Sequence[bytes]) -> bytes:
    """The dictionary of a segment's blocks from the uncompressed layouts of all of
    them: a zstd dictionary trained on them, or, where zstandard is missing or the
    training fails (too few or too small blocks), zlib's preset dictionary made from
    some of them (:func:`make_dictionary`).  The dictionary's kind says the blocks'
    codec (:func:`is_zstd_dictionary`)."""
    if zstandard is not None and layouts:
        step = max(len(layouts) // _ZSTD_SAMPLES, 1)
        samples = list(layouts[::step])
        if len(samples) < _ZSTD_SAMPLES:  # few blocks: their pieces are the samples
            samples = [raw[i:i + _ZSTD_PIECE] for raw in samples
                       for i in range(0, len(raw), _ZSTD_PIECE)]
        size = min(ZSTD_DICTIONARY_BYTES, max(sum(map(len, samples)) // 4, 256))
        try:
            data = zstandard.train_dictionary(size, samples, k=_ZSTD_K, d=_ZSTD_D,
                                              level=ZSTD_LEVEL).as_bytes()
            if is_zstd_dictionary(data):
                return data
        except zstandard.ZstdError:
            pass
    step = max(len(layouts) // _ZLIB_SAMPLES, 1)
    return make_dictionary(layouts[::step])


#: how a zstd frame begins
_ZSTD_FRAME = b"\x28\xb5\x2f\xfd"


def decode_block(data: bytes, hosts: Optional[Container[str]] = None,
                 zdict: Optional[bytes] = None) -> List[tuple]:
    """One block -> its rows shaped as :data:`COLUMNS`, in stored order; with
    ``hosts``, only those whose hostname is one of them or not text.  ``zdict``: the
    dictionary it was compressed with.  A zstd frame and a zlib stream begin
    differently, so blocks of either codec decode."""
    if data[:4] == _ZSTD_FRAME:
        d = _zstd_decompressor(zdict if is_zstd_dictionary(zdict) else None)
        try:
            raw = d.decompress(data)
        except zstandard.ZstdError as exc:
            raise ValueError(f"bad block: {exc}") from None
    elif zdict is None:
        raw = zlib.decompress(data)
    else:
        d = zlib.decompressobj(15, zdict)
        raw = d.decompress(data)
        if not d.eof:
            raise ValueError("truncated block")
    return rows_of_layout(raw, hosts)
