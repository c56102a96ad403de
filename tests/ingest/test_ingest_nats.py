"""The nats receivers: the messages of a hand-over decoded together as if one by one
(against both decoders), a burst of single-line messages with bad ones among them, and
JetStream acknowledging only after the commit, against a real nats-server."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lpinputs import arbitrary, cc_messages, mutated

from ccstore.backends.base import merge_groups
from ccstore.config import JetStreamConfig, NatsReceiverConfig
from ccstore.ingest.commit import StorageManager
from ccstore.ingest.nats import NatsReceivers, _Client, _Sink, decode_messages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from srvutil import NatsServer, wait_until  # noqa: E402

NOW = 1740027951000000000


# ------------------------------------------------------------------ decode_messages
def one_by_one(lp: Any, payloads: List[bytes]) -> Any:
    batches = [lp.decode_rows(p, default_time=NOW, cluster="dc") for p in payloads]
    return canon(batches, [(i, e) for i, b in enumerate(batches) for e in b.errors])


def together(lp: Any, payloads: List[bytes]) -> Any:
    batches, bad = decode_messages(lp.decode_rows, payloads, default_time=NOW, cluster="dc")
    # the batches' own errors are the rejected lines, renumbered within their message
    assert [e for b in batches for e in b.errors] == [e for _, e in bad]
    return canon(batches, bad)


def canon(batches: List[Any], bad: List[Any]) -> Any:
    dropped: Dict[str, int] = {}
    for b in batches:
        for k, n in b.dropped.items():
            dropped[k] = dropped.get(k, 0) + n
    return (list(merge_groups(b.groups for b in batches).items()), sorted(dropped.items()),
            [(i, e.lineno, e.column, e.message, e.text) for i, e in bad])


payload = st.one_of(
    cc_messages(), cc_messages(), mutated(), arbitrary,
    st.sampled_from([b"", b"\n", b"# comment", b'ccb,cluster=a log="open', b'more" 1',
                     b"ccb,cluster=a log=\"x\" 1\n\n", b'job event="a\nb" 1740027951\n']),
    cc_messages().map(lambda m: m + b"\n"))


@given(st.lists(payload, min_size=1, max_size=12))
@example([b'ccb,cluster=a log="open', b'more" 1740027951', b'ccb log="x"'])
@example([b'ccb log="a"', b'ccb log="b', b'ccb log="c"', b'ccb log="d"'])
@example([b'ccb log="a"\n', b"ccb log=\"b\"\r\n", b"ccb log=\\", b'ccb log="c"'])
def test_a_hand_over_decodes_as_its_messages_one_by_one(impls: Any,
                                                        payloads: List[bytes]) -> None:
    for lp in impls:
        assert together(lp, payloads) == one_by_one(lp, payloads), lp.name


def test_single_line_messages_are_decoded_in_one_call(lp: Any) -> None:
    calls: List[int] = []  # the lines of each call

    def decode(data: bytes, **kw: Any) -> Any:
        calls.append(len(data.splitlines()))
        return lp.decode_rows(data, **kw)

    payloads = [b'ccb,hostname=h%d log="m %d" %d' % (i, i, 1740027951 + i) for i in range(50)]
    payloads[20] = b"ccb,hostname=h20 log=broken 1740027971"
    payloads[30] = b'ccb,hostname=h30 log="m 30" 1740027981\n'
    batches, bad = decode_messages(decode, payloads, cluster="dc")
    assert calls == [50] and len(batches) == 1 and batches[0].rows == 49
    assert [(i, e.lineno, e.column) for i, e in bad] == [(20, 1, 22)]
    # a message whose quoted string stays open: each message is decoded on its own
    payloads[40] = b'ccb,hostname=h40 log="open 1740027991'
    calls.clear()
    batches, bad = decode_messages(decode, payloads, cluster="dc")
    assert calls == [50] + [1] * 50 and sum(b.rows for b in batches) == 48
    assert [(i, e.lineno) for i, e in bad] == [(20, 1), (40, 1)]


# ------------------------------------------------------------------ against nats-server
@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer.running(tmp_path_factory.mktemp("nats-ingest")) as server:
        yield server


@pytest.fixture(params=[True, False], ids=["process", "thread"])
def processes(request: Any) -> bool:
    """Each receiver's NATS client in a process of its own, or in a thread."""
    return request.param


