"""Build script: the compiled modules of ccstore.

Metadata lives in ``pyproject.toml``; this file only declares the extensions
and how they are built: the line-protocol core ``ccstore._lineproto`` (its
``.pyx`` includes ``.pxi`` files; ``_lineproto.pxd`` is what the others cimport),
the syslog fast path ``ccstore.logs._syslogscan``, the JSON lines scanner
``ccstore.logs._jsonscan``, the backends' encoders
``ccstore.backends._hostruns`` and ``ccstore.backends._pgcopy``, and the block
codec of compacted SQLite segments ``ccstore.backends.sqlite._blocks``.  Each is an
accelerator: ccstore works without them, on their pure-Python twins, with the
same results (``CCSTORE_IMPL`` chooses, see ``ccstore/_impl.py``;
``ccstore.IMPLEMENTATION`` says which codec is in use).

Environment variables read at build time:

``CCSTORE_NO_EXTENSIONS=1``
    Do not build the extensions; the result is a pure-Python package.
``CCSTORE_REQUIRE_EXTENSIONS=1``
    A failed build of an extension is an error.  Without it, a machine with no
    working C compiler (or no Cython) gets a warning and the pure-Python package,
    so the sdist always installs.  Wheel builds (cibuildwheel) set it.
"""
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: the compiled modules (each an accelerator with a pure-Python twin) and their sources
EXTENSIONS = {
    "ccstore._lineproto": "ccstore/_lineproto.pyx",
    "ccstore.logs._syslogscan": "ccstore/logs/_syslogscan.pyx",
    "ccstore.logs._headerscan": "ccstore/logs/_headerscan.pyx",
    "ccstore.logs._jsonscan": "ccstore/logs/_jsonscan.pyx",
    "ccstore.backends._hostruns": "ccstore/backends/_hostruns.pyx",
    "ccstore.backends._pgcopy": "ccstore/backends/_pgcopy.pyx",
    "ccstore.backends.sqlite._blocks": "ccstore/backends/sqlite/_blocks.pyx",
}

#: build options of a module that uses zlib's C library when it can; built again
#: without them (its own fallback, see the module) when that fails, e.g. no zlib.h
ZLIB_OPTIONS = {"define_macros": [("CCSTORE_ZLIB", "1")], "libraries": ["z"]}
#: the modules built with ZLIB_OPTIONS where the platform has a zlib to link
#: (Windows has none besides the one inside Python, which exports no symbols)
WITH_ZLIB = () if sys.platform == "win32" else ("ccstore.backends.sqlite._blocks",)

#: optimisation flags per compiler family (``compiler.compiler_type``);
#: MSVC has no -O3 and spells its best optimisation level /O2
COMPILE_ARGS = {
    "msvc": ["/O2"],
    "unix": ["-O3"],
    "mingw32": ["-O3"],
    "cygwin": ["-O3"],
}


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


NO_EXTENSIONS = _flag("CCSTORE_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("CCSTORE_REQUIRE_EXTENSIONS")
if NO_EXTENSIONS and REQUIRE_EXTENSIONS:
    sys.exit("ccstore: CCSTORE_NO_EXTENSIONS=1 and CCSTORE_REQUIRE_EXTENSIONS=1 contradict "
             "each other; unset one of them")


def _report(lines):
    bar = "=" * 78
    sys.stderr.write("\n".join(["", bar, *lines, bar, ""]) + "\n")
    sys.stderr.flush()


class BuildExtOrFallBack(build_ext):
    """Build the extension; if that fails, say why and carry on without it.

    Cython runs here rather than at import time of this file, so that a missing
    Cython is one more reason to fall back instead of a crash, and the generated
    C goes to the build directory, never into the source tree or the sdist.
    With ``CCSTORE_REQUIRE_EXTENSIONS=1`` every failure is reported and raised.
    """

    def run(self):
        self._skipped = []
        self._reported = None
        inplace = self.inplace
        try:
            super().run()
        except Exception as exc:  # e.g. the compiler set-up, before any extension
            if exc is self._reported:
                raise  # required extension: already reported by build_extension
            for ext in self.extensions:
                if ext not in self._skipped:
                    self._fall_back(ext, exc)
        finally:
            self.inplace = inplace
        # what was not built must be neither packaged nor copied into the source tree
        self.extensions = [ext for ext in self.extensions if ext not in self._skipped]

    def build_extension(self, ext):
        try:
            self._cythonize(ext)
            ext.extra_compile_args = (
                list(ext.extra_compile_args or [])
                + COMPILE_ARGS.get(self.compiler.compiler_type, [])
            )
            try:
                super().build_extension(ext)
            except Exception as exc:  # noqa: BLE001
                if ext.name not in WITH_ZLIB or ("CCSTORE_ZLIB", "1") not in ext.define_macros:
                    raise
                _report([f"ccstore: building {ext.name} with zlib failed:",
                         f"    {type(exc).__name__}: {exc}".rstrip(),
                         "building it again without zlib (the standard library's compresses)."])
                ext.define_macros.remove(("CCSTORE_ZLIB", "1"))
                ext.libraries.remove("z")
                super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            # Deliberately broad: whatever stops the accelerator from building
            # (no compiler, no headers, no Cython, a Cython that rejects the
            # source) leaves a working pure-Python package, unless required.
            self._fall_back(ext, exc)

    def _cythonize(self, ext):
        """Replace ``.pyx`` sources by C generated into the build directory."""
        # Without Cython importable, setuptools has already renamed .pyx to .c.
        pyx = [src[:-2] + ".pyx" if src.endswith(".c") and not os.path.exists(src) else src
               for src in ext.sources]
        if not any(src.endswith(".pyx") for src in pyx):
            return
        try:
            from Cython.Build import cythonize
        except ImportError as exc:
            raise ImportError(f"Cython is not installed ({exc})") from exc
        ext.sources = pyx
        (built,) = cythonize(
            [ext],
            build_dir=self.build_temp,
            compiler_directives={"language_level": "3"},
            force=self.force,
            quiet=not self.verbose,
        )
        ext.sources = built.sources

    def _fall_back(self, ext, exc):
        reason = f"{type(exc).__name__}: {exc}".strip()
        if REQUIRE_EXTENSIONS:
            _report([
                f"ccstore: building the compiled module {ext.name} failed:",
                f"    {reason}",
                "CCSTORE_REQUIRE_EXTENSIONS=1 is set, so this is an error.",
            ])
            self._reported = exc
            raise exc
        _report([
            f"ccstore: the compiled module {ext.name} could not be built:",
            f"    {reason}",
            "ccstore is installed with its pure-Python implementation instead: the same",
            "results, more slowly (ccstore.IMPLEMENTATION tells which one is in use).",
            "For the compiled modules, remove the cause above (usually by installing a C",
            "compiler and the Python headers), then reinstall with",
            "`pip install --no-cache-dir --force-reinstall ccstore`; platforms with a",
            "prebuilt wheel need no compiler.",
            "Set CCSTORE_REQUIRE_EXTENSIONS=1 to make this failure an error.",
        ])
        ext.optional = True  # so that an in-place build does not copy the missing file
        self._skipped.append(ext)


if NO_EXTENSIONS:
    ext_modules = []
    _report([
        "ccstore: CCSTORE_NO_EXTENSIONS=1 is set: building the pure-Python package",
        "without its compiled modules.",
    ])
else:
    ext_modules = [Extension(name, [source],
                             **({k: list(v) for k, v in ZLIB_OPTIONS.items()}
                                if name in WITH_ZLIB else {}))
                   for name, source in EXTENSIONS.items()]

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExtOrFallBack})
