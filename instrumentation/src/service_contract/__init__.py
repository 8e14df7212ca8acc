"""The service side of the eks-observability metric contract, for Starlette and FastAPI apps.

    from service_contract import instrument
    instrument(app)   # /metrics, /healthz, the contract's metrics, trace ids, JSON logs

`service` and `version` come from the arguments, else from SERVICE_NAME and SERVICE_VERSION, which
the platform's Rollout pod template sets.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .contract import BUCKETS, LABELS, MULTIPROC_ENV, SERVICE_ENV, UNMATCHED, VERSION_ENV
from .jsonlog import JsonFormatter, configure_logging
from .middleware import ContractMetrics, ContractMiddleware, route_templates
from .tracing import current_trace_id

__all__ = [
    "BUCKETS",
    "LABELS",
    "UNMATCHED",
    "ContractMetrics",
    "ContractMiddleware",
    "JsonFormatter",
    "configure_logging",
    "current_trace_id",
    "instrument",
]


def instrument(
    app: Any,
    service: str | None = None,
    version: str | None = None,
    registry: CollectorRegistry = REGISTRY,
    log_level: int | None = logging.INFO,
) -> ContractMetrics:
    """Add /metrics, /healthz and the contract middleware to a Starlette or FastAPI app.

    Call it after the app's routes are declared: their templates are pre-initialised. `log_level`
    None leaves logging alone; otherwise the root logger writes JSON lines to stdout.
    """
    service = service or os.environ.get(SERVICE_ENV)
    version = version or os.environ.get(VERSION_ENV)
    if not service or not version:
        raise ValueError(f"service and version are required: pass them or set {SERVICE_ENV} and {VERSION_ENV}")

    # Several worker processes (gunicorn, `uvicorn --workers N`) each count their own requests, and
    # whichever answers a scrape would show its own counts: totals jump and reset. With
    # PROMETHEUS_MULTIPROC_DIR set (an empty directory per pod, before the workers start),
    # prometheus_client keeps every worker's values in files there and a scrape sums them.
    multiprocess_dir = os.environ.get(MULTIPROC_ENV)

    def exposed() -> CollectorRegistry:
        if not multiprocess_dir:
            return registry
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=multiprocess_dir)
        return merged

    async def metrics_endpoint(request: Request) -> Response:
        # OpenMetrics when the scraper asks for it (Prometheus does by default): it carries exemplars
        # (one process only: prometheus_client keeps no exemplars across workers).
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(exposed()), media_type=content_type)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    metrics = ContractMetrics(service, version, registry)
    metrics.preinitialise(route_templates(app.routes))
    app.add_middleware(ContractMiddleware, metrics=metrics, routes=app.routes)
    if log_level is not None:
        configure_logging(service, version, log_level)
    return metrics
