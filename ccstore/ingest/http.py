"""The ``http`` receiver, as in cc-metric-collector: its own address, port and path,
optional basic authentication.

``POST <path>`` with line protocol (``?cluster=`` and ``?precision=`` as for
``/api/write/``; gzip accepted).  Answers 200 once every line is committed (the
cc-metric-collector http sink expects 200), 400 JSON naming the rejected lines
(the good ones are stored all the same), 401 without the right credentials.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import parse_qs

from ..config import HttpReceiverConfig
from .body import ApiError, error_body, write_request
from .commit import StorageManager
from .httpserver import ServerThread

__all__ = ["HttpReceiver"]

log = logging.getLogger("ccstore.receivers.http")

StartResponse = Callable[[str, List[Tuple[str, str]]], Any]


class HttpReceiver:
    """Serves one configured http receiver on an HTTP server of its own."""

    def __init__(self, config: HttpReceiverConfig, manager: StorageManager) -> None:
        self.config = config
        self.manager = manager
        self.source = config.name
        manager.register_source(self.source)
        self._server: Optional[ServerThread] = None

    @property
    def bound(self) -> Tuple[str, int]:
        assert self._server is not None
        return self._server.bound

    @property
    def server(self) -> Optional[ServerThread]:
        """The HTTP server (None before :meth:`start` and after :meth:`close`)."""
        return self._server

    def start(self) -> None:
        c = self.config
        self._server = ServerThread(self.app, c.address, c.port, name=f"http-{c.name}",
                                    **c.server_options())
        self._server.start()
        host, port = self._server.bound
        log.info("http receiver %s listening on http://%s:%d%s", c.name, host, port, c.path)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _authorized(self, environ: dict) -> bool:
        c = self.config
        if not c.username:
            return True
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(user.encode(), c.username.encode())
                & hmac.compare_digest(password.encode(), c.password.encode()))

    def app(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application."""
        c = self.config
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") != c.path.rstrip("/"):
            return _send(start_response, 404, error_body(404, f"no such path {path}"))
        if environ.get("REQUEST_METHOD") != "POST":
            return _send(start_response, 405, error_body(405, "Method Not Allowed"),
                         [("Allow", "POST")])
        if not self._authorized(environ):
            self.manager.count_error(self.source, "unauthorized")
            return _send(start_response, 401, error_body(401, "Unauthorized"),
                         [("WWW-Authenticate", f'Basic realm="{c.name}"')])
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            problem = write_request(
                self.manager, environ, source=self.source,
                cluster=(query.get("cluster") or [c.cluster or ""])[-1] or None,
                precision=(query.get("precision") or ["auto"])[-1], limit=c.max_body_size)
        except ApiError as e:
            return _send(start_response, e.status, error_body(e.status, e.message),
                         list(e.headers.items()))
        except Exception:
            log.exception("http receiver %s failed", c.name)
            return _send(start_response, 500, error_body(500, "internal error"))
        if problem is not None:
            return _send(start_response, 400, problem)
        start_response("200 OK", [("Content-Length", "0")])
        return []


def _send(start_response: StartResponse, status: int, body: dict,
          headers: Optional[List[Tuple[str, str]]] = None) -> List[bytes]:
    data = json.dumps(body).encode()
    start_response(f"{status} {body['status']}",
                   [("Content-Type", "application/json"),
                    ("Content-Length", str(len(data)))] + (headers or []))
    return [data]
