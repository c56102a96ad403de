"""Store.write_stream: a write given as chunks is committed whole or not at all, in one
transaction, on every backend."""
from __future__ import annotations

import pytest

DAY = 86400


def lines(n: int, start: int = 0) -> bytes:
    """Logs and events of two clusters over two days, each line unique."""
    out = []
    for i in range(start, start + n):
        cluster = "alex" if i % 5 else "fritz"
        t = 1740000000 + (i % 7) * DAY // 3 + i
        if i % 4:
            out.append(f'ccb,cluster={cluster},hostname=h{i % 9},loglevel=info '
                       f'log="line {i}" {t}\n')
        else:
            out.append(f'job,cluster={cluster},hostname=h{i % 9} event="line {i}" {t}\n')
    return "".join(out).encode()


def pieces(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


def stored(store) -> list:
    out = []
    for kind in ("log", "event"):
        out += [r.value for r in store.query(["alex", "fritz"], kind, limit=None)]
    return sorted(out)


class ClientGone(Exception):
    pass


def test_a_stream_is_one_write(make_store):
    store = make_store()
    data = lines(3000) + b"not line protocol\n" + lines(10, 3000)[:-1]
    progress = []
    res = store.write_stream(lambda: iter(pieces(data, 4096)), precision="s",
                             progress=lambda n, rows: progress.append((n, rows)))
    assert res.written == 3010 and [e.lineno for e in res.errors] == [3001]
    assert progress[-1] == (3011, 3010)
    assert stored(store) == sorted(f"line {i}" for i in range(3010))


def test_a_stream_that_fails_midway_stores_nothing(make_store):
    """The chunks fail after the backend took batches (PostgreSQL: its COPY ran):
    nothing of the write is stored; the same write again stores each line once."""
    store = make_store()
    store.write(lines(5, 100_000), precision="s")  # the tables exist already
    data = lines(20_000)
    taken = []

    def failing():
        for k, p in enumerate(pieces(data, 32 << 10)):
            if k == 20:
                raise ClientGone()
            yield p

    with pytest.raises(ClientGone):
        store.write_stream(failing, precision="s",
                           progress=lambda n, rows: taken.append(rows))
    assert taken and taken[-1] > 5000
    assert len(stored(store)) == 5
    res = store.write_stream(lambda: iter(pieces(data, 32 << 10)), precision="s")
    assert res.written == 20_000
    assert stored(store) == sorted([f"line {i}" for i in range(20_000)]
                                   + [f"line {i}" for i in range(100_000, 100_005)])
