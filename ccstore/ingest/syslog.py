"""The ``syslog`` receiver: RFC 5424 and RFC 3164 messages over UDP or TCP (TLS optional).

Sites forward syslog from every node to a collector; this receiver is one.  Messages are
parsed by :class:`ccstore.logs.LogParser` (one per peer: a message that names no host is
filed under the sender's address) and handed to the group commit
(:meth:`~ccstore.ingest.commit.StorageManager.submit`) a read at a time.

TCP framing (RFC 6587) is told per message: a frame that starts with a digit is
octet-counted (``LEN SP MSG``), any other runs to the next line feed.  A connection that
has ``max_inflight`` hand-overs waiting for their commit is not read further: the
kernel's buffers fill and the sender waits (backpressure, nothing dropped).  UDP cannot
wait: a datagram that arrives while ``max_pending`` messages wait is dropped and
counted (``lost``), and the datagrams the kernel dropped because the socket's buffer was
full are read from ``/proc/net/udp`` (``kernel_drops``, Linux).  Configuration:
``docs/server.md``; design: ``docs/design/logs.md``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

from ..config import SyslogReceiverConfig
from ..logs import LogParser, log_batch
from .commit import ManagerClosed, StorageManager, Ticket

__all__ = ["SyslogReceiver", "split_frames", "udp_kernel_drops"]

log = logging.getLogger("ccstore.receivers.syslog")

#: the longest message taken (a longer octet count, or a line without its end this
#: long, closes the connection)
MAX_MESSAGE = 1 << 20
#: hand-overs of one TCP connection waiting for their commit before it is read further
MAX_INFLIGHT = 4
#: UDP messages waiting to be handed over before more are dropped
MAX_PENDING = 100_000
#: peers whose parsers are kept (UDP)
MAX_PEERS = 4096

# a frame that starts with a digit is octet-counted, RFC 6587 3.4.1
_OCTET_START = re.compile(rb"(?:^|\n)[0-9]")


def udp_kernel_drops(sock: Any) -> Optional[int]:
    """Datagrams the kernel dropped for the UDP socket ``sock`` (its receive buffer was
    full), from ``/proc/net/udp`` and ``/proc/net/udp6``; None where those do not exist."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except (OSError, ValueError):
        return None
    found = False
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f, None)  # the header
                for line in f:
                    fields = line.split()
                    # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops
                    if len(fields) >= 13 and fields[9] == inode:
                        return int(fields[12])
            found = True
        except OSError:
            continue
    return 0 if found else None


def split_frames(buf: bytes, max_message: int = MAX_MESSAGE
                 ) -> Tuple[List[bytes], int, bool]:
    """``(messages, end, octets)``: the complete frames at the start of ``buf``, the end of
    the last one, and whether any was octet-counted.

    A frame that starts with digits and a space is ``LEN SP MSG`` (octet counting);
    any other ends at a line feed (non-transparent framing), CR LF included.  Empty
    frames are left out.  Raises ValueError for a frame longer than ``max_message``.
    """
    out: List[bytes] = []
    pos = 0
    n = len(buf)
    octets = False
    while pos < n:
        c = buf[pos]
        if 48 <= c <= 57:
            sp = buf.find(b" ", pos, pos + 12)
            if sp > pos and buf[pos:sp].isdigit():
                size = int(buf[pos:sp])
                if size > max_message:
                    raise ValueError(f"a frame of {size} bytes (at most {max_message})")
                end = sp + 1 + size
                if end > n:
                    break
                msg = buf[sp + 1:end].rstrip(b"\r\n\x00")
                if msg:
                    out.append(msg)
                octets = True
                pos = end
                continue
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if n - pos > max_message:
                raise ValueError(f"a line longer than {max_message} bytes")
            break
        msg = buf[pos:nl].rstrip(b"\r\x00")
        if msg:
            out.append(msg)
        pos = nl + 1
    return out, pos, octets


