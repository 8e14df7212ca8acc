"""What the service-contract middleware costs a request.

    python instrumentation/benchmarks/overhead.py        (make bench-middleware)

1. In process: the ASGI app called directly, bare and instrumented in turn, 20,000 requests each;
   the difference of the per-request times is the middleware's own cost, free of network noise.
2. Over HTTP on 127.0.0.1: each app served by uvicorn in its own process, a load generator of
   keep-alive connections at several concurrencies; p50/p99 latency and requests/s of both.
3. Memory per distinct route: an app with N routes, each requested once, measured with tracemalloc.
Access logging is off in all three (it is I/O, measured by the platform's log pipeline, not here).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from prometheus_client import CollectorRegistry  # noqa: E402
from service_contract import instrument  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

HOST = "127.0.0.1"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _call(app: Any, path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": (HOST, 80),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    await app(scope, receive, send)


def in_process(n: int = 20_000) -> tuple[float, float]:
    """p50 and p99 added per request: the bare and the instrumented app called in turn, request by
    request, so a busy moment of the machine lands on both alike (run one after the other, the same
    code measured 27 to 77 us on a shared machine)."""
    from apps import bare, instrumented

    async def run(count: int) -> tuple[list[float], list[float]]:
        times: tuple[list[float], list[float]] = ([], [])
        for i in range(count):
            for app, out in ((bare, times[0]), (instrumented, times[1])):
                start = time.perf_counter()
                await _call(app, f"/items/{i}")
                out.append(time.perf_counter() - start)
        return times

    asyncio.run(run(n // 4))  # warm-up
    bare_t, inst_t = asyncio.run(run(n))
    return (statistics.median(inst_t) - statistics.median(bare_t)) * 1e6, (_pct(inst_t, 0.99) - _pct(bare_t, 0.99)) * 1e6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _load(port: int, concurrency: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(w: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        mine, i = [], 0
        while time.monotonic() < stop:
            i += 1
            start = time.perf_counter()
            conn.request("GET", f"/items/{w * 1_000_000 + i}")
            conn.getresponse().read()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(latencies)


def over_http(concurrencies: tuple[int, ...] = (1, 8, 32), seconds: float = 5.0) -> list[tuple[int, float, float, float, float]]:
    rows = []
    servers = {}
    try:
        for name in ("bare", "instrumented"):
            port = _free_port()
            env = {**os.environ, "PYTHONPATH": f"{HERE}:{HERE.parent / 'src'}"}
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"apps:{name}",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--log-level",
                    "error",
                    "--no-access-log",
                ],
                cwd=HERE,
                env=env,
            )
            servers[name] = (proc, port)
        deadline = time.monotonic() + 20
        for _, port in servers.values():
            while time.monotonic() < deadline:
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
        for concurrency in concurrencies:
            _load(servers["bare"][1], concurrency, 1.0)  # warm-up
            _load(servers["instrumented"][1], concurrency, 1.0)
            bare, bare_n = _load(servers["bare"][1], concurrency, seconds)
            inst, inst_n = _load(servers["instrumented"][1], concurrency, seconds)
            rows.append(
                (
                    concurrency,
                    (statistics.median(inst) - statistics.median(bare)) * 1e6,
                    (_pct(inst, 0.99) - _pct(bare, 0.99)) * 1e6,
                    bare_n / seconds,
                    inst_n / seconds,
                )
            )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    return rows


def memory_per_route(n: int = 1000) -> float:
    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    def build(count: int) -> int:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        app = Starlette(routes=[Route(f"/r{i}/{{x}}", ok) for i in range(count)])
        instrument(app, service="bench-api", version="1.0.0", registry=CollectorRegistry(), log_level=None)
        middleware = app.build_middleware_stack()

        async def hit() -> None:
            for i in range(count):
                await _call(middleware, f"/r{i}/1")

        asyncio.run(hit())
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        return used

    small, large = build(10), build(n)
    return (large - small) / (n - 10)


def main() -> int:
    p50, p99 = in_process()
    print(f"in process (ASGI call, 20,000 requests): +{p50:.1f} µs p50, +{p99:.1f} µs p99 per request")
    print()
    print("| concurrency | p50 added | p99 added | bare req/s | instrumented req/s | req/s lost |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, d50, d99, bare_rps, inst_rps in over_http():
        lost = 100 * (bare_rps - inst_rps) / bare_rps
        print(f"| {concurrency} | {d50:+.0f} µs | {d99:+.0f} µs | {bare_rps:,.0f} | {inst_rps:,.0f} | {lost:.1f}% |")
    print()
    print(f"memory per distinct route (1,000 routes, each requested once): {memory_per_route() / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
