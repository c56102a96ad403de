"""A production multi-threaded WSGI server (cheroot) in a background thread."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional, Tuple

from cheroot import wsgi

__all__ = ["ServerThread"]

log = logging.getLogger("ccstore.http")


class ServerThread:
    """Bind at construction (so the port is known and errors surface early), serve in a
    thread after :meth:`start`, stop gracefully with :meth:`stop`.

    ``idle_timeout`` is the socket timeout (an idle keep-alive connection is closed
    after it); ``keep_alives=False`` closes every connection after its response.
    ``shutdown_timeout`` bounds how long :meth:`stop` waits for requests in flight.
    """

    def __init__(self, app: Callable[..., Any], address: str, port: int, *, threads: int = 16,
                 idle_timeout: float = 120.0, keep_alives: bool = True,
                 shutdown_timeout: float = 30.0, name: str = "http") -> None:
        host = address or "0.0.0.0"
        self.name = name
        self.server = wsgi.Server((host, int(port)), app, numthreads=threads,
                                  timeout=max(1, int(round(idle_timeout))) if idle_timeout
                                  else 120, shutdown_timeout=shutdown_timeout,
                                  request_queue_size=128, server_name="ccstore")
        # cheroot keeps at most keep_alive_conn_limit idle connections; 0 closes them all
        self.server.keep_alive_conn_limit = None if keep_alives else 0
        self.server.prepare()
        self._thread: Optional[threading.Thread] = None

    @property
    def bound(self) -> Tuple[str, int]:
        """The (host, port) actually listened on (port 0 in the config picks one)."""
        addr = self.server.bind_addr
        return addr[0], addr[1]

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self._serve, name=f"ccstore-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self.server.serve()
        except Exception:
            log.exception("%s server failed", self.name)

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), close connections."""
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=60)
