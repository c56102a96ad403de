"""Ingest: what brings lines into a :class:`~ccstore.store.Store` while a server runs.

- :mod:`.commit`: the group commit (:class:`~.commit.StorageManager`) and retention;
- :mod:`.body`: line-protocol request bodies over HTTP (size limits, gzip, the answer);
- :mod:`.httpserver`: the HTTP server, connections multiplexed on an event loop and the
  WSGI application in worker threads (the REST API uses it too);
- the receivers: :mod:`.http`, :mod:`.nats`, :mod:`.files`, :mod:`.syslog`.

Ingest uses the store and never the server: the server wires ingest, store and the API.
"""
