"""``GET /api/tail?q=``: new records matching a query as server-sent events.

Each tail polls the store (:meth:`ccstore.Store.follow`) every :data:`POLL_S`
seconds (at once again when a poll filled a page) and sends what was committed
since as one ``lines`` event (a JSON array of records, oldest first).  The server
holds at most one page (:data:`PAGE` records) per client: a client that reads too
slowly (the socket's buffers full) falls behind, and its next poll jumps to the
newest page and sends a ``skipped`` event with the number of records passed over.
A comment line every :data:`HEARTBEAT_S` seconds keeps proxies from closing a quiet
stream and shows when the client has gone: the write fails and the tail ends.

An answer being written holds one of the API's worker threads, so at most
``max_tails`` tails run at once (by default half the threads, the other half stay
for the rest of the API; none with a single thread); past it a tail is answered
503.  :meth:`Tails.close` ends every tail (the server calls it before it stops).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Dict, Optional

from ..ingest.body import ApiError
from ..store import Store
from .api import _ask, _single

__all__ = ["HEARTBEAT_S", "PAGE", "POLL_S", "TAIL_PARAMS", "Tails", "sse"]

#: seconds between two polls of the store
POLL_S = 0.25
#: the most records a tail reads (and holds) per poll
PAGE = 5000
#: seconds of silence after which a comment line is sent
HEARTBEAT_S = 1.0
#: query-string parameters of /api/tail
TAIL_PARAMS = ("q", "after")


def sse(event: str, data: Any, event_id: Optional[str] = None) -> bytes:
    """One server-sent event with JSON ``data`` (JSON has no line breaks)."""
    head = f"id: {event_id}\n" if event_id else ""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


class Tails:
    """The live tails of one server: their number capped, all ended by :meth:`close`."""

    def __init__(self, store: Store, max_tails: int, *, poll_s: float = POLL_S,
                 page: int = PAGE, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.store = store
        self.max_tails = max(0, int(max_tails))
        self.poll_s = poll_s
        self.page = page
        self.heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.active = 0
        self.started = 0
        self.refused = 0
        self.sent = 0
        self.skipped = 0

    def stats(self) -> Dict[str, int]:
        """Tails running, their cap, started and refused so far, records sent and skipped."""
        with self._lock:
            return {"active": self.active, "max": self.max_tails, "started": self.started,
                    "refused": self.refused, "records_sent": self.sent,
                    "records_skipped": self.skipped}

    def open(self, params: Mapping[str, Sequence[str]]) -> Iterator[bytes]:
        """The event stream of a request's parameters; RequestError for a bad query,
        ApiError 503 past the cap or after :meth:`close`."""
        p = _single(params, TAIL_PARAMS, "/api/tail")
        follow = _ask(self.store.follow, p.get("q", ""), after=p.get("after") or None)
        with self._lock:
            if self._stop.is_set():
                raise ApiError(503, "the server is stopping", headers={"Retry-After": "1"})
            if self.active >= self.max_tails:
                self.refused += 1
                if not self.max_tails:
                    raise ApiError(503, "live tails are off: the API has a single thread "
                                        "(threads of 2 or more allow them)")
                raise ApiError(503, f"too many live tails (at most {self.max_tails} at once);"
                                    f" try again later", headers={"Retry-After": "5"})
            self.active += 1
            self.started += 1
        return self._stream(follow)

    def _stream(self, follow: Any) -> Iterator[bytes]:
        try:
            yield sse("open", {"poll_s": self.poll_s, "page": self.page}, follow.cursor)
            quiet_since = time.monotonic()
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    records, skipped = follow.poll(self.page)
                except Exception as exc:  # the store closed or failed: say so, end
                    yield sse("error", {"error": str(exc) or type(exc).__name__})
                    return
                if skipped:
                    with self._lock:
                        self.skipped += skipped
                    yield sse("skipped", {"skipped": skipped})
                if records:
                    with self._lock:
                        self.sent += len(records)
                    yield sse("lines", [r.as_dict() for r in records], follow.cursor)
                    quiet_since = time.monotonic()
                    if len(records) == self.page:
                        continue  # more is waiting: no pause
                elif time.monotonic() - quiet_since >= self.heartbeat_s:
                    yield b": ping\n\n"
                    quiet_since = time.monotonic()
                self._stop.wait(max(0.0, self.poll_s - (time.monotonic() - began)))
        finally:
            with self._lock:
                self.active -= 1

    def close(self) -> None:
        """End every tail (each at its next poll) and refuse new ones."""
        self._stop.set()
