"""Line-protocol request bodies over HTTP, for ``/api/write/`` and the http receiver alike.

:func:`receive` reads a body within a size limit and the manager's budget of bytes
held at once (:class:`~ccstore.ingest.commit.Budget`), as it was sent: a gzip body
stays compressed until it is decoded, piece by piece (:meth:`Body.chunks`).
:func:`write_request` receives one, hands it to the group commit and words the
answer: None when every line was stored, else the JSON of the 400 answer.  A body
is stored whole or not at all.  Failures are :class:`ApiError` (an HTTP status and
a message), which both the REST API and the receiver turn into the same JSON error
answer.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from http.client import responses as _REASONS
from typing import Any, Dict, List, Optional

from .commit import CHUNK_SIZE, Budget, CommitError, ManagerClosed, StorageManager

__all__ = ["ApiError", "Body", "PRECISIONS", "MAX_LISTED_ERRORS", "RETRY_AFTER",
           "error_body", "read_body", "receive", "write_request"]

#: timestamp precisions accepted from clients (InfluxDB spellings included)
PRECISIONS = {"auto": "auto", "ns": "ns", "n": "ns", "us": "us", "u": "us", "µs": "us",
              "ms": "ms", "s": "s"}
#: how much of a too-large body is still read (and discarded) so the client sees the 413
_DRAIN_LIMIT = 16 << 20
#: at most this many line errors are listed in a 400 answer
MAX_LISTED_ERRORS = 1000
#: seconds a client refused for the body budget is asked to wait (``Retry-After``)
RETRY_AFTER = 1
#: bytes read from the client at a time
_READ = 1 << 20


class ApiError(Exception):
    """An error answer: HTTP status, message, optional extra JSON keys and headers."""

    def __init__(self, status: int, message: str, extra: Optional[Dict[str, Any]] = None,
                 headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def error_body(status: int, message: str, **extra: Any) -> Dict[str, Any]:
    """The JSON of an error answer: ``{"status": <reason>, "error": message, ...}``."""
    return {"status": _REASONS.get(status, str(status)), "error": message, **extra}


def write_request(manager: StorageManager, environ: Mapping[str, Any], *, source: str,
                  cluster: Optional[str], precision: str, limit: int
                  ) -> Optional[Dict[str, Any]]:
    """Store the line-protocol body of a WSGI request through the group commit.

    ``precision`` as the client spelled it (``?precision=``); ``limit`` the largest
    body accepted.  Returns None when every line was stored, else the JSON of the
    400 answer naming each rejected line (the good ones are stored all the same).
    Raises :class:`ApiError`: 400 for a bad precision or encoding or a body cut
    short, 413 for a body over the limit (counted as ``too_large`` of ``source``),
    415 for an unknown ``Content-Encoding``, 503 (with ``Retry-After``) when the
    bodies in flight fill the budget and during shutdown, 500 when the commit
    failed.  Whatever the failure, nothing of the body is stored.
    """
    unit = PRECISIONS.get(precision)
    if unit is None:
        raise ApiError(400, "precision must be one of ns, us, ms, s, auto")
    try:
        body = receive(environ, limit, manager.bodies)
        try:
            res = manager.write_chunks(body.chunks, source, cluster=cluster, precision=unit)
        finally:
            body.release()
    except ApiError as e:
        if e.status == 413:
            manager.count_error(source, "too_large")
        elif e.status == 503:
            manager.count_error(source, "busy")
        raise
    except ManagerClosed:
        raise ApiError(503, "the server is shutting down; nothing of this request was stored")
    except CommitError:
        raise ApiError(500, "storing failed; nothing of this request was stored (the "
                            "server log has the cause)")
    if not res.errors:
        return None
    first = res.errors[0]
    n = len(res.errors)
    msg = f"{n} line{'s' if n != 1 else ''} rejected, {res.written} stored; first: {first}"
    return error_body(400, msg, written=res.written, rejected=n, dropped=res.dropped,
                      errors=[{"line": e.lineno, "column": e.column, "message": e.message}
                              for e in res.errors[:MAX_LISTED_ERRORS]])


class Body:
    """A request body as it was sent (gzip or not), held within a :class:`Budget`
    until :meth:`release`; :meth:`chunks` reads it, decoded, as often as needed."""

    def __init__(self, parts: List[bytes], gzipped: bool, limit: int,
                 budget: Optional[Budget], held: int) -> None:
        self.parts = parts
        self.size = sum(len(p) for p in parts)
        self.gzipped = gzipped
        self.limit = limit
        self._budget = budget
        self._held = held

    def chunks(self, piece: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body, gunzipped when it came gzipped, in pieces of at most ``piece``
        bytes (one piece when it fits in one).  Gunzipping is lazy: a body found
        larger than the limit raises ApiError 413, a damaged one 400, when the
        piece that shows it is reached."""
        if self.gzipped:
            return _inflate(self.parts, self.limit, piece)
        if self.size <= piece:
            return iter([b"".join(self.parts)] if self.parts else [])
        return iter(self.parts)

    def read(self) -> bytes:
        """The whole body, gunzipped."""
        return b"".join(self.chunks())

    def release(self) -> None:
        """Give the bytes held back to the budget (and drop them)."""
        if self._budget is not None and self._held:
            self._budget.give(self._held)
        self._held = 0
        self.parts = []


