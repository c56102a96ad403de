"""The ``nats`` receivers (nats-py): line protocol from NATS subjects into the group commit.

Each hand-over takes the messages that wait (up to ``max_process``), decodes them in one
call as if each were decoded alone (a broken message cannot spill into the next) and
submits them together; hand-overs are taken while the messages or the rows in flight
leave room for two transactions, so transactions fill up under load.  With JetStream a
message is acknowledged only after its lines are committed.  The client side
(:class:`NatsReceiver`) runs in a process of its own by default (:class:`NatsProcess`,
:mod:`.natsproc`), so that nats-py's parsing does not share the GIL with the commits;
the storing side (:class:`Storer`) decodes and submits in the server.
Configuration: ``docs/server.md``; design: ``docs/design/ingest.md``.
"""
from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Deque, Dict, List, Optional, Protocol, Tuple, Union

import nats
import nats.aio.client
from nats.aio.subscription import (DEFAULT_SUB_PENDING_BYTES_LIMIT,
                                   DEFAULT_SUB_PENDING_MSGS_LIMIT)
from nats.errors import SlowConsumerError
from nats.errors import TimeoutError as NatsTimeoutError

from ..config import NatsReceiverConfig
from ..rows import LineError, RowBatch
from .commit import ManagerClosed, StorageManager, Ticket

__all__ = ["NatsProcess", "NatsReceiver", "NatsReceivers", "Outlet", "Storer", "decode_messages"]

log = logging.getLogger("ccstore.receivers.nats")

#: seconds one JetStream fetch waits for messages before it is repeated
FETCH_TIMEOUT = 1.0
#: seconds between two looks of a client process at its receiver's state (sent when
#: changed)
INFO_INTERVAL = 0.2
#: seconds before a client process that died is started again (doubling up to
#: RESTART_MAX)
RESTART_DELAY = 0.5
RESTART_MAX = 30.0
#: a hand-over of a plain subscription may take more than ``max_process`` messages
#: (up to the manager's ``commit_rows``) while they hold fewer bytes than this
HAND_OVER_BYTES = 256 << 10


class Outlet(Protocol):
    """Where a :class:`NatsReceiver` hands its messages over: :class:`Storer` in the
    storing process, or its stand-in in a client process (:mod:`.natsproc`)."""

    batch_size: int
    commit_rows: int
    max_process: int

    def hand_over(self, payloads: Sequence[bytes], names: Sequence[Union[bytes, str]],
                  done: Callable[[Optional[str]], None]) -> int:
        """Decode and submit the messages; ``done(error)`` (any thread) once their commit
        ended, ``error`` None when it succeeded.  Returns their rows, when known (else
        one for each message)."""

    def count_error(self, kind: str) -> None:
        """Count an error of the NATS client (its type name)."""

    def acknowledged(self, acked: int, nacked: int) -> None:
        """The JetStream messages acknowledged and negatively acknowledged so far."""


