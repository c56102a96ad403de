"""Which implementation runs, and how it is chosen."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccstore import lineproto

ROOT = Path(__file__).resolve().parents[2]


def test_compiled_core_is_used():
    """CI must run the compiled core unless a pure-Python run was asked for."""
    if os.environ.get("CCSTORE_IMPL", "").strip().lower() == "python":
        assert lineproto.IMPLEMENTATION == "python"
    else:
        assert lineproto.IMPLEMENTATION == "cython", (
            "ccstore._lineproto did not import; build it or set CCSTORE_IMPL=python")


def test_public_names():
    impl = lineproto.get_implementation(lineproto.IMPLEMENTATION)
    assert (lineproto.decode, lineproto.decode_rows, lineproto.encode, lineproto.Point) == (
        impl.decode, impl.decode_rows, impl.encode, impl.Point)
    import ccstore
    assert ccstore.decode is lineproto.decode and ccstore.LineError is lineproto.LineError


def test_compiled_core_defines_every_name(impls):
    """No name of the API silently comes from the twin in the compiled implementation."""
    _, cy = impls
    for name in lineproto.API:
        assert getattr(cy, name) is getattr(cy.module, name), name


def test_unknown_implementation():
    with pytest.raises(ValueError):
        lineproto.get_implementation("rust")


def _choose(env_value, block_compiled):
    """IMPLEMENTATION chosen in a fresh interpreter, or the exception's type name."""
    code = (
        "import sys, warnings\n"
        + ("sys.modules['ccstore._lineproto'] = None\n" if block_compiled else "")
        + "warnings.simplefilter('error', RuntimeWarning)\n"
        "try:\n"
        "    from ccstore import lineproto\n"
        "    print(lineproto.IMPLEMENTATION)\n"
        "except (ImportError, RuntimeWarning) as exc:\n"
        "    print(type(exc).__name__)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CCSTORE_IMPL", None)
    if env_value is not None:
        env["CCSTORE_IMPL"] = env_value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("env_value, block, expected", [
    ("python", False, "python"),
    ("python", True, "python"),
    ("cython", True, "ImportError"),
    (None, True, "RuntimeWarning"),
    ("fortran", False, "ImportError"),
])
def test_selection(env_value, block, expected):
    assert _choose(env_value, block) == expected
