"""The HTTP server module: connections that hold no thread, limits that end in a clear
answer, WSGI bodies and answers carried whole.

Every wait is bounded (socket timeouts far above what the server needs); nothing
asserts on time.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable, Dict, List

import pytest

from ccstore.ingest.httpserver import SPOOL_SIZE, ServerThread, query_params

WAIT = 30.0  # the longest any socket waits; the server answers far sooner


def app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """Echo: method, path, query, body size and digest; ``/stream`` streams, ``/fail``
    raises, ``/block`` waits until the test lets it go."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("boom")
    if path == "/block":
        environ["test.gate"] = GATE.wait(WAIT)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"%06d\n" % i for i in range(50_000))
    body = environ["wsgi.input"].read()
    out = json.dumps({"method": environ["REQUEST_METHOD"], "path": path,
                      "query": query_params(environ), "length": len(body),
                      "sha": hashlib.sha256(body).hexdigest(),
                      "declared": environ.get("CONTENT_LENGTH")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [out]


GATE = threading.Event()


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    started: List[ServerThread] = []

    def start(**kw: Any) -> ServerThread:
        kw.setdefault("threads", 2)
        s = ServerThread(app, "127.0.0.1", 0, name="test", **kw).start()
        started.append(s)
        return s

    yield start
    GATE.set()
    for s in started:
        s.stop()
    GATE.clear()


def call(server: ServerThread, method: str, path: str, body: Any = None,
         headers: Any = None) -> http.client.HTTPResponse:
    c = http.client.HTTPConnection(*server.bound, timeout=WAIT)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.data = r.read()  # type: ignore[attr-defined]
    c.close()
    return r


def connect(server: ServerThread) -> socket.socket:
    s = socket.create_connection(server.bound, timeout=WAIT)
    return s


def closed_by_server(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


# ---------------------------------------------------------------------------- connections


def test_idle_and_slow_connections_hold_no_thread(serve) -> None:
    server = serve(threads=2)
    idle = [connect(server) for _ in range(40)]
    slow = [connect(server) for _ in range(40)]
    for s in slow:  # a request head that never ends
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    body = [connect(server) for _ in range(40)]
    for s in body:  # a head, and a body that never ends
        s.sendall(b"POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
    try:
        r = call(server, "GET", "/health")
        assert r.status == 200 and json.loads(r.data)["path"] == "/health"
        assert server.stats()["connections"] >= 120
    finally:
        for s in idle + slow + body:
            s.close()


def test_past_max_connections_a_new_one_is_refused_with_503(serve) -> None:
    server = serve(max_connections=3)
    held = [connect(server) for _ in range(3)]
    try:
        # the server takes connections in order: these three are open before the next
        r = call(server, "GET", "/x")
        assert r.status == 503
        assert r.getheader("Retry-After") == "1"
        assert "too many connections" in json.loads(r.data)["error"]
        assert server.stats()["refused"] >= 1
    finally:
        for s in held:
            s.close()
    # room again once they are gone
    def answered() -> bool:
        return call(server, "GET", "/x").status == 200
    assert any(answered() for _ in range(200))


def test_a_head_that_does_not_arrive_in_time_closes_the_connection(serve) -> None:
    server = serve(header_timeout=0.2)
    s = connect(server)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert closed_by_server(s) == b""
    s.close()
    s = connect(server)  # nothing sent at all
    assert closed_by_server(s) == b""
    s.close()


def test_a_body_that_does_not_arrive_in_time_closes_the_connection(serve) -> None:
    server = serve(body_timeout=0.2)
    s = connect(server)
    s.sendall(b"POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    assert closed_by_server(s) == b""
    s.close()


def test_kept_alive_connection_serves_again_then_closes_when_idle(serve) -> None:
    server = serve(idle_timeout=0.3, header_timeout=WAIT)
    s = connect(server)
    for _ in range(3):
        s.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 ")
    # after the last answer, nothing more: the idle timeout closes the connection
    assert b"HTTP/1.1" not in closed_by_server(s)
    s.close()


def test_keep_alives_disabled_close_after_each_answer(serve) -> None:
    server = serve(keep_alives=False)
    s = connect(server)
    s.sendall(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
    data = closed_by_server(s)
    assert data.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in data
    s.close()


def test_stop_waits_for_requests_in_flight(serve) -> None:
    server = serve()
    result: Dict[str, Any] = {}

    def blocked() -> None:
        result["r"] = call(server, "GET", "/block")

    t = threading.Thread(target=blocked)
    t.start()
    stopper = threading.Thread(target=server.stop)
    # the request is in the application before the stop begins
    for _ in range(3000):  # bounded: 30 s
        if server.stats()["in_flight"]:
            break
        threading.Event().wait(0.01)
    stopper.start()
    GATE.set()
    stopper.join(WAIT)
    t.join(WAIT)
    assert result["r"].status == 200


# ---------------------------------------------------------------------------- bodies, answers


@pytest.mark.parametrize("size", [0, 10, SPOOL_SIZE + 12345])
def test_bodies_reach_the_application_whole(serve, size: int) -> None:
    server = serve()
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    r = call(server, "POST", "/w", body)
    j = json.loads(r.data)
    assert (j["length"], j["sha"]) == (size, hashlib.sha256(body).hexdigest())


def test_chunked_body_reaches_the_application_whole(serve) -> None:
    server = serve()
    parts = [b"a" * 70000, b"b" * 5, b"c" * (SPOOL_SIZE)]
    c = http.client.HTTPConnection(*server.bound, timeout=WAIT)
    c.request("POST", "/w", body=iter(parts), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    j = json.loads(c.getresponse().read())
    c.close()
    assert j["length"] == sum(map(len, parts)) and j["declared"] is None


def test_a_body_over_the_limit_reaches_the_application_one_byte_over(serve) -> None:
    server = serve(max_body_size=1000)
    c = http.client.HTTPConnection(*server.bound, timeout=WAIT)
    c.request("POST", "/w", body=iter([b"z" * 3000]), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    assert json.loads(c.getresponse().read())["length"] == 1001
    c.close()
    # declared too large: nothing kept, the application judges from the head
    j = json.loads(call(server, "POST", "/w", b"z" * 3000).data)
    assert (j["length"], j["declared"]) == (0, "3000")


def test_streamed_answer_arrives_whole(serve) -> None:
    server = serve()
    r = call(server, "GET", "/stream")
    assert r.status == 200 and r.data == b"".join(b"%06d\n" % i for i in range(50_000))


def test_failing_application_is_500_json_and_head_has_no_body(serve) -> None:
    server = serve()
    r = call(server, "GET", "/fail")
    assert r.status == 500 and json.loads(r.data)["error"]
    r = call(server, "HEAD", "/w")
    assert r.status == 200 and r.data == b""


def test_path_and_query_string_are_decoded_as_utf8(serve) -> None:
    server = serve()
    j = json.loads(call(server, "GET", "/p%C3%A4th?cluster=cl%C3%BCster&host=h%C3%A9&e=").data)
    assert j["path"] == "/päth".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert j["query"] == [["cluster", "clüster"], ["host", "hé"], ["e", ""]]
    # raw (unescaped) UTF-8 bytes in the request line too
    s = connect(server)
    s.sendall("GET /q?cluster=clüster HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              .encode())
    data = closed_by_server(s)
    s.close()
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["query"] == [["cluster", "clüster"]]


def test_query_string_that_is_not_utf8_is_named() -> None:
    with pytest.raises(ValueError, match="not valid UTF-8"):
        query_params({"QUERY_STRING": "cluster=%ff"})
    with pytest.raises(ValueError, match="not valid UTF-8"):
        query_params({"QUERY_STRING": b"cluster=\xff".decode("latin-1")})
