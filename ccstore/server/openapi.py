"""The OpenAPI 3 document of the REST API (served at ``/api/openapi.json``)."""
from __future__ import annotations

from typing import Any, Dict

from .._version import __version__

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
        "from": {"type": "integer", "description": "Unix seconds, inclusive"},
        "to": {"type": "integer", "description": "Unix seconds, inclusive; 0 or absent = now"},
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
            ("from", {"type": "integer"}, "Unix seconds"),
            ("to", {"type": "integer"}, "Unix seconds; 0 or absent = now"),
            ("by", {"type": "string"}, "Comma-separated tags or hostname/type/name/cluster; "
                                       "default loglevel (logs) or function (events)"),
            ("interval", {"type": "string"}, "Histogram bucket, Go duration (`1h`) or "
                                             "seconds"),
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
