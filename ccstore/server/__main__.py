"""``python -m ccstore.server``: the command line of the Go ``cc-event-store``.

Flags as in Go: ``-config FILE`` (also ``--config``), ``-loglevel
debug|info|warn|err``, ``-logdate``.  Without ``-config``: ``./config.json`` when
it exists (as the Go program), else the embedded default: SQLite
``./ccstore.db``, the API on 127.0.0.1:8088, no authentication.

SIGTERM / SIGINT: stop accepting, finish requests in flight, commit, close,
exit 0 (a second signal exits at once).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import List, Optional

from .._version import __version__
from ..config import ConfigError, default_config, load_config

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "err": logging.ERROR, "error": logging.ERROR,
          "fatal": logging.CRITICAL, "crit": logging.CRITICAL}

log = logging.getLogger("ccstore.server")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m ccstore.server", allow_abbrev=False,
        description="ccstore: event and log store for ClusterCockpit, a drop-in "
                    "replacement of cc-event-store (same config files and REST API).")
    p.add_argument("-config", "--config", metavar="FILE",
                   help="central config file (default: ./config.json if it exists, else "
                        "the embedded default: SQLite ./ccstore.db, API on 127.0.0.1:8088, "
                        "no auth)")
    p.add_argument("-loglevel", "--loglevel", default="info", choices=sorted(LEVELS),
                   metavar="LEVEL", help="debug, info (default), warn or err")
    p.add_argument("-logdate", "--logdate", action="store_true",
                   help="add date and time to log messages")
    p.add_argument("-version", "--version", action="version",
                   version=f"ccstore {__version__}")
    return p.parse_args(argv)


def setup_logging(level: str, with_date: bool) -> None:
    fmt = "%(levelname)s %(name)s: %(message)s"
    if with_date:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=LEVELS[level], format=fmt, stream=sys.stderr)
    # the HTTP layer's own per-connection chatter (timeouts, malformed requests, 4xx
    # access lines) stays quiet unless asked for
    for name in ("tornado.access", "tornado.general"):
        logging.getLogger(name).setLevel(max(LEVELS[level], logging.ERROR))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    setup_logging(args.loglevel, args.logdate)
    from . import Server

    try:
        if args.config:
            cfg = load_config(args.config)
        elif os.path.exists("config.json"):
            log.info("using ./config.json")
            cfg = load_config("config.json")
        else:
            cfg = default_config()
            log.debug("no -config given and no ./config.json: the embedded default")
    except ConfigError as e:
        log.error("configuration error: %s", e)
        return 2

    stop = threading.Event()
    signals_seen = []

    def on_signal(signum: int, _frame: object) -> None:
        signals_seen.append(signum)
        if len(signals_seen) > 1:
            os._exit(1)  # second signal: no cleanup, as the Go program
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = Server(cfg)
    try:
        host, port = server.start()
    except Exception as e:
        log.error("cannot start: %s", e)
        return 1
    if cfg.api.jwt_public_key is None:
        log.warning("no jwt_public_key configured: the REST API is open to anyone who can "
                    "reach %s:%d", host, port)
    shown = f"[{host}]" if ":" in host else host
    b = cfg.storage.backend
    log.info("ccstore %s listening on http://%s:%d/api/ (storage: %s)", __version__, shown,
             port, f"SQLite {os.path.abspath(b.target)}" if b.type == "sqlite" else b.type)
    while not stop.wait(3600):
        pass
    log.info("shutting down (signal %d)", signals_seen[0])
    server.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
