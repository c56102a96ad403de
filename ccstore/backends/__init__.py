"""Storage backends: SQLite (a file path) and PostgreSQL (a ``postgresql://`` URL).

:func:`open_backend` picks the backend by its target and imports only that one.
Each backend is a package of one module per step; :mod:`.base` is the interface
they implement.  Nothing here imports the store, ingest or the server.
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["BACKENDS", "backend_name", "open_backend"]

#: backend name -> (module, class)
BACKENDS = {
    "sqlite": ("ccstore.backends.sqlite", "SQLiteBackend"),
    "postgres": ("ccstore.backends.postgres", "PostgresBackend"),
}

_URL_SCHEMES = {"postgresql://": "postgres", "postgres://": "postgres"}


def backend_name(target: Union[str, "os.PathLike[str]"]) -> str:
    """The backend a target names: ``"postgres"`` for a ``postgresql://`` (or
    ``postgres://``) URL, else ``"sqlite"`` (a file path)."""
    text = os.fspath(target)
    if isinstance(text, str):
        for scheme, name in _URL_SCHEMES.items():
            if text.startswith(scheme):
                return name
    return "sqlite"


def open_backend(target: Union[str, "os.PathLike[str]"], **options: Any) -> "Backend":
    """Open the backend that ``target`` names, with its backend options."""
    module, cls = BACKENDS[backend_name(target)]
    return getattr(importlib.import_module(module), cls)(os.fspath(target), **options)
