"""Check which ccstore this interpreter imports, and fail unless it is right.

    python tests/packaging/check_installed.py cython|python

Passes only when ``ccstore`` is imported from this environment's site-packages
(not from a source tree that happens to be on ``sys.path``) and runs the
expected implementation:

- ``cython``: ``ccstore.IMPLEMENTATION == "cython"`` and ``ccstore._lineproto``
  is a compiled extension module (what every wheel must give);
- ``python``: ``ccstore.IMPLEMENTATION == "python"`` and no ``ccstore._lineproto``
  is installed (what the sdist gives where the compiler does not work).

Run by every wheel build (cibuildwheel's test-command, see pyproject.toml) and
by tests/packaging/test_packaging.py.  Standard library only.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import sysconfig


def problems(expected: str) -> list[str]:
    import ccstore

    def real(path: str) -> str:
        return os.path.normcase(os.path.realpath(path))

    found: list[str] = []
    package_dir = os.path.dirname(real(ccstore.__file__))
    site_dirs = {real(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    if os.path.dirname(package_dir) not in site_dirs:
        found.append(f"ccstore is imported from {package_dir}, not from this environment's "
                     f"site-packages ({', '.join(sorted(site_dirs))})")
    implementation = getattr(ccstore, "IMPLEMENTATION", None)
    if implementation != expected:
        found.append(f"ccstore.IMPLEMENTATION is {implementation!r}, expected {expected!r}")
    spec = importlib.util.find_spec("ccstore._lineproto")
    origin = spec.origin if spec is not None else None
    if expected == "cython":
        if origin is None or not origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(f"ccstore._lineproto is not an installed extension module ({origin})")
    elif spec is not None:
        found.append(f"ccstore._lineproto is installed ({origin}), but this install was "
                     "expected to fall back to the pure-Python implementation")
    print(f"ccstore {ccstore.__version__} from {package_dir}: IMPLEMENTATION="
          f"{implementation!r}, ccstore._lineproto: {origin}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("cython", "python"):
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(argv[1])
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
