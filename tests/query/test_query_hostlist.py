"""ccstore.hostlist: Slurm hostlists expanded and compressed."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccstore.hostlist import MAX_HOSTS, HostlistError, compress, expand, hostlist_safe


@pytest.mark.parametrize("text, hosts", [
    ("node1", ["node1"]),
    ("a1,b2", ["a1", "b2"]),
    ("node[001-003,100]", ["node001", "node002", "node003", "node100"]),
    ("node[8-10]", ["node8", "node9", "node10"]),
    ("node[08-10]", ["node08", "node09", "node10"]),
    ("rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]),
    ("n[1-2]x,m[3]", ["n1x", "n2x", "m3"]),
    ("[1-3]", ["1", "2", "3"]),
    ("a[1-2],a1", ["a1", "a2"]),
    (" a1 ", ["a1"]),
])
def test_expand(text, hosts):
    assert expand(text) == hosts


@given(st.integers(0, 120_000), st.integers(0, 3000), st.integers(1, 7))
def test_ranges_are_zero_padded_to_the_first_number(a, n, width):
    lo = str(a).zfill(width)
    assert expand(f"x[{lo}-{a + n}]") == [f"x{str(v).zfill(len(lo))}" for v in range(a, a + n + 1)]


@pytest.mark.parametrize("text, what", [
    ("", "expected host names"), ("n[1-", "'[' is not closed"), ("n1]", "']' without '['"),
    ("n[[1]]", "nested '['"), ("n[3-1]", "runs backwards"), ("n[a-b]", "expected a number"),
    ("n[1,]", "expected a number"), ("a,,b", "expected a host name"),
    ("a, b", "expected a host name"), ("n[0-99999999]", f"more than {MAX_HOSTS}"),
    ("n[0-9999]m[0-9999]", f"more than {MAX_HOSTS}"), ("n[١-٣]", "expected a number"),
])
def test_expand_errors(text, what):
    with pytest.raises(HostlistError) as exc:
        expand(text)
    assert what in str(exc.value) and isinstance(exc.value, ValueError)


@pytest.mark.parametrize("hosts, text", [
    (["node1"], "node1"),
    (expand("node[001-064,100]"), "node[001-064,100]"),
    (expand("rack[1-2]-n[01-16]"), "rack[1-2]-n[01-16]"),
    (["n8", "n08", "n9", "n10"], "n[8-10,08]"),
    (["p08", "p09", "p10", "p11"], "p[08-11]"),
    (["a1b1", "a2b1"], "a[1-2]b1"),
    (["x", "y", "node2", "node10", "node3"], "node[2-3,10],x,y"),
    (["m01", "m03"], "m[01,03]"),
])
def test_compress(hosts, text):
    assert compress(hosts) == text


def test_compress_refuses_what_a_hostlist_cannot_hold():
    for bad in ([], ["a,b"], ["a[1]"], ["a b"], [""]):
        with pytest.raises(HostlistError):
            compress(bad)
    assert not hostlist_safe("a]") and hostlist_safe("a-1.x")


# host names: letters, digits and separators, numbers with and without zero padding
_part = st.one_of(st.sampled_from(["node", "n", "rack", "-", ".", "a", "gpu", "x-"]),
                  st.integers(0, 130).map(str),
                  st.tuples(st.integers(0, 130), st.integers(2, 4)).map(
                      lambda t: str(t[0]).zfill(t[1])))
hosts = st.lists(st.lists(_part, min_size=1, max_size=4).map("".join), min_size=1,
                 max_size=60)


@settings(max_examples=300, deadline=None)
@given(hosts)
def test_compress_then_expand_gives_the_same_set(names):
    text = compress(names)
    assert sorted(expand(text)) == sorted(set(names))
    assert compress(expand(text)) == text  # a fixed point


_bracket = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5), st.integers(1, 3)),
                    min_size=1, max_size=3).map(
    lambda rs: ",".join(str(a).zfill(w) if not n else f"{str(a).zfill(w)}-{a + n}"
                        for a, n, w in rs))
_item = st.lists(st.one_of(st.sampled_from(["n", "rack", "-x", "gpu"]),
                           _bracket.map(lambda b: f"[{b}]")), min_size=1, max_size=3).map(
    "".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_item, min_size=1, max_size=3).map(",".join))
def test_expand_then_compress_names_the_same_hosts(text):
    names = expand(text)
    assert sorted(expand(compress(names))) == sorted(names)
