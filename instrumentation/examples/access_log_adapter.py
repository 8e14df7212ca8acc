"""A metrics adapter for a service that cannot embed the middleware (the legacy PHP service).

It runs as the `metricsAdapterImage` sidecar of the pod, reads the web server's access log from a
shared volume, and serves the metric contract on `metricsPort` exactly as the middleware would:
`http_requests_total` and `http_request_duration_seconds` with labels method, path (a route
template, never the raw path), status, service and version.

    python access_log_adapter.py --log /var/log/nginx/access.log --port 9117 \\
        --route '^/users/[0-9]+$=/users/{id}' --route '^/orders$=/orders'

The log format is nginx's `combined` plus `$request_time` (seconds) as the last field
(Apache: `%D` in microseconds with `--microseconds`). SERVICE_NAME and SERVICE_VERSION come from the
Rollout's pod template.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from service_contract.contract import UNMATCHED
from service_contract.middleware import ContractMetrics

_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>[0-9]{3}) \S+ .* (?P<time>[0-9.]+)$')


def parse(line: str, microseconds: bool = False) -> tuple[str, str, str, float] | None:
    """(method, raw path without query, status, seconds) of one access-log line, or None."""
    match = _LINE.search(line.strip())
    if not match:
        return None
    seconds = float(match["time"]) / (1_000_000 if microseconds else 1)
    return match["method"], match["target"].split("?", 1)[0], match["status"], seconds


class Templater:
    """Raw path -> route template by the first matching rule; anything else is `unmatched`."""

    def __init__(self, rules: list[tuple[str, str]]):
        self.rules = [(re.compile(pattern), template) for pattern, template in rules]

    def __call__(self, path: str) -> str:
        return next((template for pattern, template in self.rules if pattern.match(path)), UNMATCHED)

    @property
    def templates(self) -> list[str]:
        return [template for _, template in self.rules]


class Adapter:
    def __init__(
        self, service: str, version: str, templater: Templater, registry: CollectorRegistry = REGISTRY, microseconds: bool = False
    ):
        self.metrics = ContractMetrics(service, version, registry)
        self.templater, self.microseconds = templater, microseconds
        self.metrics.preinitialise([("GET", t) for t in templater.templates])
        self.skipped = 0

    def consume(self, line: str) -> None:
        parsed = parse(line, self.microseconds)
        if parsed is None:
            self.skipped += 1
            return
        method, path, status, seconds = parsed
        self.metrics.observe(method, self.templater(path), status, seconds)


def follow(path: Path, poll: float = 0.5) -> Iterator[str]:
    """Lines appended to `path`, surviving rotation (reopens when the file is replaced or truncated)."""
    handle, inode = None, None
    while True:
        if handle is None or not path.exists() or path.stat().st_ino != inode or path.stat().st_size < handle.tell():
            if handle:
                handle.close()
            if not path.exists():
                time.sleep(poll)
                continue
            handle, inode = path.open(), path.stat().st_ino
            handle.seek(0, os.SEEK_END)
        line = handle.readline()
        if line:
            yield line
        else:
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port", type=int, default=9117)
    parser.add_argument("--route", action="append", default=[], help="REGEX=TEMPLATE, first match wins")
    parser.add_argument("--microseconds", action="store_true")
    args = parser.parse_args(argv)
    rules = [tuple(rule.split("=", 1)) for rule in args.route]
    adapter = Adapter(os.environ["SERVICE_NAME"], os.environ["SERVICE_VERSION"], Templater(rules), microseconds=args.microseconds)
    start_http_server(args.port)
    for line in follow(args.log):
        adapter.consume(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
