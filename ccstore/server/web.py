"""The web page at ``/``: search, histogram, facets, groups, jobs and a live tail.

The page is static files shipped in the package (``static/``: HTML, CSS, ES
modules, and the vendored uPlot with its licence); it asks the REST API for
everything it shows, so it needs nothing but this server and loads nothing from
elsewhere.  The files are read once and kept in memory, with a gzip copy for
clients that take it; they are public (they hold no data), the API behind them
is what the token guards.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import bottle

__all__ = ["STATIC", "add_page", "static_files"]

#: the page's files, in the package
STATIC = Path(__file__).resolve().with_name("static")

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml"}

#: answers to the page's requests: no framing, no sniffing, no referrer, nothing but
#: this server as a source
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
}


class _File:
    __slots__ = ("body", "gzipped", "etag", "content_type")

    def __init__(self, path: Path) -> None:
        self.body = path.read_bytes()
        packed = gzip.compress(self.body, 9, mtime=0)
        self.gzipped: Optional[bytes] = packed if len(packed) < len(self.body) else None
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'
        self.content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] \
            or "application/octet-stream"


def static_files(root: Path = STATIC) -> Dict[str, _File]:
    """Every file under ``root`` by its path relative to it (``/`` separated)."""
    return {p.relative_to(root).as_posix(): _File(p)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def add_page(app: bottle.Bottle, root: Path = STATIC) -> None:
    """Serve the page: ``/`` (index.html) and ``/static/<path>``."""
    files = static_files(root)

    def answer(name: str) -> Any:
        f = files.get(name)
        if f is None:
            raise bottle.HTTPError(404)
        headers = dict(_HEADERS)
        headers["ETag"] = f.etag
        headers["Cache-Control"] = "no-cache"  # revalidated: a new version shows at once
        headers["Vary"] = "Accept-Encoding"
        headers["Content-Type"] = f.content_type
        if f.etag in bottle.request.environ.get("HTTP_IF_NONE_MATCH", ""):
            return bottle.HTTPResponse(status=304, headers=headers)
        body, gz = _choose(f, bottle.request.environ.get("HTTP_ACCEPT_ENCODING", ""))
        if gz:
            headers["Content-Encoding"] = "gzip"
        return bottle.HTTPResponse(body, headers=headers)

    @app.route("/")
    def index() -> Any:
        return answer("index.html")

    @app.route("/static/<name:path>")
    def static(name: str) -> Any:
        return answer(name)


def _choose(f: _File, accept: str) -> Tuple[bytes, bool]:
    """The gzip copy when the client takes gzip and it is smaller, else the file."""
    if f.gzipped is not None:
        for part in accept.split(","):
            coding, _, params = part.strip().partition(";")
            if coding.strip().lower() == "gzip" and params.replace(" ", "") != "q=0":
                return f.gzipped, True
    return f.body, False
