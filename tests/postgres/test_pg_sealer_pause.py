"""PostgreSQL: the background sealer lets this instance's writes go first.

Sorting and indexing a full segment competes with writes for the CPU, so the
sealer starts when writes pause for ``SEAL_QUIET_S``, or ``SEAL_DEFER_S`` after
it was woken while writes go on.  The waiting is checked on a simulated clock;
the last test shows a real store sealing once its writes have paused.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402
from ccstore.backends.postgres import PostgresBackend  # noqa: E402
from ccstore.backends.postgres import seal as pg_seal  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from srvutil import wait_until  # noqa: E402


class Clock:
    """Simulated time; waiting advances it.  ``events`` maps a time to a change of
    the backend made when the clock reaches it (a write beginning or ending)."""

    def __init__(self, backend, events=()) -> None:
        self.now = 1000.0
        self.backend = backend
        self.events = sorted(events)
        self.waits = []
        self.stop_at = None

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        end = self.now + timeout
        while self.events and self.events[0][0] <= end:
            at, change = self.events.pop(0)
            self.now = max(self.now, at)
            change(self.backend, self.now)
        self.now = end
        return self.stop_at is not None and self.now >= self.stop_at


def backend_on(clock_events, monkeypatch, writing=False, last_write=None):
    b = PostgresBackend.__new__(PostgresBackend)
    clock = Clock(b, clock_events)
    b._writing = writing
    b._last_write = clock.now - 3600 if last_write is None else clock.now + last_write
    b._stopping = types.SimpleNamespace(wait=clock.wait)
    monkeypatch.setattr(pg_seal, "_time", types.SimpleNamespace(monotonic=clock.monotonic))
    return b, clock


def begin(b, now):
    b._writing = True


def end(b, now):
    b._writing = False
    b._last_write = now


def test_no_recent_write_seals_at_once(monkeypatch):
    b, clock = backend_on([], monkeypatch)
    b._await_pause()
    assert clock.waits == []


def test_a_write_just_ended_waits_for_the_quiet_time(monkeypatch):
    b, clock = backend_on([], monkeypatch, last_write=0.0)
    start = clock.now
    b._await_pause()
    assert clock.now - start == pytest.approx(pg_seal.SEAL_QUIET_S)


def test_writes_that_go_on_defer_sealing_at_most_seal_defer_s(monkeypatch):
    b, clock = backend_on([], monkeypatch, writing=True)
    start = clock.now
    b._await_pause()
    assert clock.now - start == pytest.approx(pg_seal.SEAL_DEFER_S)


def test_back_to_back_writes_defer_until_they_pause(monkeypatch):
    # writes of 0.05 s each with 0.01 s between them for 3 s, then none
    events = []
    t = 1000.0
    while t < 1003.0:
        events += [(t, begin), (t + 0.05, end)]
        t += 0.06
    b, clock = backend_on(events, monkeypatch, writing=True)
    b._await_pause()
    last_end = max(at for at, change in events if change is end)
    assert clock.now == pytest.approx(last_end + pg_seal.SEAL_QUIET_S)
    assert clock.now - 1000.0 < pg_seal.SEAL_DEFER_S


def test_close_ends_the_wait(monkeypatch):
    b, clock = backend_on([], monkeypatch, writing=True)
    clock.stop_at = clock.now + 1.0
    b._await_pause()
    assert clock.now - 1000.0 < pg_seal.SEAL_DEFER_S


def test_a_store_seals_in_the_background_once_its_writes_pause(pg_url):
    lines = "".join(f'ccb,cluster=alex,hostname=h{i % 3},loglevel=info log="m{i}" '
                    f'{1_740_000_000 + i}\n' for i in range(120)).encode()
    with ccstore.open(pg_url, seal_rows=50) as st:
        assert st.write(lines).written == 120
        wait_until(lambda: st.backend.stats()["segments_sealed"] >= 1, "a sealed segment", 60)
        assert len(st.query("alex", "log", limit=None)) == 120