def event(i: int) -> bytes:
    return (f"ccb,cluster=burst,hostname=n{i % 7},type=node,type-id=0,loglevel=info "
            f'log="message {i}" {1740000000 + i}').encode()


def stored(store: Any, cluster: str) -> List[str]:
    return sorted(r.value for r in store.query(cluster, limit=None))


class Gate:
    """Holds the store's commits until :attr:`go` is set; the first ``fail`` of them
    then fail."""

    def __init__(self, store: Any, fail: int = 0) -> None:
        self.entered = threading.Event()
        self.go = threading.Event()
        self.fail = fail
        real = store.write_batches

        def write_batches(batches: Any, **kw: Any) -> Any:
            self.entered.set()
            assert self.go.wait(60), "the test never let the commit through"
            if self.fail:
                self.fail -= 1
                raise RuntimeError("commit refused by the test")
            return real(batches, **kw)

        store.write_batches = write_batches


def test_a_burst_of_single_line_messages_with_bad_ones(store: Any, nats_server: NatsServer,
                                                       caplog: Any, processes: bool) -> None:
    n = 400
    payloads = [event(i) for i in range(n)]
    payloads[150] = b"ccb,cluster=burst,hostname=n1 log=unquoted 1740000150"
    payloads[250] = b'ccb,cluster=burst,hostname=n2 log="never closed 1740000250'
    cfg = NatsReceiverConfig(name="in", subject=f"burst{int(processes)}.>",
                             address="127.0.0.1", port=nats_server.port)
    caplog.set_level(logging.WARNING, logger="ccstore.receivers.nats")
    with StorageManager(store, batch_size=1000, max_process=100,
                        retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager, processes=processes)
        receivers.start()
        try:
            wait_until(lambda: receivers.info()["in"]["state"] == "subscribed",
                       "the subscription")
            nats_server.publish(f"burst{int(processes)}.log", payloads)
            wait_until(lambda: manager.stats()["sources"]["in"]["messages"] == n,
                       f"{n} messages taken")
        finally:
            receivers.close()
        st = manager.stats()["sources"]["in"]
    assert (st["received"], st["written"], st["errors"]) == (n, n - 2, {"syntax": 2})
    assert stored(store, "burst") == sorted(f"message {i}" for i in range(n)
                                            if i not in (150, 250))
    warned = [r.getMessage() for r in caplog.records if "rejected line" in r.getMessage()]
    assert warned and f"a message on burst{int(processes)}.log: line 1, column " in warned[0]