class NatsReceiver:
    """The NATS client side of one configured nats receiver, living in an asyncio loop
    (of :class:`NatsReceivers` or of a client process): it subscribes or fetches and
    hands the messages over to its :class:`Outlet`, acknowledging JetStream messages
    once the outlet says they were committed."""

    def __init__(self, config: NatsReceiverConfig, outlet: Outlet) -> None:
        self.config = config
        self.outlet = outlet
        self.source = config.name
        self.state = "starting"
        self.last_error: Optional[str] = None
        self.messages = 0
        self.acked = 0
        self.nacked = 0
        self._nc: Any = None
        self._sub: Any = None
        self._stopping = False
        self._sink: Optional[_Sink] = None
        self._wait_task: Optional[asyncio.Future] = None
        self._wake: Optional[asyncio.Event] = None
        self._fetch_task: Optional[asyncio.Task] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        #: a hand-over is taken while fewer messages than this, or fewer rows than
        #: that, are in flight (submitted, not yet committed and acknowledged)
        self._max_messages = 2 * outlet.batch_size
        self._max_rows = 2 * outlet.commit_rows
        self._in_messages = 0
        self._in_rows = 0
        self._pending = 0  # hand-overs in flight
        self._room: Optional[asyncio.Event] = None  # set when a hand-over may be taken
        self._idle: Optional[asyncio.Event] = None  # set when none is in flight
        #: outcomes of commits, put by the committer, taken in the loop by _drain
        self._done: Deque[Tuple[Optional[str], int, Optional[Sequence[Any]], List[int]]] = \
            deque()
        self._drain_scheduled = False
        self._acks: set = set()

    # ------------------------------------------------------------------ life cycle
    async def run(self) -> None:
        """Connect (retrying), subscribe, and hand messages over until stopped."""
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop = asyncio.get_running_loop()
        delay = 0.5
        while not self._stopping:
            try:
                await self._connect()
                break
            except Exception as exc:
                self.state = "connecting"
                self.last_error = str(exc) or type(exc).__name__
                log.warning("nats receiver %s: cannot connect to %s (%s); retrying in %.0fs",
                            self.source, self.config.url, self.last_error, delay)
                await self._pause(delay)
                delay = min(delay * 2, 30.0)
        if self._stopping:
            return
        try:
            if self.config.jetstream is not None:
                await self._run_jetstream()
            else:
                await self._run_plain()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.state = "failed"
            self.last_error = str(exc)
            log.exception("nats receiver %s failed", self.source)

    async def _pause(self, seconds: float) -> None:
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _connect(self) -> None:
        c = self.config
        opts: Dict[str, Any] = {
            "servers": [c.url], "name": f"ccstore-{c.name}", "allow_reconnect": True,
            "max_reconnect_attempts": -1, "reconnect_time_wait": 1, "connect_timeout": 5,
            "error_cb": self._on_error, "disconnected_cb": self._on_disconnect,
            "reconnected_cb": self._on_reconnect,
        }
        if c.user and c.password:
            opts["user"] = c.user
            opts["password"] = c.password
        elif c.nkey_file:
            opts["user_credentials"] = c.nkey_file
        self._nc = _Client()
        await self._nc.connect(**opts)

    async def _on_error(self, exc: Exception) -> None:
        self.last_error = str(exc) or type(exc).__name__
        log.warning("nats receiver %s: %s", self.source, self.last_error)
        self.outlet.count_error(type(exc).__name__)

    async def _on_disconnect(self) -> None:
        if not self._stopping:
            self.state = "disconnected"

    async def _on_reconnect(self) -> None:
        self.state = "subscribed"

    async def stop(self) -> None:
        """Stop taking messages, hand over and commit what was taken, close."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._room is not None:
            self._room.set()
        if self._fetch_task is not None:
            self._fetch_task.cancel()  # an unanswered fetch loses nothing (redelivered)
        if self._wait_task is not None:
            self._wait_task.cancel()
        if self._sub is not None and self._sink is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            while self._sink.payloads:  # what was received is committed
                self._hand_over_waiting()
        while self._idle is not None and not self._idle.is_set():
            await self._idle.wait()
        if self._nc is not None:
            try:
                await self._nc.flush(timeout=2)
            except Exception:
                pass
            try:
                await self._nc.close()
            except Exception:
                pass
        self.state = "stopped"

    # ------------------------------------------------------------------ plain subscription
    async def _run_plain(self) -> None:
        c = self.config
        # no callback: the client puts each message's subject and payload in the sink
        # (within nats-py's default pending limits), and each hand-over takes what waits
        self._sink = sink = _Sink()
        self._sub = await self._nc.subscribe(c.subject, queue=c.queue or "")
        self._nc.sink(self._sub, sink)
        await self._nc.flush()
        self.state = "subscribed"
        log.info("nats receiver %s: subscribed to %s at %s%s", self.source, c.subject, c.url,
                 f" (queue group {c.queue})" if c.queue else "")
        while not self._stopping:
            await self._wait_room()
            if self._stopping:
                break
            if not sink.payloads:
                sink.ready.clear()
                self._wait_task = asyncio.ensure_future(sink.ready.wait())
                try:
                    await self._wait_task
                except asyncio.CancelledError:
                    if self._stopping:
                        break
                    raise
                finally:
                    self._wait_task = None
            self._hand_over_waiting()

    def _hand_over_waiting(self) -> None:
        """Hand over messages waiting in the sink: up to ``max_process``, or up to the
        manager's ``commit_rows`` while they hold fewer than :data:`HAND_OVER_BYTES`
        (small messages are handed over a transaction at once)."""
        assert self._sink is not None
        subjects, payloads = self._sink.take(self.outlet.max_process,
                                             self.outlet.commit_rows, HAND_OVER_BYTES)
        if payloads:
            self._hand_over(payloads, subjects, None)

    # ------------------------------------------------------------------ jetstream
    async def _run_jetstream(self) -> None:
        c = self.config
        assert c.jetstream is not None
        js = self._nc.jetstream()
        try:
            await js.stream_info(c.jetstream.stream)
        except nats.js.errors.NotFoundError:
            log.info("nats receiver %s: creating JetStream stream %s for %s", self.source,
                     c.jetstream.stream, c.subject)
            await js.add_stream(name=c.jetstream.stream, subjects=[c.subject])
        consumer = None
        if c.jetstream.ack_wait is not None:
            consumer = nats.js.api.ConsumerConfig(ack_wait=c.jetstream.ack_wait)
        self._sub = await js.pull_subscribe(c.subject, durable=c.jetstream.durable,
                                            stream=c.jetstream.stream, config=consumer)
        self.state = "subscribed"
        log.info("nats receiver %s: consuming JetStream %s as durable %s", self.source,
                 c.jetstream.stream, c.jetstream.durable)
        while not self._stopping:
            await self._wait_room()
            if self._stopping:
                break
            self._fetch_task = asyncio.ensure_future(
                self._sub.fetch(batch=self.outlet.max_process, timeout=FETCH_TIMEOUT))
            try:
                msgs = await self._fetch_task
            except (NatsTimeoutError, asyncio.TimeoutError):
                continue
            except asyncio.CancelledError:
                if self._stopping:
                    break
                raise
            except Exception as exc:
                self.last_error = str(exc)
                log.warning("nats receiver %s: fetch failed: %s", self.source, exc)
                await self._pause(1.0)
                continue
            finally:
                self._fetch_task = None
            self._hand_over([m.data for m in msgs], [_describe(m) for m in msgs], msgs)

    # ------------------------------------------------------------------ hand-over
    def _has_room(self) -> bool:
        return self._in_messages < self._max_messages or self._in_rows < self._max_rows

    async def _wait_room(self) -> None:
        assert self._room is not None
        while not self._stopping and not self._has_room():
            self._room.clear()
            await self._room.wait()

    def _hand_over(self, payloads: Sequence[bytes], names: Sequence[Union[bytes, str]],
                   acks: Optional[Sequence[Any]]) -> None:
        """Hand the messages' payloads over; ``names``: each message's subject (bytes) or
        description; ``acks``: the JetStream messages, acknowledged after the commit."""
        n = len(payloads)
        self.messages += n
        self._pending += 1
        assert self._idle is not None
        self._idle.clear()
        rows = [0]  # known once handed over; read when the outcome is drained

        def done(error: Optional[str]) -> None:
            self._committed(error, n, acks, rows)

        self._in_messages += n
        rows[0] = self.outlet.hand_over(payloads, names, done)
        self._in_rows += rows[0]

    def _committed(self, error: Optional[str], n: int, acks: Optional[Sequence[Any]],
                   rows: List[int]) -> None:
        """A hand-over's commit ended (called in any thread): its outcome goes to the
        loop, one wake-up for all the outcomes that arrive meanwhile."""
        self._done.append((error, n, acks, rows))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """In the loop: the hand-overs whose commit ended are done; with JetStream
        they are done once acknowledged (negatively when the commit failed)."""
        self._drain_scheduled = False  # before taking: an outcome put later wakes again
        done = self._done
        while done:
            error, n, acks, rows = done.popleft()
            if acks is not None:
                task = asyncio.ensure_future(self._acknowledge(acks, error is not None,
                                                               rows[0]))
                self._acks.add(task)
                task.add_done_callback(self._acks.discard)
            else:
                self._finished(n, rows[0])

    async def _acknowledge(self, msgs: Sequence[Any], failed: bool, rows: int) -> None:
        try:
            for m in msgs:
                try:
                    if failed:
                        await m.nak()
                        self.nacked += 1
                    else:
                        await m.ack()
                        self.acked += 1
                except Exception as exc:
                    log.warning("nats receiver %s: ack failed: %s", self.source, exc)
        finally:
            self.outlet.acknowledged(self.acked, self.nacked)
            self._finished(len(msgs), rows)

    def _finished(self, n: int, rows: int) -> None:
        """A hand-over of ``n`` messages and ``rows`` rows is no longer in flight."""
        self._in_messages -= n
        self._in_rows -= rows
        self._pending -= 1
        assert self._room is not None and self._idle is not None
        if self._has_room():
            self._room.set()
        if not self._pending:
            self._idle.set()

    def info(self) -> Dict[str, Any]:
        c = self.config
        out: Dict[str, Any] = {"type": "nats", "state": self.state, "url": c.url,
                               "subject": c.subject, "messages": self.messages,
                               "in_flight": self._pending}
        if c.queue:
            out["queue"] = c.queue
        if self._sink is not None:
            out["waiting"] = len(self._sink.payloads)
        if c.jetstream is not None:
            out.update(stream=c.jetstream.stream, durable=c.jetstream.durable,
                       acked=self.acked, nacked=self.nacked)
        if self.last_error:
            out["last_error"] = self.last_error
        return out


class Storer:
    """The storing side of a nats receiver: decodes the messages of each hand-over
    together (:func:`decode_messages`), logs rejected lines and submits the rows to the
    group commit; tells the hand-over's ``done`` the outcome of its commit."""

    def __init__(self, config: NatsReceiverConfig, manager: StorageManager) -> None:
        self.config = config
        self.manager = manager
        self.source = config.name
        manager.register_source(self.source)
        self.batch_size = manager.batch_size
        self.commit_rows = manager.commit_rows
        self.max_process = manager.max_process
        self._last_warning = 0.0

    def hand_over(self, payloads: Sequence[bytes], names: Sequence[Union[bytes, str]],
                  done: Callable[[Optional[str]], None]) -> int:
        batches, bad = decode_messages(self.manager.store.decode_rows, payloads,
                                       cluster=self.config.cluster, default_time=time.time_ns())
        n = len(payloads)
        if bad:
            self._warn_bad(names, n, bad)
        rows = sum(b.rows for b in batches)
        try:
            ticket = self.manager.submit(batches, self.source, messages=n)
        except ManagerClosed as exc:
            self._ended(exc, n, done)
            return rows
        ticket.add_done_callback(lambda t: self._ended(t, n, done))
        return rows

    def _ended(self, outcome: Union[Ticket, Exception], n: int,
               done: Callable[[Optional[str]], None]) -> None:
        err = outcome if not isinstance(outcome, Ticket) else outcome.error
        if err is not None:
            log.error("nats receiver %s: %d messages not stored: %s", self.source, n, err)
        done(None if err is None else str(err) or type(err).__name__)

    def count_error(self, kind: str) -> None:
        self.manager.count_error(self.source, kind)

    def acknowledged(self, acked: int, nacked: int) -> None:
        pass  # the receiver, in this process, counts them

    def _warn_bad(self, names: Sequence[Union[bytes, str]], n: int,
                  bad: Sequence[Tuple[int, LineError]]) -> None:
        """Log the first rejected line of a hand-over (at most every 10 s): the
        message (subject; stream sequence with JetStream), its line and column."""
        now = time.monotonic()
        if now - self._last_warning < 10.0:
            return
        self._last_warning = now
        i, err = bad[0]
        name = names[i]
        about = name if isinstance(name, str) else f"a message on {name.decode()}"
        log.warning("nats receiver %s: rejected line in %s: %s (%d rejected lines in %d "
                    "messages)", self.source, about, err, len(bad), n)


