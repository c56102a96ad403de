"""The one-line formats read a chunk at once give the rows, counts and offsets of the line
loop, whatever the chunk boundaries; a chunk it cannot read goes to the loop."""
from __future__ import annotations

import json
import random

import pytest

from ccstore.logs import LogParser

WORDS = ("session opened", "ERROR: disk", "LustreError: 11-0: lost", "WARN low memory",
         "NVRM: Xid (PCI:0000:3b:00): 79", "level=debug x", "\u00e9t\u00e9 FATAL", "",
         "x" * 90 + " ERROR beyond the window", "error: lower case", "FATAL_ERROR_FILE")


def sample(fmt: str, n: int, rng: random.Random) -> list:
    out = []
    for i in range(n):
        msg = rng.choice(WORDS)
        host = f"n{rng.randrange(50)}"
        t = 1131566461 + i
        if fmt == "syslog_export":
            alert = "-" if rng.random() < 0.8 else "ECC"
            out.append(f"{alert} {t} 2005.11.09 {host} Nov 9 12:01:01 {host}/{host} "
                       f"kernel[{i}]: {msg}")
        elif fmt == "bgl":
            sev = rng.choice(("INFO", "WARNING", "FATAL", "FAILURE"))
            out.append(f"- {t} 2005.06.03 {host} 2005-06-03-15.42.50.675872 {host} RAS "
                       f"KERNEL {sev} {msg}")
        elif fmt == "lanl":
            out.append(f"{i} {host} node status {t} 1 {msg}")
        else:
            obj = {"__REALTIME_TIMESTAMP": str(t * 10**6), "MESSAGE": msg}
            if rng.random() < 0.5:
                obj["PRIORITY"] = str(rng.randrange(8))
            if rng.random() < 0.7:
                obj["_HOSTNAME"] = host
            out.append(json.dumps(obj))
    return out


def parse(data: bytes, fmt: str, one_line: bool, step: int):
    p = LogParser(fmt, hostname="me", tz="UTC", location="/x.log")
    p._one_line = one_line
    rows = []
    states = []
    for i in range(0, len(data), step):
        rows.extend(p.feed(data[i:i + step]))
        states.append((p.safe_offset, p.offset, p.entries, p.lines, p.no_host, p.unparsed))
    rows.extend(p.finish())
    states.append((p.safe_offset, p.entries, p.lines, p.no_host, p.unparsed))
    return rows, states


@pytest.mark.parametrize("fmt", ["syslog_export", "bgl", "lanl", "journal_json"])
@pytest.mark.parametrize("seed", range(4))
def test_chunks_give_the_rows_of_the_line_loop(fmt, seed):
    rng = random.Random(seed)
    lines = sample(fmt, 300, rng)
    if seed == 1:  # lines the chunk path refuses: the loop takes those chunks
        lines[100:100] = ["not in the format", "", "\tat com.example.Main(Main.java:1)"]
    if seed == 2:
        lines[50] = lines[50][:-1] + "Traceback (most recent call last):"
    data = ("\n".join(lines) + "\n").encode()
    for step in (len(data), 997, 64):
        fast = parse(data, fmt, True, step)
        slow = parse(data, fmt, False, step)
        assert fast == slow, (fmt, seed, step)
    assert len(fast[0]) >= 300


def test_the_chunk_path_is_taken():
    data = ("\n".join(sample("lanl", 20, random.Random(9))) + "\n").encode()
    p = LogParser("lanl", hostname="me")
    calls = []
    real = p._one_line_chunk

    def spy(*a):
        out = real(*a)
        calls.append(out is not None)
        return out

    p._one_line_chunk = spy
    p.feed(data)
    assert calls == [True]


SLURM_LINES = ("[2026-12-03T10:00:0{s}.{ms:03d}] {msg}", "[2026-12-03T10:00:0{s}] error: {msg}",
               "[2026-12-03T10:00:0{s}.{ms:03d}] [{ms}.batch] debug2: {msg}",
               "[2026-12-03T10:00:0{s}.{ms:03d}+01:00] warning: {msg}",
               "[Dec 03 10:00:0{s}.{ms:03d}] verbose: {msg}",
               "[2026-12-03T10:00:0{s}.{ms:03d}] _slurm_rpc_submit_batch_job: JobId={ms}")
SLURM_ODD = ("\tat com.example.Main(Main.java:1)", "Traceback (most recent call last):", "",
             "[2026-12-03T10:00:01.000] java.lang.IllegalStateException: boom",
             "[2026-12-03T10:00:01.000]    ... 3 more", "not slurm at all")


@pytest.mark.parametrize("name", ["slurmctld.log", "slurmd.n01.log", "app.log"])
@pytest.mark.parametrize("seed", range(4))
def test_slurm_chunks_give_the_rows_of_the_line_loop(name, seed):
    rng = random.Random(seed)
    lines = [rng.choice(SLURM_LINES).format(s=rng.randrange(10), ms=rng.randrange(1000),
                                            msg=rng.choice(WORDS)) for _ in range(300)]
    if seed:
        for _ in range(seed * 2):
            lines.insert(rng.randrange(300), rng.choice(SLURM_ODD))
    data = ("\n".join(lines) + "\n").encode()
    if seed == 3:
        data = data.replace(b"\n", b"\r\n")
    for step in (len(data), 997, 64):
        out = []
        for one_line in (True, False):
            p = LogParser("slurm", hostname="me", tz="UTC", location="/var/log/" + name)
            p._one_line = one_line
            rows = []
            for i in range(0, len(data), step):
                rows.extend(p.feed(data[i:i + step]))
            rows.extend(p.finish())
            out.append((rows, p.safe_offset, p.entries, p.lines, p.no_host, p.unparsed))
        assert out[0] == out[1], (name, seed, step)
