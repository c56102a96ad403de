"""A nats receiver's NATS client in a process of its own.

nats-py parses every message in Python; in the storing process that work shares one
GIL with the group commit.  Here the client (:class:`~.nats.NatsReceiver`) runs in a
child process (``python -m ccstore.ingest.natsproc FD``) and sends each hand-over's
payloads over a socket pair as one frame; the storing process decodes and submits them
(:class:`~.nats.Storer`) and answers each frame once its commit ended, so the child
acknowledges a JetStream message only after its lines are committed.  The child hands
over only while its frames in flight leave room (the receiver's own bounds), stops on
request after every frame it sent was answered, and exits when the storing process
goes.  :class:`NatsProcess` starts the child, reports it down when it dies and starts
it again.

Frames (pickled tuples), child to parent: ``("batch", id, payloads, names)``,
``("info", dict)``, ``("error", kind)``, ``("log", level, text)``, ``("stopped",)``;
parent to child: ``("start", config, knobs, log level)``, ``("done", id, error)``,
``("stop",)``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ..config import NatsReceiverConfig
from .commit import StorageManager
from .nats import NatsReceiver, Storer

__all__ = ["NatsProcess"]

log = logging.getLogger("ccstore.receivers.nats")

#: seconds between two looks of the child at its receiver's state (sent when changed)
INFO_INTERVAL = 0.2
#: seconds before a child that died is started again (doubling up to RESTART_MAX)
RESTART_DELAY = 0.5
RESTART_MAX = 30.0


# ------------------------------------------------------------------ storing process
class NatsProcess:
    """One nats receiver whose NATS client runs in a child process."""

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
                elif kind == "error":
                    self.storer.count_error(frame[1])
                elif kind == "log":
                    log.log(frame[1], "%s", frame[2])
                elif kind == "stopped":
                    stopped = True
                    break
        except (EOFError, OSError):
            pass
        with self._send_lock:
            self._conn = None
        conn.close()
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


# ------------------------------------------------------------------ child process
class _Remote:
    """The child's outlet: each hand-over one frame to the storing process."""

    def __init__(self, conn: Connection, knobs: Dict[str, int]) -> None:
        self.conn = conn
        self.batch_size = knobs["batch_size"]
        self.commit_rows = knobs["commit_rows"]
        self.max_process = knobs["max_process"]
        self._next = 0
        self._waiting: Dict[int, Callable[[Optional[str]], None]] = {}
        self.stop_requested: Optional[asyncio.Event] = None
        self.gone: Optional[asyncio.Event] = None

    def hand_over(self, payloads: Sequence[bytes], names: Sequence[Union[bytes, str]],
                  done: Callable[[Optional[str]], None]) -> int:
        self._next += 1
        self._waiting[self._next] = done
        self.conn.send(("batch", self._next, payloads, names))
        return len(payloads)

    def count_error(self, kind: str) -> None:
        self.conn.send(("error", kind))

    def readable(self) -> None:
        """The storing process wrote: answers, or the request to stop; or it is gone."""
        assert self.stop_requested is not None and self.gone is not None
        try:
            while self.conn.poll():
                frame = self.conn.recv()
                if frame[0] == "done":
                    self._waiting.pop(frame[1])(frame[2])
                elif frame[0] == "stop":
                    self.stop_requested.set()
        except (EOFError, OSError):
            self.gone.set()


class _Forward(logging.Handler):
    """Sends the child's log records to the storing process, which logs them."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.conn.send(("log", record.levelno, text))
        except Exception:
            pass


async def _child(conn: Connection) -> None:
    kind, config, knobs, level = conn.recv()
    assert kind == "start"
    root = logging.getLogger()
    root.handlers[:] = [_Forward(conn)]
    root.setLevel(level)
    outlet = _Remote(conn, knobs)
    outlet.stop_requested = asyncio.Event()
    outlet.gone = asyncio.Event()
    receiver = NatsReceiver(config, outlet)
    loop = asyncio.get_running_loop()
    loop.add_reader(conn.fileno(), outlet.readable)
    run = asyncio.ensure_future(receiver.run())

    async def report() -> None:
        sent: Dict[str, Any] = {}
        while True:
            info = receiver.info()
            if info != sent:
                conn.send(("info", info))
                sent = info
            await asyncio.sleep(INFO_INTERVAL)

    reporting = asyncio.ensure_future(report())
    waits: List[asyncio.Future] = [asyncio.ensure_future(outlet.stop_requested.wait()),
                                   asyncio.ensure_future(outlet.gone.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if outlet.gone.is_set():
        os._exit(0)  # the storing process went: nothing can be stored or acknowledged
    stopping = asyncio.ensure_future(receiver.stop())
    await asyncio.wait([stopping, waits[1]], return_when=asyncio.FIRST_COMPLETED)
    if outlet.gone.is_set():
        os._exit(0)
    run.cancel()
    reporting.cancel()
    await asyncio.gather(run, reporting, return_exceptions=True)
    conn.send(("info", receiver.info()))
    conn.send(("stopped",))


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    conn = Connection(int(args[0]))
    asyncio.run(_child(conn))
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
