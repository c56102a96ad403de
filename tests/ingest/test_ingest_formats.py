"""The HPC log formats and user patterns through Store.ingest, the files receiver and its
config: a mixed directory (each file detected on its own), patterns, and their errors."""
from __future__ import annotations

import json

import pytest

import ccstore
from ccstore.config import ConfigError, parse_receivers
from ccstore.ingest.files import FileReceiver

NS = 1_000_000_000
FILES = {
    "thunderbird.log": "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: "
                       "(root) CMD (run-parts /etc/cron.hourly)\n"
                       "KERNDTLB 1131580000 2005.11.09 cn12 Nov 9 15:46:40 cn12/cn12 kernel: "
                       "data TLB error\n",
    "bgl.log": "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
               "R02-M1-N0-C:J12-U11 RAS KERNEL FATAL data storage interrupt\n",
    "lanl.log": "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component "
                "State Change\n",
    "slurmd.n07.log": "[2026-12-03T10:00:00.123] error: Node n07 not responding\n",
    "syslog": "Nov 22 08:40:01 a0001 sshd[42]: Accepted publickey for root\n",
    "odd.log": "just words\nmore words\n",
}
#: file -> (host, time ns, level, tags besides location and loglevel)
EXPECTED = {
    "thunderbird.log": [("dn228", 1131566461 * NS, "info", {}),
                        ("cn12", 1131580000 * NS, "error", {"alert": "KERNDTLB"})],
    "bgl.log": [("R02-M1-N0-C:J12-U11", 1117838570 * NS + 675872000, "error",
                 {"component": "KERNEL", "severity": "FATAL"})],
    "lanl.log": [("node-246", 1077804742 * NS, "info",
                  {"component": "unix.hw", "state": "state_change.unavailable"})],
    "slurmd.n07.log": [("n07", 1796292000123000000, "error", {})],
    "odd.log": [("me", None, "info", {"parse": "unparsed"}),
                ("me", None, "info", {"parse": "unparsed"})],
}


def stored_logs(store):
    out = {}
    for r in store.query("alex", "log", limit=None, order="asc"):
        d = r.as_dict()
        out.setdefault(d["tags"]["location"].rsplit("/", 1)[-1], []).append(d)
    return out


def check(store):
    got = stored_logs(store)
    for name, expected in EXPECTED.items():
        rows = got[name]
        assert len(rows) == len(expected), name
        for rec, (host, t, level, tags) in zip(rows, expected):
            assert (rec["host"], rec["level"]) == (host, level), name
            extra = {k: v for k, v in rec["tags"].items() if k not in ("location", "loglevel")}
            assert extra == tags, name
            if t is not None:
                assert rec["ts_ns"] == t, name
    assert got["syslog"][0]["host"] == "a0001"


@pytest.fixture
def mixed(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    for name, text in FILES.items():
        (d / name).write_text(text)
    return d


def test_store_ingest_detects_each_file(mixed, tmp_path):
    with ccstore.open(str(tmp_path / "t.db")) as store:
        formats = {}
        for name in FILES:
            res = store.ingest(mixed / name, format="log", cluster="alex", hostname="me",
                               timezone="UTC")
            formats[name] = res.format
            assert res.written == len(FILES[name].splitlines())
        assert formats == {"thunderbird.log": "syslog_export", "bgl.log": "bgl",
                           "lanl.log": "lanl", "slurmd.n07.log": "slurm", "syslog": "auto",
                           "odd.log": "auto"}
        assert res.unparsed == 2 and res.no_host == 2
        check(store)


def test_files_receiver_detects_each_file(mixed, tmp_path):
    with ccstore.open(str(tmp_path / "t.db")) as store:
        rec = FileReceiver(store, [str(mixed / "*")], cluster="alex", hostname="me",
                           timezone="UTC")
        counts = rec.poll_once()
        rec.close()
        assert counts["unparsed"] == 2 and counts["no_host"] == 2
        check(store)


def test_files_receiver_with_a_pattern(tmp_path):
    log = tmp_path / "site.log"
    log.write_text("E|1131566461|dn1|cannot mount\nW|1131566462|dn2|slow\n")
    with ccstore.open(str(tmp_path / "t.db")) as store:
        rec = FileReceiver(store, [str(log)], cluster="alex", hostname="me",
                           pattern="<level>|<time:epoch>|<host>|<msg>")
        rec.poll_once()
        rec.close()
        got = [(r["host"], r["ts_ns"], r["level"])
               for r in stored_logs(store)["site.log"]]
    assert got == [("dn1", 1131566461 * NS, "error"), ("dn2", 1131566462 * NS, "warn")]


def test_store_ingest_with_a_regex(tmp_path):
    log = tmp_path / "r.log"
    log.write_text("1131566461 n9 rack=r1 boom\n")
    with ccstore.open(str(tmp_path / "t.db")) as store:
        res = store.ingest(log, cluster="alex", timezone="UTC",
                           regex=r"(?P<time>\d+) (?P<host>\S+) rack=(?P<rack>\S+) (?P<msg>.*)",
                           time_format="epoch")
        assert res.format == "pattern" and res.no_host == 0
        rec = stored_logs(store)["r.log"][0]
    assert (rec["host"], rec["tags"]["rack"], rec["ts_ns"]) == (
        "n9", "r1", 1131566461 * NS)


def test_store_ingest_refuses_a_bad_pattern_before_reading(tmp_path):
    with ccstore.open(str(tmp_path / "t.db")) as store:
        with pytest.raises(ValueError, match="column"):
            store.ingest(tmp_path / "missing.log", cluster="alex", pattern="<host><msg>")


@pytest.mark.parametrize("extra,key,words", [
    ({"pattern": "<time:fortnight> <msg>"}, "pattern", "unknown time type"),
    ({"regex": "(?P<msg>.*"}, "regex", "regular expression"),
    ({"regex": "(?P<time>\\S+) (?P<msg>.*)", "time_format": "%Q"}, "time_format", "%Q"),
    ({"pattern": "<level> <msg>", "levels": {"E": "loud"}}, "levels", "no loglevel"),
    ({"pattern": "<msg>", "regex": "(?P<msg>.*)"}, "regex", "not both"),
    ({"levels": {"E": "error"}}, "levels", "belongs to a pattern"),
    ({"format": "bgl", "pattern": "<msg>"}, "format", "give one of them"),
    ({"format": "klingon"}, "format", "unknown log format"),
])
def test_config_errors_name_file_and_key(extra, key, words):
    conf = {"site": {"type": "files", "paths": ["/var/log/x.log"], "cluster": "alex", **extra}}
    with pytest.raises(ConfigError, match=words) as info:
        parse_receivers(conf, "receivers.json", "/etc/ccstore")
    assert info.value.file == "receivers.json"
    assert info.value.key == f"site.{key}"


def test_config_takes_a_pattern():
    conf = {"site": {"type": "files", "paths": ["/var/log/x.log"], "cluster": "alex",
                     "pattern": "<level> <host> <msg>", "levels": {"E": "error"}}}
    (r,), _ = parse_receivers(conf, "receivers.json", "/etc/ccstore")
    assert (r.pattern, r.levels, r.regex) == ("<level> <host> <msg>", {"E": "error"}, None)
    assert json.dumps(r.levels)
