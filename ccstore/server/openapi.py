"""The OpenAPI 3 document of the REST API (served at ``/api/openapi.json``, and shown by
the Swagger page)."""
from __future__ import annotations

from typing import Any, Dict

from .._version import __version__
from ..query import DEFAULTS

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: Dict[str, Any], description: str) -> Dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> Dict[str, Any]:
    text = {400: "Bad Request: the message names what is wrong",
            401: "Unauthorized (missing, malformed, expired or not EdDSA-signed token)",
            413: "Request body larger than max_body_size", 415: "Unsupported Content-Encoding",
            500: "Internal Server Error", 503: "Shutting down or storage unavailable"}
    return {str(c): _json(_ERROR, text[c]) for c in codes}


_TIME_TEXT = ("Unix time (s, ms, us or ns, judged by size), ISO 8601 (`2026-12-01`, "
              "`2026-12-01T10:00Z`; UTC without a zone), `now`, or relative (`-1h`, "
              "`now-2d`). A bound covers its whole unit: an end of `2026-12-01` includes "
              "that day.")
_TIME = {"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string"}]}

_STR_OR_LIST = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

_CONDITION = {
    "description": "A tag condition. String form: `loglevel==error`, `loglevel!=debug`, "
                   "`loglevel in (error,warn)`, `loglevel not in (debug)`; also "
                   "`{\"tag\", \"op\", \"value\"}` or `[tag, op, value]`. Values are always "
                   "bound parameters.",
    "oneOf": [
        {"type": "string"},
        {"type": "object", "required": ["tag", "op", "value"],
         "properties": {"tag": {"type": "string"},
                        "op": {"type": "string", "enum": ["==", "!=", "in", "not in"]},
                        "value": _STR_OR_LIST}},
        {"type": "array", "minItems": 3, "maxItems": 3},
    ],
}

_QUERY = {
    "type": "object",
    "description": "One query. `event`, `host`, `type`, `type-ids`, `subtype`, "
                   "`subtype-ids` as in the Go cc-event-store; the rest are ccstore "
                   "extensions.",
    "properties": {
        "event": {"description": "Event class / log source (measurement); empty = any",
                  **_STR_OR_LIST},
        "host": {"description": "Hostname or list of hostnames; empty = any", **_STR_OR_LIST},
        "type": {"type": "string"},
        "type-ids": {"type": "array", "items": {"type": "string"},
                     "description": "One result entry per type-id (all type-ids when empty)"},
        "subtype": {"type": "string"},
        "subtype-ids": {"type": "array", "items": {"type": "string"},
                        "description": "One result entry per type-id and subtype-id"},
        "kind": {"type": "string", "enum": ["event", "log"]},
        "conditions": {"type": "array", "items": _CONDITION},
        "text": {"type": "string", "description": "Full-text query over the payload"},
        "limit": {"type": "integer", "minimum": 0},
        "order": {"type": "string", "enum": ["asc", "desc"]},
        "cursor": {"type": "string", "description": "`cursor` of a previous answer's entry"},
        "full": {"type": "boolean", "description": "Add name, hostname, tags... to each datum"},
    },
}

_QUERY_REQUEST = {
    "type": "object",
    "properties": {
        "cluster": {"type": "string"},
        "from": {**_TIME, "description": "Start, inclusive: " + _TIME_TEXT},
        "to": {**_TIME, "description": "End, inclusive (its whole second, day...); 0 or "
                                       "absent = now. " + _TIME_TEXT},
        "queries": {"type": "array", "items": _QUERY},
        "for-all-nodes": {"type": "array", "items": {"type": "string"},
                          "description": "Event names to query for every host that has them "
                                         "in the time range; the expanded queries are listed "
                                         "in the answer's `queries`"},
        "kind": {"type": "string", "enum": ["event", "log"], "default": "event"},
        "conditions": {"type": "array", "items": _CONDITION},
        "text": {"type": "string"},
        "limit": {"type": "integer"},
        "order": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
        "full": {"type": "boolean", "default": False},
    },
    "example": {"cluster": "alex", "from": 1740000000, "to": 1740099999,
                "queries": [{"event": "job", "host": "mngmt02", "type": "node",
                             "type-ids": ["0"], "subtype": "", "subtype-ids": []}],
                "for-all-nodes": []},
}

