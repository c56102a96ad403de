"""/api/tail (server-sent events) and the web page's files, against a real server
process: a line committed after the tail opened arrives, others do not; a bad query is
a 400; the tail ends when its client goes, and when the server stops; tails past the
cap are refused; the page and its assets are served (gzip too)."""
from __future__ import annotations

import gzip
import http.client
import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from srvutil import ServerProcess, sqlite_storage, wait_until, write_config

READ_TIMEOUT = 30.0


class Tail:
    """An open /api/tail stream, read event by event."""

    def __init__(self, server: ServerProcess, q: str, **params: str) -> None:
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=READ_TIMEOUT)
        query = urllib.parse.urlencode({"q": q, **params})
        self.conn.request("GET", f"/api/tail?{query}")
        self.resp = self.conn.getresponse()

    def events(self) -> Iterator[Tuple[str, Any]]:
        """(event, data) pairs; comments are skipped; ends with the stream."""
        name, data = "message", []
        while True:
            raw = self.resp.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            if line.startswith(":"):
                continue
            if not line:
                if data:
                    yield name, json.loads("\n".join(data))
                name, data = "message", []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    def close(self) -> None:
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def start(start_server: Any, tmp_path: Path, api: Optional[Dict[str, Any]] = None
          ) -> ServerProcess:
    a = {"address": "127.0.0.1", "port": "0", **(api or {})}
    config = write_config(tmp_path, storage=sqlite_storage(tmp_path / "t.db"), api=a)
    return start_server(config)


def tails(server: ServerProcess) -> Dict[str, int]:
    return server.stats()["tails"]


def test_a_line_committed_after_the_tail_opened_arrives(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    tail = Tail(server, "level:error host:n1")
    assert tail.resp.status == 200
    assert tail.resp.getheader("Content-Type").startswith("text/event-stream")
    events = tail.events()
    assert next(events)[0] == "open"
    assert server.write('ccb,cluster=c,hostname=n1,loglevel=info log="not this"\n'
                        'ccb,cluster=c,hostname=n2,loglevel=error log="nor this"\n'
                        'ccb,cluster=c,hostname=n1,loglevel=error log="this one"\n'
                        ).status == 204
    name, data = next(events)
    assert name == "lines"
    assert [r["message"] for r in data] == ["this one"]
    assert data[0]["host"] == "n1" and data[0]["cursor"]
    tail.close()


def test_a_bad_tail_request_is_a_400(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    r = server.call("GET", "/api/tail?q=" + urllib.parse.quote("host:("))
    assert r.status == 400 and "column" in r.json()
    r = server.call("GET", "/api/tail?nope=1")
    assert r.status == 400 and "nope" in r.json()["error"]


def test_the_tail_ends_when_its_client_goes(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    tail = Tail(server, "")
    assert next(tail.events())[0] == "open"
    assert tails(server)["active"] == 1
    tail.close()
    wait_until(lambda: tails(server)["active"] == 0, "the tail to end")


def test_tails_past_the_cap_are_refused(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path, {"threads": 2})  # at most one tail
    first = Tail(server, "")
    assert next(first.events())[0] == "open"
    r = server.call("GET", "/api/tail")
    assert r.status == 503 and "too many live tails" in r.json()["error"]
    assert server.call("GET", "/api/search").status == 200  # the rest of the API answers
    first.close()
    wait_until(lambda: tails(server)["active"] == 0, "the tail to end")
    second = Tail(server, "")
    assert second.resp.status == 200
    second.close()


def test_the_server_stops_without_waiting_for_open_tails(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    open_tails: List[Tail] = [Tail(server, "") for _ in range(2)]
    for t in open_tails:
        assert next(t.events())[0] == "open"
    assert server.stop() == 0
    assert "still in flight" not in server.log
    for t in open_tails:  # each stream ended
        assert list(t.events()) == []


def test_the_page_and_its_assets_are_served(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    page = server.call("GET", "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "static/app.js" in html and "http" not in html  # nothing from elsewhere
    js = server.call("GET", "/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert js.status == 200 and js.headers["content-encoding"] == "gzip"
    assert js.headers["content-type"].startswith("text/javascript")
    assert b"import" in gzip.decompress(js.body)
    again = server.call("GET", "/static/app.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status == 304
    for name in ("vendor/uplot/uPlot.iife.min.js", "vendor/uplot/LICENSE", "app.css"):
        assert server.call("GET", f"/static/{name}").status == 200, name
    assert server.call("GET", "/static/../web.py").status == 404
    assert server.call("GET", "/static/nothing.js").status == 404


def test_a_tail_needs_a_token_when_auth_is_on(start_server, tmp_path, keys) -> None:
    server = start(start_server, tmp_path, {"jwt_public_key": keys.public_b64})
    r = server.call("GET", "/api/tail")
    assert r.status == 401 and r.headers["www-authenticate"] == "Bearer"
    assert server.call("GET", "/").status == 200  # the page itself is public
    server.token = keys.token()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=READ_TIMEOUT)
    conn.request("GET", "/api/tail", headers={"Authorization": f"Bearer {server.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline().startswith(b"event: open")
    conn.close()


def test_no_tails_when_the_api_has_a_single_thread(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path, {"threads": 1})
    r = server.call("GET", "/api/tail")
    assert r.status == 503 and "live tails are off" in r.json()["error"]
    assert server.call("GET", "/api/search").status == 200


def test_a_head_request_opens_no_tail(start_server, tmp_path) -> None:
    server = start(start_server, tmp_path)
    r = server.call("HEAD", "/api/tail")
    assert r.status == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert tails(server)["started"] == 0
