"""Regular-expression search narrowed by the literals it requires answers exactly as a
plain scan: every record checked in Python, on every backend, full text on and off."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccstore.query import from_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "query"))
from regexgen import flagged, message_for  # noqa: E402

T0 = 1740000000
WORDS = ["disk", "Xid 79", "jobId: 4242", "at org.example.Run", "café", "ERR", "a.b-c"]


def _field(msg: str) -> str:
    return '"' + msg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(i: int, msg: str) -> str:
    if i % 4:
        return (f"ccb,cluster=c,hostname=h{i % 5},loglevel=info log={_field(msg)} "
                f"{T0 + i}\n")
    return f"job,cluster=c,hostname=h{i % 5},function=start_job event={_field(msg)} {T0 + i}\n"


def _query(pattern: str) -> str:
    return '~"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain(store, rx, start=None, end=None):
    """Cursors of every record whose message the expression matches, newest first."""
    out = []
    for kind in ("log", "event"):
        for r in store.query("c", kind=kind, limit=None, start=start, end=end):
            rec = from_result(r)
            msg = rec["message"]
            if msg is not None and rx.search(msg):
                out.append((rec["ts_ns"], int(rec["cursor"].split("_")[1]), rec["cursor"]))
    out.sort(reverse=True)
    return [c for _, _, c in out]


#: patterns where a wrong literal would lose matches: optional parts, alternations,
#: case, classes, anchors, words that the full-text index splits
TRICKY = [r"(?:Xid )?79", "disk|ERR", "(?i)err", "(?i:x)id 79", r"jobId: 42[0-9]+", r"^ERR",
          r"org\.example\.\w+", r"\d{2} n1", "caf[eé]", "café n", r"a\.b-c n\d\b",
          "(?:ab)*disk", " n11$", r"\bat org", "é n", "Run n1[0-9]"]


def _agree(store, pattern: str, lo: int, hi: int) -> None:
    rx = re.compile(pattern)
    q = _query(pattern)
    want = _plain(store, rx)
    got = [r.cursor for r in store.search(q, limit=None)]
    assert got == want, pattern
    assert [r.cursor for r in store.search(q, limit=3)] == want[:3]
    asc = [r.cursor for r in store.search(q, limit=4, order="asc")]
    assert asc == want[::-1][:4]
    assert [r.cursor for r in store.search(q, start=lo, end=hi, limit=None)] == \
        _plain(store, rx, lo, hi)
    assert store.hits(q, start=T0, end=T0 + 100_000, by=None).total == len(want)


@pytest.mark.parametrize("fulltext", [True, False], ids=["fulltext", "no-fulltext"])
def test_regex_search_answers_as_a_scan(make_store, fulltext):
    store = make_store(fulltext=fulltext, seal_rows=32, retention=None)
    msgs = [" ".join(WORDS[(i * 3 + j) % len(WORDS)] for j in range(i % 4 + 1)) + f" n{i}"
            for i in range(120)]
    assert store.write("".join(_line(i, m) for i, m in enumerate(msgs))).ok
    store.flush()  # sealed (compacted) segments, and an open one
    assert store.write("".join(_line(i, m) for i, m in enumerate(msgs[:20], 120))).ok
    written = [140]
    for pattern in TRICKY:
        _agree(store, pattern, T0 + 30, T0 + 130)
        assert store.search(_query(pattern), limit=1), pattern  # each matches something

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        pattern, example = data.draw(flagged())
        new = [data.draw(message_for(example)) for _ in range(3)]
        i0 = written[0]
        assert store.write("".join(_line(i0 + k, m) for k, m in enumerate(new))).ok
        written[0] += len(new)
        if data.draw(st.booleans()):
            store.flush()
        lo = T0 + data.draw(st.integers(0, 400))
        _agree(store, pattern, lo, lo + data.draw(st.integers(0, 40)))

    check()