def test_jetstream_acks_only_after_the_commit(store: Any, nats_server: NatsServer,
                                             processes: bool) -> None:
    """The commit is held: nothing is acknowledged; it fails: every message of it is
    negatively acknowledged, none acknowledged; delivered again, they are stored once
    and acknowledged."""
    n = 60
    stream, durable = f"IJS{int(processes)}", "ccstore"
    cluster = b"ijs%d" % processes

    async def setup(nc: Any) -> None:
        await nc.jetstream().add_stream(name=stream, subjects=[f"{stream}.>"])
        for i in range(n):
            await nc.jetstream().publish(f"{stream}.log", event(i).replace(b"=burst",
                                                                           b"=" + cluster))

    async def consumer(nc: Any) -> Dict[str, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return {"ack_floor": ci.ack_floor.consumer_seq, "ack_pending": ci.num_ack_pending,
                "waiting": ci.num_waiting, "pending": ci.num_pending}

    nats_server.run(setup)  # all waiting before the consumer's first fetch
    gate = Gate(store, fail=1)
    cfg = NatsReceiverConfig(name="js", subject=f"{stream}.>", address="127.0.0.1",
                             port=nats_server.port,
                             jetstream=JetStreamConfig(stream=stream, durable=durable,
                                                       ack_wait=1.0))
    with StorageManager(store, batch_size=1000, max_process=100,
                        retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager, processes=processes)
        receivers.start()
        try:
            assert gate.entered.wait(60), "no commit began"
            # the receiver fetches again while the commit is held: what it would
            # have acknowledged before that fetch has reached the server
            held = wait_until(lambda: (lambda c: c if c["waiting"] else None)(
                nats_server.run(consumer)), "the next fetch")
            info = receivers.info()["js"]
            assert (info["acked"], info["nacked"]) == (0, 0)
            assert held["ack_floor"] == 0 and held["ack_pending"] == n, held
            gate.go.set()  # the first commit fails, the next ones succeed
            wait_until(lambda: receivers.info()["js"]["acked"] == n, "every message acked")
            info = receivers.info()["js"]
            assert info["nacked"] == n
            wait_until(lambda: nats_server.run(consumer)["ack_pending"] == 0,
                       "the server to count every acknowledgement")
        finally:
            gate.go.set()
            receivers.close()
    assert stored(store, cluster.decode()) == sorted(f"message {i}" for i in range(n))


def test_what_was_received_is_stored_on_stop(store: Any, nats_server: NatsServer,
                                             processes: bool) -> None:
    """The commit is held, so the receiver takes no more and the messages wait in the
    subscription; stopping it commits them all."""
    n = 50
    gate = Gate(store)
    cfg = NatsReceiverConfig(name="stop", subject=f"stop{int(processes)}.>",
                             address="127.0.0.1", port=nats_server.port)
    with StorageManager(store, batch_size=2, max_process=1, commit_rows=0,
                        retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager, processes=processes)
        receivers.start()
        try:
            wait_until(lambda: receivers.info()["stop"]["state"] == "subscribed",
                       "the subscription")
            nats_server.publish(f"stop{int(processes)}.log", [event(i).replace(b"=burst", b"=stop")
                                             for i in range(n)])
            assert gate.entered.wait(60), "no commit began"
            wait_until(lambda: (lambda i: i["messages"] + i["waiting"])(
                receivers.info()["stop"]) == n, "every message received")
            assert receivers.info()["stop"]["messages"] < n
            closing = threading.Thread(target=receivers.close)
            closing.start()
            gate.go.set()
            closing.join(60)
            assert not closing.is_alive()
        finally:
            gate.go.set()
            receivers.close()
    assert stored(store, "stop") == sorted(f"message {i}" for i in range(n))


# ------------------------------------------------------------------ the sink
@pytest.mark.parametrize("sizes, most, small, small_bytes, taken", [
    ([10] * 8, 3, 0, 100, 3),  # max_process
    ([10] * 8, 3, 5, 100, 5),  # more, up to ``small`` messages
    ([10] * 8, 3, 100, 100, 8),  # all
    ([10] * 8, 3, 100, 35, 4),  # more while fewer than small_bytes were taken
    ([50] * 8, 3, 100, 35, 3),  # never fewer than max_process
    ([10] * 2, 3, 0, 0, 2),
])
def test_the_sink_hands_over_max_process_or_small_messages_up_to_a_size(
        sizes: List[int], most: int, small: int, small_bytes: int, taken: int) -> None:
    sink = _Sink()
    for i, n in enumerate(sizes):
        assert sink.put(b"s.%d" % i, bytes(n))
    subjects, payloads = sink.take(most, small, small_bytes)
    assert subjects == [b"s.%d" % i for i in range(taken)]
    assert [len(p) for p in payloads] == sizes[:taken]
    assert (len(sink.payloads), sink.size) == (len(sizes) - taken, sum(sizes[taken:]))
    assert sink.subjects == [b"s.%d" % i for i in range(taken, len(sizes))]


def test_the_sink_keeps_messages_within_its_limits() -> None:
    sink = _Sink(max_msgs=3, max_bytes=25)
    assert [sink.put(b"s", bytes(n)) for n in (10, 10, 6, 5, 1, 1)] == [
        True, True, False, True, False, False]
    sink.take(1, 0, 0)
    assert sink.put(b"s", bytes(1)) and sink.size == 16


def test_the_client_gives_a_subscription_s_messages_to_its_sink(
        nats_server: NatsServer) -> None:
    """Messages that came before the sink first; past its limits a message is dropped
    and reported as nats-py reports a slow consumer; other subscriptions as before."""
    errors: List[Exception] = []

    async def main() -> Any:
        async def error_cb(exc: Exception) -> None:
            errors.append(exc)

        nc = _Client()
        await nc.connect(nats_server.url, error_cb=error_cb)
        try:
            sub = await nc.subscribe("sink.>")
            other = await nc.subscribe("other.>")
            for i in range(3):
                await nc.publish("sink.early", b"early %d" % i)
            await nc.flush()
            for _ in range(600):
                if sub.pending_msgs == 3:
                    break
                await asyncio.sleep(0.05)
            sink = _Sink(max_msgs=5)
            nc.sink(sub, sink)
            assert sub.pending_msgs == 0 and sub.pending_bytes == 0
            for i in range(4):
                await nc.publish(f"sink.late.{i}", b"late %d" % i)
            await nc.publish("other.x", b"other")
            await nc.flush()
            msg = await other.next_msg(timeout=30)  # comes after those on sink.>
            return sink.take(100, 0, 0), msg.data
        finally:
            await nc.close()

    (subjects, payloads), other = asyncio.run(main())
    assert payloads == [b"early 0", b"early 1", b"early 2", b"late 0", b"late 1"]
    assert subjects == [b"sink.early"] * 3 + [b"sink.late.0", b"sink.late.1"]
    assert other == b"other"
    assert [type(e).__name__ for e in errors] == ["SlowConsumerError"] * 2
    assert "sink.late.2" in str(errors[0])


# ------------------------------------------------------------------ the client process
def test_a_killed_client_process_is_reported_down(store: Any, nats_server: NatsServer,
                                                  monkeypatch: Any) -> None:
    """Killed, the client process leaves the receiver down (a state health and metrics
    count as down) with the reason, until it is started again."""
    from ccstore.ingest import nats as natsproc
    from ccstore.server.monitor import DOWN_STATES

    monkeypatch.setattr(natsproc, "RESTART_DELAY", 3600.0)
    cfg = NatsReceiverConfig(name="k", subject="kill.>", address="127.0.0.1",
                             port=nats_server.port)
    with StorageManager(store, retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager)
        receivers.start()
        try:
            wait_until(lambda: receivers.info()["k"]["state"] == "subscribed",
                       "the subscription")
            os.kill(receivers.info()["k"]["process"], signal.SIGKILL)
            wait_until(lambda: receivers.info()["k"]["state"] == "down", "down reported")
            info = receivers.info()["k"]
            assert "down" in DOWN_STATES
            assert "the client process exited (code -9)" in info["last_error"]
        finally:
            receivers.close()
    assert receivers.info()["k"]["state"] == "stopped"


def test_a_killed_client_process_is_started_again(store: Any, nats_server: NatsServer,
                                                  monkeypatch: Any) -> None:
    from ccstore.ingest import nats as natsproc

    monkeypatch.setattr(natsproc, "RESTART_DELAY", 0.01)
    cfg = NatsReceiverConfig(name="r", subject="again.>", address="127.0.0.1",
                             port=nats_server.port)
    with StorageManager(store, retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager)
        receivers.start()
        try:
            wait_until(lambda: receivers.info()["r"]["state"] == "subscribed",
                       "the subscription")
            first = receivers.info()["r"]["process"]
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: (lambda i: i["restarts"] == 1 and i["state"] == "subscribed")(
                receivers.info()["r"]), "the client started again")
            assert receivers.info()["r"]["process"] != first
            nats_server.publish("again.log", [event(i).replace(b"=burst", b"=again")
                                              for i in range(20)])
            wait_until(lambda: manager.stats()["sources"]["r"]["messages"] == 20,
                       "20 messages taken")
        finally:
            receivers.close()
    assert stored(store, "again") == sorted(f"message {i}" for i in range(20))


