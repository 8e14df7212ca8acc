"""ASGI middleware recording the metric contract for every request, by route template."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .contract import (
    BUCKETS,
    DURATION_METRIC,
    LABELS,
    METHODS,
    NOT_TRAFFIC,
    OTHER_METHOD,
    PREINITIALISED_STATUSES,
    REQUESTS_METRIC,
    UNMATCHED,
)
from .jsonlog import LOGGED
from .tracing import TRACE_HEADER, current_trace_id, from_headers, new_trace_id

access_log = logging.getLogger("service_contract.access")
error_log = logging.getLogger("service_contract.error")
# Distinct raw paths are unbounded; their templates are not. The cache only saves the matching work.
_TEMPLATE_CACHE = 4096


class ContractMetrics:
    """`http_requests_total` and `http_request_duration_seconds` with exactly the contract's labels."""

    def __init__(self, service: str, version: str, registry: CollectorRegistry):
        self.service, self.version = service, version
        self.requests = Counter(REQUESTS_METRIC, "HTTP requests by route template and status.", LABELS, registry=registry)
        self.duration = Histogram(DURATION_METRIC, "HTTP request duration in seconds.", LABELS, buckets=BUCKETS, registry=registry)
        # The labelled children by (method, path, status), each looked up once: `labels()` takes a
        # lock and builds a key per call. Bounded as the series are (templates, methods, statuses).
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _child(self, method: str, path: str, status: str) -> tuple[Any, Any]:
        key = (method, path, status)
        child = self._children.get(key)
        if child is None:
            labels = (method, path, status, self.service, self.version)
            child = self._children[key] = (self.requests.labels(*labels), self.duration.labels(*labels))
        return child

    def observe(self, method: str, path: str, status: str, seconds: float, trace_id: str | None = None) -> None:
        """Count and time one request; its trace id becomes the bucket's exemplar (exposed in the
        OpenMetrics format only), so a slow bucket in Grafana leads to that request's log lines."""
        requests, duration = self._child(method, path, status)
        requests.inc()
        duration.observe(seconds, exemplar={"trace_id": trace_id} if trace_id else None)

    def preinitialise(self, routes: Sequence[tuple[str, str]]) -> None:
        """Series for each (method, template) and common status, at 0: a first error is an increase, not a new series."""
        for method, path in routes:
            for status in PREINITIALISED_STATUSES:
                self._child(method, path, status)


def _expanded(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """The routes as the app matches them. FastAPI (since the 0.13x series) keeps an included router
    as one entry whose `effective_route_contexts()` are its routes, nested routers' included, each with
    its full path (prefixes joined); earlier versions copied those routes into `app.routes`."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            yield from contexts()
        else:
            yield route


def route_templates(routes: Sequence[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, template) of every route, mounts and included routers included."""
    found = []
    for route in _expanded(routes):
        path = getattr(route, "path", "")
        if isinstance(route, Mount):
            found += route_templates(route.routes, prefix + path)
            continue
        if not getattr(route, "include_in_schema", True):
            continue  # framework routes (API docs, schema) are not the service's traffic
        if not path:
            continue  # not a template (FastAPI's included-router entry): no series for it
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        found += [(method, prefix + path) for method in methods if method != "HEAD" and prefix + path not in NOT_TRAFFIC]
    return found


def _match(routes: Sequence[BaseRoute], scope: Scope, prefix: str = "") -> str | None:
    partial = None
    for route in _expanded(routes):
        matched, child = route.matches(scope)
        if matched == Match.NONE:
            continue
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            inner = _match(route.routes, {**scope, **child}, path)
            if inner is not None:
                return inner
            continue
        if matched == Match.FULL:
            return path
        partial = partial or path  # the path matches, the method does not (405): still that route
    return partial


def method_label(method: str) -> str:
    """The `method` label of a request: bounded whatever the client sends."""
    return method if method in METHODS else OTHER_METHOD


def route_path(scope: Scope) -> str:
    """The path the app routes on: without the `root_path` a proxy strips (`uvicorn --root-path /svc`
    behind a path-routing ingress), whether the server left it in `path` (the ASGI spec) or not."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


class ContractMiddleware:
    """Times every request, records it under its route template (never the raw path), puts the
    trace id in the response and in every log line of the request, and logs one access line."""

    def __init__(self, app: ASGIApp, *, metrics: ContractMetrics, routes: Sequence[BaseRoute]):
        self.app, self.metrics, self.routes = app, metrics, routes
        self._template = functools.lru_cache(maxsize=_TEMPLATE_CACHE)(self._lookup)

    def _lookup(self, method: str, path: str) -> str:
        scope: Scope = {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {}}
        return _match(self.routes, scope) or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Read before the app runs: routing rewrites the scope in place (a Mount extends root_path).
        routed = route_path(scope)
        if routed in NOT_TRAFFIC:
            await self.app(scope, receive, send)
            return
        trace_id = from_headers(scope.get("headers", ())) or new_trace_id()
        token = current_trace_id.set(trace_id)
        status = 500
        start = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", ()), (TRACE_HEADER, trace_id.encode())]}
            await send(message)

        method = method_label(scope["method"])
        # A method outside the standard set is matched as GET: a route's path still names it (as a
        # 405 does), and made-up methods cannot fill the template cache.
        path = self._template(scope["method"] if method != OTHER_METHOD else "GET", routed)
        try:
            await self.app(scope, receive, send_with_trace)
        except Exception as error:
            # Logged here, where the trace id is known; the server's own report of it is dropped (jsonlog.LOGGED).
            error_log.exception("unhandled exception", extra={"method": method, "path": path})
            setattr(error, LOGGED, True)
            raise
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.observe(method, path, str(status), elapsed, trace_id)
            if access_log.isEnabledFor(logging.INFO):
                extra: dict[str, Any] = {"method": method, "path": path, "status": status, "latency": round(elapsed, 6)}
                access_log.info("request", extra=extra)
            current_trace_id.reset(token)
