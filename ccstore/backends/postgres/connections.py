"""Connections to a PostgreSQL store: their settings, and reads on the readers' pool."""
from __future__ import annotations

import time as _time

import psycopg


class Connections:
    """Connecting, and reading through the pool of reader connections."""

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        # statements differ in their values only: a cached generic plan would not
        # know which segment a time range or a host selects
        conn.prepare_threshold = None
        conn.execute("SET synchronous_commit = on")
        conn.execute("SET application_name = 'ccstore'")

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn, autocommit=True)
        self._configure(conn)
        return conn

    def _read(self, fn, timeout: float = 10.0, attempts: int = 4):
        """Run ``fn(conn)`` on a pooled connection; retried when a table went away
        (retention) or the connection broke."""
        if self._closed:
            raise RuntimeError("the store is closed")
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self._pool.connection(timeout=timeout) as conn:
                    return fn(conn)
            except psycopg.errors.UndefinedTable:
                if last:
                    raise
            except psycopg.errors.InvalidRegularExpression as exc:
                raise ValueError(f"invalid full-text query: {exc}") from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self._bump("connection_errors")
                self._stats["last_error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
                if last:
                    raise
                _time.sleep(0.05 * (attempt + 1))