_QUERY_RESPONSE = {
    "type": "object",
    "properties": {
        "queries": {"type": "array", "items": _QUERY},
        "results": {"type": "array", "description": "One list per query",
                    "items": {"type": "array", "description": "One entry per type-id "
                              "(and subtype-id)", "items": {
                                  "type": "object",
                                  "properties": {
                                      "data": {"type": "array", "items": {
                                          "type": "object",
                                          "properties": {"Event": {"type": "string"},
                                                         "timestamp": {"type": "integer"}}}},
                                      "from": {"type": "integer"},
                                      "to": {"type": "integer"},
                                      "cursor": {"type": "string", "description":
                                                 "Present when the limit was reached: pass "
                                                 "it back as `cursor` for the next page"},
                                      "error": {"type": "string"}}}}},
    },
}

_HEALTH = {
    "type": "object", "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok"]},
                   "version": {"type": "string"}, "uptime": {"type": "number"}},
}

_WRITE_ERRORS = {
    "type": "object",
    "properties": {
        "status": {"type": "string"}, "error": {"type": "string"},
        "written": {"type": "integer", "description": "Rows stored from this request"},
        "rejected": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "line": {"type": "integer"}, "column": {"type": "integer"},
            "message": {"type": "string"}}}},
    },
}


# ---------------------------------------------------------------- the query language

