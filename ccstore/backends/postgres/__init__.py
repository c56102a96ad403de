"""PostgreSQL backend (psycopg 3): time-partitioned tables, segments indexed once sealed.

Each cluster and kind has the Go program's table, partitioned by day and each day
by segment.  Writers append by binary COPY to unindexed open segments of their
own; a full segment is sealed in the background (sorted by host, its b-tree and
trigram indexes built, its rows counted per minute).  How and why, with the
figures that decided it: ``docs/design/postgres.md``.

One module per step: :mod:`.schema` (catalog, tables, partitions, the Go
program's tables), :mod:`.writers` (the writer pool), :mod:`.write`,
:mod:`.seal`, :mod:`.query`, :mod:`.retention`, :mod:`.fts` (full-text),
:mod:`.connections`; :mod:`.backend` composes them into :class:`PostgresBackend`.
The connection URL comes from the caller (for the Go program's settings see
:func:`ccstore.config.postgres_url`).
"""
from .backend import PostgresBackend
from .fts import fts_to_sql

__all__ = ["PostgresBackend", "fts_to_sql"]
