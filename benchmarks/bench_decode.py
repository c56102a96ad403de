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


def measure(contenders: List[Tuple[str, Callable[[], object]]], n: int,
            repeat: int) -> List[Tuple[str, float]]:
    """Best lines/s of each contender over ``repeat`` rounds.  The contenders
    take turns within each round, so a machine that gets busier or quieter
    during the run affects them alike."""
    best = {label: 0.0 for label, _ in contenders}
    for _ in range(repeat):
        for label, fn in contenders:
            gc.collect()
            t0 = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t0
            del result
            best[label] = max(best[label], n / dt)
    return list(best.items())


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

    try:
        from line_protocol_parser import parse_line
    except ImportError:
        print("line-protocol-parser is not installed (pip install line-protocol-parser)")
        return 1
    contenders: List[Tuple[str, Callable[[], object]]] = [
        ("lpp parse_line", lambda: [parse_line(x) for x in lines])]
    impls = [("", lineproto)]
    for name in ("cython", "python"):
        try:
            impls.append((name + " ", lineproto.get_implementation(name)))
        except ImportError as exc:
            print(f"({name}: not available: {exc})")
    for label, impl in impls:
        contenders.append((label + "decode", lambda impl=impl: impl.decode(data)))
        contenders.append((label + "decode_rows", lambda impl=impl: impl.decode_rows(data)))
    rows = measure(contenders, n, args.repeat)
    ref = rows[0][1]
    print(f"{'':22s} {'lines/s':>12s} {'vs lpp':>8s}")
    for label, rate in rows:
        print(f"{label:22s} {rate:12,.0f} {rate / ref:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
