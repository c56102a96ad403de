"""The HTTP server of the REST API and the http receivers: many connections, few threads.

Connections are multiplexed on one event loop (Tornado's HTTP/1.1 implementation on
asyncio: epoll, kqueue), so an open connection costs a socket and a little memory, not
a thread, and idle or slow clients cannot hold up the others.  A request reaches the
WSGI application in one of ``threads`` worker threads only once its head and body have
arrived whole (a body past :data:`SPOOL_SIZE` waits in a temporary file); the answer
streams back with backpressure, in pieces of :data:`WRITE_CHUNK` (an event stream,
``text/event-stream``, piece by piece as the application yields them).

Every limit ends in a clear answer: a request head must arrive within
``header_timeout`` of the accept (on a kept-alive connection within ``idle_timeout``
of the previous answer), its body within ``body_timeout``, else the connection is
closed; past ``max_connections`` open connections a new one is answered 503 with
``Retry-After`` and closed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import io
import json
import logging
import queue
import socket
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import IO, Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, unquote_to_bytes

from tornado import httputil, iostream
from tornado.http1connection import HTTP1ConnectionParameters, HTTP1ServerConnection
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer

__all__ = ["SPOOL_SIZE", "ServerThread", "query_params", "raise_open_files_limit"]

log = logging.getLogger("ccstore.http")

#: request bodies larger than this wait for the application in a temporary file
SPOOL_SIZE = 256 << 10
#: a body declared larger than the application's limit is still read (and dropped) up
#: to this much more, so that the client, still sending, sees the 413 answer
DRAIN_LIMIT = 16 << 20
#: answers are handed to the event loop in pieces of about this size
WRITE_CHUNK = 64 << 10

StartResponse = Callable[..., Callable[[bytes], None]]


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard limit, as Go programs do at
    start; returns the soft limit in force (a large number where there is none)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return 1 << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        for want in (target, 10240):  # macOS refuses more than OPEN_MAX
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
                soft = want
                break
            except (ValueError, OSError):
                continue
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def query_params(environ: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The ``(name, value)`` pairs of a WSGI request's query string, decoded as UTF-8
    (percent-escapes and raw bytes alike); ValueError names what is not UTF-8."""
    raw = environ.get("QUERY_STRING", "")
    try:
        text = raw.encode("latin-1").decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeError:
        raise ValueError("the query string is not valid UTF-8") from None


def _refusal(status: int, message: str) -> bytes:
    reason = httputil.responses.get(status, "Error")
    body = json.dumps({"status": reason, "error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
            ).encode() + body


class _ClientGone(Exception):
    """The connection closed (or stopped reading) before the answer was sent."""


class _Workers:
    """Threads that run the application: ``put((fn, future))`` runs ``fn()``, then
    resolves the asyncio ``future`` (if any) on its loop."""

    def __init__(self, n: int, name: str) -> None:
        self.queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def put(self, item: Tuple[Callable[[], None], Optional["asyncio.Future[None]"]]) -> None:
        self.queue.put(item)

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            fn, done = item
            try:
                fn()
            except Exception:  # _Request._run answers its own errors; this is a last guard
                log.exception("worker failed")
            finally:
                if done is not None:
                    done.get_loop().call_soon_threadsafe(_resolve, done)

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)