_RECORD = {
    "type": "object",
    "description": "One log line or event; the same names in the CLI's JSON lines and "
                   "Python's `Record.as_dict()`.",
    "properties": {
        "time": {"type": "string", "description": "ISO 8601 UTC, nine fractional digits"},
        "ts_ns": {"type": "integer", "description": "nanoseconds since the epoch"},
        "cluster": {"type": "string"},
        "kind": {"type": "string", "enum": ["log", "event"]},
        "host": {"type": "string", "nullable": True},
        "type": {"type": "string", "nullable": True},
        "type_id": {"type": "string", "nullable": True},
        "stype": {"type": "string", "nullable": True},
        "stype_id": {"type": "string", "nullable": True},
        "name": {"type": "string", "description": "measurement: event class or log source"},
        "level": {"type": "string", "nullable": True,
                  "description": "the loglevel tag as stored"},
        "message": {"type": "string", "description": "the log line or the event"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "cursor": {"type": "string", "description": "position, for `after=`"},
    },
}


def _param(name: str, description: str, schema: Any = None, **extra: Any) -> Dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": schema or {"type": "string"}, **extra}


_Q = _param("q", "The query: `disk full`, `\"a phrase\"`, `Xid*`, `~\"re\"`, "
                 "`host:node[001-064]`, `level:>=warn`, `function:start_job`, `kind:log`, "
                 "`_time:1h`, `job:4711`, with `AND` (or a space), `OR`, `NOT`/`-` and "
                 "parentheses. Empty: everything.",
            example="level:>=warn host:a0[000-063]")
_START = _param("start", "Start, inclusive. " + _TIME_TEXT, example="-1h")
_END = _param("end", "End, inclusive of its whole unit. " + _TIME_TEXT)
_BAD = "Bad Request: an unknown parameter, a query syntax error (with `column`), an " \
       "unknown cluster or job, a bad time"


def _get(summary: str, description: str, params: Any, schema: Dict[str, Any],
         auth: Any) -> Dict[str, Any]:
    return {"get": {"summary": summary, "description": description, "security": auth,
                    "parameters": params,
                    "responses": {"200": _json(schema, summary),
                                  "400": _json(_ERROR, _BAD), **_errors(401, 500)}}}


def _query_language_paths(auth: Any) -> Dict[str, Any]:
    """``/search``, ``/hits``, ``/facets``, ``/group``, ``/job/{id}``, ``/tail``."""
    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    hits = {"type": "object", "properties": {
        "interval_s": {"type": "integer", "description": "bucket width, seconds"},
        "start": {"type": "integer", "description": "first bucket, Unix seconds"},
        "end": {"type": "integer", "description": "end of the last bucket, Unix seconds"},
        "by": {"type": "string", "nullable": True},
        "total": {"type": "integer"},
        "buckets": {"type": "array", "items": {"type": "object", "properties": {
            "time": {"type": "string", "description": "bucket start, ISO 8601"},
            "start": {"type": "integer", "description": "bucket start, Unix seconds"},
            "counts": {**counts, "description": "per value of `by` (`\"\"`: records "
                                                "without one; not split: `*`)"}}}}}}
    facet = {"type": "array", "items": {"type": "object", "properties": {
        "value": {"type": "string"}, "count": {"type": "integer"}}}}
    group = {"type": "object", "properties": {
        "template": {"type": "string", "description": "the message, numbers and ids masked"},
        "count": {"type": "integer"},
        "first": {"type": "string", "description": "ISO 8601"},
        "last": {"type": "string", "description": "ISO 8601"},
        "first_ns": {"type": "integer"}, "last_ns": {"type": "integer"},
        "hosts": {"type": "string", "description": "Slurm hostlist (`node[001-064]`)"},
        "sample": {"type": "string", "description": "one of the messages"}}}
    job = {"type": "object", "properties": {
        "job_id": {"type": "string"}, "cluster": {"type": "string"},
        "hosts": {"type": "string", "description": "Slurm hostlist"},
        "host_count": {"type": "integer"},
        "start": {"type": "string"}, "end": {"type": "string"},
        "start_ns": {"type": "integer"}, "end_ns": {"type": "integer",
                                                    "description": "exclusive"},
        "running": {"type": "boolean"}}}
    integer = {"type": "integer"}
    return {
        "/search": _get(
            "Logs and events matching a query",
            "Newest first unless `order=asc`. `next`, when not null, is the `after` of the "
            "next page.",
            [_Q, _START, _END,
             _param("limit", "Records per answer (0 to the server's query_limit)",
                    {"type": "integer", "default": DEFAULTS["limit"]}),
             _param("order", "", {"type": "string", "enum": ["desc", "asc"],
                                  "default": DEFAULTS["order"]}),
             _param("after", "`next` of the previous page (or a record's `cursor`)")],
            {"type": "object", "properties": {
                "records": {"type": "array", "items": _RECORD},
                "next": {"type": "string", "nullable": True}}}, auth),
        "/hits": _get(
            "Counts per time bucket",
            "Zero-filled buckets over [start, end), split by a field or tag.",
            [_Q, _START, _END,
             _param("interval", "Bucket width (`5m`, `1h`, seconds); default: the range "
                                "in `buckets` buckets"),
             _param("by", "Split by this field or tag; empty: one count per bucket",
                    {"type": "string", "default": "level"}),
             _param("buckets", "Buckets when no interval is given",
                    {"type": "integer", "default": DEFAULTS["hits_buckets"]})],
            hits, auth),
        "/facets": _get(
            "Top values of fields",
            "Counts over every matching record, not a sample.",
            [_Q, _START, _END,
             _param("fields", "Comma-separated fields or tags; default host, level, name, "
                              "type, kind, cluster and the commonest tags"),
             _param("limit", "Values per field", {**integer,
                                                  "default": DEFAULTS["facet_top"]})],
            {"type": "object", "properties": {
                "facets": {"type": "object", "additionalProperties": facet}}}, auth),
        "/group": _get(
            "Identical messages across hosts (dshbak -c)",
            "Messages with numbers, ids and addresses masked, each with its count, first "
            "and last time and its hosts as a hostlist; biggest first.",
            [_Q, _START, _END,
             _param("limit", "Groups", {**integer, "default": DEFAULTS["group_limit"]})],
            {"type": "object", "properties": {"groups": {"type": "array", "items": group}}},
            auth),
        "/job/{id}": {"get": {
            "summary": "A job's cluster, hosts and time window",
            "description": "From the job's start_job / stop_job events; a running job "
                           "ends now.",
            "security": auth,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}},
                           _param("cluster", "The job's cluster, when ids repeat across "
                                             "clusters")],
            "responses": {"200": _json(job, "The job"), "400": _json(_ERROR, _BAD),
                          "404": _json(_ERROR, "No event names the job"),
                          **_errors(401, 500)}}},
        "/tail": {"get": {
            "summary": "Live tail: new records as server-sent events",
            "description": "An endless `text/event-stream`: `open` first, then a `lines` "
                           "event (a JSON array of records, oldest first) whenever records "
                           "matching `q` were committed, polled every 250 ms; `skipped` "
                           "(`{\"skipped\": n}`) when the client read too slowly and the "
                           "stream jumped to the newest records; `error` when the store "
                           "failed (the stream ends); a `: ping` comment after a second "
                           "of silence. An event's `id` is the cursor of its last record: "
                           "`after=` resumes there. A record stamped older than the newest "
                           "one sent is not sent. At most half the API's threads serve "
                           "tails at once; past that, 503.",
            "security": auth,
            "parameters": [_Q, _param("after", "Start after this record's `cursor` "
                                               "(default: now)")],
            "responses": {"200": {"description": "The event stream",
                                  "content": {"text/event-stream": {
                                      "schema": {"type": "string"}}}},
                          "400": _json(_ERROR, _BAD), **_errors(401, 500, 503)}}},
    }


