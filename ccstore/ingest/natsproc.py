"""The client process of a nats receiver: ``python -m ccstore.ingest.natsproc FD``.

nats-py parses every message in Python; in the storing process that work would share
one GIL with the group commit.  Here the client (:class:`~.nats.NatsReceiver`) runs
alone and sends each hand-over's payloads over the socket ``FD`` as one frame; the
storing process (:class:`~.nats.NatsProcess`) decodes and submits them and answers
each frame once its commit ended, so a JetStream message is acknowledged only after
its lines are committed.  The client hands over only while its frames in flight leave
room (the receiver's own bounds), stops on request once every frame it sent was
answered, and exits when the storing process goes.  The frames: see
:class:`~.nats.NatsProcess`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from .nats import INFO_INTERVAL, NatsReceiver

__all__ = ["main"]


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

    def acknowledged(self, acked: int, nacked: int) -> None:
        self.conn.send(("acked", acked, nacked))

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
    # a signal to the server's process group (Ctrl-C, a service manager's stop) is for
    # the server, which stops the client once it stops taking messages
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(int(args[0]))
    asyncio.run(_child(conn))
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
