"""Build script: declares the compiled line-protocol core.

``CCSTORE_NO_EXTENSIONS=1`` builds a pure-Python package (the twin in
``ccstore/_pylineproto.py`` is then used).
"""
import os

from setuptools import setup

ext_modules = []
if os.environ.get("CCSTORE_NO_EXTENSIONS", "") not in ("1", "true", "yes"):
    from Cython.Build import cythonize
    from setuptools import Extension

    ext_modules = cythonize(
        [Extension("ccstore._lineproto", ["ccstore/_lineproto.pyx"], extra_compile_args=["-O3"])],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=ext_modules)