def openapi_document() -> Dict[str, Any]:
    """The OpenAPI 3.0 description of ``/api/``."""
    auth = [{"BearerAuth": []}, {"ApiKeyAuth": []}]
    write_params = [
        {"name": "cluster", "in": "query", "schema": {"type": "string"},
         "description": "Cluster of the lines that have no cluster tag"},
        {"name": "precision", "in": "query",
         "schema": {"type": "string", "enum": ["auto", "ns", "us", "ms", "s"],
                    "default": "auto"},
         "description": "Timestamp unit; auto guesses it from the magnitude"},
    ]
    write = {
        "summary": "Store events and logs (line protocol)",
        "description": "Answers after the lines are committed. 204: every line stored. "
                       "400: some lines were rejected (each named by line and column); "
                       "the others are stored all the same. `Content-Encoding: gzip` "
                       "accepted.",
        "security": auth,
        "parameters": write_params,
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {
            "type": "string", "example": "job,cluster=alex,hostname=mngmt02,type=node,"
                                         "type-id=0,function=stop_job event=\"done\" "
                                         "1740027951"}}}},
        "responses": {"204": {"description": "All lines stored"},
                      "400": _json(_WRITE_ERRORS, "Some lines rejected"),
                      **_errors(401, 413, 415, 500, 503)},
    }
    query = {
        "summary": "Query events (and logs)",
        "description": "The Go cc-event-store's request and answer, plus extensions: "
                       "kind log, host lists, tag conditions, full-text, limit, order, "
                       "cursor. GET with a JSON body, or POST for clients that cannot "
                       "send a body with GET. A request without `queries` is one query "
                       "made of its top-level keys.",
        "security": auth,
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _QUERY_REQUEST}}},
        "responses": {"200": _json(_QUERY_RESPONSE, "One list of entries per query"),
                      **_errors(400, 401, 413, 415, 500)},
    }
    count_params = [
        {"name": n, "in": "query", "schema": s, "description": d} for n, s, d in (
            ("cluster", {"type": "string"}, ""),
            ("kind", {"type": "string", "enum": ["log", "event"], "default": "log"}, ""),
            ("from", {"type": "string"}, _TIME_TEXT),
            ("to", {"type": "string"}, _TIME_TEXT),
            ("by", {"type": "string"}, "Comma-separated tags or hostname/type/name/cluster; "
                                       "default loglevel (logs) or function (events)"),
            ("interval", {"type": "string"}, "Histogram bucket: a duration (`1h`, `90m`, "
                                             "`1d`) or seconds (`3600`)"),
            ("host", {"type": "string"}, "Repeatable"),
            ("event", {"type": "string"}, "Repeatable"),
            ("type", {"type": "string"}, ""),
            ("type-id", {"type": "string"}, "Repeatable"),
            ("condition", {"type": "string"}, "Repeatable, e.g. `loglevel!=debug`"),
            ("text", {"type": "string"}, "Full-text query"))
    ]
    count = {
        "summary": "Counts and histograms",
        "description": "Rows grouped by `by` (and time buckets with `interval`). The same "
                       "keys are accepted in a JSON body (GET or POST).",
        "security": auth,
        "parameters": count_params,
        "responses": {"200": _json({"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["log", "event"]},
            "by": {"type": "array", "items": {"type": "string"}},
            "interval": {"type": "integer", "nullable": True,
                         "description": "Bucket width in seconds; null without buckets"},
            "total": {"type": "integer"},
            "counts": {"type": "array", "items": {"type": "object", "properties": {
                "timestamp": {"type": "integer", "description": "Bucket start, Unix seconds"},
                "count": {"type": "integer"}}}}}}, "Counts"),
            **_errors(400, 401, 413, 415, 500)},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "ccstore REST API", "version": __version__,
                 "description": "Event and log store for ClusterCockpit: a drop-in "
                                "replacement of cc-event-store's API.",
                 "license": {"name": "MIT"}},
        "servers": [{"url": "/api"}],
        "paths": {
            "/write/": {"post": write},
            "/query/": {"get": query, "post": dict(query, summary="Query events (POST)")},
            "/count/": {"get": count, "post": dict(count, summary="Counts (POST)")},
            **_query_language_paths(auth),
            "/stats/": {"get": {"summary": "Counters of receivers, storage and retention",
                                "security": auth,
                                "responses": {"200": _json({"type": "object"}, "Statistics"),
                                              **_errors(401)}}},
            "/health": {"get": {"summary": "Health (no authentication)",
                                "description": "200 when ingest works and storage can write; "
                                               "else 503 naming why (storage cannot write, "
                                               "a receiver is down, shutting down).",
                                "responses": {"200": _json(_HEALTH, "Healthy"),
                                              **_errors(503)}}},
        },
        "components": {
            "securitySchemes": {
                "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "EdDSA (Ed25519) signed JWT"},
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            },
            "schemas": {"Error": {"type": "object", "required": ["status", "error"],
                                  "properties": {"status": {"type": "string"},
                                                 "error": {"type": "string"}}}},
        },
    }
