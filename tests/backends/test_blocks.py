"""The block layout of compacted SQLite segments (ccstore.backends.sqlite.blocks), both
implementations: rows come back exactly, and the two write the same bytes."""
from __future__ import annotations

import math
import sys
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccstore.backends.sqlite import blocks as blocks_mod
from ccstore.backends.sqlite.blocks import COLUMNS

T0 = 1740000000
NS = 10**9
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
#: rows holding every SQLite type in every column, and values past 64 bits
ODD_ROWS = [
    ((1 << 32) + 1, T0, "ccb", "h1", "node", "0", None, None, '{"loglevel":"info"}',
     "message é", T0 * NS + 5, "info"),
    ((1 << 32) + 2, 7, "ccb", None, 1.5, b"\x00blob", 3, "", 2.0, None, None, None),
    ((1 << 32) + 9, -1, 5, "h1", "node", "0", None, None, "x", 12, -NS - 1, "info"),
    ((1 << 32) + 10, T0, ["not", "sqlite"][0], "h1", 1, 1.0, "1", None, None, "", T0, ""),
    ((1 << 32) + 11, 2**70, "\ud800x", "h\U0001f600", -0.0, 2**63, -(2**63), b"", 1, "\udfff",
     -(2**63), "e"),
]


def types_of(rows):
    return [tuple(type(v) for v in r) for r in rows]


def round_trip(impl, rows, hosts=None):
    return impl.rows_of_layout(impl.block_layout(rows), hosts)


@pytest.mark.parametrize("rows", [ODD_ROWS, ODD_ROWS[:4], ODD_ROWS[:1], [ODD_ROWS[4]], []])
def test_block_round_trip_keeps_every_sqlite_type(blocks, rows):
    got = round_trip(blocks, rows)
    assert got == rows and types_of(got) == types_of(rows)
    # only some hosts: theirs and those whose hostname is not text
    assert round_trip(blocks, rows, {"h1"}) == [r for r in rows if r[3] in ("h1", None)]
    assert round_trip(blocks, rows, {"h9"}) == [r for r in rows if r[3] is None]
    assert round_trip(blocks, rows, set()) == [r for r in rows if r[3] is None]


def test_block_of_many_distinct_values_and_long_columns(blocks_impls):
    """Dictionaries indexed by one, two and four bytes; the timestamp kept apart
    where it is not the second of the time."""
    py, cy = blocks_impls
    for n in (300, 70000):
        # 256 and 65,536 distinct values: the most of a one- and a two-byte index
        rows = [(i, (T0 * NS + 7 * i) // NS + (i == n - 1), "ccb", f"h{i % (n - 3)}", "node",
                 str(i % 300), f"s{i % 256}", str(i % 65536), "{}", f"m{i}", T0 * NS + 7 * i,
                 "info")
                for i in range(n)]
        data = cy.block_layout(rows)
        assert data == py.block_layout(rows)
        assert cy.rows_of_layout(data) == rows == py.rows_of_layout(data)
        hosts = {"h1", "h299", "nope"}
        assert cy.rows_of_layout(data, hosts) == py.rows_of_layout(data, hosts) == [
            r for r in rows if r[3] in hosts]


def test_rows_past_the_columns_are_ignored_and_sequences_taken(blocks_impls):
    py, cy = blocks_impls
    rows = [list(r) + ["extra"] for r in ODD_ROWS]
    assert cy.block_layout(rows) == py.block_layout(rows) == py.block_layout(ODD_ROWS)
    assert rows[0][-1] == "extra" and isinstance(rows[0], list)  # left as they were


def test_damaged_layouts_are_refused(blocks):
    data = blocks.block_layout(ODD_ROWS)
    with pytest.raises(ValueError, match="unknown block format"):
        blocks.rows_of_layout(b"XB2" + data[3:])
    with pytest.raises(ValueError, match="unknown dictionary kind"):
        blocks.rows_of_layout(data[:7] + b"Q" + data[8:])
    for cut in (8, 20, len(data) - 3):
        with pytest.raises((ValueError, IndexError)):
            blocks.rows_of_layout(data[:cut])


def test_compressed_blocks_with_a_preset_dictionary():
    zdict = blocks_mod.make_dictionary([blocks_mod.block_layout(ODD_ROWS)])
    data = blocks_mod.encode_block(ODD_ROWS, zdict=zdict)
    assert blocks_mod.decode_block(data, zdict=zdict) == ODD_ROWS
    assert blocks_mod.decode_block(blocks_mod.encode_block(ODD_ROWS)) == ODD_ROWS
    with pytest.raises(ValueError, match="truncated"):
        blocks_mod.decode_block(data[:-4], zdict=zdict)
    with pytest.raises(zlib.error):
        blocks_mod.decode_block(data)  # without its dictionary
    assert len(COLUMNS) == len(ODD_ROWS[0])


