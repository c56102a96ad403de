"""Several queries at once on the read pool while a writer writes: every answer is right."""
from __future__ import annotations

import threading
import time

import pytest

psycopg = pytest.importorskip("psycopg")

import ccstore  # noqa: E402

T0 = 1_750_000_000
HOSTS = 5
FIXED = 3000      # rows written before the readers start, cluster "fixed"
BATCH = 200       # rows per write of the concurrent writer, cluster "live"


def fixed_lines() -> str:
    return "".join(f'ccb,cluster=fixed,hostname=h{i % HOSTS},'
                   f'loglevel={("info", "warn", "error")[i % 3]} log="m{i} w{i % 7}" {T0 + i}\n'
                   for i in range(FIXED))


def test_concurrent_queries_on_the_pool_while_writing(pg_url):
    with ccstore.open(pg_url, seal_rows=1000, pool_size=4) as st:
        st.write(fixed_lines(), precision="s")
        st.backend.flush()  # sealed segments (summaries, indexes) and an open one below
        st.write("".join(f'ccb,cluster=fixed,hostname=h0,loglevel=info log="tail {i}" '
                         f"{T0 + FIXED + i}\n" for i in range(10)), precision="s")
        expect_host = {h: [T0 + i for i in range(FIXED) if i % HOSTS == h] for h in range(HOSTS)}
        expect_host[0] += [T0 + FIXED + i for i in range(10)]
        expect_w3 = sorted(T0 + i for i in range(FIXED) if i % 7 == 3)
        stop = threading.Event()
        errors: list = []
        live_batches = [0]
        seen_live: list = []

        def writer() -> None:
            b = 0
            try:
                while not stop.is_set():
                    st.write("".join(
                        f'ccb,cluster=live,hostname=x{i % 3},loglevel=info log="b{b} r{i}" '
                        f"{T0 + b * BATCH + i}\n" for i in range(BATCH)), precision="s")
                    b += 1
                    live_batches[0] = b
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        def reader(k: int) -> None:
            try:
                last_live = 0
                for j in range(12):
                    h = (k + j) % HOSTS
                    got = [r.timestamp for r in st.query("fixed", hosts=f"h{h}", limit=None,
                                                         order="asc")]
                    assert got == expect_host[h], (k, j, h, len(got))
                    lo = T0 + 100 * j
                    got = [r.timestamp for r in st.query("fixed", start=lo, end=lo + 499,
                                                         limit=None, order="asc")]
                    assert got == list(range(lo, lo + 500)), (k, j)
                    got = sorted(r.timestamp for r in st.query("fixed", text="w3", limit=None))
                    assert got == expect_w3, (k, j)
                    counts = dict((lv, n) for lv, n in st.count("fixed"))
                    assert counts == {"info": FIXED // 3 + 10, "warn": FIXED // 3,
                                      "error": FIXED // 3}, (k, j, counts)
                    # the writer's rows appear a whole transaction at a time, never fewer
                    live = sum(n for _lv, n in st.count("live"))
                    assert live % BATCH == 0 and live >= last_live, (k, j, live, last_live)
                    last_live = live
                seen_live.append(last_live)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        wt = threading.Thread(target=writer)
        wt.start()
        deadline = time.monotonic() + 30
        while live_batches[0] < 1 and time.monotonic() < deadline and not errors:
            time.sleep(0.01)
        readers = [threading.Thread(target=reader, args=(k,)) for k in range(6)]
        for t in readers:
            t.start()
        for t in readers:
            t.join(120)
        stop.set()
        wt.join(60)
        assert not errors, errors
        assert len(seen_live) == 6 and max(seen_live) > 0
        # the queries did run at once: the pool had to open more than one connection
        assert st.backend._pool.get_stats()["pool_size"] > 1
        total = live_batches[0] * BATCH
        assert sum(n for _lv, n in st.count("live")) == total
        assert len({(r.timestamp, r.hostname) for r in st.query("live", limit=None)}) == total
