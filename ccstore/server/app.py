"""The Bottle application: thin handlers over the storage manager and the Store.

All under ``/api/``, with and without a trailing slash: ``write``, ``query``,
``count``, ``stats``, ``health``, ``openapi.json``; Swagger UI at ``/swagger/``
when enabled.  Errors are JSON ``{"status": ..., "error": ...}``.
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
from typing import Any, Callable, Dict, Optional

import bottle

from .._version import __version__
from ..config import ApiConfig
from ..ingest.body import ApiError, error_body, read_body, write_request
from ..ingest.commit import StorageManager
from ..store import Store
from .api import RequestError, json_chunks, run_count, run_query
from .auth import Authenticator, AuthError
from .openapi import openapi_document

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


def _json_body(environ: Mapping[str, Any], limit: int) -> Any:
    raw = read_body(environ, limit)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"failed to parse API request: {exc}") from None


def _query_params(query: bottle.FormsDict) -> Dict[str, Any]:
    """Query-string parameters; repeatable ones as lists."""
    out: Dict[str, Any] = {}
    for key in query.keys():
        values = query.getall(key)
        if key in ("host", "hosts", "event", "events", "type-id", "type-ids", "subtype-id",
                   "subtype-ids", "condition", "conditions"):
            out[key] = values
        else:
            out[key] = values[-1]
    for key in ("from", "to"):
        if key in out:
            try:
                out[key] = float(out[key]) if "." in out[key] else int(out[key])
            except ValueError:
                raise ApiError(400, f"{key}: expected Unix seconds") from None
    return out


def make_app(store: Store, manager: StorageManager, api_config: ApiConfig, *,
             extra_stats: Optional[Callable[[], Dict[str, Any]]] = None) -> bottle.Bottle:
    """The WSGI application of the REST API."""
    app = bottle.Bottle(catchall=True, autojson=False)
    auth = Authenticator(api_config.jwt_public_key) if api_config.jwt_public_key else None
    started = time.time()
    limit = api_config.max_body_size

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
        q = bottle.request.query
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
        params = _query_params(bottle.request.query)
        body = _json_body(bottle.request.environ, limit)
        if body is not None:
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            params.update(body)
        return json_response(200, run_count(store, params))

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
            "retention": m["retention"],
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
        problem = manager.healthy
        if problem:
            return json_response(503, error_body(503, problem))
        return json_response(200, {"status": "ok", "version": __version__,
                                   "uptime": time.time() - started})

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
