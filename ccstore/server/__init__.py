"""The ccstore server: the Go ``cc-event-store`` replaced, config files unchanged.

``python -m ccstore.server -config ./config.json`` (see :mod:`ccstore.server.__main__`).
:class:`Server` wires the pieces: the Store <- the group commit
(:mod:`ccstore.ingest.commit`) <- the REST API (Bottle on :mod:`ccstore.ingest.httpserver`) and the
receivers of :mod:`ccstore.ingest` (nats, http, files, syslog).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional, Tuple

from ..config import (Config, FilesReceiverConfig, HttpReceiverConfig, NatsReceiverConfig,
                      SyslogReceiverConfig, describe)
from ..ingest.commit import StorageManager

__all__ = ["Server", "StorageManager"]

log = logging.getLogger("ccstore.server")


class Server:
    """Everything one ``python -m ccstore.server`` runs; :meth:`start`, then :meth:`stop`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Any = None
        self.manager: Optional[StorageManager] = None
        self.monitor: Any = None
        self.api: Any = None
        self.tails: Any = None
        self.http_receivers: List[Any] = []
        self.nats: Any = None
        self.syslog: List[Any] = []
        self.files: List[Tuple[Any, threading.Thread]] = []
        self._files_stop = threading.Event()

    def start(self) -> Tuple[str, int]:
        """Open the store, start the manager, receivers and the API; return the API's
        (host, port)."""
        from ..ingest.http import HttpReceiver
        from ..ingest.httpserver import ServerThread
        from ..ingest.nats import NatsReceivers
        from ..ingest.syslog import SyslogReceiver
        from ..store import open as open_store
        from .app import make_app
        from .monitor import CommitWatch, Monitor
        from .tail import Tails

        cfg = self.config
        st = cfg.storage
        self.store = open_store(st.backend.target, **st.store_options())
        try:
            # the group commit writes through the watch: commit latency and failures
            watch = CommitWatch(self.store)
            self.manager = StorageManager(
                watch, flush_time=st.flush_time, batch_size=st.batch_size,  # type: ignore[arg-type]
                max_process=st.max_process, store_logs=st.store_logs,
                retention_interval=st.retention_interval,
                body_budget=st.body_budget).start()
            self.manager.register_source("api")
            self.monitor = Monitor(self.store, self.manager, watch,
                                   receivers=self.receiver_info, servers=self.http_servers)
            self.tails = Tails(self.store, cfg.api.threads // 2)
            app = make_app(self.store, self.manager, cfg.api, extra_stats=self._extra_stats,
                           monitor=self.monitor, tails=self.tails)
            a = cfg.api
            self.api = ServerThread(app, a.address, a.port, name="api", **a.server_options())
            for rc in cfg.receivers:
                if isinstance(rc, HttpReceiverConfig):
                    r = HttpReceiver(rc, self.manager)
                    r.start()
                    self.http_receivers.append(r)
                elif isinstance(rc, FilesReceiverConfig):
                    self._start_files(rc)
                elif isinstance(rc, SyslogReceiverConfig):
                    s = SyslogReceiver(rc, self.manager)
                    self.syslog.append(s)
                    s.start()
            nats_cfgs = [rc for rc in cfg.receivers if isinstance(rc, NatsReceiverConfig)]
            self.nats = NatsReceivers(nats_cfgs, self.manager)
            self.nats.start()
            self.api.start()
        except BaseException:
            self.stop()
            raise
        return self.api.bound

    def _start_files(self, rc: FilesReceiverConfig) -> None:
        """A files receiver commits its rows with its positions (``state=``), so it
        writes to the store itself rather than through the group commit."""
        from ..ingest.files import FileReceiver

        r = FileReceiver(self.store, rc.paths, cluster=rc.cluster, hostname=rc.hostname,
                         format=rc.format, timezone=rc.timezone, start_at=rc.start_at,
                         name=rc.name, pattern=rc.pattern, regex=rc.regex, levels=rc.levels,
                         time_format=rc.time_format)
        t = threading.Thread(target=r.run, args=(self._files_stop, rc.interval),
                             name=f"ccstore-files-{rc.name}", daemon=True)
        t.start()
        self.files.append((r, t))
        log.debug("files receiver %s following %s", rc.name, ", ".join(rc.paths))

    def receiver_info(self) -> Dict[str, Dict[str, Any]]:
        """Each receiver's type, state and counters (for statistics and health)."""
        receivers: Dict[str, Any] = {}
        if self.nats is not None:
            receivers.update(self.nats.info())
        for r in self.http_receivers:
            host, port = r.bound
            up = r.server is not None and r.server.alive
            receivers[r.source] = {"type": "http", "state": "listening" if up else "down",
                                   "url": f"http://{host}:{port}{r.config.path}"}
        for r, t in self.files:
            receivers[r.name] = dict(r.info(), state="following" if t.is_alive() else "down")
        for s in self.syslog:
            receivers[s.source] = s.info()
        return receivers

    def http_servers(self) -> Dict[str, Any]:
        """The HTTP servers by name: the API and each http receiver."""
        out = {"api": self.api} if self.api is not None else {}
        for r in self.http_receivers:
            if r.server is not None:
                out[r.source] = r.server
        return out

    def _extra_stats(self) -> Dict[str, Any]:
        info = dict(describe(self.config))
        info.pop("receivers", None)
        return {"receivers": self.receiver_info(), "info": info}

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, commit what was accepted, close."""
        if self.tails is not None:  # endless answers: ended first, or the API waits on them
            self.tails.close()
        if self.api is not None:
            self.api.stop()
            self.api = None
        for r in self.http_receivers:
            r.close()
        self.http_receivers = []
        if self.nats is not None:
            self.nats.close()
            self.nats = None
        for s in self.syslog:
            s.close()  # what was read is committed first
        self.syslog = []
        self._files_stop.set()
        for _r, t in self.files:
            t.join(60)  # the receiver stores what it has read and saves its positions
        self.files = []
        if self.manager is not None:
            self.manager.close()
            self.manager = None
        if self.store is not None:
            self.store.close()
            self.store = None
