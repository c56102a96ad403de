"""The choice between a compiled module and its pure-Python twin.

Each accelerated subject (the line-protocol codec, the syslog fast path, the
backends' encoders) has a compiled module and a pure-Python twin with the same
functions and results.  ``CCSTORE_IMPL`` chooses for all of them:

- ``python``: the twins;
- ``cython``: the compiled modules, an ImportError when one is missing;
- unset: each compiled module that imports, else its twin with a RuntimeWarning.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Optional, Tuple

__all__ = ["IMPLEMENTATIONS", "Twin", "choose", "load", "requested"]

#: the implementation names, pure-Python first
IMPLEMENTATIONS = ("python", "cython")


def requested() -> Optional[str]:
    """The implementation ``CCSTORE_IMPL`` asks for, None when it is unset."""
    wanted = os.environ.get("CCSTORE_IMPL", "").strip().lower()
    if not wanted:
        return None
    if wanted not in IMPLEMENTATIONS:
        raise ImportError(f"CCSTORE_IMPL={wanted!r}: use 'python' or 'cython'")
    return wanted


def load(name: str, compiled: str, pure: str, what: str) -> ModuleType:
    """The module of implementation ``name``: ``compiled`` or ``pure`` (module
    names); ``what`` names the subject in the ImportError of a missing one."""
    if name == "python":
        return importlib.import_module(pure)
    if name == "cython":
        try:
            return importlib.import_module(compiled)
        except ImportError as exc:
            raise ImportError(
                f"the compiled {what} {compiled} is not built ({exc}); build it "
                "(pip install -e .) or set CCSTORE_IMPL=python") from exc
    raise ValueError(f"unknown implementation {name!r}: use 'python' or 'cython'")


def choose(compiled: str, pure: str, what: str, stacklevel: int = 3) -> Tuple[str, ModuleType]:
    """``(name, module)`` of the implementation to use (see the module docstring);
    ``stacklevel``: of the warning when the twin stands in, as for ``warnings.warn``."""
    wanted = requested()
    if wanted is not None:
        return wanted, load(wanted, compiled, pure, what)
    try:
        return "cython", load("cython", compiled, pure, what)
    except ImportError as exc:
        warnings.warn(f"{exc}; using the pure-Python {what} (slower)", RuntimeWarning,
                      stacklevel=stacklevel)
        return "python", load("python", compiled, pure, what)


class Twin:
    """A compiled module and its pure-Python twin (module names; ``what`` names their
    subject in messages): ``name`` and ``module`` of the one in use (:func:`choose`),
    and :meth:`get` for either."""

    def __init__(self, compiled: str, pure: str, what: str) -> None:
        self.compiled, self.pure, self.what = compiled, pure, what
        # the warning points at the module that imported the one making this twin
        self.name, self.module = choose(compiled, pure, what, stacklevel=4)

    def get(self, name: str) -> ModuleType:
        """The module of implementation ``"python"`` or ``"cython"`` (ImportError when
        the compiled one is asked for but not built)."""
        return load(name, self.compiled, self.pure, self.what)
