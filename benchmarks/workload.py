"""The standard ccstore workload: a busy ClusterCockpit cluster's log stream.

Deterministic for a given seed.  Shape (see the project's performance targets):

- 800 hosts ``a0000`` ... ``a0799`` of cluster ``alex``, ``type=node,type-id=0``;
- 80 % logs: measurement one of ``ccb ccms ccmc ccem ccnc``, tag ``loglevel``,
  a 60-120 character message that sometimes contains escaped quotes,
  backslashes and a Java exception name;
- 20 % job events: measurement ``job``, tag ``function=start_job|stop_job``,
  a JSON payload with escaped quotes;
- nanosecond timestamps, 1,000 lines per second of simulated time, increasing.

Usage::

    python benchmarks/workload.py -n 1000000 -o workload.lp

or from Python: ``generate(n, seed=0) -> bytes`` / ``iter_lines(n, seed=0)``.
"""
from __future__ import annotations

import argparse
import contextlib
import random
import sys
from typing import Iterator

__all__ = ["generate", "iter_lines", "START_NS", "HOSTS"]

#: simulated time of the first line (2025-02-20T04:00:00Z), nanoseconds
START_NS = 1_740_024_000 * 1_000_000_000
#: simulated time between two lines: 1,000 lines per second
STEP_NS = 1_000_000
HOSTS = [f"a{i:04d}" for i in range(800)]
SOURCES = ["ccb", "ccms", "ccmc", "ccem", "ccnc"]
LEVELS = ["debug", "info", "warn", "error"]
WORDS = (
    "component archiver scheduler collector metric store node socket memory job user "
    "request finished started failed retrying timeout connection queue buffer flush "
    "write read config reload partition checkpoint cache hit miss latency worker "
    "thread slurm cluster rank accelerator filesystem homes scratch update"
).split()
JOB_STATES = ["running", "completed", "failed", "cancelled", "timeout", "out_of_memory"]


def _message(rng: random.Random) -> str:
    """A 60-120 character log text, already escaped for a line-protocol string."""
    target = rng.randint(60, 120)
    parts = [f"{rng.choice(WORDS)}: {rng.choice(WORDS)} jobId: {rng.randint(1, 999999)} -"]
    r = rng.random()
    if r < 0.10:
        parts.append(f'\\"{rng.choice(WORDS)}\\"')
    elif r < 0.15:
        parts.append(f"path C:\\\\scratch\\\\{rng.choice(WORDS)}")
    elif r < 0.20:
        parts.append("java.lang.NullPointerException at org.example.Worker.run")
    text = " ".join(parts)
    while len(text) < target:
        text += " " + rng.choice(WORDS)
    if len(text) > target:
        text = text[:target].rstrip(" \\")
    return text


def _event(rng: random.Random, function: str) -> str:
    """A JSON job payload, quotes escaped for a line-protocol string."""
    job = rng.randint(1, 9_999_999)
    if function == "start_job":
        body = (f'{{\\"jobId\\": {job}, \\"user\\": \\"u{rng.randint(1, 500):03d}\\", '
                f'\\"numNodes\\": {rng.randint(1, 64)}, \\"jobState\\": \\"running\\"}}')
    else:
        body = (f'{{\\"jobId\\": {job}, \\"jobState\\": \\"{rng.choice(JOB_STATES)}\\", '
                f'\\"duration\\": {rng.randint(60, 86400)}}}')
    return body


def iter_lines(n: int, seed: int = 0) -> Iterator[bytes]:
    """Yield ``n`` newline-terminated line-protocol lines (bytes)."""
    rng = random.Random(seed)
    t = START_NS
    for _ in range(n):
        host = rng.choice(HOSTS)
        if rng.random() < 0.8:
            line = (f"{rng.choice(SOURCES)},cluster=alex,hostname={host},type=node,type-id=0,"
                    f'loglevel={rng.choice(LEVELS)} log="{_message(rng)}" {t}\n')
        else:
            function = rng.choice(("start_job", "stop_job"))
            line = (f"job,cluster=alex,hostname={host},type=node,type-id=0,function={function}"
                    f' event="{_event(rng, function)}" {t}\n')
        yield line.encode()
        t += STEP_NS + rng.randint(0, 9)


def generate(n: int, seed: int = 0) -> bytes:
    """The workload as one bytes object."""
    return b"".join(iter_lines(n, seed))


def main(argv: "list[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="number of lines (default 1,000,000)")
    ap.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with contextlib.ExitStack() as stack:
        out = (sys.stdout.buffer if args.output == "-"
               else stack.enter_context(open(args.output, "wb")))
        batch = []
        for line in iter_lines(args.n, args.seed):
            batch.append(line)
            if len(batch) >= 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
