"""Rule cost on a live server: the raw windows read from the in-memory head, as in a cluster.

`measure` runs the rules over a backfilled TSDB, where every sample, the last minutes included,
sits in persistent blocks: each raw lookup then reads its series from a block's index on disk. A
live Prometheus holds the last two to three hours in its head, in memory. Here the server scrapes
N services' series (the benchmark's shape: 10 routes x 4 statuses x 2 versions, each a counter and
a 14-bucket histogram) every 30s from an exporter in this process, for long enough to fill the
longest raw window (30m plus a scrape interval), with the rule sets side by side. The windows read
at an offset (1h to 3d) find no history here: their cost is `measure`'s.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .backfill import service_names
from .measure import CYCLE_S, Cycles, Result, _samples, render_rules
from .server import HOST, free_port, prometheus
from .traffic import LE_LABELS, LE_SHARES, VERSIONS

ROUTES = 10
STATUSES = (("200", 0.96), ("400", 0.015), ("404", 0.015), ("500", 0.01))


def exposition(services: int, elapsed_s: float) -> str:
    """Every series' value `elapsed_s` after the start: 2 + route requests a second, split by version and status."""
    lines = []
    for namespace, service in service_names(services):
        for route in range(ROUTES):
            path, method = f"/api/v1/resource-{route}", ("GET", "POST")[route % 2]
            for version, share in VERSIONS:
                for status, status_share in STATUSES:
                    labels = f'namespace="{namespace}",service="{service}",method="{method}",path="{path}",status="{status}",version="{version}"'
                    count = int((2 + route) * share * status_share * elapsed_s)
                    lines.append(f"http_requests_total{{{labels}}} {count}")
                    for le, below in zip(LE_LABELS, LE_SHARES, strict=True):
                        lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {int(count * below)}')
                    lines.append(f"http_request_duration_seconds_count{{{labels}}} {count}")
                    lines.append(f"http_request_duration_seconds_sum{{{labels}}} {count * 0.08:.3f}")
    return "\n".join(lines) + "\n"


@contextmanager
def exporter(services: int) -> Iterator[str]:
    """The services' series over HTTP on 127.0.0.1, counting from now; stopped when the block ends."""
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = exposition(services, time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer((HOST, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{HOST}:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


def measure_live(services: int, projects: dict[str, Path], fill_s: float = 32 * 60, cycles: int = 5) -> dict[str, Result]:
    """After `fill_s` of scraping, `cycles` evaluations of every group; each rule set's figures as `measure` gives them."""
    with tempfile.TemporaryDirectory(prefix="rulebench-live-") as tmp:
        work = Path(tmp)
        files = {label: work / f"rules-{label}.yml" for label in projects}
        counts = {label: render_rules(services, project, files[label]) for label, project in projects.items()}
        data = work / "data"
        data.mkdir()
        with exporter(services) as target:
            scrape = {"job_name": "bench", "honor_labels": True, "scrape_interval": f"{CYCLE_S}s", "static_configs": [{"targets": [target]}]}
            with prometheus(data, list(files.values()), scrape_configs=[scrape], timeout_s=300) as server:
                time.sleep(fill_s)
                measured = Cycles(files)
                deadline = time.monotonic() + (cycles + 2) * 2 * CYCLE_S
                last: dict[str, float] = {}
                while measured.seen < cycles:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{services} services: fewer than {cycles} cycles in time")
                    text = server.metrics()
                    iterations = _samples(text, "prometheus_rule_group_iterations_total")
                    if last and all(iterations[k] > last[k] for k in last):  # every group evaluated again
                        measured.record(server, text)
                        last = {}
                    if not last:
                        last = iterations
                    time.sleep(2)
                return measured.results(services, counts, server.metrics())
