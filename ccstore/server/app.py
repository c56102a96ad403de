"""The Bottle application: thin handlers over the storage manager and the Store.

All under ``/api/``, with and without a trailing slash: ``write``, ``query``,
``count``, ``search``, ``hits``, ``facets``, ``group``, ``job/<id>``, ``tail`` (server-sent
events, :mod:`.tail`), ``stats``, ``health``, ``openapi.json``; the web page at ``/``
(:mod:`.web`); Swagger UI at ``/swagger/`` when enabled.  Errors are JSON
``{"status": ..., "error": ...}``.
"""
from __future__ import annotations

import functools
import json
import logging
import mimetypes
import os
import time
from collections.abc import Mapping
from http.client import responses as _REASONS
from typing import Any, Callable, Dict, List, Optional

import bottle

from .._version import __version__
from ..config import ApiConfig
from ..ingest.body import ApiError, error_body, read_body, write_request
from ..ingest.commit import StorageManager
from ..ingest.httpserver import query_params
from ..store import Store
from .api import (
    RequestError,
    json_chunks,
    run_count,
    run_facets,
    run_group,
    run_hits,
    run_job,
    run_query,
    run_search,
)
from .auth import Authenticator, AuthError
from .monitor import Monitor
from .openapi import openapi_document
from .tail import Tails
from .web import add_page

__all__ = ["make_app"]

log = logging.getLogger("ccstore.api")


def json_response(status: int, body: Any, headers: Optional[Mapping[str, str]] = None
                  ) -> bottle.HTTPResponse:
    resp = bottle.HTTPResponse(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                               status=status)
    resp.content_type = "application/json"
    for k, v in (headers or {}).items():
        resp.set_header(k, v)
    return resp


