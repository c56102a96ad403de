"""The Go program's config files: read unchanged, errors name file and key; the command line."""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from ccstore.config import (
    ConfigError,
    HttpReceiverConfig,
    NatsReceiverConfig,
    default_config,
    load_config,
)

# The Go repository's own sample files (cc-event-store: config.json, receivers.json,
# storage.json, api.json), verbatim.
GO_CONFIG = {"receivers-file": "./receivers.json", "api-file": "./api.json",
             "storage-file": "./storage.json"}
GO_RECEIVERS = {
    "testclusternats": {"type": "nats", "address": "localhost", "port": "4222",
                        "subject": "testcluster"},
    "meggienats": {"type": "nats", "address": "localhost", "port": "4222", "subject": "meggie"},
}
GO_STORAGE = {"retention_time": "48h", "flush_time": "10s",
              "backend": {"type": "sqlite", "database_path": "./mydata.db",
                          "username": "myuser", "password": "mypass"}}
GO_API = {"addr": "127.0.0.1", "port": "8098"}


def write_files(d: Path, files: dict) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (d / name).write_text(data if isinstance(data, str) else json.dumps(data))


def go_sample(d: Path, **override: dict) -> Path:
    files = {"config.json": GO_CONFIG, "receivers.json": GO_RECEIVERS,
             "storage.json": GO_STORAGE, "api.json": GO_API}
    files.update(override)
    write_files(d, files)
    return d / "config.json"


def test_go_repository_sample_files_load_with_go_defaults(tmp_path: Path) -> None:
    cfg = load_config(go_sample(tmp_path / "etc"))
    assert cfg.storage.retention_time == 48 * 3600
    assert cfg.storage.flush_time == 10
    assert (cfg.storage.batch_size, cfg.storage.max_process, cfg.storage.store_logs) == (20, 10,
                                                                                         True)
    assert cfg.storage.backend.type == "sqlite"
    # relative to the file naming it, not to the working directory
    assert cfg.storage.backend.target == str(tmp_path / "etc" / "mydata.db")
    assert (cfg.api.address, cfg.api.port) == ("127.0.0.1", 8098)
    assert cfg.api.idle_timeout == 120 and cfg.api.keep_alives_enabled
    assert cfg.api.jwt_public_key is None
    assert (cfg.api.header_timeout, cfg.api.body_timeout, cfg.api.max_connections) == (
        10, 120, 4096)
    names = {r.name: r for r in cfg.receivers}
    assert set(names) == {"testclusternats", "meggienats"}
    r = names["meggienats"]
    assert isinstance(r, NatsReceiverConfig)
    assert (r.url, r.subject, r.queue, r.jetstream) == ("nats://localhost:4222", "meggie", "",
                                                        None)
    assert r.process


def test_documented_spellings_and_inline_objects(tmp_path: Path) -> None:
    write_files(tmp_path / "parts", {"r.json": {"h": {"type": "http", "port": 8081,
                                                       "path": "write",
                                                       "username": "u", "password": "p",
                                                       "header_timeout": "3s",
                                                       "max_connections": 50}},
                                     "s.json": GO_STORAGE})
    central = {"receiver-file": "parts/r.json", "storage": "parts/s.json",
               "api": {"address": "0.0.0.0", "port": 9000, "enable_swagger_ui": True,
                       "idle_timeout": "1m30s", "keep_alives_enabled": False,
                       "header_timeout": "5s", "body_timeout": 30, "max_connections": "100"}}
    write_files(tmp_path, {"c.json": central})
    cfg = load_config(tmp_path / "c.json")
    (h,) = cfg.receivers
    assert isinstance(h, HttpReceiverConfig)
    assert (h.port, h.path, h.username, h.password) == (8081, "/write", "u", "p")
    assert (cfg.api.address, cfg.api.port, cfg.api.idle_timeout) == ("0.0.0.0", 9000, 90)
    assert cfg.api.enable_swagger_ui and not cfg.api.keep_alives_enabled
    assert cfg.api.server_options() == {
        "idle_timeout": 90, "keep_alives": False, "header_timeout": 5, "body_timeout": 30,
        "max_connections": 100, "max_body_size": 64 << 20, "threads": 16}
    assert (h.header_timeout, h.body_timeout, h.max_connections) == (3, 120, 50)
    assert h.server_options()["max_connections"] == 50
    assert cfg.storage.backend.target == str(tmp_path / "parts" / "mydata.db")

    # the documentation's spelling: "receiver" / "storage" / "api" with paths
    write_files(tmp_path / "doc", {"config.json": {"receiver": "./r.json",
                                                   "storage": "./s.json", "api": "./a.json"},
                                   "r.json": {}, "s.json": GO_STORAGE,
                                   "a.json": {"port": "8098"}})
    cfg = load_config(tmp_path / "doc" / "config.json")
    assert cfg.receivers == [] and cfg.api.port == 8098