def test_jetstream_a_client_killed_before_the_commit_acknowledges_nothing(
        store: Any, nats_server: NatsServer, monkeypatch: Any) -> None:
    """The commit is held, the client process killed: nothing is acknowledged; the
    commit lands; the messages come again (ack_wait) to the new client, are stored
    again and acknowledged; every message is stored."""
    from ccstore.ingest import nats as natsproc

    monkeypatch.setattr(natsproc, "RESTART_DELAY", 0.01)
    n, stream, durable = 30, "KJS", "ccstore"

    async def setup(nc: Any) -> None:
        await nc.jetstream().add_stream(name=stream, subjects=["kjs.>"])
        for i in range(n):
            await nc.jetstream().publish("kjs.log", event(i).replace(b"=burst", b"=kjs"))

    async def consumer(nc: Any) -> Dict[str, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return {"ack_floor": ci.ack_floor.consumer_seq, "ack_pending": ci.num_ack_pending,
                "waiting": ci.num_waiting}

    nats_server.run(setup)
    gate = Gate(store)
    cfg = NatsReceiverConfig(name="kjs", subject="kjs.>", address="127.0.0.1",
                             port=nats_server.port,
                             jetstream=JetStreamConfig(stream=stream, durable=durable,
                                                       ack_wait=1.0))
    with StorageManager(store, batch_size=1000, max_process=100,
                        retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager)
        receivers.start()
        try:
            assert gate.entered.wait(60), "no commit began"
            # the client fetches again while the commit is held: what it would have
            # acknowledged before that fetch has reached the server
            held = wait_until(lambda: (lambda c: c if c["waiting"] else None)(
                nats_server.run(consumer)), "the next fetch")
            assert held["ack_floor"] == 0 and held["ack_pending"] == n, held
            first = receivers.info()["kjs"]["process"]
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: receivers.info()["kjs"]["process"] != first,
                       "the client started again")
            gate.go.set()
            wait_until(lambda: manager.stats()["sources"]["kjs"]["written"] >= 2 * n,
                       "the messages stored again")
            wait_until(lambda: nats_server.run(consumer)["ack_pending"] == 0
                       and nats_server.run(consumer)["ack_floor"] >= n,
                       "every message acknowledged")
        finally:
            gate.go.set()
            receivers.close()
    assert sorted(set(stored(store, "kjs"))) == sorted(f"message {i}" for i in range(n))