_texts = st.text(st.characters(blacklist_categories=()), max_size=12)
_values = st.one_of(
    st.none(), st.integers(-2**64, 2**64), st.integers(-5, 5),
    st.floats(allow_nan=False), _texts, st.sampled_from(["", "a", "node", "h1", "h2"]),
    st.binary(max_size=6))
_hosts = st.one_of(st.sampled_from([None, "h1", "h2", "h10", "é"]), _values)
_times = st.one_of(st.integers(T0 * NS - NS, T0 * NS + 3 * NS), _values)


@st.composite
def block_rows(draw):
    n = draw(st.integers(0, 40))
    text_only = draw(st.booleans())  # columns as the writer makes them, or anything
    second = draw(st.booleans())  # timestamp the second of time, as the writer has it
    rows = []
    for i in range(n):
        v = (lambda: draw(st.one_of(st.none(), _texts))) if text_only else (
            lambda: draw(_values))
        t = draw(_times)
        ts = t // NS if second and isinstance(t, int) else draw(_values)
        rows.append((draw(st.one_of(st.integers(0, 2**40), _values)), ts, v(),
                     draw(_hosts), v(), v(), v(), v(), v(), v(), t, v()))
    return rows


@SETTINGS
@given(rows=block_rows(), hosts=st.sets(st.sampled_from(["h1", "h2", "h10", "é", "x"])))
def test_implementations_agree(blocks_impls, rows, hosts):
    py, cy = blocks_impls
    data = cy.block_layout(rows)
    assert data == py.block_layout(rows)
    for want in (None, hosts):
        got = cy.rows_of_layout(data, want)
        assert got == py.rows_of_layout(data, want)
        assert got == [r for r in rows if want is None or r[3] in want
                       or not isinstance(r[3], str)]
        assert types_of(got) == types_of(py.rows_of_layout(data, want))


def spans_of(rows, host_rows, max_rows):
    """What ``block_spans`` gives, written out as the rows are walked."""
    spans, start = [], 0
    for i in range(1, len(rows)):
        k, a, b = i - start, rows[i][3], rows[i - 1][3]
        if k >= max_rows or (k >= host_rows and a is not b and a != b):
            spans.append((start, i))
            start = i
    return spans + [(start, len(rows))] if rows else spans


@SETTINGS
@given(rows=block_rows(), host_rows=st.integers(1, 8), max_rows=st.integers(1, 12),
       sort=st.booleans())
def test_block_spans_and_time_ranges_agree(blocks_impls, rows, host_rows, max_rows, sort):
    py, cy = blocks_impls
    if sort:
        rows = sorted(rows, key=lambda r: repr(r[3]))
    spans = cy.block_spans(rows, host_rows, max_rows)
    assert spans == py.block_spans(rows, host_rows, max_rows) == spans_of(rows, host_rows,
                                                                          max_rows)
    assert cy.block_spans(tuple(rows), host_rows, max_rows) == spans
    for a, b in spans + [(0, len(rows))]:
        part = rows[a:b]
        got = cy.time_range(part)
        assert got == py.time_range(part)
        times = [r[10] for r in part if r[10] is not None]
        if times and all(isinstance(t, int) for t in times):
            assert got == (min(times), max(times))
        else:
            assert got == (None, None)


def test_time_range_of_rows_past_64_bits(blocks):
    rows = [ODD_ROWS[0][:10] + (t,) + ODD_ROWS[0][11:] for t in (2**70, None, -2**65, 3)]
    assert blocks.time_range(rows) == (-2**65, 2**70)
    assert blocks.time_range(rows[1:2]) == (None, None)
    assert blocks.time_range([]) == (None, None)
    assert blocks.block_spans([], 1, 1) == []


def test_floats_keep_their_value_and_sign(blocks):
    rows = [(1, 0, "n", "h", "t", "0", None, None, None, x, 0, "info")
            for x in (math.inf, -math.inf, -0.0, 1e308, 5e-324)]
    got = round_trip(blocks, rows)
    assert got == rows and [math.copysign(1, r[9]) for r in got] == [1, -1, -1, 1, 1]


@pytest.mark.parametrize("zdict", [None, b"", b"ccb node info h1 " * 3000])
def test_blocks_compressed_in_one_call_are_those_of_zlib(blocks_impls, zdict):
    """The compiled module's zlib, all blocks without the GIL: the bytes of the
    standard library's zlib, block by block."""
    py, cy = blocks_impls
    if not cy.HAVE_ZLIB:
        pytest.skip("the compiled block codec was built without zlib")
    layouts = [py.block_layout(ODD_ROWS[:k]) for k in range(len(ODD_ROWS) + 1)]
    layouts.append(bytes(range(256)) * 300)  # more than a deflate block
    zd = zdict or None
    got = cy.compress_layouts(layouts, 6, zd)
    assert got == [blocks_mod.compress(raw, 6, zd) for raw in layouts]
    assert cy.compress_layouts(layouts[:2], 1, zd) == [blocks_mod.compress(raw, 1, zd)
                                                       for raw in layouts[:2]]
    assert cy.compress_layouts([], 6, zd) == []
    with pytest.raises(TypeError):
        cy.compress_layouts([bytearray(b"x")], 6, zd)
    groups = [ODD_ROWS, ODD_ROWS[:2], []]
    assert blocks_mod.encode_blocks(groups, zdict=zd) == [
        blocks_mod.encode_block(g, zdict=zd) for g in groups]



