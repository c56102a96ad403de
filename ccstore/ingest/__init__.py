"""Ingest: what brings lines into a :class:`~ccstore.store.Store` while a server runs.

- :mod:`.commit`: the group commit (:class:`~.commit.StorageManager`) and retention;
- :mod:`.body`: line-protocol request bodies over HTTP (size limits, gzip, the answer);
- :mod:`.httpserver`: a cheroot WSGI server in a thread (the REST API uses it too);
- the receivers: :mod:`.http`, :mod:`.nats`, :mod:`.files`.

Ingest uses the store and never the server: the server wires ingest, store and the API.
"""