class _Sink:
    """The messages of one plain subscription that wait for a hand-over: their
    subjects and payloads, within nats-py's default pending limits."""

    __slots__ = ("max_bytes", "max_msgs", "payloads", "ready", "size", "subjects")

    def __init__(self, max_msgs: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
                 max_bytes: int = DEFAULT_SUB_PENDING_BYTES_LIMIT) -> None:
        self.subjects: List[bytes] = []
        self.payloads: List[bytes] = []
        self.size = 0
        self.max_msgs = max_msgs
        self.max_bytes = max_bytes
        self.ready = asyncio.Event()  # set when a message was put

    def put(self, subject: bytes, data: bytes) -> bool:
        """Keep a message; False (not kept) past the pending limits."""
        if len(self.payloads) >= self.max_msgs or self.size + len(data) > self.max_bytes:
            return False
        self.subjects.append(subject)
        self.payloads.append(data)
        self.size += len(data)
        self.ready.set()
        return True

    def take(self, most: int, small: int, small_bytes: int) -> Tuple[List[bytes], List[bytes]]:
        """The first waiting messages: ``most`` of them, or up to ``small`` while they
        hold fewer than ``small_bytes``."""
        payloads = self.payloads
        n = len(payloads)
        if n > most:
            limit = min(n, max(most, small))
            size = k = 0
            while k < limit and (k < most or size < small_bytes):
                size += len(payloads[k])
                k += 1
            n = k
        if n == len(payloads):
            subjects, self.subjects, self.payloads, self.size = self.subjects, [], [], 0
            return subjects, payloads
        subjects, taken = self.subjects[:n], payloads[:n]
        del self.subjects[:n], self.payloads[:n]
        self.size -= sum(map(len, taken))
        return subjects, taken


