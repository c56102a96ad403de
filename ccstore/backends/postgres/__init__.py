"""PostgreSQL backend (psycopg 3)."""
from .write import PostgresBackend, conninfo_from_go_config, fts_to_sql

__all__ = ["PostgresBackend", "conninfo_from_go_config", "fts_to_sql"]
