"""Rule cost on a live server: the raw windows read from the in-memory head, as in a cluster.

`measure` runs the rules over a backfilled TSDB, where every sample, the last minutes included,
sits in persistent blocks: each raw lookup then reads its series from a block's index on disk. A
live Prometheus holds the last two to three hours in its head, in memory. Here the server scrapes
N services' series (the benchmark's shape: 10 routes x 4 statuses x 2 versions, each a counter and
a 14-bucket histogram) every 30s from an exporter in this process, for long enough to fill the
longest raw window (30m plus a scrape interval), with the rule sets side by side.

Without `history` the windows read at an offset (1h to 3d) find nothing. With it, the server starts
on the last day of `prepare`'s TSDB (hard links), extended to the minute the server starts by the
same traffic and its SLO events recorded as the live group records them: the tiled sums then read
real tiles, the recent ones from small fresh blocks where a cluster's server reads them from its
head (an upper bound), the older ones from compacted blocks as in a cluster. Which of the rules'
offset lookups found their series is printed, so a gap in the history cannot pass unnoticed.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import yaml

from components.conventions import SLO_EVENT_WINDOWS, record_slo_events

from . import backfill, traffic
from .backfill import service_names
from .measure import CYCLE_S, Cycles, Result, _samples, render_rules
from .server import HOST, Server, free_port, prometheus
from .traffic import LE_LABELS, LE_SHARES, VERSIONS

ROUTES = 10
STATUSES = (("200", 0.96), ("400", 0.015), ("404", 0.015), ("500", 0.01))


@functools.cache
def _shape(services: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each line's text up to its value, each label set's requests a second, and the share of
    them at or under each bucket: built once, so a scrape of 272,000 lines only formats numbers
    (built per scrape, it took up to 27s on a busy machine, and scrapes failed)."""
    prefixes, rates = [], []
    for namespace, service in service_names(services):
        for route in range(ROUTES):
            path, method = f"/api/v1/resource-{route}", ("GET", "POST")[route % 2]
            for version, share in VERSIONS:
                for status, status_share in STATUSES:
                    labels = f'namespace="{namespace}",service="{service}",method="{method}",path="{path}",status="{status}",version="{version}"'
                    rates.append((2 + route) * share * status_share)
                    prefixes.append(f"http_requests_total{{{labels}}} ")
                    prefixes += [f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} ' for le in LE_LABELS]
                    prefixes += [f"http_request_duration_seconds_count{{{labels}}} ", f"http_request_duration_seconds_sum{{{labels}}} "]
    return prefixes, np.array(rates), np.array(LE_SHARES)


def exposition(services: int, elapsed_s: float) -> str:
    """Every series' value `elapsed_s` after the start: 2 + route requests a second, split by version and status."""
    prefixes, rates, shares = _shape(services)
    counts = (rates * elapsed_s).astype(np.int64)
    buckets = (counts[:, None] * shares[None, :]).astype(np.int64)
    numbers = np.concatenate([counts[:, None], buckets, counts[:, None]], axis=1).astype(str)
    sums = np.char.mod("%.3f", counts * 0.08)
    values = np.concatenate([numbers, sums[:, None]], axis=1).ravel().tolist()
    return "".join(f"{prefix}{value}\n" for prefix, value in zip(prefixes, values, strict=True))


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


def seed(history: Path, data: Path, services: int) -> int:
    """`data` as the last day of `prepare`'s history in `history`, extended to now: the first
    `services` services' traffic and the tiles' events from the history's end. Returns where the
    extension ends (seconds): a server on `data` refuses samples older than its newest block."""
    backfill.link_blocks(history / "raw-1d", data)
    origin = backfill.History.load(history)
    newest = max(json.loads((b / "meta.json").read_text())["maxTime"] for b in data.iterdir() if (b / "meta.json").exists())
    # On a cycle: promtool records nothing from a start between two of the group's evaluations.
    start = -(-newest // 1000 // CYCLE_S) * CYCLE_S
    until = int(time.time()) // CYCLE_S * CYCLE_S
    profile = traffic.periodic((origin.end_s - origin.start_s) / traffic.DAY_S)
    print(f"seeding {services} services' traffic from {start} to {until}", file=sys.stderr, flush=True)
    backfill.openmetrics_blocks(service_names(services), profile, origin.start_s, (start, until), data)
    # The page's windows are never read at an offset: only what the tiles read is recorded.
    skip = {record_slo_events(window) for window in SLO_EVENT_WINDOWS}
    for group in backfill.slo_groups():
        backfill.record_events(group, start, until, data, skip)
    return until


def offset_lookups(rules: Path) -> list[tuple[str, str]]:
    """Every (recorded series, offset) the rules read at an offset."""
    exprs = [r["expr"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]]
    return sorted({m for expr in exprs for m in re.findall(r"(service:slo_parts:increase\w+)(?:\{[^}]*\})?\s+offset\s+(\w+)", expr)})


def found(server: Server, lookups: list[tuple[str, str]], services: int) -> dict[str, str]:
    """For each offset lookup, how many of the services it finds, now."""
    answers = {}
    measured = "|".join(service for _, service in service_names(services))
    for name, offset in lookups:
        expr = f'count(count by (service) ({name}{{service=~"{measured}"}} offset {offset}))'
        result = server.get("/api/v1/query", query=expr)["result"]
        answers[f"{name} offset {offset}"] = f"{int(float(result[0]['value'][1])) if result else 0}/{services}"
    return answers


def measure_live(
    services: int, projects: dict[str, Path], fill_s: float = 32 * 60, cycles: int = 5, history: Path | None = None
) -> dict[str, Result]:
    """After `fill_s` of scraping, `cycles` evaluations of every group; each rule set's figures as `measure` gives them."""
    with tempfile.TemporaryDirectory(prefix="rulebench-live-", dir=history) as tmp:
        work = Path(tmp)
        files = {label: work / f"rules-{label}.yml" for label in projects}
        counts = {label: render_rules(services, project, files[label]) for label, project in projects.items()}
        data = work / "data"
        if history is None:
            data.mkdir()
        else:
            seed(history, data, services)
        with exporter(services) as target:
            scrape = {"job_name": "bench", "honor_labels": True, "scrape_interval": f"{CYCLE_S}s", "scrape_timeout": f"{CYCLE_S - 5}s", "static_configs": [{"targets": [target]}]}
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
                # A failed scrape leaves a gap in every raw window: say so rather than measure on it.
                (scraped,) = server.get("/api/v1/query", query=f"sum_over_time(up[{int(fill_s)}s]) / count_over_time(up[{int(fill_s)}s])")["result"]
                print(f"scrapes that succeeded: {float(scraped['value'][1]):.0%}", file=sys.stderr, flush=True)
                if history is not None:
                    for lookup, share in found(server, offset_lookups(next(iter(files.values()))), services).items():
                        print(f"found {share}: {lookup}", file=sys.stderr, flush=True)
                return measured.results(services, counts, server.metrics())