#: JSON requests nested deeper than this are refused (a real one needs 5 levels)
MAX_JSON_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_body(environ: Mapping[str, Any], limit: int) -> Any:
    raw = read_body(environ, limit)
    if not raw.strip():
        return None
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ApiError(400, "failed to parse API request: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"failed to parse API request: {exc}") from None
    _check_json(value)
    return value


def _check_json(value: Any) -> None:
    """Refuse what parses as JSON but is no request: nesting deeper than MAX_JSON_DEPTH,
    strings that are not text (lone surrogates) or hold NUL characters."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, f"failed to parse API request: JSON nested deeper than "
                                f"{MAX_JSON_DEPTH} levels")
        if isinstance(v, dict):
            for k, x in v.items():
                _check_text(k)
                stack.append((x, depth + 1))
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str):
            _check_text(v)


def _check_text(s: str) -> None:
    if "\0" in s:
        raise ApiError(400, f"{s[:40]!r}: NUL characters are not allowed in requests")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{s[:40]!r}: not text (a lone UTF-16 surrogate)") from None


def query_string(environ: Mapping[str, Any]) -> Dict[str, List[str]]:
    """The query-string parameters, each with the list of its values, decoded as UTF-8
    (percent escapes and raw bytes alike); ApiError 400 when they are not UTF-8 or hold
    NUL characters."""
    try:
        pairs = query_params(dict(environ))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    out: Dict[str, List[str]] = {}
    for key, value in pairs:
        _check_text(key)
        _check_text(value)
        out.setdefault(key, []).append(value)
    return out


#: /api/count/ parameters that may be repeated (the others: the last value counts)
_REPEATABLE = ("host", "hosts", "event", "events", "type-id", "type-ids", "subtype-id",
               "subtype-ids", "condition", "conditions")


def _query_params(environ: Mapping[str, Any]) -> Dict[str, Any]:
    """Query-string parameters; repeatable ones as lists."""
    return {key: values if key in _REPEATABLE else values[-1]
            for key, values in query_string(environ).items()}


def make_app(store: Store, manager: StorageManager, api_config: ApiConfig, *,
             extra_stats: Optional[Callable[[], Dict[str, Any]]] = None,
             monitor: Optional[Monitor] = None, tails: Optional[Tails] = None
             ) -> bottle.Bottle:
    """The WSGI application of the REST API (``monitor``: what health and metrics
    watch; by default the store and the group commit alone; ``tails``: the live
    tails, by default at most half the API's threads at once)."""
    app = bottle.Bottle(catchall=True)
    app.config["json.enable"] = False  # every answer is encoded here
    auth = Authenticator(api_config.jwt_public_key) if api_config.jwt_public_key else None
    if monitor is None:
        monitor = Monitor(store, manager)
    monitor.auth = auth
    started = time.time()
    limit = api_config.max_body_size
    if tails is None:
        tails = Tails(store, api_config.threads // 2)

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except ApiError as e:
                return json_response(e.status, error_body(e.status, e.message, **e.extra),
                                     e.headers)
            except RequestError as e:
                return json_response(400, error_body(400, str(e)))
            except Exception:
                log.exception("%s %s failed", bottle.request.method, bottle.request.path)
                return json_response(500, error_body(500, "internal error, see the server log"))
        return wrapper

    def protected(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if auth is not None:
                try:
                    auth.authenticate(bottle.request.environ)
                except AuthError as e:
                    manager.count_error("api", "unauthorized")
                    raise ApiError(401, str(e), headers={"WWW-Authenticate": "Bearer"})
            return fn(*args, **kwargs)
        return guarded(wrapper)

    def route(path: str, method: Any = "GET") -> Callable[[Callable[..., Any]], Any]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            app.route(path, method, fn)
            app.route(path + "/", method, fn)
            return fn
        return deco

    # ------------------------------------------------------------------ write
    @route("/api/write", "POST")
    @protected
    def write() -> Any:
        q = _query_params(bottle.request.environ)
        problem = write_request(manager, bottle.request.environ, source="api",
                                cluster=q.get("cluster") or None,
                                precision=q.get("precision") or "auto", limit=limit)
        if problem is not None:
            return json_response(400, problem)
        return bottle.HTTPResponse(status=204)

    # ------------------------------------------------------------------ query
    @route("/api/query", ["GET", "POST"])
    @protected
    def query() -> Any:
        req = _json_body(bottle.request.environ, limit)
        if req is None:
            raise ApiError(400, "failed to parse API request: empty body (send the query "
                                "as JSON)")
        answer = run_query(store, req, max_limit=api_config.query_limit)
        resp = bottle.HTTPResponse(json_chunks(answer))  # written as the records come
        resp.content_type = "application/json"
        return resp

    # ------------------------------------------------------------------ count
    @route("/api/count", ["GET", "POST"])
    @protected
    def count() -> Any:
        params = _query_params(bottle.request.environ)
        body = _json_body(bottle.request.environ, limit)
        if body is not None:
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            params.update(body)
        return json_response(200, run_count(store, params))

    # ------------------------------------------------------------------ the query language
    @route("/api/search")
    @protected
    def search() -> Any:
        params = query_string(bottle.request.environ)
        return json_response(200, run_search(store, params, max_limit=api_config.query_limit))

    @route("/api/hits")
    @protected
    def hits() -> Any:
        return json_response(200, run_hits(store, query_string(bottle.request.environ)))

    @route("/api/facets")
    @protected
    def facets() -> Any:
        return json_response(200, run_facets(store, query_string(bottle.request.environ)))

    @route("/api/group")
    @protected
    def group() -> Any:
        return json_response(200, run_group(store, query_string(bottle.request.environ)))

    @route("/api/job/<job_id>")
    @protected
    def job(job_id: str) -> Any:
        return json_response(200, run_job(store, job_id, query_string(bottle.request.environ)))

    @route("/api/tail")
    @protected
    def tail() -> Any:
        params = query_string(bottle.request.environ)
        if bottle.request.method == "HEAD":  # no body to end when the client goes: no tail
            stream: Any = b""
        else:
            stream = tails.open(params)
        resp = bottle.HTTPResponse(stream)  # each event written as it comes
        resp.content_type = "text/event-stream; charset=utf-8"
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Accel-Buffering", "no")  # nginx: do not hold the events back
        return resp

    # ------------------------------------------------------------------ stats
    @route("/api/stats")
    @protected
    def stats() -> Any:
        m = manager.stats()
        source_errors: Dict[str, int] = {}
        for s in m["sources"].values():
            for k, n in s["errors"].items():
                source_errors[k] = source_errors.get(k, 0) + n
        out: Dict[str, Any] = {
            "uptime": time.time() - started,
            "version": __version__,
            "manager": {"status": m["manager"], "errors": source_errors},
            "backend": {"status": store.stats(), "errors": {}},
            "receivers": m["sources"],
            "retention": dict(m["retention"], classes=store.retention_classes()),
            "tails": tails.stats(),
        }
        if auth is not None:
            out["auth"] = auth.stats()
        if extra_stats is not None:
            extra = dict(extra_stats())
            for name, info in extra.pop("receivers", {}).items():
                out["receivers"].setdefault(name, {}).update(info)
            out.update(extra)
        return json_response(200, out)

    # ------------------------------------------------------------------ health
    @route("/api/health")
    @guarded
    def health() -> Any:
        problems = monitor.problems()
        if problems:
            return json_response(503, error_body(503, "; ".join(problems), problems=problems))
        return json_response(200, {"status": "ok", "version": __version__,
                                   "uptime": time.time() - started})

    # ------------------------------------------------------------------ metrics
    @app.route("/metrics")
    @protected
    def metrics() -> Any:
        resp = bottle.HTTPResponse(monitor.metrics())
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8"
        return resp

    # ------------------------------------------------------------------ documentation
    doc = json.dumps(openapi_document())

    @app.route("/api/openapi.json")
    @app.route("/swagger/doc.json")
    def openapi() -> Any:
        resp = bottle.HTTPResponse(doc)
        resp.content_type = "application/json"
        return resp

    if api_config.enable_swagger_ui:
        _add_swagger(app)
    add_page(app)

    # ------------------------------------------------------------------ errors
    def on_error(err: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        status = err.status_code
        message = {404: f"no such endpoint: {bottle.request.method} {bottle.request.path}",
                   405: f"method {bottle.request.method} not allowed here"}.get(
            status, err.body if isinstance(err.body, str) and err.body else
            _REASONS.get(status, "error"))
        return json.dumps(error_body(status, message))

    app.default_error_handler = on_error  # type: ignore[assignment]
    return app


_SWAGGER_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
"""


def _add_swagger(app: bottle.Bottle) -> None:
    """Swagger UI from the ``swagger-ui-bundle`` package (no CDN)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.warning("enable_swagger_ui is set but the swagger-ui-bundle package is missing;"
                    " /swagger/ is not served (pip install swagger-ui-bundle)")
        return
    root = os.fspath(swagger_ui_path)

    @app.route("/swagger")
    def swagger_redirect() -> Any:
        bottle.redirect("/swagger/")

    @app.route("/swagger/")
    @app.route("/swagger/<name>")
    def swagger(name: str = "index.html") -> Any:
        if name == "swagger-initializer.js":
            resp = bottle.HTTPResponse(_SWAGGER_INIT)
            resp.content_type = "application/javascript"
            return resp
        path = os.path.join(root, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(path):
            raise bottle.HTTPError(404)
        with open(path, "rb") as f:
            data = f.read()
        resp = bottle.HTTPResponse(data)
        resp.content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return resp
