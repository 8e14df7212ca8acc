"""The golden path: a real FastAPI app using the service-contract package, served by uvicorn on
127.0.0.1, under a steady load of real HTTP requests (distinct raw paths included)."""

from __future__ import annotations

import itertools
import random
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import CollectorRegistry, Counter
from service_contract import instrument

from tests.engines.servers import HOST, free_port, wait_for

SERVICE = "shop-api"


@dataclass
class AppVersion:
    """One pod of the service: a version, how many requests it gets, how many fail."""

    version: str
    rps: float = 20.0
    error_ratio: float = 0.0
    port: int = field(default_factory=free_port)
    sent: int = 0
    pod_template: str = ""

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def template_hash(self) -> str:
        """`rollouts-pod-template-hash`: Argo's hash of the pod template; by default one per version."""
        return self.pod_template or f"{zlib.crc32(self.version.encode()):x}"


def make_app(pod: AppVersion) -> FastAPI:
    """Built from routers as most services are: `/items` a prefixed router nested in the shop's."""
    app = FastAPI()
    shop, items = APIRouter(), APIRouter(prefix="/items")
    rng = random.Random(pod.version)
    registry = CollectorRegistry()
    # What a team might add by mistake: a per-user metric. The platform's ServiceMonitor drops it.
    per_user = Counter("shop_views_by_user", "Views per user (a contract violation).", ["user_id"], registry=registry)

    @items.get("/{item_id}")
    async def item(item_id: int) -> dict:
        per_user.labels(str(item_id % 997)).inc()
        if rng.random() < pod.error_ratio:
            raise HTTPException(status_code=500, detail="backend down")
        return {"id": item_id}

    @shop.post("/checkout")
    async def checkout() -> dict:
        if rng.random() < pod.error_ratio:
            raise HTTPException(status_code=503, detail="payments down")
        return {"ok": True}

    shop.include_router(items)
    app.include_router(shop)
    instrument(app, service=SERVICE, version=pod.version, registry=registry, log_level=None)
    return app


def _load(pod: AppVersion, stop: threading.Event, paths: Iterator[int]) -> None:
    interval = 1 / pod.rps if pod.rps else None
    while interval and not stop.wait(interval):
        n = next(paths)
        url = f"http://{pod.address}/items/{n}" if n % 10 else f"http://{pod.address}/checkout"
        method = "GET" if n % 10 else "POST"
        if n % 50 == 0:
            url = f"http://{pod.address}/no/such/page/{n}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2):  # noqa: S310
                pass
        except (urllib.error.HTTPError, urllib.error.URLError, TimeoutError):
            pass
        pod.sent += 1


@contextmanager
def serving(pods: list[AppVersion]) -> Iterator[list[AppVersion]]:
    """Serve every version with uvicorn and load it until the block ends (servers and threads stopped)."""
    servers = [uvicorn.Server(uvicorn.Config(make_app(p), host=HOST, port=p.port, log_level="error", lifespan="off")) for p in pods]
    threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
    stop = threading.Event()
    paths = itertools.count(1)
    load = [threading.Thread(target=_load, args=(p, stop, paths), daemon=True) for p in pods]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: all(s.started for s in servers), 20, "uvicorn to start")
        for thread in load:
            thread.start()
        yield pods
    finally:
        stop.set()
        for thread in load:
            thread.join(timeout=5)
        for server in servers:
            server.should_exit = True
        deadline = time.monotonic() + 10
        for thread in threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
