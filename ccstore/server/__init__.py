"""The ccstore server: the Go ``cc-event-store`` replaced, config files unchanged.

``python -m ccstore.server -config ./config.json`` (see :mod:`ccstore.server.__main__`).
:class:`Server` wires the pieces: Store <- storage manager (group commit,
retention) <- REST API (Bottle on cheroot) and receivers (nats, http).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

from ..config import Config, HttpReceiverConfig, NatsReceiverConfig, describe
from .manager import StorageManager

__all__ = ["Server", "StorageManager"]

log = logging.getLogger("ccstore.server")


class Server:
    """Everything one ``python -m ccstore.server`` runs; :meth:`start`, then :meth:`stop`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Any = None
        self.manager: Optional[StorageManager] = None
        self.api: Any = None
        self.http_receivers: List[Any] = []
        self.nats: Any = None

    def start(self) -> Tuple[str, int]:
        """Open the store, start the manager, receivers and the API; return the API's
        (host, port)."""
        import ccstore

        from ..receivers.http import HttpReceiver
        from ..receivers.nats import NatsReceivers
        from .app import make_app
        from .httpserver import ServerThread

        cfg = self.config
        st = cfg.storage
        self.store = ccstore.open(st.backend.target, **st.store_options())
        try:
            self.manager = StorageManager(
                self.store, flush_time=st.flush_time, batch_size=st.batch_size,
                max_process=st.max_process, store_logs=st.store_logs,
                retention_interval=st.retention_interval).start()
            self.manager.register_source("api")
            app = make_app(self.store, self.manager, cfg.api, extra_stats=self._extra_stats)
            a = cfg.api
            self.api = ServerThread(app, a.address, a.port, threads=a.threads,
                                    idle_timeout=a.idle_timeout,
                                    keep_alives=a.keep_alives_enabled, name="api")
            for rc in cfg.receivers:
                if isinstance(rc, HttpReceiverConfig):
                    r = HttpReceiver(rc, self.manager)
                    r.start()
                    self.http_receivers.append(r)
            nats_cfgs = [rc for rc in cfg.receivers if isinstance(rc, NatsReceiverConfig)]
            self.nats = NatsReceivers(nats_cfgs, self.manager)
            self.nats.start()
            self.api.start()
        except BaseException:
            self.stop()
            raise
        return self.api.bound

    def _extra_stats(self) -> Dict[str, Any]:
        receivers: Dict[str, Any] = {}
        if self.nats is not None:
            receivers.update(self.nats.info())
        for r in self.http_receivers:
            host, port = r.bound
            receivers[r.source] = {"type": "http", "state": "listening",
                                   "url": f"http://{host}:{port}{r.config.path}"}
        info = dict(describe(self.config))
        info.pop("receivers", None)
        return {"receivers": receivers, "info": info}

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, commit what was accepted, close."""
        if self.api is not None:
            self.api.stop()
            self.api = None
        for r in self.http_receivers:
            r.close()
        self.http_receivers = []
        if self.nats is not None:
            self.nats.close()
            self.nats = None
        if self.manager is not None:
            self.manager.close()
            self.manager = None
        if self.store is not None:
            self.store.close()
            self.store = None
