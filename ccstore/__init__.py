"""ccstore: a store for ClusterCockpit job/system events and logs.

Line protocol in (bytes -> decoder -> rows), SQLite or PostgreSQL underneath,
queries out.  ``ccstore.open(path)`` gives a :class:`~ccstore.store.Store`.
"""
from ._version import __version__
from .lineproto import IMPLEMENTATION, LineError, Point, decode, decode_rows, encode  # noqa: E402
from .store import Record, Store, WriteResult, open  # noqa: E402

__all__ = [
    "__version__",
    "IMPLEMENTATION",
    "LineError",
    "Point",
    "Record",
    "Store",
    "WriteResult",
    "decode",
    "decode_rows",
    "encode",
    "open",
]