def test_jetstream_stop_with_messages_in_flight_acknowledges_after_commit(
        store: Any, nats_server: NatsServer) -> None:
    """Stopped while its commit is held, the receiver acknowledges nothing; once the
    commit lands every message is acknowledged and the stop ends."""
    n, stream, durable = 40, "SJS", "ccstore"

    async def setup(nc: Any) -> None:
        await nc.jetstream().add_stream(name=stream, subjects=["sjs.>"])
        for i in range(n):
            await nc.jetstream().publish("sjs.log", event(i).replace(b"=burst", b"=sjs"))

    async def consumer(nc: Any) -> Dict[str, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return {"ack_floor": ci.ack_floor.consumer_seq, "ack_pending": ci.num_ack_pending}

    nats_server.run(setup)
    gate = Gate(store)
    cfg = NatsReceiverConfig(name="sjs", subject="sjs.>", address="127.0.0.1",
                             port=nats_server.port,
                             jetstream=JetStreamConfig(stream=stream, durable=durable,
                                                       ack_wait=60.0))
    with StorageManager(store, batch_size=1000, max_process=100,
                        retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager)
        receivers.start()
        try:
            assert gate.entered.wait(60), "no commit began"
            closing = threading.Thread(target=receivers.close)
            closing.start()
            assert nats_server.run(consumer)["ack_floor"] == 0
            assert receivers.info()["sjs"]["acked"] == 0
            gate.go.set()
            closing.join(60)
            assert not closing.is_alive()
        finally:
            gate.go.set()
            receivers.close()
        info = receivers.info()["sjs"]
    assert (info["acked"], info["nacked"], info["state"]) == (n, 0, "stopped")
    assert nats_server.run(consumer) == {"ack_floor": n, "ack_pending": 0}
    assert stored(store, "sjs") == sorted(f"message {i}" for i in range(n))


def test_the_client_process_leaves_sigterm_and_sigint_to_the_server(
        store: Any, nats_server: NatsServer) -> None:
    """A signal to the server's process group does not end the client: the server
    stops it once it stops taking messages."""
    cfg = NatsReceiverConfig(name="sig", subject="sig.>", address="127.0.0.1",
                             port=nats_server.port)
    with StorageManager(store, retention_daily=None) as manager:
        receivers = NatsReceivers([cfg], manager)
        receivers.start()
        try:
            wait_until(lambda: receivers.info()["sig"]["state"] == "subscribed",
                       "the subscription")
            pid = receivers.info()["sig"]["process"]
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGINT)
            nats_server.publish("sig.log", [event(i).replace(b"=burst", b"=sig")
                                            for i in range(10)])
            wait_until(lambda: manager.stats()["sources"]["sig"]["messages"] == 10,
                       "10 messages taken")
            info = receivers.info()["sig"]
            assert (info["process"], info["restarts"], info["state"]) == (pid, 0, "subscribed")
        finally:
            receivers.close()
    assert stored(store, "sig") == sorted(f"message {i}" for i in range(10))
