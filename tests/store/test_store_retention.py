"""Retention per class (events, logs, log levels) against the oracle, on every backend."""
from __future__ import annotations

import pytest

import ccstore
from oracle import NS, T0, make_messages, matches, record_key, retained, to_lines

MSGS = make_messages(1200, seed=11)
SEAL = 83
END = max(m.time for m in MSGS) // NS

#: (retention, log_retention, level_retention) in seconds
CLASSES = {
    # a level kept for ever, others shorter and longer than the logs' default
    "kept-level": (3600, 7200, {"debug": 1800, "error": None, "info": 5000}),
    # a level kept longer than the default: whole segments go only past the longest
    "longer-level": (None, 3600, {"debug": 1800, "warn": 9000}),
    # levels alone, no default: other logs are kept
    "levels-only": (3600, None, {"debug": 600, "info": 2400}),
}


def fill(store) -> None:
    """MSGS in small segments: most sealed (compacted on sqlite-compact), the last
    ones still open."""
    res = store.write(to_lines(MSGS[:-50]))
    store.flush()
    res2 = store.write(to_lines(MSGS[-50:]))
    assert res.errors == res2.errors == [] and res.written + res2.written == len(MSGS)


def check(store, want) -> None:
    for kind in ("log", "event"):
        got = store.query(kind=kind, limit=None)
        exp = [m for m in want if m.kind == kind]
        assert sorted(map(record_key, got)) == sorted(map(record_key, exp)), kind
        # counts by level, per minute and over all, from rows and from the sealed
        # segments' per-minute counts
        for interval, step in ((None, None), ("1m", 60), ("10m", 600)):
            level = "loglevel" if kind == "log" else "function"
            tally: dict = {}
            for m in exp:
                key = (m.tags.get(level),) + (((m.time // NS) // step * step,) if step else ())
                tally[key] = tally.get(key, 0) + 1
            assert {r[:-1]: r[-1] for r in store.count(kind=kind, interval=interval)} == tally
        for by in ("hostname", "name", "partition"):
            tally = {}
            for m in exp:
                v = m.hostname if by == "hostname" else m.name if by == "name" \
                    else m.tags.get(by)
                tally[(v,)] = tally.get((v,), 0) + 1
            assert {r[:-1]: r[-1] for r in store.count(kind=kind, by=by)} == tally, by
    # full text never finds a row that went, and finds the rest
    for word in ("disk", "timeout"):
        q = {"text": word}
        exp = [m for m in want if matches(m, q)]
        got = store.query(**q, limit=None)
        assert sorted(map(record_key, got)) == sorted(map(record_key, exp)), word
    # facets of the search language agree with the rows too
    facets = store.facets("", start=T0 - 7200, end=END + 1, fields=["level", "host"],
                          limit=100)
    levels = {}
    for m in want:
        if m.kind == "log":
            levels[m.tags["loglevel"]] = levels.get(m.tags["loglevel"], 0) + 1
    assert dict(facets["level"]) == levels
    hosts: dict = {}
    for m in want:
        hosts[m.hostname] = hosts.get(m.hostname, 0) + 1
    assert dict(facets["host"]) == hosts


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_retention_per_class_matches_the_oracle(make_store, name):
    retention, log_retention, levels = CLASSES[name]
    store = make_store(seal_rows=SEAL, retention=retention, log_retention=log_retention,
                       level_retention=levels)
    fill(store)
    # twice, later the second time: segments straddling one cutoff, passed by the next
    removed = store.apply_retention(now=END - 1500)
    removed += store.apply_retention(now=END)
    want = retained(MSGS, END, retention, log_retention, levels)
    assert removed == len(MSGS) - len(want)
    check(store, want)
    # sealing the open segments now keeps every answer
    store.flush()
    check(store, want)
    if store.backend.name == "sqlite":  # the full-text tables lost the rows that went
        import apsw

        conn = apsw.Connection(store.backend.path)
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE name GLOB 'ccs_*_fts' AND type='table'")]
        assert tables or store.backend.compacting
        for t in tables:
            conn.execute(f'INSERT INTO "{t}"("{t}", rank) VALUES(\'integrity-check\', 1)')
        conn.close()
    classes = store.stats()["retention_classes"]
    assert classes == {"event": retention, "log": log_retention, "log_levels": levels}


def test_retention_by_level_in_rows_written_after(make_store):
    """Rows written after a retention run stay, and a later run takes them."""
    levels = {"debug": 1800}
    store = make_store(seal_rows=SEAL, retention=None, level_retention=levels)
    fill(store)
    store.apply_retention(now=END)
    late = make_messages(300, seed=12)
    for m in late:
        m.time += (END - T0 + 4000) * NS
    store.write(to_lines(late))
    now = max(m.time for m in late) // NS
    store.apply_retention(now=now)
    want = retained(MSGS + late, now, None, None, levels)
    got = store.query(kind="log", limit=None)
    assert sorted(map(record_key, got)) == sorted(
        map(record_key, [m for m in want if m.kind == "log"]))


def test_level_retention_is_checked(tmp_path):
    with pytest.raises(ValueError, match="debug"):
        ccstore.open(str(tmp_path / "x.db"), level_retention={"debug": "1 day"})
    with pytest.raises(ValueError, match="negative"):
        ccstore.open(str(tmp_path / "y.db"), log_retention=-5)
