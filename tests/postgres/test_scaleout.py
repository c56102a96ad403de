"""Scale-out: two ``python -m ccstore.server`` processes share one NATS subject (one queue
group, or one JetStream durable consumer) and write into one PostgreSQL database.

100,000 lines are published; every line must be stored exactly once, also when one
instance is stopped midway (JetStream keeps what it had not acknowledged).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("nats")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "server"))
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from srvutil import (NatsServer, ServerProcess, postgres_storage, wait_until,  # noqa: E402
                     write_config)
from workload import iter_lines  # noqa: E402

LINES = 100_000
PER_MESSAGE = 100


@pytest.fixture(scope="module")
def nats_js(tmp_path_factory: pytest.TempPathFactory):
    with NatsServer.running(tmp_path_factory.mktemp("nats-scaleout")) as server:
        yield server


def payloads(cluster: str) -> List[bytes]:
    lines = [ln.replace(b"cluster=alex", b"cluster=" + cluster.encode())
             for ln in iter_lines(LINES, seed=7)]
    return [b"".join(lines[i:i + PER_MESSAGE]) for i in range(0, LINES, PER_MESSAGE)]


def storage_config(postgres_dsn, pg_url: str) -> Dict[str, Any]:
    return postgres_storage(postgres_dsn, pg_url, batch_size=20, max_process=10)


def start_instances(tmp: Path, name: str, storage: Dict[str, Any],
                    receiver: Dict[str, Any]) -> List[ServerProcess]:
    out = []
    for k in range(2):
        config = write_config(tmp / f"{name}{k}", storage=storage, receivers={"nats": receiver})
        out.append(ServerProcess(tmp / f"{name}{k}", ["-config", str(config)]).start())
    for s in out:
        wait_until(lambda s=s: s.stats()["receivers"]["nats"]["state"] == "subscribed",
                   "the nats subscription")
    return out


def stored(url: str, table: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(psycopg.sql.SQL(
            "SELECT count(*), count(DISTINCT (time, hostname, field)) FROM {}").format(
            psycopg.sql.Identifier(table))).fetchone()


def total(url: str, cluster: str) -> int:
    with psycopg.connect(url) as conn:
        n = conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s",
                         (f"{cluster}_logs",)).fetchone()[0]
        if not n:
            return 0
    logs = stored(url, f"{cluster}_logs")[0]
    events = stored(url, f"{cluster}_events")[0] if _exists(url, f"{cluster}_events") else 0
    return logs + events


def _exists(url: str, table: str) -> bool:
    with psycopg.connect(url) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_class WHERE relname = %s",
                                 (table,)).fetchone())


def settled(servers: List[ServerProcess], messages: Optional[int] = None) -> bool:
    """Whether the instances hold nothing they took and have not committed (and took
    ``messages`` messages together, when given)."""
    stats = [s.stats() for s in servers]
    if any(st["receivers"]["nats"]["in_flight"] or st["manager"]["status"]["queued"]
           for st in stats):
        return False
    return messages is None or sum(st["receivers"]["nats"]["messages"]
                                   for st in stats) == messages


def consumer(nats: NatsServer, stream: str, durable: str) -> Tuple[int, int]:
    """(messages not delivered yet, messages delivered and not acknowledged)."""
    async def info(nc: Any) -> Tuple[int, int]:
        ci = await nc.jetstream().consumer_info(stream, durable)
        return ci.num_pending, ci.num_ack_pending
    return nats.run(info)


def check_exactly_once(url: str, cluster: str) -> None:
    logs, logs_distinct = stored(url, f"{cluster}_logs")
    events, events_distinct = stored(url, f"{cluster}_events")
    assert logs + events == LINES
    assert (logs_distinct, events_distinct) == (logs, events)


def test_queue_group_shares_the_stream(tmp_path, nats_js, postgres_dsn, pg_url):
    receiver = {"type": "nats", "address": "127.0.0.1", "port": str(nats_js.port),
                "subject": "scale.log", "queue": "ccstore"}
    servers = start_instances(tmp_path, "q", storage_config(postgres_dsn, pg_url), receiver)
    try:
        nats_js.publish("scale.log", payloads("scaleq"))
        wait_until(lambda: total(pg_url, "scaleq") >= LINES, f"{LINES} stored lines", 120)
        # every message handed over, and nothing in flight: nothing more will land
        wait_until(lambda: settled(servers, LINES // PER_MESSAGE), "both instances idle")
        check_exactly_once(pg_url, "scaleq")
        got = [s.stats()["receivers"]["nats"]["messages"] for s in servers]
        assert sum(got) == LINES // PER_MESSAGE and min(got) > 0, got
        for s in servers:
            assert s.stop() == 0
    finally:
        for s in servers:
            s.kill()


def test_jetstream_instance_stopped_midway(tmp_path, nats_js, postgres_dsn, pg_url):
    async def add(nc: Any) -> None:
        await nc.jetstream().add_stream(name="SCALE", subjects=["scalejs.>"])

    nats_js.run(add)
    receiver = {"type": "nats", "address": "127.0.0.1", "port": str(nats_js.port),
                "subject": "scalejs.>", "queue": "ccstore",
                "jetstream": {"stream": "SCALE", "durable": "ccstore", "ack_wait": "5s"}}
    servers = start_instances(tmp_path, "js", storage_config(postgres_dsn, pg_url), receiver)
    try:
        nats_js.publish("scalejs.log", payloads("scalejs"))
        wait_until(lambda: total(pg_url, "scalejs") >= LINES // 4, "a quarter stored", 120)
        assert servers[0].stop() == 0  # midway: the other instance takes the rest
        wait_until(lambda: total(pg_url, "scalejs") >= LINES, f"{LINES} stored lines", 120)
        # every message acknowledged (none will be delivered again), nothing in flight
        wait_until(lambda: consumer(nats_js, "SCALE", "ccstore") == (0, 0)
                   and settled(servers[1:]), "the stream consumed and acknowledged")
        check_exactly_once(pg_url, "scalejs")
        assert servers[1].stop() == 0
    finally:
        for s in servers:
            s.kill()
