"""Decoding speed on the standard workload, against line-protocol-parser (lpp).

    python benchmarks/bench_decode.py [-n 200000] [--repeat 3]

Everything is measured in the same run with the garbage collector on (as users
run it).  Each result is kept alive until the measurement ends, as a program
would keep it.  Rows printed:

- ``lpp``: ``line_protocol_parser.parse_line`` on every line (a C extension),
  the reference every ratio is against;
- ``decode``, ``decode_rows``: ``ccstore.lineproto`` (the chosen implementation);
- ``cython decode``/``cython decode_rows`` when the compiled core is built;
- ``python decode``/``python decode_rows``: the pure-Python twin.

Targets: compiled decode >= 5x lpp, compiled rows >= 10x, Python twin >= 0.5x.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from typing import Callable, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workload import generate  # noqa: E402

from ccstore import lineproto  # noqa: E402


def measure(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best lines/s over ``repeat`` runs."""
    best = 0.0
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        del result
        best = max(best, n / dt)
    return best


def main(argv: "List[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200_000, help="lines (default 200,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best counts")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    gc.enable()

    data = generate(args.n, seed=args.seed)
    lines = data.splitlines()
    n = len(lines)
    print(f"workload: {n:,} lines, {len(data) / 1e6:.1f} MB, gc on, "
          f"ccstore.lineproto.IMPLEMENTATION={lineproto.IMPLEMENTATION}")

    rows: List[Tuple[str, float]] = []
    try:
        from line_protocol_parser import parse_line
    except ImportError:
        print("line-protocol-parser is not installed (pip install line-protocol-parser)")
        return 1
    rows.append(("lpp parse_line", measure(lambda: [parse_line(x) for x in lines], n,
                                           args.repeat)))
    impls = [("", lineproto)]
    for name in ("cython", "python"):
        try:
            impls.append((name + " ", lineproto.get_implementation(name)))
        except ImportError as exc:
            print(f"({name}: not available: {exc})")
    for label, impl in impls:
        rows.append((label + "decode", measure(lambda: impl.decode(data), n, args.repeat)))
        rows.append((label + "decode_rows", measure(lambda: impl.decode_rows(data), n,
                                                    args.repeat)))
    ref = rows[0][1]
    print(f"{'':22s} {'lines/s':>12s} {'vs lpp':>8s}")
    for label, rate in rows:
        print(f"{label:22s} {rate:12,.0f} {rate / ref:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
