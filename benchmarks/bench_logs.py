"""Each log format through ``Store.ingest``, and the syslog receiver over TCP.

For each built-in format a deterministic file of ``n`` lines (hosts, programs,
levels and messages from a fixed seed) is written, then stored by
``Store.ingest(path, format=...)`` into a fresh SQLite store (full text off, as
``bench_syslog.py`` measures the store; ``--fulltext`` turns it on).  The reference
of the same run: reading the same file line by line (``for line in open(path, "rb")``),
the floor of any line-based reader.  The ratio is reference time / ingest time.
``auto`` is the same files with the format detected.

``--split`` adds, per format in the same run, where the time of ``Store.ingest`` goes:
parsing alone (``LogParser.feed`` over the file in the chunks ``Store.ingest`` reads)
and the store alone (open a fresh store, ``write_batches`` of those rows, close).

The syslog receiver: one local sender thread writes ``--messages`` RFC 3164
messages over TCP (newline framing, and octet counting) to a receiver in front
of the group commit; timed from the first byte sent to the last row committed,
and every message the receiver accepted is counted in the store.

    python benchmarks/bench_logs.py -n 300000 --messages 300000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ccstore  # noqa: E402
from ccstore.config import SyslogReceiverConfig  # noqa: E402
from ccstore.ingest.commit import StorageManager  # noqa: E402
from ccstore.ingest.syslog import SyslogReceiver  # noqa: E402
from ccstore.logs import LogParser, log_batch  # noqa: E402

START = 1131566461
PROGRAMS = ("crond", "kernel", "sshd", "ntpd", "pbs_mom", "gmetad", "crond(pam_unix)")
MESSAGES = (
    "session opened for user root by (uid={a})",
    "(root) CMD (run-parts /etc/cron.hourly)",
    "synchronized to 10.100.{b}.250, stratum 3",
    "LustreError: 11-0: lustre-MDT0000-mdc: operation mds_connect failed: rc = -{c}",
    "NVRM: Xid (PCI:0000:{b:02x}:00): 79, pid={a}, GPU has fallen off the bus.",
    "Accepted publickey for user{a} from 10.0.{b}.{c} port 22 ssh2",
    "task_check, cannot tm_reply to {a}.tbird-admin1 task {c}",
    "data_thread() got not answer from any [Thunderbird_C{b}] datasource",
)
SEVERITIES = ("INFO",) * 12 + ("WARNING", "SEVERE", "ERROR", "FAILURE", "FATAL")
COMPONENTS = ("KERNEL", "APP", "MMCS", "DISCOVERY", "HARDWARE", "LINKCARD", "MONITOR")
SLURM_LEVELS = ("", "", "", "error: ", "debug:  ", "debug2: ", "verbose: ", "warning: ")


def _msg(rng: random.Random) -> str:
    return rng.choice(MESSAGES).format(a=rng.randrange(100000), b=rng.randrange(256),
                                       c=rng.randrange(1000))


def _alert(rng: random.Random) -> str:
    return "-" if rng.random() < 0.95 else rng.choice(("KERNDTLB", "ECC", "PBS_CHK", "VAPI"))


def gen_syslog_export(n: int, rng: random.Random) -> List[str]:
    out = []
    for i in range(n):
        t = START + i // 1000
        g = time.gmtime(t - 8 * 3600)
        host = f"dn{rng.randrange(1024)}"
        out.append(f"{_alert(rng)} {t} {g.tm_year}.{g.tm_mon:02d}.{g.tm_mday:02d} {host} "
                   f"{time.strftime('%b', g)} {g.tm_mday} {g.tm_hour:02d}:{g.tm_min:02d}:"
                   f"{g.tm_sec:02d} {host}/{host} {rng.choice(PROGRAMS)}[{rng.randrange(99999)}]: "
                   f"{_msg(rng)}")
    return out


def gen_bgl(n: int, rng: random.Random) -> List[str]:
    out = []
    for i in range(n):
        t = START + i // 1000
        g = time.gmtime(t - 7 * 3600)
        loc = f"R{rng.randrange(64):02d}-M{rng.randrange(2)}-N{rng.randrange(16)}-C:J" \
              f"{rng.randrange(2, 18):02d}-U{rng.randrange(2)}1"
        out.append(f"{_alert(rng)} {t} {g.tm_year}.{g.tm_mon:02d}.{g.tm_mday:02d} {loc} "
                   f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d}-{g.tm_hour:02d}.{g.tm_min:02d}."
                   f"{g.tm_sec:02d}.{rng.randrange(1000000):06d} {loc} RAS "
                   f"{rng.choice(COMPONENTS)} {rng.choice(SEVERITIES)} {_msg(rng)}")
    return out


def gen_lanl(n: int, rng: random.Random) -> List[str]:
    states = (("unix.hw", "state_change.unavailable"), ("node", "status"),
              ("action", "start"), ("switch_module", "psu"), ("boot_cmd", "new"))
    out = []
    for i in range(n):
        comp, state = rng.choice(states)
        out.append(f"{100000 + i} node-{rng.randrange(1024)} {comp} {state} {START + i // 1000} 1 "
                   f"{_msg(rng)}")
    return out


def journal_fields(i: int, rng: random.Random) -> Dict[str, str]:
    return {"__CURSOR": f"s=0123456789abcdef;i={i:x}",
            "__REALTIME_TIMESTAMP": str((START + i // 1000) * 1_000_000 + rng.randrange(10**6)),
            "_HOSTNAME": f"n{rng.randrange(1024):04d}", "PRIORITY": str(rng.randrange(3, 8)),
            "SYSLOG_IDENTIFIER": rng.choice(PROGRAMS), "_PID": str(rng.randrange(99999)),
            "_SYSTEMD_UNIT": "slurmd.service", "MESSAGE": _msg(rng)}


def gen_journal_json(n: int, rng: random.Random) -> List[str]:
    return [json.dumps(journal_fields(i, rng)) for i in range(n)]


def gen_journal_export(n: int, rng: random.Random) -> bytes:
    out = []
    for i in range(n):
        fields = journal_fields(i, rng)
        msg = fields.pop("MESSAGE")
        for k, v in fields.items():
            out.append(f"{k}={v}\n".encode())
        if i % 10 == 0:  # a binary field now and then
            data = (msg + "\n\x00").encode()
            out.append(b"MESSAGE\n" + struct.pack("<Q", len(data)) + data + b"\n\n")
        else:
            out.append(f"MESSAGE={msg}\n\n".encode())
    return b"".join(out)


def gen_slurm(n: int, rng: random.Random) -> List[str]:
    out = []
    for i in range(n):
        g = time.gmtime(START + i // 1000)
        step = f"[{rng.randrange(99999)}.batch] " if rng.random() < 0.2 else ""
        out.append(f"[{time.strftime('%Y-%m-%dT%H:%M:%S', g)}.{rng.randrange(1000):03d}] {step}"
                   f"{rng.choice(SLURM_LEVELS)}{_msg(rng)}")
    return out

def gen_syslog(n: int, rng: random.Random) -> List[str]:
    out = []
    for i in range(n):
        g = time.gmtime(START + i // 1000)
        out.append(f"{time.strftime('%b', g)} {g.tm_mday:2d} {g.tm_hour:02d}:{g.tm_min:02d}:"
                   f"{g.tm_sec:02d} n{rng.randrange(1024):04d} {rng.choice(PROGRAMS)}"
                   f"[{rng.randrange(99999)}]: {_msg(rng)}")
    return out


def gen_rfc5424(n: int, rng: random.Random) -> List[str]:
    out = []
    for i in range(n):
        g = time.gmtime(START + i // 1000)
        out.append(f"<{rng.randrange(8, 192)}>1 {time.strftime('%Y-%m-%dT%H:%M:%S', g)}."
                   f"{rng.randrange(10**6):06d}Z n{rng.randrange(1024):04d} "
                   f"{rng.choice(PROGRAMS)} {rng.randrange(99999)} - - {_msg(rng)}")
    return out


def gen_plain(n: int, rng: random.Random) -> List[str]:
    words = ("INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG")
    out = []
    for i in range(n):
        g = time.gmtime(START + i // 1000)
        out.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', g)}.{rng.randrange(1000):03d}Z "
                   f"{rng.choice(words)} {_msg(rng)}")
    return out


def gen_json(n: int, rng: random.Random) -> List[str]:
    return [json.dumps({"time": START + i // 1000, "level": rng.choice(("info", "warn")),
                        "host": f"n{rng.randrange(1024):04d}", "msg": _msg(rng)})
            for i in range(n)]


#: format -> (generator, file name); the bytes generator is journald's export stream
FORMATS: Dict[str, Tuple[Callable[[int, random.Random], object], str]] = {
    "syslog": (gen_syslog, "messages"),
    "rfc5424": (gen_rfc5424, "rfc5424.log"),
    "json": (gen_json, "app.json"),
    "plain": (gen_plain, "app.log"),
    "syslog_export": (gen_syslog_export, "thunderbird.log"),
    "bgl": (gen_bgl, "bgl.log"),
    "lanl": (gen_lanl, "lanl.log"),
    "journal_json": (gen_journal_json, "journal.json"),
    "journal_export": (gen_journal_export, "journal.export"),
    "slurm": (gen_slurm, "slurmctld.log"),
}


#: the formats that "auto" tells line by line
CLASSIC = ("syslog", "rfc5424", "json", "plain")


def write_samples(d: str, n: int) -> Dict[str, str]:
    rng = random.Random(0)
    paths = {}
    for fmt, (gen, name) in FORMATS.items():
        data = gen(n, rng)
        if isinstance(data, list):
            data = ("\n".join(data) + "\n").encode()
        path = paths[fmt] = os.path.join(d, name)
        with open(path, "wb") as fh:
            fh.write(data)
    return paths


def read_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as fh:
        for _ in fh:
            n += 1
    return n


def ingest(path: str, db: str, fmt: str, fulltext: bool) -> Tuple[int, str]:
    store = ccstore.open(db, fulltext=fulltext)
    try:
        r = store.ingest(path, format=fmt, cluster="bench", hostname="bench", timezone="UTC")
        return r.written, r.format
    finally:
        store.close()


def best(repeat: int, fn: Callable[[], object]) -> Tuple[float, object]:
    dt, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = min(dt, time.perf_counter() - t0)
    return dt, out


def bench_files(d: str, n: int, repeat: int, fulltext: bool) -> List[tuple]:
    paths = write_samples(d, n)
    out = []
    k = 0
    for fmt, path in paths.items():
        for given in (fmt, "log"):
            def run() -> Tuple[int, str]:
                nonlocal k
                k += 1
                return ingest(path, os.path.join(d, f"b{k}.db"), given, fulltext)
            dt, (written, read_as) = best(repeat, run)
            # the classic formats are told line by line ("auto"), the others per file
            assert read_as in (fmt, "auto" if fmt in CLASSIC else fmt), (fmt, given, read_as)
            dt_ref, lines = best(repeat, lambda: read_lines(path))
            out.append((fmt if given == fmt else f"{fmt} (auto)", written, dt, dt_ref, lines))
            for name in os.listdir(d):
                if name.startswith("b") and ".db" in name:
                    os.unlink(os.path.join(d, name))
    return out


def parse_file(path: str, fmt: str, chunk_size: int = 4 << 20) -> list:
    """The batches ``Store.ingest`` would store: the file parsed chunk by chunk."""
    p = LogParser(fmt, hostname="bench", location=path, tz="UTC")
    out = []
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            if not chunk:
                break
            out.append(log_batch("bench", p.feed(chunk)))
    out.append(log_batch("bench", p.finish()))
    return out


def store_batches(db: str, batches: list, fulltext: bool) -> None:
    store = ccstore.open(db, fulltext=fulltext)
    try:
        for b in batches:
            store.write_batches([b])
    finally:
        store.close()


def bench_split(d: str, n: int, fulltext: bool) -> List[tuple]:
    """(format, rows, parse s, store s, ingest s, read s) per format, given."""
    paths = write_samples(d, n)
    out = []
    for fmt, path in paths.items():
        t0 = time.perf_counter()
        batches = parse_file(path, fmt)
        t1 = time.perf_counter()
        store_batches(os.path.join(d, "split-store.db"), batches, fulltext)
        t2 = time.perf_counter()
        written, _ = ingest(path, os.path.join(d, "split-ingest.db"), fmt, fulltext)
        t3 = time.perf_counter()
        read_lines(path)
        t4 = time.perf_counter()
        out.append((fmt, written, t1 - t0, t2 - t1, t3 - t2, t4 - t3))
        for name in os.listdir(d):
            if name.startswith("split-"):
                os.unlink(os.path.join(d, name))
    return out


def send(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(payload)


def bench_receiver(d: str, messages: int, octets: bool, fulltext: bool) -> Tuple[float, int, int]:
    """(seconds from the first byte sent to the last row committed, rows stored,
    messages accepted)."""
    rng = random.Random(2)
    lines = [("<%d>" % rng.randrange(8, 192) + m).encode() for m in gen_syslog(messages, rng)]
    if octets:
        payload = b"".join(b"%d %s" % (len(m), m) for m in lines)
    else:
        payload = b"\n".join(lines) + b"\n"
    db = os.path.join(d, f"syslog-{octets}.db")
    store = ccstore.open(db, fulltext=fulltext)
    manager = StorageManager(store, retention_daily=None).start()
    rec = SyslogReceiver(SyslogReceiverConfig(name="syslog", cluster="bench",
                                              address="127.0.0.1", port=0, protocol="tcp"),
                         manager)
    rec.start()
    try:
        t0 = time.perf_counter()
        sender = threading.Thread(target=send, args=(rec.bound[1], payload))
        sender.start()
        sender.join()
        deadline = time.monotonic() + 600
        while rec.counters["messages"] < messages or rec.info()["inflight"]:
            if time.monotonic() > deadline:
                raise SystemExit("the receiver did not take every message in 600 s")
            time.sleep(0.001)
        dt = time.perf_counter() - t0
        accepted = rec.counters["messages"]
    finally:
        rec.close()
        manager.close()
    stored = sum(1 for _ in store.query("bench", "log", limit=None))
    store.close()
    return dt, stored, accepted


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=300_000, help="lines per format (default 300,000)")
    ap.add_argument("--messages", type=int, default=300_000,
                    help="syslog messages over TCP (default 300,000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each, the best counts")
    ap.add_argument("--fulltext", action="store_true", help="full-text index on")
    ap.add_argument("--dir", default=None, help="where to put files (default: a temp dir)")
    ap.add_argument("--split", action="store_true",
                    help="also time parsing alone and the store alone per format")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        if args.split:
            print(f"{args.n:,} lines per format: parsing alone, the store alone (open, write "
                  f"the parsed rows, close), Store.ingest, reading the file line by line; "
                  f"rows/s")
            print(f"{'format':16s} {'parse':>10s} {'store':>10s} {'ingest':>10s} "
                  f"{'read lines':>11s}")
            for fmt, rows, tp, ts, ti, tr in bench_split(d, args.n, args.fulltext):
                print(f"{fmt:16s} {rows / tp:10,.0f} {rows / ts:10,.0f} {rows / ti:10,.0f} "
                      f"{args.n / tr:11,.0f}")
            print()
        rows = bench_files(d, args.n, args.repeat, args.fulltext)
        print(f"{args.n:,} lines per format through Store.ingest (full text "
              f"{'on' if args.fulltext else 'off'}); reference: the same file read line "
              f"by line")
        print(f"{'format':24s} {'rows':>9s} {'rows/s':>10s} {'read lines/s':>13s} "
              f"{'ratio':>6s}")
        for label, written, dt, dt_ref, lines in rows:
            print(f"{label:24s} {written:9,d} {written / dt:10,.0f} {lines / dt_ref:13,.0f} "
                  f"{dt_ref / dt:6.3f}")
        print("rows/s: entries stored per second (one per line, but for journal_export,"
              " whose entries span lines); ratio: reading the file / ingesting it")
        print()
        print(f"syslog receiver over TCP, {args.messages:,} RFC 3164 messages from one "
              f"local sender")
        for octets in (False, True):
            dt, stored, accepted = bench_receiver(d, args.messages, octets, args.fulltext)
            lost = accepted - stored
            print(f"{'octet counting' if octets else 'newline framing':24s} "
                  f"{args.messages / dt:10,.0f} msgs/s, {accepted:,} accepted, {stored:,} "
                  f"stored, {lost:,} lost")
            if lost:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