class _Client(nats.aio.client.Client):
    """nats-py's client, whose parser gives the messages of a subscription registered
    with :meth:`sink` to that sink: subject and payload, without a ``Msg`` object and an
    asyncio queue for each.  Every other message takes nats-py's own way."""

    def __init__(self) -> None:
        super().__init__()
        self._sinks: Dict[int, _Sink] = {}

    def sink(self, sub: Any, sink: _Sink) -> None:
        """Send the messages of ``sub`` (a subscription without callback) to ``sink``,
        those already in its queue first."""
        self._sinks[sub._id] = sink
        queue = sub._pending_queue
        while not queue.empty():
            m = queue.get_nowait()
            queue.task_done()
            sub._pending_size -= len(m.data)
            sink.put(m.subject.encode(), m.data)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes,
                           headers: Optional[bytes]) -> None:
        sink = self._sinks.get(sid)
        if sink is None:
            return await super()._process_msg(sid, subject, reply, data, headers)
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        if not sink.put(subject, data):
            await self._error_cb(SlowConsumerError(subject=subject.decode(),
                                                   reply=reply.decode(), sid=sid,
                                                   sub=self._subs.get(sid)))


def decode_messages(decode: Callable[..., RowBatch], payloads: Sequence[bytes], *,
                    cluster: Optional[str] = None, default_time: Optional[int] = None,
                    ) -> Tuple[List[RowBatch], List[Tuple[int, LineError]]]:
    """Decode the payloads of several messages as if each were decoded alone.

    ``decode``: :func:`ccstore.lineproto.decode_rows` or one taking the same
    arguments (:meth:`ccstore.Store.decode_rows`).  Returns the batches (one for all
    the messages, or one per message) and the rejected lines as ``(index of the
    message, error)``, the error's line counted within its message.

    The payloads are decoded in one call, joined by newlines, when that gives what
    decoding them one by one gives: when every physical line of the joined text was
    a logical line of its own (it gave one row, one rejection or one dropped line),
    no line ran over into the next message (a quoted string open at the end of a
    message would run on to the end of the text) and no line was blank or a comment.
    Otherwise each payload is decoded on its own.
    """
    if len(payloads) > 1:
        parts = [p[:-1] if p[-1:] == b"\n" else p for p in payloads]
        if all(parts):
            batch = decode(b"\n".join(parts), cluster=cluster, default_time=default_time)
            if batch.rows + len(batch.errors) + sum(batch.dropped.values()) == batch.lines:
                return [batch], _message_errors(batch, parts)
    batches = [decode(p, cluster=cluster, default_time=default_time) for p in payloads]
    return batches, [(i, e) for i, b in enumerate(batches) for e in b.errors]


