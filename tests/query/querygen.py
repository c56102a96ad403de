"""Hypothesis strategies for query texts and records over one small universe, so that
random queries match some random records and miss others."""
from __future__ import annotations

import json
import random
from typing import Any, Callable, Dict, List, Optional, Sequence

from hypothesis import strategies as st

from ccstore import lineproto
from ccstore.query.fields import from_row
from ccstore.timesyntax import NS_PER_S, format_iso

S = NS_PER_S
T0 = 1_796_119_200  # 2026-12-01T10:00:00Z
NOW = (T0 + 7200) * S

WORDS = ["disk", "full", "xid", "error", "node", "java", "lang", "npe", "café", "Disk",
         "ÉCOLE", "mount", "42", "a0001"]
HOSTS = ["a0001", "a0002", "a0003", "a0010", "m01", None]
LEVEL_VALUES = ["debug", "info", "notice", "warn", "WARNING", "Warn", "err", "Error", "crit",
                "fatal", "emerg", "wArN", "5", None]
CLUSTERS = ["alex", "fritz"]


# ---------------------------------------------------------------------- records
SEPARATORS = [" ", ".", ": ", "-", "_", "/"]


def to_point(r: Dict[str, Any]) -> lineproto.Point:
    """A record (output field names) as the line-protocol point that stores it."""
    tags = {"cluster": r["cluster"]}
    for key, f in (("hostname", "host"), ("type", "type"), ("type-id", "type_id"),
                   ("stype", "stype"), ("stype-id", "stype_id")):
        if r[f] is not None:
            tags[key] = r[f]
    tags.update(r["tags"])
    return lineproto.Point(r["name"], tags, {r["kind"]: r["message"]}, r["ts_ns"])


def build_record(pick: Callable[[Sequence[Any]], Any], chance: Callable[[float], bool],
                 count: Callable[[int, int], int], row_id: Optional[int] = None
                 ) -> Dict[str, Any]:
    """One record of the universe, as the store gives it (through fields.from_row);
    ``pick``, ``chance`` and ``count`` make the choices."""
    kind = pick(["log", "event"])
    tags: Dict[str, str] = {}
    level = pick(LEVEL_VALUES)
    if level is not None:
        tags["loglevel"] = level
    if chance(0.5):
        tags["function"] = pick(["start_job", "stop_job"])
    if chance(0.4):
        tags["partition"] = pick(["main", "gpu", "x y", ""])
    if chance(0.1):
        tags["name"] = "tagged"
    words = [pick(WORDS) for _ in range(count(0, 6))]
    message = "".join(w + pick(SEPARATORS) for w in words)
    if row_id is not None:
        message += f" #{row_id}"
    t = (T0 + count(0, 7200)) * S
    stype = pick([None, "filesystem"])
    row = (t, t // S, pick(["ccb", "ccms", "job"]), pick(HOSTS), pick(["node", "socket", None]),
           pick(["0", "1", None]), stype, None if stype is None else pick(["/home", "/scratch"]),
           json.dumps(tags, sort_keys=True, separators=(",", ":")), message,
           tags.get("loglevel" if kind == "log" else "function"))
    return from_row(pick(CLUSTERS), kind, row, row_id=row_id)


@st.composite
def records(draw) -> Dict[str, Any]:
    return build_record(lambda opts: draw(st.sampled_from(opts)),
                        lambda p: draw(st.booleans()),
                        lambda lo, hi: draw(st.integers(lo, hi)))


def random_records(n: int, seed: int = 1) -> List[Dict[str, Any]]:
    """``n`` records, deterministic (for a store built once), ids 0..n-1."""
    rng = random.Random(seed)
    return [build_record(rng.choice, lambda p: rng.random() < p, rng.randint, row_id=i)
            for i in range(n)]


# ---------------------------------------------------------------------- queries
def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _iso(sec: int) -> str:
    return format_iso(sec * S, digits=0)


word = st.sampled_from(WORDS)
text_leaf = st.one_of(
    word,
    st.tuples(word, word).map(lambda t: _q(f"{t[0]} {t[1]}")),
    st.tuples(word, st.integers(1, 3)).map(lambda t: t[0][:t[1]] + "*"),
    st.tuples(word, word, st.integers(1, 2)).map(lambda t: _q(f"{t[0]} {t[1][:t[2]]}") + "*"),
    st.sampled_from(["java.lang.npe", "_msg:disk", "message:\"full disk\"", "_msg:xi*"]),
)
regex_leaf = st.sampled_from(['~"disk|xid"', '~"[0-9]+"', '~"^err"', '~"(?i)café"',
                              'host:~"^a000[12]$"', 'partition:~"x"', 'name:~"cc"'])
time_leaf = st.one_of(
    st.tuples(st.integers(-100, 7300), st.integers(2, 4000), st.sampled_from("[("),
              st.sampled_from("])")).map(
        lambda t: f"_time:{t[2]}{_iso(T0 + t[0])}, {_iso(T0 + t[0] + t[1])}{t[3]}"),
    st.tuples(st.sampled_from([">=", ">", "<=", "<"]), st.integers(0, 7200)).map(
        lambda t: f"_time:{t[0]}{_iso(T0 + t[1])}"),
    st.sampled_from(["_time:1h", "_time:30m", "_time:2026-12-01", "_time:2026-12-01T10",
                     "_time:2026-12-01T10:30Z", "_time:[2026-12-01T10:00Z, 2026-12-01T11:00Z)",
                     f"_time:{T0 + 100}", f"_time:<{T0 + 3600}"]),
)
field_leaf = st.one_of(
    st.sampled_from(["host:a0001", "host:a000[1-2]", "host:a00[01-10]", "hostname:m01",
                     "host:a000[2-3],m01", "host:a00*", "host:*", "cluster:alex",
                     "cluster:fritz", "kind:log", "kind:event", "kind:(log OR events)",
                     "name:ccb", "name:cc*", "name:in(ccb, job)", "type:node", "type:socket",
                     "type-id:0", "type_id:1", "stype:filesystem", "stype:*",
                     "stype-id:/home", "stype_id:in(/home, /scratch)", "function:start_job",
                     "function:stop_job", "loglevel:error", "loglevel:err", "loglevel:Warn",
                     "partition:gpu", 'partition:"x y"', 'partition:""', "partition:*",
                     "partition:ma*", '"name":tagged', "host:=a0002", 'host:"a0003"',
                     "cluster:=alex"]),
    st.tuples(st.sampled_from(["=", ">=", ">", "<=", "<", ""]),
              st.sampled_from(["debug", "info", "notice", "warn", "warning", "error", "ERR",
                               "crit", "fatal", "alert", "emerg"])).map(
        lambda t: f"level:{t[0]}{t[1]}"),
    st.just("level:*"),
    st.just("level:(warn OR error)"),
    st.just("level:in(info, crit)"),
)
leaf = st.one_of(text_leaf, text_leaf, regex_leaf, time_leaf, field_leaf, field_leaf,
                 st.just("*"))


def _combine(children):
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda t: f"{t[0]} {t[1]}"),
        pair.map(lambda t: f"({t[0]}) AND ({t[1]})"),
        pair.map(lambda t: f"({t[0]}) OR ({t[1]})"),
        pair.map(lambda t: f"{t[0]} OR {t[1]}"),
        children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"NOT ({c})"),
        children.map(lambda c: f"!({c})"),
    )


queries = st.recursive(leaf, _combine, max_leaves=6)

