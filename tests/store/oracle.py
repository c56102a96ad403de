"""A brute-force model of the store: the answers every backend must give."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional

NS = 1_000_000_000
T0 = 1_740_000_000  # Unix seconds


@dataclass
class Msg:
    cluster: str
    kind: str
    time: int  # ns
    name: str
    hostname: Optional[str]
    type: Optional[str]
    typeid: Optional[str]
    stype: Optional[str]
    stypeid: Optional[str]
    tags: Dict[str, str] = field(default_factory=dict)  # other tags
    value: str = ""

    def line(self) -> str:
        def esc_tag(s: str) -> str:
            return (s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
                    .replace(" ", "\\ "))

        tags = {"cluster": self.cluster}
        for k, v in (("hostname", self.hostname), ("type", self.type), ("type-id", self.typeid),
                     ("stype", self.stype), ("stype-id", self.stypeid)):
            if v is not None:
                tags[k] = v
        tags.update(self.tags)
        tagtext = "".join(f",{esc_tag(k)}={esc_tag(v)}" for k, v in tags.items())
        val = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        name = self.name.replace(",", "\\,").replace(" ", "\\ ")
        return f'{name}{tagtext} {self.kind}="{val}" {self.time}'


WORDS = ["alpha", "beta", "gamma", "disk", "node", "job", "archiving", "finished",
         "java.lang.NullPointerException", "timeout", "mount", "error"]


def make_messages(n: int, seed: int = 7, clusters=("alex", "fritz")) -> List[Msg]:
    """Deterministic mixed events and logs, with out-of-order and equal timestamps."""
    rng = random.Random(seed)
    out = []
    t = T0 * NS
    for i in range(n):
        kind = "log" if rng.random() < 0.75 else "event"
        # mostly increasing, some back-dated, some equal timestamps
        r = rng.random()
        if r < 0.1:
            tm = t - rng.randrange(0, 3600) * NS
        elif r < 0.25:
            tm = t
        else:
            t += rng.randrange(1, 120) * NS // 10
            tm = t
        tags: Dict[str, str] = {}
        if kind == "log":
            tags["loglevel"] = rng.choice(["debug", "info", "warn", "error"])
        else:
            tags["function"] = rng.choice(["start_job", "stop_job"])
        if rng.random() < 0.3:
            tags["partition"] = rng.choice(["main", "gpu", "x y"])
        stype = rng.choice([None, None, "filesystem"])
        out.append(Msg(
            cluster=rng.choice(clusters), kind=kind, time=tm,
            name=rng.choice(["ccb", "ccms", "ccem"] if kind == "log" else ["job", "slurm"]),
            hostname=rng.choice(["a0001", "a0002", "a0003", "m01"]),
            type="node", typeid=rng.choice(["0", "1"]),
            stype=stype, stypeid=(rng.choice(["/home", "/scratch"]) if stype else None),
            tags=tags,
            value=" ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 8))) + f" #{i}",
        ))
    return out


def to_lines(msgs: List[Msg]) -> bytes:
    return ("\n".join(m.line() for m in msgs) + "\n").encode()


#: tag keys that name a column of their own (and the query's ``name``) -> Msg attribute
IDENTITY_ATTRS = {"hostname": "hostname", "type": "type", "type-id": "typeid",
                  "stype": "stype", "stype-id": "stypeid", "name": "name"}


def matches(m: Msg, q: dict) -> bool:
    """Whether message ``m`` satisfies the query keyword arguments ``q``."""
    if m.kind != q.get("kind", "log"):
        return False
    cl = q.get("cluster")
    if cl is not None and m.cluster not in ([cl] if isinstance(cl, str) else cl):
        return False
    if q.get("start") is not None and m.time < q["start"] * NS:
        return False
    if q.get("end") is not None and m.time >= (q["end"] + 1) * NS:
        return False  # an end in whole seconds takes in that whole second
    for arg, attr in (("hosts", "hostname"), ("names", "name"), ("types", "type"),
                      ("type_ids", "typeid"), ("stypes", "stype"), ("stype_ids", "stypeid")):
        v = q.get(arg)
        if v is not None and getattr(m, attr) not in ([v] if isinstance(v, str) else v):
            return False
    for key, cond in (q.get("tags") or {}).items():
        have = getattr(m, IDENTITY_ATTRS[key]) if key in IDENTITY_ATTRS else m.tags.get(key)
        if isinstance(cond, dict):
            if "not" in cond:
                if have in cond["not"]:
                    return False
            elif have not in cond["in"]:
                return False
        elif have not in ([cond] if isinstance(cond, str) else cond):
            return False
    text = q.get("text")
    if text is not None and text.lower() not in m.value.lower().replace(".", " ").split():
        return False
    return True


def record_key(r) -> tuple:
    """What identifies a stored message in answers (records or Msg), as sortable text."""
    if isinstance(r, Msg):
        key = (r.cluster, r.kind, r.time, r.name, r.hostname, r.type, r.typeid, r.stype,
               r.stypeid, r.tags, r.value)
    else:
        key = (r.cluster, r.kind, r.time, r.name, r.hostname, r.type, r.type_id, r.stype,
               r.stype_id, r.tags, r.value)
    return json.dumps(key, sort_keys=True)


def retained(msgs: List[Msg], now: int, retention: Optional[float] = None,
             log_retention: Optional[float] = None,
             level_retention: Optional[Dict[str, Optional[float]]] = None) -> List[Msg]:
    """The messages a store keeps after retention at ``now`` (Unix seconds): events for
    ``retention`` seconds, logs of a level in ``level_retention`` for that level's,
    other logs for ``log_retention`` (None: kept)."""
    levels = level_retention or {}
    out = []
    for m in msgs:
        if m.kind == "event":
            keep = retention
        else:
            level = m.tags.get("loglevel")
            keep = levels.get(level, log_retention)
        if keep is None or m.time >= now * NS - int(keep * NS):
            out.append(m)
    return out
