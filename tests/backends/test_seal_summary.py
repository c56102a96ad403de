"""A sealed segment's per-minute and facet counts against plain SQL GROUP BYs."""
from __future__ import annotations

import json
import random
from typing import Any, Dict, List, Optional, Tuple

import apsw
import pytest

from ccstore.backends.sqlite import seal

_DDL = ("CREATE TABLE s(id INTEGER PRIMARY KEY, timestamp INTEGER, name TEXT, hostname TEXT, "
        "type TEXT, typeid TEXT, stype TEXT, stypeid TEXT, othertags JSON, field TEXT, "
        "time INTEGER NOT NULL, level TEXT)")


def _table(rows: List[tuple]) -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute(_DDL)
    with conn:
        conn.executemany("INSERT INTO s(timestamp, name, hostname, type, typeid, stype, stypeid, "
                         "othertags, field, time, level) VALUES(?,?,?,?,?,?,?,?,?,?,?)", rows)
    return conn


def _reference(conn: apsw.Connection, column_values: Optional[int]
               ) -> Tuple[List[tuple], List[tuple]]:
    """The counts one GROUP BY per field gives, in the facet shapes of ``_summary``."""
    minutes = conn.execute("SELECT name, level, timestamp - (((timestamp % 60) + 60) % 60), "
                           "count(*) FROM s GROUP BY 1, 2, 3").fetchall()
    facets: List[tuple] = [("*", None, conn.execute("SELECT count(*) FROM s").fetchone()[0])]
    for col in ("hostname", "type", "typeid", "stype", "stypeid", "name", "level"):
        values = conn.execute(f"SELECT {col}, count(*) FROM s GROUP BY 1").fetchall()
        if column_values is not None and len(values) > column_values:
            facets.append(("!", col, len(values)))
        else:
            facets.extend((col, v, n) for v, n in values)
    tags: Dict[str, Dict[Any, int]] = {}
    for key, value, n in conn.execute(
            "SELECT j.key, j.value, count(*) FROM s, json_each(s.othertags) AS j "
            "WHERE json_valid(s.othertags) AND json_type(s.othertags) = 'object' "
            "GROUP BY 1, 2"):
        tags.setdefault(key, {})[value] = n
    for key, values in tags.items():
        facets.append(("#", key, sum(values.values())))
        if len(values) > seal.FACET_TAG_VALUES:
            facets.append(("!", key, len(values)))
        else:
            facets.extend(("tag:" + key, v, n) for v, n in values.items())
    return minutes, facets


def _rows(n: int, hosts: int, seed: int) -> List[tuple]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = rnd.choice([None, -61, -60, -1, 0, 59, 60, 1_700_000_000 + rnd.randrange(600)])
        tags = rnd.choice([None, "not json", "[1, 2]", json.dumps({"a": "x"}),
                           json.dumps({"a": "y", "job": str(rnd.randrange(5))}),
                           json.dumps({"num": rnd.randrange(3)}), json.dumps({"req": f"r{i}"})])
        out.append((ts, rnd.choice(["cpu", "log", None]), rnd.choice([None, *(
            f"n{k}" for k in range(hosts))]), rnd.choice([None, "node"]),
                    rnd.choice([None, "0", "1"]), None, rnd.choice([None, "x"]), tags, f"m{i}",
                    (ts or 0) * 10**9, rnd.choice([None, "info", "error"])))
    return out


def _same(got: Tuple[List[tuple], List[tuple]], want: Tuple[List[tuple], List[tuple]]) -> None:
    assert sorted(got[0], key=repr) == sorted(want[0], key=repr)
    assert sorted(got[1], key=repr) == sorted(want[1], key=repr)


@pytest.mark.parametrize("column_values", [None, 2, 50])
@pytest.mark.parametrize("tag_sets", [seal._TAG_SETS, 3])
def test_summary_agrees_with_sql(column_values, tag_sets, monkeypatch):
    """Counted in Python from two reads, or capped per column, as one GROUP BY per field
    counts; tag sets beyond ``_TAG_SETS`` counted by SQLite alike."""
    monkeypatch.setattr(seal, "_TAG_SETS", tag_sets)
    monkeypatch.setattr(seal, "FACET_TAG_VALUES", 20)
    conn = _table(_rows(600, 40, 1))
    _same(seal._summary(conn, "s", column_values), _reference(conn, column_values))


def test_summary_of_an_empty_segment():
    conn = _table([])
    _same(seal._summary(conn, "s"), _reference(conn, None))
