"""Differential fuzzing of the two line-protocol decoders.

Feeds millions of generated inputs to the compiled core (``ccstore._lineproto``)
and the pure-Python twin (``ccstore._pylineproto``), and to the two COPY
decoders built on them (``ccstore.backends._pgcopy`` and ``_pypgcopy``), and
reports every input on which they disagree (points, errors, rows, one group's
rows as binary COPY data, dropped counts, consumed bytes, line counts, raised exceptions), crash
(the worker process dies) or hang (a batch takes too long).  Not part of the
test suite.

Inputs are generated deterministically from ``(seed, batch)``, so every report
can be replayed::

    python benchmarks/fuzz_differential.py -n 10000000            # 10 million inputs
    python benchmarks/fuzz_differential.py --replay SEED:BATCH     # one batch again

Generators: random bytes over an alphabet of the bytes that matter; random
concatenations of line-protocol fragments; valid ClusterCockpit-like lines
with a few mutations (inserted backslashes, quotes, spaces, commas, equals,
newlines, control bytes, invalid UTF-8, big numbers); and streams cut into
chunks decoded with ``final=False`` as a network receiver does.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
import traceback
from typing import Any, List, Optional, Tuple

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

# the same comparison as the differential tests
from lpinputs import call, canon_copy, canon_decode, canon_rows  # noqa: E402

BATCH = 500

# ------------------------------------------------------------------ generators
ALPHABET = (b"mcpu=, \\\"\n\r\t#-.0123456789eEiutTfFx" + bytes([0, 1, 0x7F, 0x80, 0xBF, 0xC3,
                                                              0xE2, 0xED, 0xF0, 0xF4, 0xFF]))
FRAGMENTS = [
    b"m", b"cpu", b"log", b"event", b"value", b"control", b"cluster", b"hostname", b"type",
    b"type-id", b"stype", b"stype-id", b"loglevel", b"function", b",", b"=", b" ", b"  ", b"\\",
    b'"', b"\n", b"\r", b"\r\n", b"#", b"\t", b"\x00", b"\x7f", b"0", b"1", b"12", b"-", b".",
    b"e", b"E", b"+", b"i", b"u", b"t", b"true", b"F", b"x", b"\xff", b"\xc3\xa9", b"\xe2\x82",
    b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\\n", b'\\"', b"\\\\", b"1740027951",
    b"1740027951000000000", b"9223372036854775807", b"9223372036854775808",
    b"18446744073709551615", b"18446744073709551616", b"-9223372036854775808", b"1e308",
    b"1e309", b"cluster=a", b"hostname=h", b'log="', b'event="', b"value=1", b"control=\"x\"",
]
WORDS = ["ccb", "ccms", "job", "a b", "x,y", "k=v", "\\", "\\\\", '"q"', "é", "€", "\U0001f600",
         "#", "0", "info", "node", "alex", "-"]
INTERESTING = [b"\\", b'"', b" ", b",", b"=", b"\n", b"\r", b"\r\n", b"\t", b"\x00", b"\x7f",
               b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"#", b"-", b".",
               b"e", b"i", b"u", b"0", b"99999999999999999999", b"1e400", b'\\"', b"\\\\",
               b"  ", b",,", b"==", b'""']


def _esc_key(s: str, specials: str) -> str:
    for c in specials:
        s = s.replace(c, "\\" + c)
    return s


def gen_valid_line(r: random.Random) -> bytes:
    """A (mostly) valid ClusterCockpit-like line with escapes and edge values."""
    name = r.choice(["ccb", "job", "m", "c pu", "a,b", "é", "x\\y"])
    parts = [_esc_key(name, ", ")]
    tags = {}
    for k in r.sample(["cluster", "hostname", "type", "type-id", "stype", "stype-id",
                       "loglevel", "function", "k=1", "a b"], r.randint(0, 6)):
        tags[k] = r.choice(WORDS + ["alex", "h1", "node", "0", "info", "stop_job"])
    for k, v in tags.items():
        if v.endswith("\\"):
            v += "x"
        parts.append("," + _esc_key(k, ",= ") + "=" + _esc_key(v, ",= "))
    fields = []
    for _ in range(r.randint(1, 3)):
        k = r.choice(["log", "event", "value", "control", "v", "x y", "log"])
        kind = r.randrange(6)
        if kind == 0:
            txt = "".join(r.choice(WORDS + [" ", "\n", "\t", "\\n", '\\"'])
                          for _ in range(r.randint(0, 8)))
            v = '"' + txt.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif kind == 1:
            v = str(r.choice([0, 1, -1, 2**63 - 1, -2**63, 2**63,
                              r.randint(-10**20, 10**20)])) + "i"
        elif kind == 2:
            v = str(r.choice([0, 1, 2**64 - 1, 2**64, r.randint(0, 10**21)])) + "u"
        elif kind == 3:
            v = r.choice(["1", "1.", ".5", "-0", "1e5", "-1.5E-3", "1e308", "1e309", "5e-324",
                          "0.1", "123456789012345678901234567890", repr(r.uniform(-1e6, 1e6))])
        elif kind == 4:
            v = r.choice(["t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"])
        else:
            v = '"' + r.choice(["", "x", "a\\b", "multi\nline", "\\\\", "{\\\"jobId\\\": 1}"]) + '"'
        fields.append(_esc_key(k, ",= ") + "=" + v)
    line = parts and "".join(parts)
    line += " " * r.choice([1, 1, 1, 2]) + ",".join(fields)
    ts = r.choice([None, "1740027951", "1740027951000", "1740027951000000",
                   "1740027951000000000", "-5", "0", "9223372036854775807",
                   "9223372036854775808", "99999999999"])
    if ts is not None:
        line += " " * r.choice([1, 1, 2]) + ts
    line += r.choice(["", "", " ", "  "])
    return line.encode("utf-8")


def mutate(r: random.Random, data: bytes, k: int) -> bytes:
    b = bytearray(data)
    for _ in range(k):
        op = r.randrange(5)
        pos = r.randint(0, len(b))
        if op == 0:
            b[pos:pos] = r.choice(INTERESTING)
        elif op == 1 and b:
            del b[min(pos, len(b) - 1)]
        elif op == 2 and b:
            b[min(pos, len(b) - 1)] = r.choice(ALPHABET)
        elif op == 3 and b:
            a = r.randint(0, len(b))
            b[pos:pos] = b[min(a, pos):max(a, pos)][:20]
        else:
            b[pos:pos] = r.choice(FRAGMENTS)
    return bytes(b)


def gen_many_tags(r: random.Random) -> bytes:
    """A line with many tags (the compiled scanner indexes keys past 16)."""
    keys = [f"t{i}" for i in range(r.randint(10, 60))]
    if r.random() < 0.5:
        keys.insert(r.randint(0, len(keys)), r.choice(keys))
    if r.random() < 0.3:
        keys[r.randrange(len(keys))] = "t\\=1"
    return ("m," + ",".join(k + "=v" for k in keys) + ' log="x" 1').encode()


def gen_document(r: random.Random) -> bytes:
    kind = r.randrange(10)
    if kind == 9 and r.random() < 0.3:
        return b"\n".join(gen_many_tags(r) for _ in range(r.randint(1, 3)))
    if kind == 0:
        return bytes(r.choice(ALPHABET) for _ in range(r.randint(0, 40)))
    if kind == 1:
        return bytes(r.randrange(256) for _ in range(r.randint(0, 30)))
    if kind in (2, 3):
        return b"".join(r.choice(FRAGMENTS) for _ in range(r.randint(0, 25)))
    lines = []
    for _ in range(r.randint(1, 5)):
        x = r.random()
        if x < 0.05:
            lines.append(r.choice([b"", b"  ", b"# comment", b"#\tc\x01", b"\r"]))
        else:
            line = gen_valid_line(r)
            if x < 0.75:
                line = mutate(r, line, r.choice([1, 1, 1, 2, 3]))
            lines.append(line)
    sep = r.choice([b"\n", b"\n", b"\r\n"])
    doc = sep.join(lines)
    if r.random() < 0.7:
        doc += sep
    return doc


# ------------------------------------------------------------------ comparison
def check(py: Any, cy: Any, data: bytes, r: random.Random, copy: Tuple[Any, Any]
          ) -> Optional[str]:
    """None when both implementations agree on ``data``, else what differs.

    One comparison per input, chosen at random: decode(), decode_rows() with
    final=True or final=False (or the COPY decoders ``copy`` with a copy_group),
    or the input as a stream cut into chunks.
    """
    precision = r.choice(["ns", "us", "ms", "s", "auto"])
    dt = r.choice([0, 1740027951000000000, -1])
    mode = r.randrange(4)
    if mode == 0:
        a = canon_decode(call(py.decode, data, precision=precision, default_time=dt))
        b = canon_decode(call(cy.decode, data, precision=precision, default_time=dt))
        if a != b:
            return (f"decode(precision={precision!r}, default_time={dt}): "
                    f"python {a!r} != cython {b!r}")
        return None
    if mode in (1, 2):
        kw = dict(precision=precision, default_time=dt, cluster=r.choice([None, "c", ""]),
                  final=mode == 1, lineno=r.choice([1, 7]))
        canon, pyd, cyd = canon_rows, py, cy
        if r.random() < 0.5:  # one group as binary COPY data
            kw["copy_group"] = (r.choice(["alex", "c"]), r.choice(["log", "event"]),
                                r.choice([None, 0, 20139]), r.choice([None, 1, (1 << 63) - 2]))
            canon, (pyd, cyd) = canon_copy, copy
        a = canon(call(pyd.decode_rows, data, **kw))
        b = canon(call(cyd.decode_rows, data, **kw))
        if a != b:
            return f"decode_rows({kw}): python {a!r} != cython {b!r}"
        return None
    # a stream cut into chunks, fed as a receiver does
    cuts = sorted(r.sample(range(len(data) + 1), min(len(data) + 1, r.randint(1, 4))))
    pend_a = pend_b = b""
    start, ln_a, ln_b = 0, 1, 1
    for cut in cuts + [len(data)]:
        piece = data[start:cut]
        start = cut
        pend_a += piece
        pend_b += piece
        final = cut == len(data)
        ra = call(py.decode_rows, pend_a, final=final, lineno=ln_a, default_time=0, cluster="c",
                   precision=precision)
        rb = call(cy.decode_rows, pend_b, final=final, lineno=ln_b, default_time=0, cluster="c",
                   precision=precision)
        if canon_rows(ra) != canon_rows(rb):
            return (f"chunk {pend_a!r} (final={final}, lineno={ln_a}): python {canon_rows(ra)!r}"
                    f" != cython {canon_rows(rb)!r}")
        if ra[0] != "ok":
            break
        pend_a = pend_a[ra[1].consumed:]
        pend_b = pend_b[rb[1].consumed:]
        ln_a += ra[1].lines
        ln_b += rb[1].lines
    return None


def run_batch(seed: int, batch: int) -> List[Tuple[bytes, str]]:
    from ccstore import _lineproto as cy
    from ccstore import _pylineproto as py
    from ccstore.backends import _pgcopy, _pypgcopy
    r = random.Random(seed * 1_000_003 + batch)
    bad = []
    for _ in range(BATCH):
        data = gen_document(r)
        try:
            msg = check(py, cy, data, r, (_pypgcopy, _pgcopy))
        except Exception:  # noqa: BLE001
            msg = "harness: " + traceback.format_exc()
        if msg is not None:
            bad.append((data, msg))
    return bad


def _worker(seed: int, batches: "mp.Queue[Optional[int]]", out: "mp.Queue[Any]") -> None:
    while True:
        b = batches.get()
        if b is None:
            return
        out.put(("start", b, os.getpid()))
        out.put(("done", b, run_batch(seed, b)))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="inputs to try (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per batch (hang)")
    ap.add_argument("--replay", metavar="SEED:BATCH", help="run one batch in this process")
    ap.add_argument("--show", type=int, default=5, help="disagreements to print in full")
    args = ap.parse_args(argv)

    if args.replay:
        seed, batch = map(int, args.replay.split(":"))
        bad = run_batch(seed, batch)
        for data, msg in bad[:args.show]:
            print(f"input {data!r}\n  {msg}\n")
        print(f"{len(bad)} disagreement(s) in batch {seed}:{batch}")
        return 1 if bad else 0

    nbatches = (args.n + BATCH - 1) // BATCH
    ctx = mp.get_context("fork")
    batches: "mp.Queue[Optional[int]]" = ctx.Queue()
    out: "mp.Queue[Any]" = ctx.Queue()
    for b in range(nbatches):
        batches.put(b)
    procs = {}

    def spawn() -> None:
        p = ctx.Process(target=_worker, args=(args.seed, batches, out), daemon=True)
        p.start()
        procs[p.pid] = p

    for _ in range(args.jobs):
        spawn()
    running = {}  # batch -> (pid, started)
    done = 0
    disagreements: List[Tuple[int, bytes, str]] = []
    crashes: List[str] = []
    t0 = time.time()
    last_report = t0
    while done < nbatches:
        try:
            msg = out.get(timeout=1.0)
        except Exception:  # queue.Empty
            msg = None
        if msg is not None:
            if msg[0] == "start":
                running[msg[1]] = (msg[2], time.time())
            else:
                running.pop(msg[1], None)
                done += 1
                disagreements.extend((msg[1], d, m) for d, m in msg[2])
        now = time.time()
        for b, (pid, started) in list(running.items()):
            p = procs.get(pid)
            dead = p is not None and not p.is_alive()
            if dead or now - started > args.timeout:
                what = (f"crash (exit code {p.exitcode})" if dead else
                        f"hang (> {args.timeout:.0f} s)")
                crashes.append(f"{what} in batch {args.seed}:{b}")
                print(f"!! {crashes[-1]}: replay with --replay {args.seed}:{b}", flush=True)
                if not dead and p is not None:
                    p.kill()
                    p.join()
                procs.pop(pid, None)
                running.pop(b)
                done += 1
                spawn()
        if now - last_report > 30:
            last_report = now
            print(f"{done * BATCH:,} inputs, {len(disagreements)} disagreement(s), "
                  f"{len(crashes)} crash/hang, {done * BATCH / (now - t0):,.0f} inputs/s",
                  flush=True)
    for _ in procs:
        batches.put(None)
    for data, msg in [(d, m) for _, d, m in disagreements][:args.show]:
        print(f"input {data!r}\n  {msg[:2000]}\n")
    total = nbatches * BATCH
    print(f"{total:,} inputs (seed {args.seed}) in {time.time() - t0:.0f} s: "
          f"{len(disagreements)} disagreement(s), {len(crashes)} crash/hang")
    for b in sorted({b for b, _, _ in disagreements})[:10]:
        print(f"  replay: --replay {args.seed}:{b}")
    return 1 if disagreements or crashes else 0


if __name__ == "__main__":
    sys.exit(main())
