"""The metric contract as the platform keeps it (its ServiceMonitor drops everything else)."""

from __future__ import annotations

REQUESTS_METRIC = "http_requests"  # prometheus_client exposes a counter as `<name>_total`
DURATION_METRIC = "http_request_duration_seconds"
LABELS = ("method", "path", "status", "service", "version")
# Every bound the platform's defaults judge by is a bucket: canary p95 0.3s, latency SLO 0.5s,
# platform p99 alert 5s; whole seconds are written `1.0`, as Prometheus 3 stores them.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
# Every status class a version's first failure would otherwise create mid-flight.
PREINITIALISED_STATUSES = ("200", "400", "404", "500")
# Requests whose path matches no route share this one label value: raw paths never become labels.
UNMATCHED = "unmatched"
# The `method` label takes only these (RFC 9110's methods and PATCH); any other method a client
# sends is recorded as OTHER_METHOD, as OpenTelemetry's HTTP conventions do. Raw methods let any
# anonymous client create series until the pod's scrape passes its sample limit and is dropped.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "_OTHER"
# prometheus_client's multiprocess mode: set to an empty directory (one per pod) when the server
# runs several worker processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Environment variables the platform's Rollout pod template sets.
SERVICE_ENV, VERSION_ENV = "SERVICE_NAME", "SERVICE_VERSION"
# Endpoints that are not traffic: scrapes and probes stay out of the SLO.
NOT_TRAFFIC = ("/metrics", "/healthz")