def zstd_layouts(n: int = 40) -> list:
    """Layouts of ``n`` blocks of templated log rows, as a segment's."""
    return [blocks_mod.block_layout([
        (b * 100 + i, T0 + i, "ccb", f"h{b}", "node", "0", None, None, None,
         f"job {b * 7 + i} failed on /scratch/u{i % 9} after {i * 13} ms", (T0 + i) * NS,
         "info") for i in range(64)]) for b in range(n)]


@pytest.mark.parametrize("n", [1, 3, 40, 600])
def test_segment_dictionary_is_a_trained_zstd_one(n):
    """A segment's blocks are zstd frames with a dictionary trained on them (pieces
    of them when they are few); compressed in one call or one by one, the same
    bytes; decoded with that dictionary only."""
    layouts = zstd_layouts(n)
    zdict = blocks_mod.segment_dictionary(layouts)
    assert blocks_mod.is_zstd_dictionary(zdict)
    assert len(zdict) <= blocks_mod.ZSTD_DICTIONARY_BYTES
    data = blocks_mod.compress_all(layouts, zdict=zdict)
    assert data == [blocks_mod.compress(raw, zdict=zdict) for raw in layouts]
    assert all(d[:4] == b"\x28\xb5\x2f\xfd" for d in data)
    if n >= 600:  # smaller than zlib's with a preset dictionary
        zlib_dict = blocks_mod.make_dictionary(layouts[::n // 16])
        assert sum(map(len, data)) < sum(len(blocks_mod.compress(raw, zdict=zlib_dict))
                                         for raw in layouts)
    for raw, d in zip(layouts, data):
        assert blocks_mod.decode_block(d, zdict=zdict) == blocks_mod.rows_of_layout(raw)
    assert blocks_mod.decode_block(blocks_mod.encode_block(ODD_ROWS, zdict=zdict),
                                   zdict=zdict) == ODD_ROWS
    assert blocks_mod.encode_blocks([ODD_ROWS, []], zdict=zdict) == [
        blocks_mod.encode_block(ODD_ROWS, zdict=zdict), blocks_mod.encode_block([], zdict=zdict)]
    with pytest.raises(ValueError):
        blocks_mod.decode_block(data[0][:-3], zdict=zdict)
    with pytest.raises(ValueError):
        blocks_mod.decode_block(data[0])  # without its dictionary


def test_zlib_dictionary_is_never_taken_for_a_zstd_one():
    layout = blocks_mod.ZSTD_DICT_MAGIC + bytes(range(200))
    zdict = blocks_mod.make_dictionary([layout])
    assert not blocks_mod.is_zstd_dictionary(zdict) and zdict == layout[1:]


def test_segment_dictionary_without_zstandard_is_zlib(monkeypatch):
    """Without the zstandard package (or when training fails) a segment's blocks
    are zlib streams with a preset dictionary, as before; blocks of both codecs
    decode side by side."""
    layouts = zstd_layouts(40)
    zstd_dict = blocks_mod.segment_dictionary(layouts)
    zstd_block = blocks_mod.compress(layouts[0], zdict=zstd_dict)
    monkeypatch.setattr(blocks_mod, "zstandard", None)
    zdict = blocks_mod.segment_dictionary(layouts)
    assert not blocks_mod.is_zstd_dictionary(zdict)
    assert zdict == blocks_mod.make_dictionary(layouts[::2])
    data = blocks_mod.compress_all(layouts, zdict=zdict)
    assert data == [blocks_mod.compress(raw, 6, zdict) for raw in layouts]
    assert zlib.decompressobj(15, zdict).decompress(data[0]) == layouts[0]
    with pytest.raises(ValueError, match="zstandard"):
        blocks_mod.decode_block(zstd_block, zdict=zstd_dict)
    monkeypatch.undo()
    assert blocks_mod.decode_block(data[0], zdict=zdict) == blocks_mod.rows_of_layout(layouts[0])
    assert blocks_mod.decode_block(zstd_block, zdict=zstd_dict) == blocks_mod.rows_of_layout(
        layouts[0])


def test_compiled_implementation_is_used():
    """CI must run the compiled module unless a pure-Python run was asked for."""
    from twins import PYTHON_ONLY

    assert blocks_mod.IMPLEMENTATION == ("python" if PYTHON_ONLY else "cython")
    compiled = blocks_mod.get_implementation(blocks_mod.IMPLEMENTATION)
    assert blocks_mod.block_layout is compiled.block_layout
    assert blocks_mod.rows_of_layout is compiled.rows_of_layout
    if not PYTHON_ONLY and sys.platform != "win32":  # built with zlib where there is one
        assert compiled.HAVE_ZLIB and blocks_mod.compress_layouts is compiled.compress_layouts