def test_sqlite_flags_map_to_store_options(tmp_path: Path) -> None:
    storage = {"retention_time": "1h30m", "store_logs": False, "log_retention_time": "720h",
               "backend": {"type": "sqlite", "database_path": "/abs/events.db",
                           "flags": ["_journal=WAL", "_timeout=2500", "_sync=FULL",
                                     "_cache_size=-2000", "_whatever=1"]}}
    write_files(tmp_path, {"config.json": {"storage": storage}})
    cfg = load_config(tmp_path / "config.json")
    opts = cfg.storage.store_options()
    assert opts["busy_timeout_ms"] == 2500
    assert opts["durability"] == "full"
    assert opts["retention"] == 5400 and opts["log_retention"] == 720 * 3600
    assert opts["store_logs"] is False
    assert cfg.storage.backend.target == "/abs/events.db"


def test_log_retention_per_level(tmp_path: Path) -> None:
    storage = dict(GO_STORAGE, log_retention_time={"*": "7d", "debug": "1d", "err": "720h",
                                                   "crit": None})
    write_files(tmp_path, {"config.json": {"storage": storage}})
    cfg = load_config(tmp_path / "config.json")
    opts = cfg.storage.store_options()
    assert opts["retention"] == 48 * 3600 and opts["log_retention"] == 7 * 86400
    assert opts["level_retention"] == {"debug": 86400, "err": 720 * 3600, "crit": None}
    # without "*", logs of the levels not named are kept
    storage = dict(GO_STORAGE, log_retention_time={"debug": "1d"})
    write_files(tmp_path, {"config.json": {"storage": storage}})
    opts = load_config(tmp_path / "config.json").storage.store_options()
    assert opts["log_retention"] is None and opts["level_retention"] == {"debug": 86400}


def test_postgres_backend_becomes_a_url(tmp_path: Path) -> None:
    storage = {"backend": {"type": "postgres", "server": "db.example", "port": 5433,
                           "database_path": "events", "username": "me", "password": "p@ss",
                           "flags": ["sslmode=verify-full"], "connection_timeout": 3}}
    write_files(tmp_path, {"config.json": {"storage": storage}})
    b = load_config(tmp_path / "config.json").storage.backend
    assert b.type == "postgres"
    assert b.target == ("postgresql://me:p%40ss@db.example:5433/events?connect_timeout=3&"
                        "sslmode=verify-full")


@pytest.mark.parametrize("value, want", [("lz4", "lz4"), ("PGLZ", "pglz"), ("auto", "auto")])
def test_postgres_toast_compression(tmp_path: Path, value: str, want: str) -> None:
    storage = {"backend": {"type": "postgres", "database_path": "events",
                           "toast_compression": value}}
    write_files(tmp_path, {"config.json": {"storage": storage}})
    b = load_config(tmp_path / "config.json").storage.backend
    assert b.options == {"toast_compression": want}


def test_postgres_toast_compression_unknown(tmp_path: Path) -> None:
    storage = {"backend": {"type": "postgres", "database_path": "events",
                           "toast_compression": "zstd"}}
    write_files(tmp_path, {"config.json": {"storage": storage}})
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "config.json")
    assert "toast_compression" in str(e.value) and "zstd" in str(e.value)


def test_nats_extensions(tmp_path: Path) -> None:
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    receivers = {"n": {"type": "nats", "subject": "alex.>", "port": 4333, "queue": "ccstore",
                       "nkey_file": "user.creds", "cluster": "alex", "process": False,
                       "jetstream": {"stream": "CC", "durable": "ccstore"}},
                 "k": {"type": "kafka"}}
    write_files(tmp_path, {"config.json": {"storage": GO_STORAGE, "receivers": receivers}})
    cfg = load_config(tmp_path / "config.json")
    (n,) = cfg.receivers
    assert (n.url, n.queue, n.cluster, n.nkey_file) == ("nats://localhost:4333", "ccstore",
                                                        "alex", str(creds))
    assert (n.jetstream.stream, n.jetstream.durable) == ("CC", "ccstore")
    assert n.process is False
    assert cfg.skipped_receivers == {"k": "unknown receiver type 'kafka'"}