def _message_errors(batch: RowBatch, parts: Sequence[bytes]) -> List[Tuple[int, LineError]]:
    """The rejected lines of ``batch``, decoded from ``parts`` joined by newlines, each
    renumbered within its part (in place) and paired with the part's index."""
    if not batch.errors:
        return []
    if batch.lines == len(parts):  # one line each
        firsts = None
    else:
        firsts = list(itertools.accumulate((p.count(b"\n") + 1 for p in parts), initial=1))
    out: List[Tuple[int, LineError]] = []
    for e in batch.errors:
        i = e.lineno - 1 if firsts is None else bisect.bisect_right(firsts, e.lineno) - 1
        first = i + 1 if firsts is None else firsts[i]
        out.append((i, LineError(e.lineno - first + 1, e.column, e.message, e.text)))
    batch.errors = [e for _, e in out]
    return out


def _describe(msg: Any) -> str:
    """Which message: its subject, and its stream sequence for a JetStream message."""
    what = f"a message on {msg.subject}"
    if msg.reply and msg.reply.startswith("$JS.ACK."):
        try:
            what += f" (stream sequence {msg.metadata.sequence.stream})"
        except Exception:
            pass
    return what


class NatsProcess:
    """One nats receiver whose NATS client runs in a child process
    (:mod:`.natsproc`): frames of payloads come in, are decoded and submitted by a
    :class:`Storer`, and each is answered once its commit ended.  A child that dies is
    reported down and started again.

    Frames (pickled tuples), child to parent: ``("batch", id, payloads, names)``,
    ``("info", dict)``, ``("acked", acked, nacked)``, ``("error", kind)``,
    ``("log", level, text)``, ``("stopped",)``; parent to child: ``("start", config,
    knobs, log level)``, ``("done", id, error)``, ``("stop",)``."""

    def __init__(self, config: NatsReceiverConfig, manager: StorageManager) -> None:
        self.config = config
        self.source = config.name
        self.storer = Storer(config, manager)
        self.state = "starting"
        self.last_error: Optional[str] = None
        self.messages = 0
        self.restarts = 0
        self.child: Dict[str, Any] = {}  # the child's last report of its receiver
        self._in_flight = 0
        self._proc: Optional[subprocess.Popen] = None
        self._conn: Optional[Connection] = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"ccstore-nats-{self.source}",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Ask the child to stop: it hands over what it took, waits for every answer,
        acknowledges and exits; the frames it sends meanwhile are stored."""
        self._stopping.set()
        self._send(("stop",))
        if self._thread is not None:
            self._thread.join(timeout)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            log.warning("nats receiver %s: the client process did not stop; killed",
                        self.source)
            proc.kill()
            proc.wait()
        self.state = "stopped"

    @property
    def pid(self) -> Optional[int]:
        return None if self._proc is None else self._proc.pid

    def _spawn(self) -> Connection:
        self.child = {}
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "ccstore.ingest.natsproc", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        conn = Connection(ours.detach())
        knobs = {"batch_size": self.storer.batch_size, "commit_rows": self.storer.commit_rows,
                 "max_process": self.storer.max_process}
        with self._send_lock:
            self._conn = conn
            conn.send(("start", self.config, knobs, log.getEffectiveLevel()))
            if self._stopping.is_set():  # close() came while the child was started
                conn.send(("stop",))
        return conn

    def _send(self, frame: Any) -> None:
        with self._send_lock:
            if self._conn is None:
                return
            try:
                self._conn.send(frame)
            except OSError:
                pass  # the child is gone: the reading thread reports it

    def _run(self) -> None:
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            try:
                conn = self._spawn()
            except OSError as exc:
                self.state, self.last_error = "down", f"cannot start the client: {exc}"
                log.error("nats receiver %s: %s", self.source, self.last_error)
            else:
                if self._serve(conn):
                    return
                delay = RESTART_DELAY if self.child.get("messages") else delay
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RESTART_MAX)
            self.restarts += 1

    def _serve(self, conn: Connection) -> bool:
        """Take the child's frames until it stopped (True) or died (False)."""
        stopped = False
        try:
            while True:
                frame = conn.recv()
                kind = frame[0]
                if kind == "batch":
                    self._batch(frame[1], frame[2], frame[3])
                elif kind == "info":
                    self.child = frame[1]
                    self.state = self.child.get("state", self.state)
                    self.last_error = self.child.get("last_error", self.last_error)
                elif kind == "acked":
                    self.child = dict(self.child, acked=frame[1], nacked=frame[2])
                elif kind == "error":
                    self.storer.count_error(frame[1])
                elif kind == "log":
                    log.log(frame[1], "%s", frame[2])
                elif kind == "stopped":
                    stopped = True
                    break
        except (EOFError, OSError):
            pass
        except Exception:
            log.exception("nats receiver %s: a frame of the client process failed",
                          self.source)
        with self._send_lock:
            self._conn = None
        conn.close()  # the child sees the end and exits
        assert self._proc is not None
        code = self._proc.wait()
        if stopped or self._stopping.is_set():
            return True
        self.state = "down"
        self.last_error = f"the client process exited (code {code}); starting it again"
        log.error("nats receiver %s: %s", self.source, self.last_error)
        return False

    def _batch(self, ident: int, payloads: Sequence[bytes],
               names: Sequence[Union[bytes, str]]) -> None:
        self.messages += len(payloads)
        with self._send_lock:
            self._in_flight += 1

        def done(error: Optional[str]) -> None:
            with self._send_lock:
                self._in_flight -= 1
            self._send(("done", ident, error))

        self.storer.hand_over(payloads, names, done)

    def info(self) -> Dict[str, Any]:
        c = self.config
        out: Dict[str, Any] = {"type": "nats", "state": self.state, "url": c.url,
                               "subject": c.subject, "messages": self.messages,
                               "in_flight": self._in_flight, "process": self.pid,
                               "restarts": self.restarts}
        if c.queue:
            out["queue"] = c.queue
        if "waiting" in self.child:
            out["waiting"] = self.child["waiting"]
        if c.jetstream is not None:
            out.update(stream=c.jetstream.stream, durable=c.jetstream.durable,
                       acked=self.child.get("acked", 0), nacked=self.child.get("nacked", 0))
        if self.last_error:
            out["last_error"] = self.last_error
        return out


