"""The checkpointer: copies committed WAL pages into a SQLite store's file, in a thread.

The writer then no longer does that work every few commits; it checkpoints itself
only when the WAL outgrows :data:`_WAL_BACKSTOP_PAGES`, i.e. when the thread falls
behind.  Checkpoints are at least :data:`_CHECKPOINT_GAP` apart: one after each of
many small commits would cost each commit a sync of the files.
"""
from __future__ import annotations

import logging

import apsw

log = logging.getLogger("ccstore.sqlite")

#: WAL pages after which the writer checkpoints itself (the checkpoint thread fell behind)
_WAL_BACKSTOP_PAGES = 4096
#: seconds from the end of one checkpoint to the start of the next, at least
_CHECKPOINT_GAP = 0.05


class Checkpointer:
    """The checkpoint thread's loop."""

    def _checkpoint_loop(self, conn: apsw.Connection) -> None:
        try:
            while True:
                self._checkpoint_wanted.wait()
                self._checkpoint_wanted.clear()
                if self._stopping:
                    return
                try:  # PASSIVE: never waits for, nor blocks, the writer or readers
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self._stats["checkpoints"] += 1
                except apsw.Error:
                    log.exception("checkpoint of %s failed", self.path)
                # the commits meanwhile are checkpointed together (on close at once)
                self._checkpoint_pause.wait(_CHECKPOINT_GAP)
        finally:
            conn.close()
