"""The Go ``cc-event-store``'s configuration files, read unchanged.

A central file (``-config ./config.json``) names three component files, or holds
them inline::

    {"receivers-file": "./receivers.json", "storage-file": "./storage.json",
     "api-file": "./api.json"}

Every spelling seen in the wild is accepted: ``receivers-file`` / ``receiver-file``
/ ``receivers`` / ``receiver``, ``storage-file`` / ``storage``, ``api-file`` /
``api``; each value is a path (relative to the file that names it) or an inline
object.  Defaults are the Go program's.  A wrong value raises
:class:`ConfigError`, whose message names the file and the key.

Paths inside the files (``database_path``, ``nkey_file``) are also resolved
relative to the file naming them; when nothing exists there but the path exists
relative to the working directory (where the Go program looked), that one is
used, so an existing Go database is found either way.

Extensions (all optional; a Go config never needs them): in the storage file
``log_retention_time`` (a duration, or per log level an object such as
``{"*": "7d", "debug": "1d", "err": "30d"}``, ``"*"`` the levels not named),
``retention_interval``, ``fulltext``, ``body_budget``, ``compact`` (SQLite) and
``max_disk_size``, and in a postgres ``backend`` ``toast_compression`` (``"auto"``,
``"lz4"``, ``"pglz"``); in the api file ``max_body_size``, ``threads``,
``query_limit`` and the connection limits ``header_timeout``, ``body_timeout``,
``max_connections``; in a nats receiver ``queue``, ``jetstream: {"stream",
"durable", "ack_wait"}``, ``cluster`` and ``process`` (its client in a process of its
own, default true); in an http
receiver ``cluster``, ``max_body_size`` and the connection limits; and receivers of type
``files`` (``paths``, ``cluster``, ``hostname``, ``format``, ``timezone``, ``start_at``,
``interval``, and a format of the user's: ``pattern`` or ``regex``, ``levels``,
``time_format``), see :mod:`ccstore.ingest.files`.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from .logs.parse import FORMATS as LOG_FORMATS
from .logs.parse import LOGLEVELS, normalize_level
from .logs.patterns import PatternError, compile_pattern, compile_regex
from .timesyntax import parse_duration

__all__ = [
    "ApiConfig",
    "BackendConfig",
    "Config",
    "ConfigError",
    "FilesReceiverConfig",
    "HttpReceiverConfig",
    "JetStreamConfig",
    "NatsReceiverConfig",
    "StorageConfig",
    "default_config",
    "load_config",
    "parse_size",
    "postgres_url",
    "server_options",
]

log = logging.getLogger("ccstore.config")

DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: connection limits of the HTTP servers (the API and http receivers), see server_options
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 120.0
DEFAULT_MAX_CONNECTIONS = 4096

PathLike = Union[str, "os.PathLike[str]"]


class ConfigError(ValueError):
    """A configuration value that cannot be used; names the file and the key."""

    def __init__(self, file: Optional[str], key: Optional[str], message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


# --------------------------------------------------------------------------- sections


@dataclass
class ApiConfig:
    """The REST API (the Go ``api.json``)."""

    address: str = "localhost"
    port: int = 8088
    idle_timeout: float = 120.0
    keep_alives_enabled: bool = True
    #: raw 32-byte Ed25519 public key, None = API open
    jwt_public_key: Optional[bytes] = None
    enable_swagger_ui: bool = False
    max_body_size: int = DEFAULT_MAX_BODY
    threads: int = 16
    #: results per query entry unless the request asks for another limit
    query_limit: int = 100_000
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    source: str = "<default>"

    def server_options(self) -> Dict[str, Any]:
        """Keyword arguments of :class:`ccstore.ingest.httpserver.ServerThread`."""
        return dict(server_options(self), threads=self.threads)


@dataclass
class BackendConfig:
    """Where rows go: ``ccstore.open(target, **options)``."""

    type: str = "sqlite"
    target: str = "./ccstore.db"
    options: Dict[str, Any] = field(default_factory=dict)
    flags: List[str] = field(default_factory=list)


@dataclass
class StorageConfig:
    """The storage manager (the Go ``storage.json``)."""

    retention_time: float = 24 * 3600.0
    log_retention_time: Optional[float] = None
    #: log level -> seconds its logs are kept (None: kept), instead of log_retention_time
    level_retention_time: Dict[str, Optional[float]] = field(default_factory=dict)
    flush_time: float = 1.0
    batch_size: int = 20
    max_process: int = 10
    store_logs: bool = True
    fulltext: bool = True
    #: SQLite: compact sealed segments into compressed blocks
    compact: bool = False
    #: bytes the store may keep on disk; the oldest segments go past it
    max_disk_size: Optional[int] = None
    #: extra retention runs every so many seconds (besides daily at 03:00)
    retention_interval: Optional[float] = None
    #: bytes of request bodies (as sent) held at once; past it a request gets 503
    body_budget: int = 128 << 20
    backend: BackendConfig = field(default_factory=BackendConfig)
    source: str = "<default>"

    def store_options(self) -> Dict[str, Any]:
        """Keyword arguments for :func:`ccstore.open`."""
        opts: Dict[str, Any] = {
            "retention": self.retention_time,
            "log_retention": self.log_retention_time,
            "fulltext": self.fulltext,
            "store_logs": self.store_logs,
        }
        if self.level_retention_time:
            opts["level_retention"] = dict(self.level_retention_time)
        if self.compact:
            opts["compact"] = True
        if self.max_disk_size is not None:
            opts["max_disk_size"] = self.max_disk_size
        opts.update(self.backend.options)
        return opts


@dataclass
class JetStreamConfig:
    """A durable JetStream consumer: messages are acked only after their commit."""

    stream: str
    durable: str
    #: seconds before an unacknowledged message is delivered again, when ccstore creates
    #: the consumer (None: the server's default, 30 s)
    ack_wait: Optional[float] = None


@dataclass
class NatsReceiverConfig:
    """A ``nats`` receiver (cc-metric-collector / cc-lib ``natsReceiver``)."""

    name: str
    subject: str
    address: str = "localhost"
    port: int = 4222
    user: str = ""
    password: str = ""
    nkey_file: str = ""
    queue: str = ""
    jetstream: Optional[JetStreamConfig] = None
    cluster: Optional[str] = None
    #: run the NATS client in a process of its own (False: a thread of the server)
    process: bool = True
    type: str = "nats"

    @property
    def url(self) -> str:
        if "://" in self.address:
            return self.address
        return f"nats://{self.address}:{self.port}"


@dataclass
class HttpReceiverConfig:
    """An ``http`` receiver (cc-metric-collector / cc-lib ``httpReceiver``)."""

    name: str
    address: str = ""
    port: int = 8080
    path: str = "/"
    idle_timeout: float = 120.0
    keep_alives_enabled: bool = True
    username: str = ""
    password: str = ""
    cluster: Optional[str] = None
    max_body_size: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    type: str = "http"

    def server_options(self) -> Dict[str, Any]:
        """Keyword arguments of :class:`ccstore.ingest.httpserver.ServerThread`."""
        return dict(server_options(self), threads=8)


def server_options(cfg: Union[ApiConfig, HttpReceiverConfig]) -> Dict[str, Any]:
    """The connection settings an API or http receiver config gives its HTTP server."""
    return {"idle_timeout": cfg.idle_timeout, "keep_alives": cfg.keep_alives_enabled,
            "header_timeout": cfg.header_timeout, "body_timeout": cfg.body_timeout,
            "max_connections": cfg.max_connections, "max_body_size": cfg.max_body_size}


@dataclass
class FilesReceiverConfig:
    """A ``files`` receiver (ccstore's own): follow log files into the store."""

    name: str
    paths: List[str]
    cluster: str
    hostname: Optional[str] = None
    format: str = "auto"
    timezone: Optional[str] = None
    start_at: str = "beginning"
    #: seconds between polls of the files
    interval: float = 1.0
    #: a format of the user's: a pattern (``<_> <time:epoch> <host> <msg>``) or a regex
    #: with named groups, the loglevels of its level field's values, how a regex's time
    #: group reads
    pattern: Optional[str] = None
    regex: Optional[str] = None
    levels: Optional[Dict[str, str]] = None
    time_format: Optional[str] = None
    type: str = "files"


@dataclass
class TlsConfig:
    """A certificate and its key (PEM files) that a TCP receiver serves TLS with."""

    cert: str
    key: str


@dataclass
class SyslogReceiverConfig:
    """A ``syslog`` receiver (ccstore's own): RFC 5424 and RFC 3164 over UDP or TCP."""

    name: str
    cluster: str
    address: str = ""
    port: int = 514
    #: "udp" or "tcp"
    protocol: str = "udp"
    #: TCP only: serve TLS (RFC 5425) with this certificate
    tls: Optional[TlsConfig] = None
    type: str = "syslog"


ReceiverConfig = Union[NatsReceiverConfig, HttpReceiverConfig, FilesReceiverConfig,
                       SyslogReceiverConfig]


@dataclass
class Config:
    """Everything ``python -m ccstore.server`` needs."""

    api: ApiConfig = field(default_factory=ApiConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    receivers: List[ReceiverConfig] = field(default_factory=list)
    #: receivers that were reported and skipped: name -> reason
    skipped_receivers: Dict[str, str] = field(default_factory=dict)
    path: Optional[str] = None


def default_config(database: str = "./ccstore.db") -> Config:
    """The embedded default: SQLite ``./ccstore.db``, API on 127.0.0.1:8088, no auth."""
    cfg = Config()
    cfg.api.address = "127.0.0.1"
    cfg.storage.backend = BackendConfig(type="sqlite", target=database)
    return cfg


# --------------------------------------------------------------------------- value readers


class _Section:
    """Typed access to one JSON object, with errors naming file and key."""

    def __init__(self, data: Any, file: str, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ConfigError(file, prefix or None,
                              f"expected a JSON object, got {_jtype(data)}")
        self.data: Dict[str, Any] = data
        self.file = file
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), message)

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def string(self, name: str, default: Optional[str] = "") -> Optional[str]:
        v = self.data.get(name)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.error(name, f"expected a string, got {_jtype(v)}")
        return v

    def boolean(self, name: str, default: bool) -> bool:
        v = self.data.get(name)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.error(name, f"expected true or false, got {_jtype(v)}")
        return v

    def integer(self, name: str, default: int, *, minimum: Optional[int] = None,
                maximum: Optional[int] = None) -> int:
        """An integer; numeric strings too (the Go files write ports as strings)."""
        v = self.data.get(name)
        if v is None or v == "":
            return default
        if isinstance(v, bool):
            raise self.error(name, f"expected an integer, got {_jtype(v)}")
        if isinstance(v, str):
            if not re.fullmatch(r"\s*[+-]?\d+\s*", v):
                raise self.error(name, f"expected an integer, got {v!r}")
            v = int(v)
        elif isinstance(v, float):
            if not v.is_integer():
                raise self.error(name, f"expected an integer, got {v!r}")
            v = int(v)
        elif not isinstance(v, int):
            raise self.error(name, f"expected an integer, got {_jtype(v)}")
        if minimum is not None and v < minimum:
            raise self.error(name, f"must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise self.error(name, f"must be at most {maximum}, got {v}")
        return v

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=0, maximum=65535)

    def duration(self, name: str, default: Optional[float], *,
                 allow_empty: bool = True) -> Optional[float]:
        """A Go duration string (``"120s"``) or a number of seconds."""
        v = self.data.get(name)
        if v is None:
            return default
        if v == "":
            if allow_empty:
                return default
            raise self.error(name, "must not be empty")
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise self.error(name, f"expected a duration like \"48h\", got {_jtype(v)}")
        try:
            d = parse_duration(v)
        except ValueError as e:
            raise self.error(name, f"{e} (Go duration syntax, e.g. \"1h30m\", \"500ms\")")
        if d is not None and d < 0:
            raise self.error(name, f"must not be negative, got {v!r}")
        return d

    def size(self, name: str, default: int) -> int:
        v = self.data.get(name)
        if v is None or v == "":
            return default
        try:
            n = parse_size(v)
        except ValueError as e:
            raise self.error(name, str(e))
        if n <= 0:
            raise self.error(name, f"must be positive, got {v!r}")
        return n

    def section(self, name: str) -> _Section:
        return _Section(self.data.get(name), self.file, self.key(name))

    def warn_unknown(self, known: set) -> None:
        for k in self.data:
            if k not in known:
                log.warning("%s: %s: unknown key, ignored", self.file, self.key(k))


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return f"the number {v!r}"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
               "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_size(value: Union[str, int]) -> int:
    """Bytes from an integer or a string such as ``"64MiB"`` or ``"10MB"``."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {value!r} (bytes, or a number with kB, MB, MiB, GiB...)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


# --------------------------------------------------------------------------- files


def _read_json(path: str, named_by: Optional[str] = None, key: Optional[str] = None) -> Any:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        if named_by:
            raise ConfigError(named_by, key, f"cannot read {path}: {e.strerror or e}")
        raise ConfigError(path, None, f"cannot read the file: {e.strerror or e}")
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise ConfigError(path, None, f"not UTF-8 text: {e}")
    except json.JSONDecodeError as e:
        raise ConfigError(path, None, f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}")


def _resolve(path: str, base_dir: str) -> str:
    """``path`` relative to ``base_dir``; falls back to the working directory's when only
    that one exists (the Go program resolved everything against the working directory)."""
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    here = os.path.normpath(os.path.join(base_dir, path))
    if not os.path.exists(here) and os.path.exists(path):
        log.info("%s not found next to the config file, using %s in the working directory",
                 path, os.path.abspath(path))
        return os.path.abspath(path)
    return here


_CENTRAL_ALIASES = {
    "receivers": "receivers", "receiver": "receivers",
    "storage": "storage", "api": "api",
}


def load_config(path: PathLike) -> Config:
    """Read the central config file and the component files it names."""
    path = os.fspath(path)
    central = _Section(_read_json(path), path)
    base = os.path.dirname(os.path.abspath(path))
    parts: Dict[str, Tuple[Any, str, str]] = {}  # component -> (data, file, base dir)
    for key, value in central.data.items():
        stem = key.removesuffix("-file")
        comp = _CENTRAL_ALIASES.get(stem)
        if comp is None:
            log.warning("%s: %s: unknown key, ignored", path, key)
            continue
        if comp in parts:
            raise ConfigError(path, key, f"the {comp} configuration is given twice")
        if isinstance(value, str):
            if not value:
                raise ConfigError(path, key, "empty file name")
            file = _resolve(value, base)
            parts[comp] = (_read_json(file, path, key), file, os.path.dirname(file))
        elif isinstance(value, dict):
            parts[comp] = (value, f"{path} ({key})", base)
        else:
            raise ConfigError(path, key, f"expected a file name or an object, got {_jtype(value)}")

    cfg = Config(path=path)
    if "storage" not in parts:
        raise ConfigError(path, "storage-file", "missing: the storage configuration is required")
    data, file, fbase = parts["storage"]
    cfg.storage = parse_storage(data, file, fbase)
    if "api" in parts:
        data, file, fbase = parts["api"]
        cfg.api = parse_api(data, file)
    else:
        log.warning("%s: no api-file: the REST API uses its defaults (localhost:8088, no auth)",
                    path)
    if "receivers" in parts:
        data, file, fbase = parts["receivers"]
        cfg.receivers, cfg.skipped_receivers = parse_receivers(data, file, fbase)
    else:
        log.info("%s: no receivers-file: lines arrive through the REST API only", path)
    return cfg


# --------------------------------------------------------------------------- api


def parse_api(data: Any, file: str) -> ApiConfig:
    """The api file: address, port, idle_timeout, keep_alives_enabled, jwt_public_key..."""
    s = _Section(data, file)
    a = ApiConfig(source=file)
    # "addr" is the spelling of the Go repository's own sample api.json
    if s.has("address"):
        a.address = s.string("address", a.address) or ""
    elif s.has("addr"):
        a.address = s.string("addr", a.address) or ""
    a.port = s.port("port", a.port)
    a.idle_timeout = s.duration("idle_timeout", a.idle_timeout)  # type: ignore[assignment]
    a.keep_alives_enabled = s.boolean("keep_alives_enabled", a.keep_alives_enabled)
    a.enable_swagger_ui = s.boolean("enable_swagger_ui", a.enable_swagger_ui)
    key = s.string("jwt_public_key", "")
    if key:
        a.jwt_public_key = decode_public_key(key, file, "jwt_public_key")
    a.max_body_size = s.size("max_body_size", a.max_body_size)
    a.threads = s.integer("threads", a.threads, minimum=1, maximum=1024)
    a.query_limit = s.integer("query_limit", a.query_limit, minimum=1)
    _connection_limits(s, a)
    s.warn_unknown({"address", "addr", "port", "idle_timeout", "keep_alives_enabled",
                    "jwt_public_key", "enable_swagger_ui", "max_body_size", "threads",
                    "query_limit", *_CONNECTION_KEYS})
    return a


_CONNECTION_KEYS = ("header_timeout", "body_timeout", "max_connections")


def _connection_limits(s: _Section, cfg: Union[ApiConfig, HttpReceiverConfig]) -> None:
    """``header_timeout``, ``body_timeout``, ``max_connections`` of an HTTP server."""
    for key in ("header_timeout", "body_timeout"):
        v = s.duration(key, getattr(cfg, key))
        if not v:
            raise s.error(key, "must be positive")
        setattr(cfg, key, v)
    cfg.max_connections = s.integer("max_connections", cfg.max_connections, minimum=1)


def decode_public_key(text: str, file: Optional[str] = None, key: Optional[str] = None) -> bytes:
    """A base64 (standard or URL-safe) raw 32-byte Ed25519 public key."""
    t = text.strip()
    try:
        alphabet = "-_" if ("-" in t or "_" in t) else "+/"
        raw = base64.b64decode(t + "=" * (-len(t) % 4), altchars=alphabet.encode(),
                               validate=True)
    except (ValueError, TypeError) as e:
        raise ConfigError(file, key, f"not base64: {e}")
    if len(raw) != 32:
        raise ConfigError(file, key, f"an Ed25519 public key has 32 bytes, this one has {len(raw)}"
                          " (expected the base64 of the raw key)")
    return raw


# --------------------------------------------------------------------------- storage

_SQLITE_IGNORED_FLAGS = {
    "_cache_size", "_fk", "_foreign_keys", "_txlock", "_loc", "_mutex", "cache", "mode",
    "_locking_mode", "_locking", "_secure_delete", "_vacuum", "_auto_vacuum",
    "_recursive_triggers", "_rt", "_query_only", "_cslike", "_case_sensitive_like",
    "_defer_foreign_keys", "_defer_fk", "_ignore_check_constraints", "_writable_schema",
    "_auth", "_auth_user", "_auth_pass", "_auth_crypt", "_auth_salt", "immutable", "vfs",
}


def parse_storage(data: Any, file: str, base_dir: str) -> StorageConfig:
    """The storage file: retention_time, flush_time, batch_size, max_process, store_logs,
    backend."""
    s = _Section(data, file)
    c = StorageConfig(source=file)
    c.retention_time = s.duration("retention_time", c.retention_time,  # type: ignore[assignment]
                                  allow_empty=False)
    if isinstance(s.get("log_retention_time"), dict):
        # {"*": "7d", "debug": "1d", "err": "30d"}: "*" the levels not named
        levels = s.section("log_retention_time")
        for level in levels.data:
            value = levels.duration(level, None)
            if level == "*":
                c.log_retention_time = value
            else:
                c.level_retention_time[level] = value
    else:
        c.log_retention_time = s.duration("log_retention_time", None)
    c.flush_time = s.duration("flush_time", c.flush_time)  # type: ignore[assignment]
    c.batch_size = s.integer("batch_size", c.batch_size, minimum=1)
    c.max_process = s.integer("max_process", c.max_process, minimum=1)
    c.store_logs = s.boolean("store_logs", c.store_logs)
    c.fulltext = s.boolean("fulltext", c.fulltext)
    c.compact = s.boolean("compact", c.compact)
    if s.has("max_disk_size"):
        c.max_disk_size = s.size("max_disk_size", 0)
    c.retention_interval = s.duration("retention_interval", None)
    if c.retention_interval == 0:
        c.retention_interval = None
    c.body_budget = s.size("body_budget", c.body_budget)
    if not s.has("backend"):
        raise s.error("backend", "missing: the storage backend is required")
    c.backend = parse_backend(s.section("backend"), base_dir)
    s.warn_unknown({"retention_time", "log_retention_time", "flush_time", "batch_size",
                    "max_process", "store_logs", "fulltext", "retention_interval",
                    "body_budget", "compact", "max_disk_size", "backend"})
    return c


def _flag_list(s: _Section) -> List[str]:
    v = s.get("flags")
    if v is None:
        return []
    if isinstance(v, str):
        v = [p for p in re.split(r"[&,]", v) if p]
    if not isinstance(v, list):
        raise s.error("flags", f"expected a list of \"key=value\" strings, got {_jtype(v)}")
    out = []
    for i, f in enumerate(v):
        if not isinstance(f, str) or "=" not in f:
            raise s.error(f"flags[{i}]", f"expected \"key=value\", got {json.dumps(f)}")
        out.append(f.strip())
    return out


#: PostgreSQL: how the text columns are compressed (``auto``: lz4 where the server has it)
_TOAST_COMPRESSIONS = ("auto", "lz4", "pglz")


def parse_backend(s: _Section, base_dir: str) -> BackendConfig:
    """The ``backend`` object: ``sqlite`` (go-sqlite3 flags mapped) or ``postgres``."""
    btype = s.string("type", "")
    if not btype:
        raise s.error("type", "missing: \"sqlite\" or \"postgres\"")
    btype = btype.lower()
    flags = _flag_list(s)
    b = BackendConfig(type=btype, flags=flags)
    if btype in ("sqlite", "sqlite3"):
        b.type = "sqlite"
        dbpath = s.string("database_path", "")
        if not dbpath:
            raise s.error("database_path", "missing: the SQLite database file")
        if dbpath.startswith("file:"):
            dbpath, _, query = dbpath[5:].partition("?")
            flags = flags + [p for p in query.split("&") if p]
        b.target = dbpath if dbpath == ":memory:" else _resolve(dbpath, base_dir)
        b.options = _sqlite_flags(s, flags)
        s.warn_unknown({"type", "database_path", "flags", "username", "password"})
    elif btype in ("postgres", "postgresql"):
        b.type = "postgres"
        server = s.string("server", "localhost") or "localhost"
        port = s.port("port", 5432) if s.get("port") not in (None, "") else None
        db = s.string("database_path", "")
        if not db:
            raise s.error("database_path", "missing: the PostgreSQL database name")
        user = s.string("username", "") or ""
        password = s.string("password", "") or ""
        timeout = s.integer("connection_timeout", 1, minimum=0)
        try:
            b.target = postgres_url(server, port, db, user=user, password=password,
                                    connect_timeout=timeout, params=flags)
        except ValueError as e:
            raise s.error("server", str(e))
        toast = s.string("toast_compression", None)
        if toast is not None:
            if toast.lower() not in _TOAST_COMPRESSIONS:
                raise s.error("toast_compression", f"expected one of "
                                                   f"{', '.join(_TOAST_COMPRESSIONS)}, got "
                                                   f"{json.dumps(toast)}")
            b.options["toast_compression"] = toast.lower()
        s.warn_unknown({"type", "server", "port", "database_path", "username", "password",
                        "flags", "connection_timeout", "toast_compression"})
    else:
        raise s.error("type", f"unknown storage type {btype!r} (expected \"sqlite\" or "
                              "\"postgres\")")
    return b


def postgres_url(server: str = "localhost", port: Optional[int] = None, dbname: str = "", *,
                 user: str = "", password: str = "", connect_timeout: Optional[int] = None,
                 params: Sequence[str] = ()) -> str:
    """A ``postgresql://`` URL (for libpq and psycopg) from the Go program's settings.

    ``server`` is a host name, an IPv4 or IPv6 address, either with ``:port``
    (IPv6 then in brackets), or a unix-socket directory (a path starting with
    ``/``), which a URL carries as its ``host`` parameter.  ``port`` defaults to
    5432; a different one in ``server`` is a ValueError.  User, password and
    database name may hold any character.  ``connect_timeout`` (seconds; 0 or
    None: none) becomes that parameter unless ``params`` sets it.  ``params`` are
    ``key=value`` strings in URL form, appended as the Go program appends its
    ``flags``.
    """
    host, host_port = _split_server(server)
    if host_port is not None and port is not None and host_port != port:
        raise ValueError(f"{server!r} names port {host_port}, the port setting {port}")
    port = host_port if host_port is not None else (5432 if port is None else port)
    auth = ""
    if user:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    query = list(params)
    if connect_timeout and not any(p.partition("=")[0].strip() == "connect_timeout"
                                   for p in query):
        query.insert(0, f"connect_timeout={int(connect_timeout)}")
    if host.startswith("/"):  # a socket directory: no host in the URL's authority
        netloc = auth
        query[:0] = [f"host={quote(host, safe='')}", f"port={port}"]
    elif ":" in host:  # IPv6 (a zone's "%" escaped)
        netloc = f"{auth}[{quote(host, safe=':')}]:{port}"
    else:
        netloc = f"{auth}{quote(host, safe='')}:{port}"
    url = f"postgresql://{netloc}/{quote(dbname, safe='')}"
    if query:
        url += "?" + "&".join(query)
    return url


def _split_server(server: str) -> Tuple[str, Optional[int]]:
    """``server`` -> (host or socket directory, port given with it or None)."""
    if server.startswith("/"):
        return server, None
    if server.startswith("["):  # [IPv6] or [IPv6]:port
        addr, sep, rest = server[1:].partition("]")
        if not sep or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            raise ValueError(f"{server!r} is not \"[IPv6 address]\" or \"[IPv6 address]:port\"")
        return addr, int(rest[1:]) if rest else None
    host, sep, rest = server.rpartition(":")
    if sep and ":" not in host:  # host:port (an IPv6 address has more colons)
        if not re.fullmatch(r"\d{1,5}", rest) or not host:
            raise ValueError(f"{server!r} is not a host or host:port")
        return host, int(rest)
    return server, None


def _sqlite_flags(s: _Section, flags: List[str]) -> Dict[str, Any]:
    """go-sqlite3 URI flags -> :func:`ccstore.open` options."""
    opts: Dict[str, Any] = {}
    for i, f in enumerate(flags):
        k, _, v = f.partition("=")
        k, v = k.strip(), v.strip()
        kl, vl = k.lower(), v.lower()
        key = f"flags[{i}]"
        if kl in ("_journal", "_journal_mode"):
            if vl != "wal":
                log.warning("%s: %s: %s: ccstore always uses WAL journaling", s.file,
                            s.key(key), f)
        elif kl in ("_timeout", "_busy_timeout"):
            if not re.fullmatch(r"\d+", v):
                raise s.error(key, f"{k} expects milliseconds, got {v!r}")
            opts["busy_timeout_ms"] = int(v)
        elif kl in ("_sync", "_synchronous"):
            if vl in ("full", "2", "extra", "3"):
                opts["durability"] = "full"
            elif vl in ("normal", "1"):
                opts["durability"] = "normal"
            elif vl in ("off", "0"):
                log.warning("%s: %s: %s: ccstore never turns syncing off; using NORMAL",
                            s.file, s.key(key), f)
                opts["durability"] = "normal"
            else:
                raise s.error(key, f"{k} expects OFF, NORMAL, FULL or EXTRA, got {v!r}")
        elif kl in _SQLITE_IGNORED_FLAGS:
            log.info("%s: %s: %s has no effect in ccstore", s.file, s.key(key), f)
        else:
            log.warning("%s: %s: unknown SQLite flag %s, ignored", s.file, s.key(key), f)
    return opts


# --------------------------------------------------------------------------- receivers


def parse_receivers(data: Any, file: str, base_dir: str
                    ) -> Tuple[List[ReceiverConfig], Dict[str, str]]:
    """The receivers file: an object of named receivers.  Unknown types are reported
    (logged, and returned in the second value) and skipped."""
    top = _Section(data, file)
    out: List[ReceiverConfig] = []
    skipped: Dict[str, str] = {}
    for name in top.data:
        s = top.section(name)
        rtype = s.string("type", "")
        if rtype == "nats":
            out.append(_nats_receiver(name, s, base_dir))
        elif rtype == "http":
            out.append(_http_receiver(name, s))
        elif rtype == "files":
            out.append(_files_receiver(name, s, base_dir))
        elif rtype == "syslog":
            out.append(_syslog_receiver(name, s, base_dir))
        else:
            reason = (f"unknown receiver type {rtype!r}" if rtype
                      else "no receiver type given")
            log.warning("%s: %s: %s, receiver skipped (ccstore has nats, http, files, "
                        "syslog)", file,
                        s.key("type"), reason)
            skipped[name] = reason
            continue
        if s.get("process_messages"):
            log.warning("%s: %s: process_messages is not supported by ccstore, ignored",
                        file, s.key("process_messages"))
    return out, skipped


def _nats_receiver(name: str, s: _Section, base_dir: str) -> NatsReceiverConfig:
    subject = s.string("subject", "")
    if not subject:
        raise s.error("subject", "missing: the NATS subject to subscribe to")
    r = NatsReceiverConfig(name=name, subject=subject)
    r.address = s.string("address", r.address) or r.address
    r.port = s.port("port", r.port)
    r.user = s.string("user", "") or ""
    r.password = s.string("password", "") or ""
    nkey = s.string("nkey_file", "") or ""
    if nkey:
        r.nkey_file = _resolve(nkey, base_dir)
        if not os.path.exists(r.nkey_file):
            raise s.error("nkey_file", f"{r.nkey_file} does not exist")
    r.queue = s.string("queue", "") or ""
    r.cluster = s.string("cluster", None) or None
    r.process = s.boolean("process", r.process)
    if s.get("jetstream") is not None:
        js = s.section("jetstream")
        stream = js.string("stream", "")
        durable = js.string("durable", "")
        if not stream:
            raise js.error("stream", "missing: the JetStream stream name")
        if not durable:
            raise js.error("durable", "missing: the durable consumer name")
        ack_wait = js.duration("ack_wait", None)
        if ack_wait is not None and ack_wait <= 0:
            raise js.error("ack_wait", "must be positive")
        r.jetstream = JetStreamConfig(stream=stream, durable=durable, ack_wait=ack_wait)
        js.warn_unknown({"stream", "durable", "ack_wait"})
    s.warn_unknown({"type", "address", "port", "subject", "user", "password", "nkey_file",
                    "queue", "jetstream", "cluster", "process", "process_messages"})
    return r


def _http_receiver(name: str, s: _Section) -> HttpReceiverConfig:
    r = HttpReceiverConfig(name=name)
    r.address = s.string("address", "") or ""
    r.port = s.port("port", r.port)
    path = s.string("path", "") or "/"
    r.path = path if path.startswith("/") else "/" + path
    r.idle_timeout = s.duration("idle_timeout", r.idle_timeout)  # type: ignore[assignment]
    r.keep_alives_enabled = s.boolean("keep_alives_enabled", r.keep_alives_enabled)
    r.username = s.string("username", "") or ""
    r.password = s.string("password", "") or ""
    if r.password and not r.username:
        raise s.error("username", "basic authentication requires username")
    if r.username and not r.password:
        raise s.error("password", "basic authentication requires password")
    r.cluster = s.string("cluster", None) or None
    r.max_body_size = s.size("max_body_size", r.max_body_size)
    _connection_limits(s, r)
    s.warn_unknown({"type", "address", "port", "path", "idle_timeout", "keep_alives_enabled",
                    "username", "password", "cluster", "max_body_size", "process_messages",
                    *_CONNECTION_KEYS})
    return r


def _files_receiver(name: str, s: _Section, base_dir: str) -> FilesReceiverConfig:
    raw = s.get("paths", s.get("path"))
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
        raise s.error("paths", "expected a list of file names or globs")
    cluster = s.string("cluster", "")
    if not cluster:
        raise s.error("cluster", "missing: the cluster of the lines read (log files name none)")
    paths = [p if os.path.isabs(os.path.expanduser(p))
             else os.path.join(base_dir, p) for p in raw]
    r = FilesReceiverConfig(name=name, paths=paths, cluster=cluster)
    r.hostname = s.string("hostname", None) or None
    r.format = s.string("format", "auto") or "auto"
    if r.format not in LOG_FORMATS:
        raise s.error("format", f"unknown log format {r.format!r}: expected one of "
                                f"{', '.join(LOG_FORMATS)}")
    _user_format(s, r)
    r.timezone = s.string("timezone", None) or None
    r.start_at = s.string("start_at", "beginning") or "beginning"
    if r.start_at not in ("beginning", "end"):
        raise s.error("start_at", "expected \"beginning\" or \"end\"")
    interval = s.duration("interval", 1.0)
    if not interval or interval <= 0:
        raise s.error("interval", "must be positive")
    r.interval = interval
    s.warn_unknown({"type", "paths", "path", "cluster", "hostname", "format", "timezone",
                    "start_at", "interval", "process_messages", "pattern", "regex", "levels",
                    "time_format"})
    return r


def _user_format(s: _Section, r: FilesReceiverConfig) -> None:
    """``pattern`` / ``regex`` / ``levels`` / ``time_format`` of a files receiver, compiled
    once here so that a mistake is an error naming the file and the key."""
    r.pattern = s.string("pattern", None) or None
    r.regex = s.string("regex", None) or None
    r.time_format = s.string("time_format", None) or None
    levels = s.get("levels")
    if levels is not None:
        if not isinstance(levels, dict) or not all(isinstance(v, str) for v in levels.values()):
            raise s.error("levels", "expected an object of field values and loglevels, such "
                                    "as {\"E\": \"error\", \"W\": \"warn\"}")
        for value, level in levels.items():
            if normalize_level(level) is None:
                raise s.error("levels", f"{value!r}: {level!r} is no loglevel: expected one "
                                        f"of {', '.join(LOGLEVELS)}")
        r.levels = dict(levels)
    if r.pattern is not None and r.regex is not None:
        raise s.error("regex", "a pattern or a regex, not both")
    key = "pattern" if r.pattern is not None else "regex"
    if r.pattern is None and r.regex is None:
        for other in ("levels", "time_format"):
            if s.has(other):
                raise s.error(other, "belongs to a pattern or a regex: give one")
        return
    if r.format != "auto":
        raise s.error("format", f"{r.format!r} and a {key}: give one of them")
    if r.time_format is not None and r.pattern is not None:
        raise s.error("time_format", "belongs to a regex (a pattern names it: <time:TYPE>)")
    try:
        if r.pattern is not None:
            compile_pattern(r.pattern, levels=r.levels)
        else:
            compile_regex(r.regex or "", time_format=r.time_format, levels=r.levels)
    except PatternError as exc:
        if str(exc).startswith("time format"):
            key = "time_format"
        raise s.error(key, f"does not compile: {exc}") from None


def _syslog_receiver(name: str, s: _Section, base_dir: str) -> SyslogReceiverConfig:
    cluster = s.string("cluster", "")
    if not cluster:
        raise s.error("cluster", "missing: the cluster of the messages (syslog names none)")
    r = SyslogReceiverConfig(name=name, cluster=cluster)
    r.address = s.string("address", "") or ""
    r.port = s.port("port", r.port)
    r.protocol = (s.string("protocol", "udp") or "udp").lower()
    if r.protocol not in ("udp", "tcp"):
        raise s.error("protocol", "expected \"udp\" or \"tcp\"")
    if s.get("tls") is not None:
        if r.protocol != "tcp":
            raise s.error("tls", "TLS needs \"protocol\": \"tcp\"")
        t = s.section("tls")
        files = {}
        for key in ("cert", "key"):
            path = t.string(key, "")
            if not path:
                raise t.error(key, "missing: a PEM file")
            path = _resolve(path, base_dir)
            if not os.path.exists(path):
                raise t.error(key, f"{path} does not exist")
            files[key] = path
        r.tls = TlsConfig(cert=files["cert"], key=files["key"])
        t.warn_unknown({"cert", "key"})
    s.warn_unknown({"type", "address", "port", "protocol", "cluster", "tls",
                    "process_messages"})
    return r


def describe(cfg: Config) -> Mapping[str, Any]:
    """A JSON-serialisable summary without secrets (for logs and /api/stats/)."""
    return {
        "config": cfg.path,
        "backend": cfg.storage.backend.type,
        "retention_time": cfg.storage.retention_time,
        "log_retention_time": cfg.storage.log_retention_time,
        "level_retention_time": dict(cfg.storage.level_retention_time),
        "flush_time": cfg.storage.flush_time,
        "batch_size": cfg.storage.batch_size,
        "max_process": cfg.storage.max_process,
        "store_logs": cfg.storage.store_logs,
        "receivers": {r.name: r.type for r in cfg.receivers},
        "skipped_receivers": dict(cfg.skipped_receivers),
        "auth": cfg.api.jwt_public_key is not None,
    }
