"""Pods of a service as client libraries expose them: a prometheus_client registry per pod, served on
127.0.0.1, with a background thread that records requests at a steady rate.

Series appear the way real apps create them: a `status="500"` series only once the pod has failed,
bucket bounds as prometheus_client writes them (`le="1.0"`), `_created` series beside each counter.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from components.conventions import DEFAULT_BUCKETS as BUCKETS
from tests.engines.servers import HOST, free_port

TICK_S = 0.1


@dataclass
class Pod:
    """One pod's traffic: `rps` requests a second, a share answered 5xx, each taking `latency` seconds."""

    service: str
    version: str
    rps: float = 20.0
    error_ratio: float = 0.0
    latency: float = 0.02
    # Labels an app adds by mistake (a different value per request, e.g. user_id), and a metric outside the contract.
    extra_labels: tuple[str, ...] = ()
    stray_metric: bool = False
    # A pod template change without a version bump: its own hash, the version label unchanged.
    pod_template: str = ""
    port: int = field(default_factory=free_port)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def template_hash(self) -> str:
        """`rollouts-pod-template-hash`: Argo's hash of the pod template; by default one per version."""
        return self.pod_template or f"{zlib.crc32(self.version.encode()):x}"


def _record(pod: Pod, registry: CollectorRegistry, stop: threading.Event) -> None:
    labels = ("method", "path", "status", "service", "version", *pod.extra_labels)
    requests = Counter("http_requests", "HTTP requests.", labels, registry=registry)
    # The contract's buckets, as the service package exposes them: the canary's p95 check reads one.
    duration = Histogram("http_request_duration_seconds", "HTTP request duration.", labels, registry=registry, buckets=BUCKETS)
    stray = Counter("user_sessions", "Not part of the contract.", registry=registry) if pod.stray_metric else None
    owed_ok = owed_err = 0.0
    sequence = 0
    while not stop.wait(TICK_S):
        owed_ok += pod.rps * TICK_S * (1 - pod.error_ratio)
        owed_err += pod.rps * TICK_S * pod.error_ratio
        for status, owed in (("200", owed_ok), ("500", owed_err)):
            for _ in range(int(owed)):
                sequence += 1
                extra = [f"{name}-{sequence % 50}" for name in pod.extra_labels]
                values: list[Any] = ["GET", "/orders/{id}", status, pod.service, pod.version, *extra]
                requests.labels(*values).inc()
                duration.labels(*values).observe(pod.latency)
        owed_ok -= int(owed_ok)
        owed_err -= int(owed_err)
        if stray is not None:
            stray.inc()


@contextmanager
def serving(pods: list[Pod]) -> Iterator[list[Pod]]:
    """Serve every pod's /metrics and record its traffic until the block ends."""
    stop = threading.Event()
    threads, servers = [], []
    try:
        for pod in pods:
            registry = CollectorRegistry()
            server, _ = start_http_server(pod.port, addr=HOST, registry=registry)
            servers.append(server)
            thread = threading.Thread(target=_record, args=(pod, registry, stop), daemon=True)
            thread.start()
            threads.append(thread)
        yield pods
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for server in servers:
            server.shutdown()
            server.server_close()