class NatsReceivers:
    """Runs every nats receiver: each one's NATS client in a process of its own
    (:class:`~.natsproc.NatsProcess`) when its ``process`` is on (the default) or
    ``processes`` is True, the others in one asyncio loop in a background thread."""

    def __init__(self, configs: Sequence[NatsReceiverConfig], manager: StorageManager,
                 processes: Optional[bool] = None) -> None:
        self.processes: List[NatsProcess] = []
        self.receivers: List[NatsReceiver] = []
        for c in configs:
            if c.process if processes is None else processes:
                self.processes.append(NatsProcess(c, manager))
            else:
                self.receivers.append(NatsReceiver(c, Storer(c, manager)))
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._tasks: List[asyncio.Task] = []

    def start(self) -> None:
        for p in self.processes:
            p.start()
        if not self.receivers:
            return
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._tasks = [self._loop.create_task(r.run()) for r in self.receivers]
            self._loop.call_soon(ready.set)
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, name="ccstore-nats", daemon=True)
        self._thread.start()
        ready.wait()

    def close(self, timeout: float = 30.0) -> None:
        """Stop every receiver: what was taken is committed (and acked) first."""
        closing = [threading.Thread(target=p.close, args=(timeout,)) for p in self.processes]
        for t in closing:
            t.start()
        for t in closing:
            t.join()
        if self._loop is None or self._thread is None:
            return
        loop = self._loop

        async def stop_all() -> None:
            await asyncio.gather(*(r.stop() for r in self.receivers), return_exceptions=True)
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(stop_all(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:
            log.warning("stopping the nats receivers: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._loop = None

    def info(self) -> Dict[str, Any]:
        out = {p.source: p.info() for p in self.processes}
        out.update((r.source, r.info()) for r in self.receivers)
        return out
