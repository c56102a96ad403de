"""Receivers: nats (plain, queue group, JetStream with redelivery after a crash) against a
real nats-server, and the cc-metric-collector style http receiver."""
from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any, Dict, Optional


from srvutil import NatsServer, ServerProcess, http_call, sqlite_storage, wait_until, \
    write_config


def nats_receiver(nats: NatsServer, subject: str, **extra: Any) -> Dict[str, Any]:
    return {"type": "nats", "address": "127.0.0.1", "port": str(nats.port),
            "subject": subject, **extra}


def start(tmp: Path, name: str, receivers: Dict[str, Any], **storage: Any) -> ServerProcess:
    d = tmp / name
    config = write_config(d, storage=sqlite_storage(d / "db.sqlite", **storage),
                          receivers=receivers)
    return ServerProcess(d, ["-config", str(config)]).start()


def subscribed(server: ServerProcess, name: str) -> bool:
    return server.stats()["receivers"][name]["state"] == "subscribed"


def total(server: ServerProcess, cluster: str, kind: str = "log") -> int:
    return server.count(f"cluster={cluster}&kind={kind}&by=cluster", missing_ok=True)["total"]


def msg(cluster: str, i: int, host: Optional[str] = None) -> bytes:
    return (f"ccb,cluster={cluster},hostname={host or f'n{i % 5}'},type=node,type-id=0,"
            f'loglevel=info log="message {i}" {1700000000 + i}').encode()


def test_plain_subscription(tmp_path: Path, nats_server: NatsServer) -> None:
    s = start(tmp_path, "plain", {"in": nats_receiver(nats_server, "plain.>")})
    try:
        wait_until(lambda: subscribed(s, "in"), "the nats subscription")
        payloads = [msg("np", i) for i in range(500)]
        payloads.append(b"broken line without fields\n" + msg("np", 500))  # one good, one bad
        payloads.append(b'job,hostname=h1 event="no cluster" 1700000000')
        payloads.append(b"\n".join(msg("np", i) for i in range(501, 511)))  # 10 in one message
        nats_server.publish("plain.log.ccb", payloads)
        wait_until(lambda: total(s, "np") == 511, "511 stored lines")
        st = s.stats()["receivers"]["in"]
        assert st["messages"] == 503 and st["written"] == 511
        assert st["errors"] == {"syntax": 1, "no_cluster": 1}
        assert s.stop() == 0
    finally:
        s.kill()


def test_default_cluster_and_queue_group_share_a_subject(tmp_path: Path,
                                                         nats_server: NatsServer) -> None:
    rc = nats_receiver(nats_server, "shared", queue="ccstore", cluster="qg")
    a = start(tmp_path, "a", {"q": rc})
    b = start(tmp_path, "b", {"q": rc})
    try:
        wait_until(lambda: subscribed(a, "q") and subscribed(b, "q"), "both subscriptions")
        lines = [f'ccb,hostname=h{i},type=node,type-id=0,loglevel=info log="m{i}" '
                 f"{1700000000 + i}".encode() for i in range(400)]
        nats_server.publish("shared", lines)
        wait_until(lambda: total(a, "qg") + total(b, "qg") == 400, "400 lines in total")
        # each message went to exactly one of the two instances
        hosts_a, hosts_b = ({c["hostname"] for c in s.count("cluster=qg&by=hostname",
                                                             missing_ok=True)["counts"]}
                            for s in (a, b))
        assert not hosts_a & hosts_b and len(hosts_a | hosts_b) == 400
    finally:
        a.kill()
        b.kill()


