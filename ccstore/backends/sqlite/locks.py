"""The write lock of a SQLite store: granted in the order it was asked for."""
from __future__ import annotations

import threading


class FairLock:
    """A lock granted in the order it was asked for.

    Retention and the sealer take the write lock once per segment; with a plain
    lock the thread that has just released it usually takes it again before a
    waiting writer wakes up, so a writer could wait for a whole retention run.
    Here a waiting writer gets the lock between two segments.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that holds the lock (or may take it)
        self._abandoned: set = set()

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: give the turn away
                self._abandoned.add(ticket)
                self._advance()
                raise

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._advance()

    def waiting(self) -> int:
        """Threads that asked for the lock and do not hold it."""
        with self._cond:
            return max(0, self._next - self._serving - 1 - len(self._abandoned))

    def _advance(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()

    def __enter__(self) -> "FairLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
