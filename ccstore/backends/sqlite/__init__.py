"""SQLite backend (APSW)."""
from .query import FairLock, SQLiteBackend, quote_ident

__all__ = ["FairLock", "SQLiteBackend", "quote_ident"]