def consumer_state(nats: NatsServer, stream: str, durable: str) -> Dict[str, int]:
    async def info(nc: Any) -> Dict[str, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return {"pending": ci.num_pending, "ack_pending": ci.num_ack_pending,
                "redelivered": ci.num_redelivered}
    return nats.run(info)


def stream_messages(nats: NatsServer, stream: str) -> int:
    async def info(nc: Any) -> int:
        return (await nc.jetstream().stream_info(stream)).state.messages
    return nats.run(info)


def make_stream(nats: NatsServer, stream: str, subject: str) -> None:
    async def add(nc: Any) -> None:
        await nc.jetstream().add_stream(name=stream, subjects=[subject])
    nats.run(add)


def stored_messages(server: ServerProcess, cluster: str, n: int) -> set:
    r = server.query({"cluster": cluster, "kind": "log", "limit": 4 * n, "queries": [{}]})
    return {d["Event"] for d in r["results"][0][0]["data"]}


def test_jetstream_acks_after_commit(tmp_path: Path, nats_server: NatsServer) -> None:
    rc = nats_receiver(nats_server, "jsok.>", jetstream={"stream": "JSOK", "durable": "ccstore"})
    s = start(tmp_path, "js", {"js": rc})
    try:
        wait_until(lambda: subscribed(s, "js"), "the JetStream consumer")
        nats_server.publish("jsok.log", [msg("jsok", i) for i in range(300)])
        wait_until(lambda: total(s, "jsok") == 300, "300 stored lines")
        wait_until(lambda: consumer_state(nats_server, "JSOK", "ccstore")["ack_pending"] == 0,
                   "every message acknowledged")
        state = consumer_state(nats_server, "JSOK", "ccstore")
        assert state["pending"] == 0 and state["redelivered"] == 0
        assert s.stats()["receivers"]["js"]["acked"] == 300
        assert s.stop() == 0
    finally:
        s.kill()


class WriteLock:
    """The SQLite database's write lock, held by the test: the server's commits wait
    for it (and fail after the busy timeout)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def acked_floor(nats: NatsServer, stream: str, durable: str) -> Dict[str, int]:
    async def info(nc: Any) -> Dict[str, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return {"ack_floor": ci.ack_floor.consumer_seq, "delivered": ci.delivered.consumer_seq,
                "ack_pending": ci.num_ack_pending}
    return nats.run(info)


def test_jetstream_acks_only_after_the_commit_lands(tmp_path: Path,
                                                    nats_server: NatsServer) -> None:
    """The commit is held (the test holds the database's write lock): nothing is
    acknowledged; the commit fails after the busy timeout: the messages are negatively
    acknowledged, none acknowledged; once the lock is gone they are delivered again,
    stored once each, and acknowledged."""
    n = 200
    make_stream(nats_server, "HOLD", "hold.>")
    rc = nats_receiver(nats_server, "hold.>", jetstream={"stream": "HOLD", "durable": "ccstore",
                                                         "ack_wait": "30s"})
    d = tmp_path / "hold"
    storage = sqlite_storage(d / "db.sqlite")
    storage["backend"]["flags"] = ["_journal=WAL", "_timeout=300"]
    config = write_config(d, storage=storage, receivers={"js": rc})
    s = ServerProcess(d, ["-config", str(config)]).start()
    try:
        wait_until(lambda: subscribed(s, "js"), "the JetStream consumer")
        lock = WriteLock(d / "db.sqlite")
        try:
            nats_server.publish("hold.log", [msg("hold", i) for i in range(n)])
            info = wait_until(lambda: (lambda r: r if r["nacked"] else None)(
                s.stats()["receivers"]["js"]), "a failed commit negatively acknowledged")
            assert info["acked"] == 0
            state = acked_floor(nats_server, "HOLD", "ccstore")
            assert state["ack_floor"] == 0 and state["ack_pending"] > 0, state
            assert total(s, "hold") == 0
        finally:
            lock.release()
        wait_until(lambda: total(s, "hold") == n, f"{n} stored lines")
        wait_until(lambda: consumer_state(nats_server, "HOLD", "ccstore")["ack_pending"] == 0,
                   "every message acknowledged")
        st = s.stats()["receivers"]["js"]
        assert st["acked"] == n and st["nacked"] > 0
        assert stored_messages(s, "hold", n) == {f"message {i}" for i in range(n)}
        assert total(s, "hold") == n  # each stored once
        assert s.stop() == 0
    finally:
        s.kill()


def test_jetstream_redelivers_after_a_crash(tmp_path: Path, nats_server: NatsServer) -> None:
    """ccstore is killed while the commit of messages it took is held: they were not
    acknowledged, and after the restart every message is stored, once."""
    n = 500
    make_stream(nats_server, "CRASH", "crash.>")
    rc = nats_receiver(nats_server, "crash.>", jetstream={"stream": "CRASH",
                                                          "durable": "ccstore",
                                                          "ack_wait": "1s"})
    d = tmp_path / "crash"
    config = write_config(d, storage=sqlite_storage(d / "db.sqlite"), receivers={"js": rc})
    s = ServerProcess(d, ["-config", str(config)]).start()
    try:
        wait_until(lambda: subscribed(s, "js"), "the JetStream consumer")
        lock = WriteLock(d / "db.sqlite")
        try:
            nats_server.publish("crash.log", [msg("crash", i) for i in range(n)])
            wait_until(lambda: acked_floor(nats_server, "CRASH", "ccstore")["ack_pending"] > 0,
                       "messages taken, their commit held")
            s.kill()
            state = acked_floor(nats_server, "CRASH", "ccstore")
            assert state["ack_floor"] == 0 and state["ack_pending"] > 0, state
        finally:
            lock.release()
        s = ServerProcess(d, ["-config", str(config)]).start()
        wait_until(lambda: total(s, "crash") == n, f"{n} stored lines after the restart", 60)
        wait_until(lambda: consumer_state(nats_server, "CRASH", "ccstore")
                   == {"pending": 0, "ack_pending": 0, "redelivered": 0},
                   "every message acknowledged after the restart")
        assert stored_messages(s, "crash", n) == {f"message {i}" for i in range(n)}
        assert s.stop() == 0
    finally:
        s.kill()


def test_http_receiver(tmp_path: Path) -> None:
    receivers = {"collector": {"type": "http", "address": "127.0.0.1", "port": "0",
                               "path": "/write", "username": "cc", "password": "s3cret",
                               "cluster": "hr"},
                 "legacy": {"type": "kafka", "address": "x"}}
    s = start(tmp_path, "http", receivers)
    try:
        info = s.stats()
        assert info["info"]["skipped_receivers"] == {"legacy": "unknown receiver type 'kafka'"}
        url = info["receivers"]["collector"]["url"]
        host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
        auth = {"Authorization": "Basic " + base64.b64encode(b"cc:s3cret").decode()}
        line = 'ccb,hostname=h1,type=node,type-id=0,loglevel=info log="via http" 1700000000'
        assert http_call(host, int(port), "POST", "/write", line).status == 401
        for wrong in (b"cc:wrong", b"wrong:s3cret", b":s3cret", b"cc:", b"cc"):
            bad = {"Authorization": "Basic " + base64.b64encode(wrong).decode()}
            assert http_call(host, int(port), "POST", "/write", line, bad).status == 401, wrong
        r = http_call(host, int(port), "POST", "/write", line, auth)
        assert r.status == 200, r  # cc-metric-collector's http sink expects 200
        r = http_call(host, int(port), "POST", "/write", line + "\nnonsense", auth)
        assert r.status == 400 and r.json()["errors"][0]["line"] == 2
        assert http_call(host, int(port), "POST", "/elsewhere", line, auth).status == 404
        assert http_call(host, int(port), "GET", "/write", None, auth).status == 405
        assert total(s, "hr") == 2
        st = s.stats()["receivers"]["collector"]
        assert st["written"] == 2 and st["errors"] == {"unauthorized": 6, "syntax": 1}
    finally:
        s.kill()


def test_files_receiver(tmp_path: Path) -> None:
    logfile = tmp_path / "app.log"
    logfile.write_text("Jan  5 10:00:00 node1 slurmd[12]: error: first\n"
                       "Jan  5 10:00:01 node1 slurmd[12]: second\n")
    receivers = {"logs": {"type": "files", "paths": [str(tmp_path / "*.log")],
                          "cluster": "fr", "interval": "100ms"}}
    s = start(tmp_path, "files", receivers)
    try:
        wait_until(lambda: total(s, "fr") == 2, "two lines from the log file")
        with open(logfile, "a") as f:
            f.write("Jan  5 10:00:02 node1 slurmd[12]: third\n")
        wait_until(lambda: total(s, "fr") == 3, "the appended line")
        assert s.stats()["receivers"]["logs"]["type"] == "files"
        assert s.stop() == 0
    finally:
        s.kill()


def test_syslog_receiver(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a free port for the receiver
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receivers = {"collector": {"type": "syslog", "address": "127.0.0.1", "port": port,
                               "protocol": "tcp", "cluster": "sl"}}
    s = start(tmp_path, "syslog", receivers)
    try:
        wait_until(lambda: s.stats()["receivers"]["collector"].get("state") == "listening",
                   "the syslog receiver")
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"<11>Jan  5 10:00:00 node1 slurmd[12]: first\n"
                      b"<14>1 2026-01-05T10:00:01Z node2 app - - - second\n")
        wait_until(lambda: total(s, "sl") == 2, "two syslog messages")
        st = s.stats()["receivers"]["collector"]
        assert st["type"] == "syslog" and st["written"] == 2
        assert st["counters"]["messages"] == 2 and st["counters"]["lost"] == 0
        assert s.stop() == 0
    finally:
        s.kill()


def gone(pid: int) -> bool:
    """The process ``pid`` ended (a zombie left to a parent that does not reap counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_the_nats_client_process_ends_with_a_killed_server(tmp_path: Path,
                                                           nats_server: NatsServer) -> None:
    """kill -9 of the server: its nats client process ends too (it acknowledges
    nothing more)."""
    s = start(tmp_path, "orphan", {"in": nats_receiver(nats_server, "orphan.>")})
    try:
        wait_until(lambda: subscribed(s, "in"), "the nats subscription")
        pid = s.stats()["receivers"]["in"]["process"]
        assert pid and not gone(pid)
        s.kill()
        wait_until(lambda: gone(pid), "the client process to end")
    finally:
        s.kill()
