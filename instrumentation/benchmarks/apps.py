"""The two apps the overhead benchmark compares: bare, and with the service-contract package."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from service_contract import instrument
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["item_id"]})


def _app() -> Starlette:
    return Starlette(routes=[Route("/items/{item_id:int}", item)])


bare = _app()
instrumented = _app()
instrument(instrumented, service="bench-api", version="1.0.0", registry=CollectorRegistry(), log_level=None)