def _resolve(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


class _Request(httputil.HTTPMessageDelegate):
    """One request: its body gathered on the event loop, the application run in a
    worker thread, the answer handed back to the loop piece by piece."""

    def __init__(self, server: _Server, server_conn: HTTP1ServerConnection,
                 request_conn: Any) -> None:
        self.server = server
        self.server_conn = server_conn
        self.conn = request_conn
        self.environ: Dict[str, Any] = {}
        self.body: Optional[IO[bytes]] = None
        self.received = 0
        self.discard = False  # past the limit: the application answers 413 from the head
        self.buffer_error: Optional[str] = None
        self.dispatched = False
        self.counted = False
        self.gone = False
        # worker side
        self.status = ""
        self.headers: List[Tuple[str, str]] = []
        self.headers_sent = False
        self.pending: List[bytes] = []
        self.pending_size = 0
        self.last_write: Optional[concurrent.futures.Future] = None
        self.final_sent = False
        self.unbuffered = False  # an event stream: each piece sent as it comes

    # ------------------------------------------------------------------ event loop side
    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        srv = self.server
        # the next request on this connection may take idle_timeout to arrive
        self.server_conn.params.header_timeout = srv.idle_timeout
        srv.busy_add(1)
        self.counted = True
        self.environ = srv.environ(start_line, headers, self.server_conn.context)
        self.conn.set_max_body_size(1 << 62)  # the application judges sizes
        length = headers.get("Content-Length")
        declared = int(length) if length and length.isdigit() else None
        if declared is not None and declared > srv.max_body_size:
            self.discard = True
            if declared > srv.max_body_size + DRAIN_LIMIT:
                # answer from the head alone, then close
                self.dispatched = True
                done = asyncio.get_running_loop().create_future()
                srv.workers.put((self._run, done))
                return done
        return None

    def data_received(self, chunk: bytes) -> None:
        if self.discard:
            return
        limit = self.server.max_body_size + 1  # one more byte shows "too large"
        if self.received + len(chunk) > limit:
            chunk = chunk[:limit - self.received]
            self.discard = True
        self.received += len(chunk)
        try:
            if self.body is None:  # most bodies are small: in memory until SPOOL_SIZE
                self.body = io.BytesIO() if self.received <= SPOOL_SIZE else \
                    tempfile.TemporaryFile()
            elif self.received > SPOOL_SIZE and isinstance(self.body, io.BytesIO):
                spill = tempfile.TemporaryFile()
                spill.write(self.body.getvalue())
                self.body = spill
            self.body.write(chunk)
        except OSError as e:
            self.buffer_error = f"cannot buffer the request body: {e.strerror or e}"
            self.discard = True

    def finish(self) -> None:
        self.dispatched = True
        self.server.workers.put((self._run, None))

    def on_connection_close(self) -> None:
        self.gone = True
        if not self.dispatched:
            self._close_body()
            self._uncount()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.server.busy_add(-1)

    def _write(self, head: Optional[Tuple[Any, httputil.HTTPHeaders]], data: bytes,
               final: bool, done: concurrent.futures.Future) -> None:
        """On the loop: send the head and/or data; ``done`` when the kernel has it.
        The final piece ends the request's count as in flight."""
        if final:
            self._uncount()
        if self.gone or self.server_conn.stream.closed():
            done.set_exception(_ClientGone())
            return
        try:
            if head is not None:
                f = self.conn.write_headers(head[0], head[1], data)
            else:
                f = self.conn.write(data)
            if final:
                self.conn.finish()
        except Exception as e:  # a header the protocol cannot carry, a length mismatch
            log.error("%s: cannot send the answer: %s", self.server.name, e)
            self.server_conn.stream.close()
            done.set_exception(_ClientGone())
            return

        def written(f: "asyncio.Future[None]") -> None:
            if f.cancelled() or f.exception() is not None:
                done.set_exception(_ClientGone())
            else:
                done.set_result(None)

        f.add_done_callback(written)

    # ------------------------------------------------------------------ worker side
    def _run(self) -> None:
        env = self.environ
        body = self.body
        if body is not None:
            body.seek(0)
        env["wsgi.input"] = body if body is not None else io.BytesIO()
        result: Any = None
        try:
            if self.buffer_error is not None:
                self._error(503, self.buffer_error)
                return
            result = self.server.app(env, self._start_response)
            for chunk in result:
                if chunk:
                    self._send(chunk)
            self._flush(final=True)
        except _ClientGone:
            pass
        except Exception:
            log.exception("%s: %s %s failed", self.server.name, env.get("REQUEST_METHOD"),
                          env.get("PATH_INFO"))
            if not self.headers_sent:
                self.pending, self.pending_size = [], 0
                try:
                    self._error(500, "internal error, see the server log")
                except _ClientGone:
                    pass
            else:
                self._abort()
        finally:
            if result is not None and hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    log.exception("%s: closing the answer failed", self.server.name)
            self._close_body()
            if not self.final_sent:  # client gone, or aborted: no final piece did it
                self.server.loop.call_soon_threadsafe(self._uncount)

    def _start_response(self, status: str, headers: List[Tuple[str, str]],
                        exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status:
            raise AssertionError("start_response called twice without exc_info")
        self.status = status
        self.headers = list(headers)
        self.unbuffered = any(k.lower() == "content-type" and
                              v.split(";")[0].strip().lower() == "text/event-stream"
                              for k, v in self.headers)
        return self._send

    def _error(self, status: int, message: str) -> None:
        body = json.dumps({"status": httputil.responses.get(status, "Error"),
                           "error": message}).encode()
        self._start_response(f"{status} {httputil.responses.get(status, 'Error')}",
                             [("Content-Type", "application/json")], sys.exc_info())
        self._send(body)
        self._flush(final=True)

    def _send(self, data: bytes) -> None:
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= WRITE_CHUNK or self.unbuffered:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self.status:
            raise AssertionError("the application sent data before start_response")
        data = b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        head = None
        if not self.headers_sent:
            head = self._head(len(data) if final else None)
            self.headers_sent = True
        if self.last_write is not None:  # backpressure: one write on its way at a time
            self._wait(self.last_write)
        done: concurrent.futures.Future = concurrent.futures.Future()
        self.server.loop.call_soon_threadsafe(self._write, head, data, final, done)
        self.last_write = None if final else done
        self.final_sent = final

    def _wait(self, fut: concurrent.futures.Future) -> None:
        try:
            fut.result(timeout=self.server.idle_timeout)
        except concurrent.futures.TimeoutError:
            log.info("%s: client stopped reading its answer; connection closed",
                     self.server.name)
            self._abort()
            raise _ClientGone() from None

    def _head(self, length: Optional[int]) -> Tuple[Any, httputil.HTTPHeaders]:
        code_text, _, reason = self.status.partition(" ")
        code = int(code_text)
        h = httputil.HTTPHeaders()
        for k, v in self.headers:
            h.add(k, v)
        if (length is not None and "Content-Length" not in h and code >= 200
                and code not in (204, 304) and self.environ.get("REQUEST_METHOD") != "HEAD"):
            h["Content-Length"] = str(length)
        if "Server" not in h:
            h["Server"] = "ccstore"
        return httputil.ResponseStartLine("HTTP/1.1", code, reason), h

    def _abort(self) -> None:
        self.server.loop.call_soon_threadsafe(self.server_conn.stream.close)

    def _close_body(self) -> None:
        if self.body is not None:
            try:
                self.body.close()
            except OSError:
                pass
            self.body = None


class _Server(TCPServer, httputil.HTTPServerConnectionDelegate):
    """Connections in, :class:`_Request` per request, the cap on open connections."""

    def __init__(self, owner: ServerThread, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(read_chunk_size=64 << 10)
        self.app = owner.app
        self.name = owner.name
        self.host, self.port = owner.bound
        self.loop = loop
        self.workers = owner.workers
        self.idle_timeout = owner.idle_timeout
        self.max_body_size = owner.max_body_size
        self.max_connections = owner.max_connections
        self.params = HTTP1ConnectionParameters(
            header_timeout=owner.header_timeout, body_timeout=owner.body_timeout,
            no_keep_alive=not owner.keep_alives, chunk_size=64 << 10)
        self.connections: Set[HTTP1ServerConnection] = set()
        self.refused = 0
        self.busy = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.refusal = _refusal(503, f"too many connections (at most {self.max_connections}"
                                     f" open); try again later")

    def busy_add(self, n: int) -> None:
        self.busy += n
        if self.busy:
            self.idle.clear()
        else:
            self.idle.set()

    def handle_stream(self, stream: iostream.IOStream, address: Tuple[Any, ...]) -> None:
        if len(self.connections) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("%s: %d open connections, the most allowed (max_connections): "
                            "new ones are refused (%d so far)", self.name,
                            len(self.connections), self.refused)
            asyncio.ensure_future(self._refuse(stream))
            return
        # a connection of its own: its header timeout changes after the first request
        conn = HTTP1ServerConnection(stream, copy.copy(self.params), address)
        self.connections.add(conn)
        conn.start_serving(self)

    async def _refuse(self, stream: iostream.IOStream) -> None:
        """503, then read (and drop) what the client still sends for a moment, so that
        it sees the answer rather than a reset."""
        try:
            await stream.write(self.refusal)
            stream.socket.shutdown(socket.SHUT_WR)
            deadline = self.loop.time() + 1.0
            while self.loop.time() < deadline:
                await asyncio.wait_for(stream.read_bytes(1 << 16, partial=True),
                                       max(0.01, deadline - self.loop.time()))
        except (iostream.StreamClosedError, asyncio.TimeoutError, OSError):
            pass
        finally:
            stream.close()

    def start_request(self, server_conn: object, request_conn: Any) -> _Request:
        return _Request(self, server_conn, request_conn)  # type: ignore[arg-type]

    def on_close(self, server_conn: object) -> None:
        self.connections.discard(server_conn)  # type: ignore[arg-type]

    def environ(self, start_line: Any, headers: httputil.HTTPHeaders,
                address: Any) -> Dict[str, Any]:
        """The WSGI environ of a request head (PEP 3333: strings carry bytes as latin-1)."""
        path, _, query = start_line.path.partition("?")
        env: Dict[str, Any] = {
            "REQUEST_METHOD": start_line.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": start_line.version,
            "REMOTE_ADDR": str(address[0]) if isinstance(address, tuple) and address else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        for name, value in headers.get_all():
            if "_" in name:  # would pass for a header with dashes (Auth_Token as Auth-Token)
                continue
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            env[key] = f"{env[key]},{value}" if key in env else value
        return env


class ServerThread:
    """Bind at construction (so the port is known and errors surface early), serve
    after :meth:`start` (in a thread of its own) or in :meth:`serve_forever`, stop
    gracefully with :meth:`stop`.

    ``threads`` run the application; ``idle_timeout`` closes a kept-alive connection
    that sends no next request; ``header_timeout`` and ``body_timeout`` bound how long
    a request's head and body may take to arrive; ``max_connections`` caps the open
    connections; ``max_body_size`` is the application's body limit (the server keeps
    at most one byte more of a body, so the application sees it is too large);
    ``keep_alives=False`` closes every connection after its answer;
    ``shutdown_timeout`` bounds how long :meth:`stop` waits for requests in flight.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], address: str, port: int, *,
                 threads: int = 16, idle_timeout: float = 120.0, keep_alives: bool = True,
                 header_timeout: float = 10.0, body_timeout: float = 120.0,
                 max_connections: int = 4096, max_body_size: int = 64 << 20,
                 shutdown_timeout: float = 30.0, name: str = "http") -> None:
        self.app = app
        self.name = name
        self.threads = threads
        self.idle_timeout = float(idle_timeout) if idle_timeout else 120.0
        self.keep_alives = keep_alives
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.max_connections = int(max_connections)
        self.max_body_size = int(max_body_size)
        self.shutdown_timeout = shutdown_timeout
        files = raise_open_files_limit()
        if self.max_connections + 64 > files:
            log.warning("%s: max_connections is %d but this process may open only %d files",
                        name, self.max_connections, files)
        self._sockets = bind_sockets(int(port), address or "0.0.0.0", backlog=1024)
        self.workers = _Workers(threads, f"ccstore-{name}")
        self._server: Optional[_Server] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def bound(self) -> Tuple[str, int]:
        """The (host, port) actually listened on (port 0 in the config picks one)."""
        addr = self._sockets[0].getsockname()
        return addr[0], addr[1]

    @property
    def alive(self) -> bool:
        """Serving (started and its thread not ended)."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> Dict[str, int]:
        """Open connections, requests in flight, connections refused past the cap."""
        s = self._server
        if s is None:
            return {"connections": 0, "in_flight": 0, "refused": 0}
        return {"connections": len(s.connections), "in_flight": s.busy, "refused": s.refused}

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self.serve_forever, name=f"ccstore-{self.name}",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(30)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop`."""
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("%s server failed", self.name)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = self._server = _Server(self, self._loop)
        server.add_sockets(self._sockets)
        self._ready.set()
        await self._stop.wait()
        server.stop()  # no new connections
        try:
            await asyncio.wait_for(server.idle.wait(), self.shutdown_timeout)
        except asyncio.TimeoutError:
            log.warning("%s: %d requests still in flight after %ss; closing", self.name,
                        server.busy, self.shutdown_timeout)
        for conn in list(server.connections):
            await conn.close()

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), close connections."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop has ended already
                pass
        if self._thread is not None:
            self._thread.join(timeout=self.shutdown_timeout + 30)
        elif self._server is None:  # never served: free the port
            for s in self._sockets:
                s.close()
        self.workers.stop()