@pytest.mark.parametrize("files, file, key", [
    ({"storage.json": dict(GO_STORAGE, retention_time="48 hours")}, "storage.json",
     "retention_time"),
    ({"storage.json": dict(GO_STORAGE, retention_time="")}, "storage.json", "retention_time"),
    ({"storage.json": dict(GO_STORAGE, batch_size="many")}, "storage.json", "batch_size"),
    ({"storage.json": dict(GO_STORAGE, log_retention_time={"debug": "a day"})},
     "storage.json", "log_retention_time.debug"),
    ({"storage.json": dict(GO_STORAGE, log_retention_time={"*": "-1h"})},
     "storage.json", "log_retention_time.*"),
    ({"storage.json": {"backend": {"type": "oracle", "database_path": "x"}}}, "storage.json",
     "backend.type"),
    ({"storage.json": {"backend": {"type": "sqlite"}}}, "storage.json",
     "backend.database_path"),
    ({"storage.json": dict(GO_STORAGE, backend=dict(GO_STORAGE["backend"],
                                                    flags=["_timeout"]))},
     "storage.json", "backend.flags[0]"),
    ({"api.json": {"port": "eighty"}}, "api.json", "port"),
    ({"api.json": {"port": 70000}}, "api.json", "port"),
    ({"api.json": {"idle_timeout": "2 minutes"}}, "api.json", "idle_timeout"),
    ({"api.json": {"header_timeout": "0s"}}, "api.json", "header_timeout"),
    ({"api.json": {"body_timeout": "soon"}}, "api.json", "body_timeout"),
    ({"api.json": {"max_connections": 0}}, "api.json", "max_connections"),
    ({"receivers.json": {"h": {"type": "http", "max_connections": "x"}}}, "receivers.json",
     "h.max_connections"),
    # the key of the documentation's sample is not a 32-byte Ed25519 key
    ({"api.json": {"jwt_public_key": "0123456789ABCDEF"}}, "api.json", "jwt_public_key"),
    ({"api.json": {"keep_alives_enabled": "yes"}}, "api.json", "keep_alives_enabled"),
    ({"receivers.json": {"n": {"type": "nats", "address": "x"}}}, "receivers.json",
     "n.subject"),
    ({"receivers.json": {"h": {"type": "http", "username": "u"}}}, "receivers.json",
     "h.password"),
    ({"receivers.json": {"n": {"type": "nats", "subject": "s", "jetstream": {"stream": "S"}}}},
     "receivers.json", "n.jetstream.durable"),
    ({"receivers.json": "[1, 2"}, "receivers.json", None),
])
def test_wrong_values_name_file_and_key(tmp_path: Path, files: dict, file: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(go_sample(tmp_path, **files))
    assert err.value.file.endswith(file)
    assert err.value.key == key
    assert file in str(err.value) and (key is None or key in str(err.value))


def test_missing_component_file_is_named(tmp_path: Path) -> None:
    write_files(tmp_path, {"config.json": {"storage-file": "./nope.json"}})
    with pytest.raises(ConfigError, match=r"config\.json: storage-file: cannot read .*nope"):
        load_config(tmp_path / "config.json")


def test_embedded_default() -> None:
    cfg = default_config()
    assert (cfg.api.address, cfg.api.port) == ("127.0.0.1", 8088)
    assert cfg.storage.backend.target == "./ccstore.db"
    assert cfg.api.jwt_public_key is None and cfg.receivers == []


# ------------------------------------------------------------------ the real process


def test_go_sample_config_runs(tmp_path: Path, start_server) -> None:
    """The Go repository's sample files, only the API port changed to a free one."""
    config = go_sample(tmp_path / "etc", **{"api.json": dict(GO_API, port="0")})
    # its nats receivers find no nats-server here: the API works, health says why not ok
    s = start_server(config, healthy=False)
    assert s.write("ev,cluster=c1,hostname=h event=\"x\" 1700000000").status == 204
    health = s.call("GET", "/api/health")
    assert health.status == 503 and "receiver meggienats is" in health.json()["error"], health
    stats = s.stats()
    assert {"testclusternats", "meggienats"} <= set(stats["receivers"])
    assert stats["receivers"]["meggienats"]["subject"] == "meggie"
    assert (tmp_path / "etc" / "mydata.db").exists()
    assert s.stop() == 0


def test_wrong_config_exits_nonzero_naming_file_and_key(tmp_path: Path, start_server) -> None:
    config = go_sample(tmp_path, **{"storage.json": dict(GO_STORAGE, flush_time="soon")})
    s = start_server(config, expect_ready=False)
    assert s.proc.wait(60) != 0
    assert re.search(r"storage\.json: flush_time: invalid duration 'soon'", s.log), s.log


def test_no_arguments_runs_the_embedded_default(tmp_path: Path, start_server) -> None:
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 8088))
    except OSError:
        pytest.skip("port 8088 is in use on this machine; the embedded default needs it")
    finally:
        probe.close()
    s = start_server()
    assert (s.host, s.port) == ("127.0.0.1", 8088)
    assert "open to anyone" in s.log  # the no-auth warning
    assert len(re.findall("listening on", s.log)) == 1
    assert s.write("ev,cluster=c,hostname=h event=\"x\" 1700000000").status == 204
    assert s.stop() == 0
    assert (tmp_path / "ccstore.db").exists()


def test_command_line_flags(tmp_path: Path, start_server) -> None:
    h = start_server(args=["--help"], expect_ready=False)
    assert h.proc.wait(60) == 0
    assert "-config" in h.log and "-loglevel" in h.log and "-logdate" in h.log

    config = go_sample(tmp_path / "etc", **{"api.json": {"address": "127.0.0.1", "port": 0},
                                             "receivers.json": {}})
    s = start_server(config, args=["-loglevel", "debug", "-logdate"])
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ", s.log, re.MULTILINE), s.log
    assert s.stop() == 0

    bad = start_server(config, args=["-loglevel", "loud"], expect_ready=False)
    assert bad.proc.wait(60) != 0
