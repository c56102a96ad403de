"""Fixtures of the backends' encoder tests: each implementation in turn, and both.

``hostruns``/``hostruns_impls``: :mod:`ccstore.backends.hostruns`;
``pgcopy``/``pgcopy_impls``: :mod:`ccstore.backends.pgcopy`;
``blocks``/``blocks_impls``: :mod:`ccstore.backends.sqlite.blocks` (see ``twins``).
"""
from __future__ import annotations

from twins import fixtures

from ccstore.backends import hostruns as _hostruns
from ccstore.backends import pgcopy as _pgcopy
from ccstore.backends.sqlite import blocks as _blocks

hostruns, hostruns_impls = fixtures(_hostruns.get_implementation, "row grouping", "hostruns",
                                    "hostruns_impls")
pgcopy, pgcopy_impls = fixtures(_pgcopy.get_implementation, "COPY encoder", "pgcopy",
                                "pgcopy_impls")
blocks, blocks_impls = fixtures(_blocks.get_implementation, "block codec", "blocks",
                               "blocks_impls")