def _busy(budget: Budget) -> ApiError:
    return ApiError(503, f"too many request bodies in flight (more than {budget.limit} bytes);"
                         " nothing of this request was stored, send it again later",
                    headers={"Retry-After": str(RETRY_AFTER)})


def receive(environ: Mapping[str, Any], limit: int, budget: Optional[Budget] = None) -> Body:
    """The request body as sent, read whole: at most ``limit`` bytes (gunzipped, the
    limit holds too, see :meth:`Body.chunks`), else ApiError 413; 415 for an encoding
    other than gzip; 400 for a body that ends before its ``Content-Length``; 503 with
    ``Retry-After`` when ``budget`` has no room for it."""
    encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        gzipped = True
    elif encoding in ("", "identity"):
        gzipped = False
    else:
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r} (use gzip)")
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    too_large = ApiError(413, f"request body larger than the limit of {limit} bytes")
    parts: List[bytes] = []
    held = 0
    if length:
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
        if n < 0:
            raise ApiError(400, "invalid Content-Length")
        if n > limit:
            _drain(stream, n)
            raise too_large
        if budget is not None:
            if not budget.take(n):
                raise _busy(budget)
            held = n
        try:
            left = n
            while left > 0:
                chunk = stream.read(min(left, _READ))
                if not chunk:
                    raise ApiError(400, f"request body ended after {n - left} of its {n} "
                                        "bytes; nothing of it was stored")
                parts.append(chunk)
                left -= len(chunk)
        except BaseException:
            if budget is not None:
                budget.give(held)
            raise
        return Body(parts, gzipped, limit, budget, held)
    try:
        size = 0
        while True:
            chunk = stream.read(_READ)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise too_large
            if budget is not None:
                if not budget.take(len(chunk)):
                    raise _busy(budget)
                held += len(chunk)
            parts.append(chunk)
    except BaseException:
        if budget is not None:
            budget.give(held)
        raise
    return Body(parts, gzipped, limit, budget, held)


def read_body(environ: Mapping[str, Any], limit: int, budget: Optional[Budget] = None
              ) -> bytes:
    """The whole request body, gunzipped when ``Content-Encoding: gzip``; at most
    ``limit`` bytes (before and after decompression), else ApiError 413."""
    body = receive(environ, limit, budget)
    try:
        return body.read()
    finally:
        body.release()


def _drain(stream: Any, n: int) -> None:
    left = min(n, _DRAIN_LIMIT)
    while left > 0:
        chunk = stream.read(min(left, _READ))
        if not chunk:
            break
        left -= len(chunk)


def _inflate(parts: List[bytes], limit: int, piece: int) -> Iterator[bytes]:
    """The gzip members in ``parts`` inflated, in pieces of at most ``piece`` bytes."""
    too_large = ApiError(413, f"request body larger than the limit of {limit} bytes "
                              "(gunzipped)")
    d: Any = None
    size = 0
    for part in parts:
        data = part
        while True:
            if d is None or d.eof:
                if not data:
                    break
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a (further) gzip member
            try:
                out = d.decompress(data, piece)
            except zlib.error as exc:
                raise ApiError(400, f"invalid gzip body: {exc}") from None
            if out:
                size += len(out)
                if size > limit:
                    raise too_large
                yield out
            data = d.unused_data if d.eof else d.unconsumed_tail
            if not data and (d.eof or len(out) < piece):
                break
    if d is not None and not d.eof:
        raise ApiError(400, "invalid gzip body: truncated")
