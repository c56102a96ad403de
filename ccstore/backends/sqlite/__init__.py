"""SQLite backend (APSW): append-only segments, indexed once sealed.

Rows are appended to segments without secondary indexes; a full segment is
sealed in the background (per-minute counts, and its indexes built in an index
file beside the database), so ingest never maintains an index row by row.  How
and why, with the figures that decided it: ``docs/design/storage.md``.

One module per step: :mod:`.schema` (catalog, tables, views, the Go program's
tables), :mod:`.write`, :mod:`.seal`, :mod:`.indexfile`, :mod:`.head` (the
in-memory host index of unsealed segments), :mod:`.query`, :mod:`.retention`,
:mod:`.fts` (full-text), :mod:`.checkpoint`, :mod:`.connections`, :mod:`.locks`;
:mod:`.backend` composes them into :class:`SQLiteBackend`.
"""
from .backend import SQLiteBackend
from .schema import quote_ident

__all__ = ["SQLiteBackend", "quote_ident"]
