"""The access-log adapter recipe: the same contract as the middleware, from a log."""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from access_log_adapter import Adapter, Templater, parse  # noqa: E402

LINES = [
    '10.0.0.1 - - [23/Nov/2026:10:00:00 +0000] "GET /users/42?tab=1 HTTP/1.1" 200 512 "-" "curl/8" 0.012',
    '10.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /users/43 HTTP/1.1" 502 0 "-" "curl/8" 0.730',
    '10.0.0.2 - - [23/Nov/2026:10:00:02 +0000] "POST /orders HTTP/2.0" 201 90 "-" "app/1" 0.101',
    '10.0.0.2 - - [23/Nov/2026:10:00:03 +0000] "GET /wp-admin/x.php HTTP/1.1" 404 0 "-" "bot" 0.001',
    "not an access log line",
]


def test_parse():
    assert parse(LINES[0]) == ("GET", "/users/42", "200", 0.012)
    assert parse('x "GET /a HTTP/1.1" 200 1 "-" "-" 1200', microseconds=True) == ("GET", "/a", "200", 0.0012)
    assert parse(LINES[4]) is None


def test_adapter_records_the_contract():
    registry = CollectorRegistry()
    adapter = Adapter("legacy-api", "5.2.0", Templater([(r"^/users/[0-9]+$", "/users/{id}"), (r"^/orders$", "/orders")]), registry)
    for line in LINES:
        adapter.consume(line)
    counts = {
        (s.labels["method"], s.labels["path"], s.labels["status"]): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "http_requests_total" and s.value
    }
    assert counts == {
        ("GET", "/users/{id}", "200"): 1,
        ("GET", "/users/{id}", "502"): 1,
        ("POST", "/orders", "201"): 1,
        ("GET", "unmatched", "404"): 1,
    }
    assert adapter.skipped == 1
    labels = {tuple(sorted(s.labels)) for family in registry.collect() for s in family.samples if s.name == "http_requests_total"}
    assert labels == {("method", "path", "service", "status", "version")}
