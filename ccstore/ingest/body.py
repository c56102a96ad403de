"""Line-protocol request bodies over HTTP, for ``/api/write/`` and the http receiver alike.

:func:`read_body` reads a body within a size limit (gzip accepted);
:func:`write_request` reads one, hands it to the group commit and words the
answer: None when every line was stored, else the JSON of the 400 answer.
Failures are :class:`ApiError` (an HTTP status and a message), which both the
REST API and the receiver turn into the same JSON error answer.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from http.client import responses as _REASONS
from typing import Any, Dict, Optional

from .commit import CommitError, ManagerClosed, StorageManager

__all__ = ["ApiError", "PRECISIONS", "MAX_LISTED_ERRORS", "error_body", "read_body",
           "write_request"]

#: timestamp precisions accepted from clients (InfluxDB spellings included)
PRECISIONS = {"auto": "auto", "ns": "ns", "n": "ns", "us": "us", "u": "us", "µs": "us",
              "ms": "ms", "s": "s"}
#: how much of a too-large body is still read (and discarded) so the client sees the 413
_DRAIN_LIMIT = 16 << 20
#: at most this many line errors are listed in a 400 answer
MAX_LISTED_ERRORS = 1000


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
    Raises :class:`ApiError`: 400 for a bad precision or encoding, 413 for a body
    over the limit (counted as ``too_large`` of ``source``), 415 for an unknown
    ``Content-Encoding``, 503 during shutdown, 500 when the commit failed.
    """
    unit = PRECISIONS.get(precision)
    if unit is None:
        raise ApiError(400, "precision must be one of ns, us, ms, s, auto")
    try:
        body = read_body(environ, limit)
    except ApiError as e:
        if e.status == 413:
            manager.count_error(source, "too_large")
        raise
    try:
        res = manager.write(body, source, cluster=cluster, precision=unit)
    except ManagerClosed:
        raise ApiError(503, "the server is shutting down; nothing of this request was stored")
    except CommitError as e:
        raise ApiError(500, f"storing failed: {e}")
    if not res.errors:
        return None
    first = res.errors[0]
    n = len(res.errors)
    msg = f"{n} line{'s' if n != 1 else ''} rejected, {res.written} stored; first: {first}"
    return error_body(400, msg, written=res.written, rejected=n, dropped=res.dropped,
                      errors=[{"line": e.lineno, "column": e.column, "message": e.message}
                              for e in res.errors[:MAX_LISTED_ERRORS]])


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The request body, gunzipped when ``Content-Encoding: gzip``; at most ``limit`` bytes
    (before and after decompression), else ApiError 413."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    too_large = ApiError(413, f"request body larger than the limit of {limit} bytes")
    if length:
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
        if n > limit:
            _drain(stream, n)
            raise too_large
        parts = []
        left = n
        while left > 0:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        data = b"".join(parts)
    else:
        parts = []
        size = 0
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise too_large
            parts.append(chunk)
        data = b"".join(parts)
    encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        data = _gunzip(data, limit, too_large)
    elif encoding not in ("", "identity"):
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r} (use gzip)")
    return data


def _drain(stream: Any, n: int) -> None:
    left = min(n, _DRAIN_LIMIT)
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)


def _gunzip(data: bytes, limit: int, too_large: ApiError) -> bytes:
    out = []
    size = 0
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(data, limit + 1 - size)
            while True:
                size += len(chunk)
                if size > limit:
                    raise too_large
                out.append(chunk)
                if d.eof or not d.unconsumed_tail:
                    break
                chunk = d.decompress(d.unconsumed_tail, limit + 1 - size)
        except zlib.error as exc:
            raise ApiError(400, f"invalid gzip body: {exc}") from None
        if not d.eof:
            raise ApiError(400, "invalid gzip body: truncated")
        data = d.unused_data  # a further gzip member follows
    return b"".join(out)

