"""The syslog receiver with real senders: util-linux ``logger`` and Debian's ``rsyslogd``
forwarding to it, over UDP, TCP (both framings of RFC 6587) and TLS; backpressure while
the store is behind, UDP losses counted; its config.

Without CI, a test whose tool is missing is skipped with the reason; with CI=true it fails.
"""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from typing import Any, Callable, List

import pytest

from ccstore.config import ConfigError, SyslogReceiverConfig, TlsConfig, parse_receivers
from ccstore.ingest.commit import StorageManager
from ccstore.ingest.syslog import SyslogReceiver, split_frames, udp_kernel_drops

HOST = socket.gethostname()


def need(tool: str) -> str:
    """The path of ``tool``; skips (fails with CI set) when it is not installed."""
    path = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if os.access(p, os.X_OK)), None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed (CI installs it, see .ci/run)")
        pytest.skip(f"{tool} is not installed")
    return path


def wait_for(what: str, cond: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``cond`` until it is true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def logs(store) -> List[dict]:
    return [r.as_dict() for r in store.query("alex", "log", limit=None, order="asc")]


@pytest.fixture
def manager(store):
    m = StorageManager(store, flush_time=0.05, retention_daily=None).start()
    yield m
    m.close()


@pytest.fixture
def receiver(manager):
    made: List[SyslogReceiver] = []

    def make(protocol: str = "tcp", mgr: Any = None, **kw) -> SyslogReceiver:
        tls = kw.pop("tls", None)
        cfg = SyslogReceiverConfig(name=f"syslog-{protocol}", cluster="alex",
                                   address="127.0.0.1", port=0, protocol=protocol, tls=tls)
        r = SyslogReceiver(cfg, mgr or manager, **kw)
        r.start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# -- framing ------------------------------------------------------------------------------
@pytest.mark.parametrize("buf,msgs,rest", [
    (b"<13>a\n<14>b\n", [b"<13>a", b"<14>b"], b""),
    (b"<13>a\r\n<14>b", [b"<13>a"], b"<14>b"),
    (b"5 <13>a7 <14>b\nc", [b"<13>a", b"<14>b\nc"], b""),
    (b"5 <13>a<14>b\n12 <1", [b"<13>a", b"<14>b"], b"12 <1"),
    (b"\n\n<13>a\n", [b"<13>a"], b""),
    (b"", [], b""),
])
def test_split_frames(buf, msgs, rest):
    got, end, _ = split_frames(buf)
    assert (got, buf[end:]) == (msgs, rest)


def test_split_frames_refuses_a_frame_too_long():
    with pytest.raises(ValueError):
        split_frames(b"99999 <13>", max_message=1000)
    with pytest.raises(ValueError):
        split_frames(b"<13>" + b"x" * 2000, max_message=1000)


# -- logger ---------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
@pytest.mark.parametrize("style", ["--rfc5424", "--rfc3164"])
def test_logger(store, receiver, protocol, style):
    logger = need("logger")
    r = receiver(protocol)
    before = time.time()
    text = f"disk {protocol} {style} failing"
    subprocess.run([logger, "--server", "127.0.0.1", "--port", str(r.bound[1]),
                    f"--{protocol}", style, "-p", "daemon.err", "-t", "smartd", text],
                   check=True, timeout=30)
    rec = wait_for("the message", lambda: logs(store))[0]
    assert (rec["host"], rec["name"], rec["level"]) == (HOST, "smartd", "error")
    assert rec["message"].endswith(text)
    # the sender's time (RFC 3164: to the second)
    assert before - 1 <= rec["ts_ns"] / 1e9 <= time.time() + 1
    assert r.counters["messages"] == 1 and r.counters["lost"] == 0


def test_logger_octet_counting(store, receiver):
    logger = need("logger")
    r = receiver("tcp")
    subprocess.run([logger, "--server", "127.0.0.1", "--port", str(r.bound[1]), "--tcp",
                    "--octet-count", "--rfc5424", "-p", "user.warning", "-t", "app",
                    "counted"], check=True, timeout=30)
    rec = wait_for("the message", lambda: logs(store))[0]
    assert (rec["host"], rec["name"], rec["level"]) == (HOST, "app", "warn")
    assert rec["message"].endswith("counted")


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_logger_structured_data_as_tags(store, receiver, protocol):
    logger = need("logger")
    r = receiver(protocol)
    subprocess.run([logger, "--server", "127.0.0.1", "--port", str(r.bound[1]),
                    f"--{protocol}", "--rfc5424", "-p", "user.notice", "-t", "app",
                    "--sd-id", "job@32473", "--sd-param", 'id="4711"',
                    "--sd-param", r'name="a \"quoted\" \]name"', "with data"],
                   check=True, timeout=30)
    rec = wait_for("the message", lambda: logs(store))[0]
    assert rec["message"].endswith("with data")
    assert rec["tags"]["sd.job@32473.id"] == "4711"
    assert rec["tags"]["sd.job@32473.name"] == 'a "quoted" ]name'


# -- rsyslog ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("framing", ["traditional", "octet-counted"])
def test_rsyslog_forwards_to_the_receiver(store, receiver, tmp_path, framing):
    rsyslogd = need("rsyslogd")
    logger = need("logger")
    r = receiver("tcp")
    port_in = free_port()
    conf = tmp_path / "rsyslog.conf"
    work = tmp_path / "work"
    work.mkdir()
    conf.write_text(f"""
global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port_in}")
action(type="omfwd" target="127.0.0.1" port="{r.bound[1]}" protocol="tcp"
       TCP_Framing="{framing}" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="{r.bound[1]}" protocol="tcp"
       TCP_Framing="{framing}")
""")
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def listening() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"rsyslogd exited: {proc.stdout.read().decode()}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port_in)) == 0
        wait_for("rsyslogd to listen", listening)
        subprocess.run([logger, "--server", "127.0.0.1", "--port", str(port_in), "--tcp",
                        "--rfc3164", "-p", "kern.crit", "-t", "kernel",
                        "LustreError: 11-0: lost connection"], check=True, timeout=30)
        got = wait_for("both forwarded copies", lambda: len(logs(store)) >= 2 and logs(store))
    finally:
        proc.terminate()
        proc.wait(30)
    # one copy in RFC 5424, one in rsyslog's traditional RFC 3164 forwarding format
    assert len(got) == 2
    for rec in got:
        assert (rec["host"], rec["name"], rec["level"]) == (HOST, "kernel", "error")
        assert rec["message"].endswith("LustreError: 11-0: lost connection")


# -- backpressure and loss ----------------------------------------------------------------
class SlowStore:
    """A store whose commits wait until ``gate`` is set."""

    def __init__(self, store) -> None:
        self.store = store
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def write_batches(self, batches, **kw):
        self.waiting.set()
        assert self.gate.wait(60)
        return self.store.write_batches(batches, **kw)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_tcp_stops_reading_while_the_store_is_behind(store, receiver):
    slow = SlowStore(store)
    mgr = StorageManager(slow, flush_time=0.05, batch_size=1, retention_daily=None).start()
    try:
        r = receiver("tcp", mgr, max_inflight=2)
        n = 200_000
        payload = b"".join(b"<11>Nov 22 08:40:01 n%d app: message %d\n" % (i % 64, i)
                           for i in range(n))
        sent = threading.Event()

        def send() -> None:
            with socket.create_connection(r.bound) as s:
                s.sendall(payload)
            sent.set()

        t = threading.Thread(target=send, daemon=True)
        t.start()
        wait_for("a commit to block", slow.waiting.is_set)
        wait_for("the connection to pause", lambda: r.counters["paused"] > 0)
        # not read further while nothing commits: the rest waits in the sockets
        assert r.counters["messages"] < n
        slow.gate.set()
        t.join(60)
        wait_for("every message",
                 lambda: r.counters["messages"] == n and r.info()["inflight"] == 0)
    finally:
        slow.gate.set()
        r.close()
        mgr.close()
    assert r.counters["lost"] == 0
    assert len(logs(store)) == n


def test_udp_counts_what_it_drops(store, receiver):
    slow = SlowStore(store)
    mgr = StorageManager(slow, flush_time=0.05, retention_daily=None).start()
    try:
        r = receiver("udp", mgr, max_inflight=1, max_pending=10)
        n = 300
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(b"<14>Nov 22 08:40:01 n1 app: datagram %d" % i, r.bound)
                if i == 0:
                    wait_for("the first commit to block", slow.waiting.is_set)
        wait_for("datagrams to be dropped", lambda: r.counters["lost"] > 0)
        slow.gate.set()
        wait_for("the queue to drain", lambda: r.info()["inflight"] == 0 and not r._pending)
    finally:
        slow.gate.set()
        r.close()
        mgr.close()
    c = r.counters
    assert c["messages"] == len(logs(store))
    assert c["messages"] + c["lost"] <= n
    assert c["lost"] > 0


@pytest.mark.skipif(not os.path.exists("/proc/net/udp"), reason="no /proc/net/udp")
def test_udp_kernel_drops_are_counted():
    """Datagrams sent to a socket whose buffer is full are lost in the kernel: counted."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
        rx.bind(("127.0.0.1", 0))
        assert udp_kernel_drops(rx) == 0
        n = 2000
        for i in range(n):
            tx.sendto(b"<14>Nov 22 08:40:01 n1 app: %d" % i, rx.getsockname())
        rx.setblocking(False)
        got = 0
        while True:
            try:
                rx.recv(2048)
            except BlockingIOError:
                break
            got += 1
        drops = udp_kernel_drops(rx)
    assert drops is not None and drops > 0
    assert got + drops == n


def test_udp_receiver_reports_kernel_drops(store, receiver):
    r = receiver("udp")
    assert r.info()["kernel_drops"] == 0
    assert "kernel_drops" not in receiver("tcp").info()


def test_udp_datagrams_waiting_at_close_are_stored(store, receiver):
    slow = SlowStore(store)
    mgr = StorageManager(slow, flush_time=0.05, retention_daily=None).start()
    try:
        r = receiver("udp", mgr, max_inflight=1)
        n = 50
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<14>Nov 22 08:40:01 n1 app: first", r.bound)
            wait_for("the first commit to block", slow.waiting.is_set)
            for i in range(n):
                s.sendto(b"<14>Nov 22 08:40:01 n1 app: waiting %d" % i, r.bound)
        wait_for("the datagrams to wait", lambda: len(r._pending) == n)
        slow.gate.set()
        r.close()
    finally:
        slow.gate.set()
        mgr.close()
    assert r.counters["lost"] == 0
    assert len(logs(store)) == n + 1


# -- TLS -------------------------------------------------------------------------------------
def test_tls(store, receiver, tmp_path):
    openssl = need("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    r = receiver("tcp", tls=TlsConfig(cert=str(cert), key=str(key)))
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    with socket.create_connection(r.bound) as raw, ctx.wrap_socket(raw) as s:
        counted = b"<12>Nov 22 08:40:01 n8 x"
        s.sendall(b"<11>1 2026-12-03T10:00:00.5Z n9 app - - - over TLS\n"
                  + b"%d %s" % (len(counted), counted))
    got = wait_for("both messages", lambda: len(logs(store)) == 2 and logs(store))
    assert [(g["host"], g["level"], g["message"]) for g in got] == [
        ("n8", "warn", "x"), ("n9", "error", "over TLS")]
    assert got[1]["ts_ns"] == 1796292000_500_000_000


# -- config --------------------------------------------------------------------------------------
def test_config(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    conf = {"collector": {"type": "syslog", "address": "0.0.0.0", "port": "5514",
                          "protocol": "TCP", "cluster": "alex",
                          "tls": {"cert": "c.pem", "key": "k.pem"}}}
    (r,), skipped = parse_receivers(conf, "receivers.json", str(tmp_path))
    assert not skipped
    assert (r.type, r.port, r.protocol, r.cluster) == ("syslog", 5514, "tcp", "alex")
    assert r.tls == TlsConfig(cert=str(tmp_path / "c.pem"), key=str(tmp_path / "k.pem"))


@pytest.mark.parametrize("extra,key", [
    ({"cluster": ""}, "cluster"),
    ({"protocol": "sctp"}, "protocol"),
    ({"tls": {"cert": "c.pem", "key": "k.pem"}}, "tls"),
    ({"protocol": "tcp", "tls": {"cert": "nope.pem", "key": "k.pem"}}, "tls.cert"),
])
def test_config_errors(extra, key):
    conf = {"collector": {"type": "syslog", "port": 514, "cluster": "alex", **extra}}
    with pytest.raises(ConfigError) as info:
        parse_receivers(conf, "receivers.json", "/nonexistent")
    assert info.value.key == f"collector.{key}"