class SyslogReceiver:
    """One configured syslog receiver, in an asyncio loop of its own thread.

    :meth:`start` binds (errors are raised there), :meth:`close` stops accepting,
    commits what was read and closes the connections.
    """

    def __init__(self, config: SyslogReceiverConfig, manager: StorageManager, *,
                 max_inflight: int = MAX_INFLIGHT, max_pending: int = MAX_PENDING,
                 max_message: int = MAX_MESSAGE) -> None:
        self.config = config
        self.manager = manager
        self.source = config.name
        self.max_inflight = max(1, max_inflight)
        self.max_pending = max_pending
        self.max_message = max_message
        manager.register_source(self.source)
        self.state = "starting"
        #: messages read, rows handed over, UDP messages dropped (queue full), TCP
        #: connections accepted and closed for a broken frame, commits that failed,
        #: times a connection stopped being read until its commits caught up
        self.counters: Dict[str, int] = {
            "messages": 0, "rows": 0, "lost": 0, "connections": 0, "bad_frames": 0,
            "commit_failures": 0, "paused": 0}
        self.bound: Optional[Tuple[str, int]] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Any = None
        self._udp: Any = None
        self._conns: set = set()
        self._inflight = 0
        self._idle: Optional[asyncio.Event] = None
        self._parsers: "OrderedDict[str, LogParser]" = OrderedDict()
        self._pending: List[Tuple[str, bytes]] = []
        self._flush_scheduled = False

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Bind and serve in a background thread; raises OSError when the bind fails."""
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: List[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, name=f"ccstore-syslog-{self.source}",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self.state = "down"
            raise failure[0]
        self.state = "listening"
        log.info("syslog receiver %s listening on %s %s:%d%s", self.source,
                 self.config.protocol, *self.bound, " (TLS)" if self.config.tls else "")

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        c = self.config
        host = c.address or None
        if c.protocol == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(c.address or "0.0.0.0", c.port))
            self._udp = transport
            self.bound = transport.get_extra_info("sockname")[:2]
            return
        ctx = None
        if c.tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(c.tls.cert, c.tls.key)
        self._server = await loop.create_server(lambda: _Connection(self), host, c.port,
                                                ssl=ctx, reuse_address=True)
        self.bound = self._server.sockets[0].getsockname()[:2]

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, hand over what was read, wait for its commit, close."""
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            self.state = "down"
            return

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            if self._udp is not None:
                self._udp.close()
            for conn in list(self._conns):
                conn.stop_reading()
            assert self._idle is not None
            deadline = time.monotonic() + timeout
            try:
                while True:  # the datagrams waiting go once the hand-overs before them did
                    await asyncio.wait_for(self._idle.wait(), deadline - time.monotonic())
                    if not self._pending:
                        break
                    self._flush_udp()
            except asyncio.TimeoutError:
                log.warning("syslog receiver %s: %d hand-overs not committed at shutdown",
                            self.source, self._inflight)
            for conn in list(self._conns):
                conn.transport.close()

        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout + 5)
        except Exception as exc:
            log.warning("stopping the syslog receiver %s: %s", self.source, exc)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self.state = "down"

    def info(self) -> Dict[str, Any]:
        """Type, state, address and counters (for statistics and health)."""
        host, port = self.bound or (self.config.address, self.config.port)
        out = {"type": "syslog", "state": self.state,
               "url": f"{self.config.protocol}://{host}:{port}",
               "tls": self.config.tls is not None, "counters": dict(self.counters),
               "connections": len(self._conns), "inflight": self._inflight}
        if self._udp is not None:
            sock = self._udp.get_extra_info("socket")
            out["kernel_drops"] = udp_kernel_drops(sock) if sock is not None else None
        return out

    # ------------------------------------------------------------------ hand-over
    def _parser(self, peer: str) -> LogParser:
        p = self._parsers.get(peer)
        if p is None:
            p = LogParser("auto", hostname=peer, name="syslog", sniff=False)
            self._parsers[peer] = p
            if len(self._parsers) > MAX_PEERS:
                self._parsers.popitem(last=False)
        else:
            self._parsers.move_to_end(peer)
        return p

    def _rows(self, parser: LogParser, data: Optional[bytes], msgs: List[bytes]) -> List[tuple]:
        """Rows of newline-framed ``data`` (whole lines) or of the framed ``msgs``."""
        parser.set_reference_time(None)  # messages without a date: received now
        parser.last_time = None
        if data is not None:
            return parser.feed(data) + parser.flush()
        return parser.messages(msgs)

    def _hand_over(self, rows: List[tuple], messages: int,
                   conn: Optional["_Connection"] = None) -> None:
        """Submit rows to the group commit; a connection is paused while it has
        ``max_inflight`` hand-overs waiting."""
        self.counters["messages"] += messages
        self.counters["rows"] += len(rows)
        try:
            ticket = self.manager.submit([log_batch(self.config.cluster, rows, messages)],
                                         self.source)
        except ManagerClosed:
            self.counters["lost"] += messages
            return
        self._inflight += 1
        assert self._idle is not None
        self._idle.clear()
        if conn is not None:
            conn.inflight += 1
            if conn.inflight >= self.max_inflight:
                conn.pause()
        loop = self._loop
        assert loop is not None
        ticket.add_done_callback(
            lambda t: loop.call_soon_threadsafe(self._committed, t, conn))

    def _committed(self, ticket: Ticket, conn: Optional["_Connection"]) -> None:
        self._inflight -= 1
        if ticket.error is not None:
            self.counters["commit_failures"] += 1
        if conn is not None:
            conn.inflight -= 1
            if conn.inflight < self.max_inflight:
                conn.resume()
        if self._inflight == 0 and self._idle is not None:
            self._idle.set()
        if self._pending and not self._flush_scheduled:
            self._schedule_udp()

    # ------------------------------------------------------------------ UDP
    def _datagram(self, data: bytes, addr: Any) -> None:
        if len(self._pending) >= self.max_pending:
            self.counters["lost"] += 1
            return
        self._pending.append((addr[0], data))
        if not self._flush_scheduled:
            self._schedule_udp()

    def _schedule_udp(self) -> None:
        assert self._loop is not None
        self._flush_scheduled = True
        self._loop.call_soon(self._flush_udp)

    def _flush_udp(self) -> None:
        """Hand the datagrams received so far over, per sender; they wait while the
        store is behind (``max_inflight`` hand-overs waiting)."""
        self._flush_scheduled = False
        if not self._pending or self._inflight >= self.max_inflight:
            return
        pending, self._pending = self._pending, []
        by_peer: Dict[str, List[bytes]] = {}
        for peer, data in pending:
            msg = data.strip(b"\r\n\x00")
            if msg:
                by_peer.setdefault(peer, []).append(msg)
        rows: List[tuple] = []
        for peer, msgs in by_peer.items():
            rows.extend(self._rows(self._parser(peer), None, msgs))
        if rows:
            self._hand_over(rows, len(pending))


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: frames, parses and hands over what each read brings."""

    def __init__(self, receiver: SyslogReceiver) -> None:
        self.rec = receiver
        self.transport: Any = None
        self.parser: Optional[LogParser] = None
        self.buf = b""
        self.inflight = 0
        self.paused = False
        self.stopped = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.parser = self.rec._parser(str(peer[0]) if peer else "")
        self.rec._conns.add(self)
        self.rec.counters["connections"] += 1

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.rec._conns.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.stopped:
            return
        buf = self.buf + data if self.buf else data
        assert self.parser is not None
        rec = self.rec
        if buf[:1] != b"" and not (48 <= buf[0] <= 57) and _OCTET_START.search(buf) is None:
            # newline framing only: the parser takes the lines as they are
            end = buf.rfind(b"\n") + 1
            if end == 0:
                if len(buf) > rec.max_message:
                    self._broken("a line longer than %d bytes" % rec.max_message)
                else:
                    self.buf = buf
                return
            self.buf = buf[end:]
            rows = rec._rows(self.parser, buf[:end], [])
            lines = self.parser.lines
            self.parser.lines = 0
            rec._hand_over(rows, lines, self)
            return
        try:
            msgs, end, _ = split_frames(buf, rec.max_message)
        except ValueError as exc:
            self._broken(str(exc))
            return
        self.buf = buf[end:]
        if msgs:
            rec._hand_over(rec._rows(self.parser, None, msgs), len(msgs), self)
            self.parser.lines = 0

    def eof_received(self) -> bool:
        """The sender is done: a last line without its line feed is a message too."""
        if self.buf and not self.stopped:
            msg = self.buf.rstrip(b"\r\n\x00")
            self.buf = b""
            if msg and not (48 <= msg[0] <= 57 and b" " in msg[:12]):
                assert self.parser is not None
                self.rec._hand_over(self.rec._rows(self.parser, None, [msg]), 1, self)
        return False

    def _broken(self, why: str) -> None:
        peer = self.transport.get_extra_info("peername")
        log.warning("syslog receiver %s: closing the connection of %s: %s", self.rec.source,
                    peer, why)
        self.rec.counters["bad_frames"] += 1
        self.buf = b""
        self.stopped = True
        self.transport.close()

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self.rec.counters["paused"] += 1
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and not self.stopped:
            self.paused = False
            self.transport.resume_reading()

    def stop_reading(self) -> None:
        """Shutting down: nothing more is read (what was read is handed over already)."""
        self.stopped = True
        if not self.paused:
            self.paused = True
            try:
                self.transport.pause_reading()
            except RuntimeError:
                pass


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogReceiver) -> None:
        self.rec = receiver

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.rec._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog receiver %s: %s", self.rec.source, exc)
