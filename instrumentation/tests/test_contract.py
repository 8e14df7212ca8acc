"""The package's own tests: metrics exact, route templating, trace propagation, log shape."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, WebSocket
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from service_contract import BUCKETS, LABELS, UNMATCHED, instrument
from service_contract.jsonlog import JsonFormatter
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def make_app(registry: CollectorRegistry) -> tuple[FastAPI, TestClient, io.StringIO]:
    app = FastAPI()
    log = logging.getLogger("orders")

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict:
        log.info("looking up user")
        return {"id": user_id}

    @app.post("/orders")
    async def order() -> dict:
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("boom")

    @app.get("/missing")
    async def missing() -> dict:
        raise HTTPException(status_code=503, detail="down")

    instrument(app, service="orders-api", version="1.4.2", registry=registry)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("orders-api", "1.4.2"))
    logging.getLogger().handlers = [handler]
    return app, TestClient(app, raise_server_exceptions=False), stream


def samples(registry: CollectorRegistry, name: str) -> dict[tuple, float]:
    out = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def requests_by(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    return {(dict(k)["method"], dict(k)["path"], dict(k)["status"]): v for k, v in samples(registry, "http_requests_total").items() if v}


@pytest.fixture
def app():
    registry = CollectorRegistry()
    application, client, stream = make_app(registry)
    return registry, client, stream


def test_requests_are_recorded_by_route_template_and_status(app):
    registry, client, _ = app
    for user in (1, 2, 3):
        assert client.get(f"/users/{user}").status_code == 200
    client.post("/orders")
    client.get("/boom")
    client.get("/missing")
    client.get("/no/such/route")
    assert requests_by(registry) == {
        ("GET", "/users/{user_id}", "200"): 3,
        ("POST", "/orders", "200"): 1,
        ("GET", "/boom", "500"): 1,
        ("GET", "/missing", "503"): 1,
        ("GET", UNMATCHED, "404"): 1,
    }


def test_exactly_the_contract_labels_and_buckets(app):
    registry, client, _ = app
    client.get("/users/1")
    for name in ("http_requests_total", "http_request_duration_seconds_count", "http_request_duration_seconds_bucket"):
        for labels in samples(registry, name):
            keys = {k for k, _ in labels} - {"le"}
            assert keys == set(LABELS), (name, keys)
    bounds = {dict(k)["le"] for k in samples(registry, "http_request_duration_seconds_bucket")}
    assert {"0.3", "0.5", "1.0", "5.0", "+Inf"} <= bounds
    assert 0.3 in BUCKETS and 0.5 in BUCKETS


def test_error_series_exist_before_the_first_error(app):
    registry, _, _ = app
    zeros = {k: v for k, v in samples(registry, "http_requests_total").items() if dict(k)["status"] == "500"}
    assert {dict(k)["path"] for k in zeros} == {"/users/{user_id}", "/orders", "/boom", "/missing"}
    assert set(zeros.values()) == {0.0}


def test_metrics_and_probes_are_not_traffic(app):
    registry, client, _ = app
    assert client.get("/healthz").json() == {"status": "ok"}
    body = client.get("/metrics").text
    assert requests_by(registry) == {}
    families = {f.name for f in text_string_to_metric_families(body)}
    assert {"http_requests", "http_request_duration_seconds"} <= families


def test_raw_paths_never_become_series(app):
    registry, client, _ = app
    client.get("/users/0")
    client.get("/random/0/path")
    before = len(samples(registry, "http_requests_total"))
    for i in range(2000):
        client.get(f"/users/{i}")
        client.get(f"/random/{i}/path")
    after = samples(registry, "http_requests_total")
    assert len(after) == before  # both templates and their statuses were pre-initialised or already there
    assert all(not re.search(r"/\d", dict(k)["path"]) for k in after)


def test_trace_id_propagation(app):
    _, client, stream = app
    given = client.get("/users/1", headers={"X-Trace-ID": "abc123def456"})
    assert given.headers["x-trace-id"] == "abc123def456"
    w3c = client.get("/users/1", headers={"traceparent": TRACEPARENT})
    assert w3c.headers["x-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    made = client.get("/users/1")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-trace-id"])
    invalid = client.get("/users/1", headers={"traceparent": "garbage"})
    assert re.fullmatch(r"[0-9a-f]{32}", invalid.headers["x-trace-id"])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    # Every line of a request carries its trace id: the app's own line and the access line.
    first = [line for line in lines if line["trace_id"] == "abc123def456"]
    assert [line["message"] for line in first] == ["looking up user", "request"]
    assert "abc123def456" not in client.get("/metrics").text


def test_log_shape(app):
    _, client, stream = app
    client.get("/users/7", headers={"X-Trace-ID": "trace-0007"})
    # Other apps in the same process (the engine tier's) may log too: this request's line, by its trace id.
    lines = [line for line in map(json.loads, stream.getvalue().splitlines()) if line["trace_id"] == "trace-0007"]
    (access,) = [line for line in lines if line["message"] == "request"]
    assert set(access) == {"time", "level", "logger", "message", "service", "version", "trace_id", "method", "path", "status", "latency"}
    assert access["path"] == "/users/{user_id}" and access["status"] == 200 and access["level"] == "info"
    assert (access["service"], access["version"], access["logger"]) == ("orders-api", "1.4.2", "service_contract.access")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", access["time"])
    assert not {"namespace", "pod", "container", "app"} & set(access)


def test_starlette_mounts_and_environment(monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "legacy-api")
    monkeypatch.setenv("SERVICE_VERSION", "5.2.0")
    registry = CollectorRegistry()

    async def item(request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Mount("/api/v1", routes=[Route("/items/{item_id}", item)])])
    metrics = instrument(app, registry=registry, log_level=None)
    assert (metrics.service, metrics.version) == ("legacy-api", "5.2.0")
    client = TestClient(app)
    client.get("/api/v1/items/9")
    assert requests_by(registry) == {("GET", "/api/v1/items/{item_id}", "200"): 1}


def test_service_and_version_are_required(monkeypatch):
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    with pytest.raises(ValueError, match="SERVICE_NAME and SERVICE_VERSION"):
        instrument(Starlette(), registry=CollectorRegistry(), log_level=None)


def _logql_matches(query: str, line: dict) -> bool:
    """The `| json | <field> <op> <value>` stages of a LogQL query applied to one parsed line: enough to
    know a runbook's query selects the lines this package writes (Loki itself is not run here)."""
    stages = [s.strip() for s in query.split("|")[1:] if s.strip() != "json" and not s.strip().startswith("line_format")]
    for stage in stages:
        field, op, value = re.fullmatch(r'(\w+)\s*(>=|<=|=|!=|>|<)\s*"?([^"]*)"?', stage).groups()  # type: ignore[union-attr]
        got = line.get(field)
        if got is None:
            return False
        number = isinstance(got, (int, float))
        a, b = (float(got), float(value)) if number else (str(got), value)
        if not {">=": a >= b, "<=": a <= b, "=": a == b, "!=": a != b, ">": a > b, "<": a < b}[op]:  # type: ignore[operator]
            return False
    return True


def test_the_runbooks_log_queries_find_what_the_package_writes(app):
    """docs/runbooks.md sends on-call to Loki for 5xx and uncaught errors: its queries must select this
    package's lines for a 503 and for an unhandled exception (500), and not a 200's."""
    runbooks = (Path(__file__).resolve().parents[2] / "docs" / "runbooks.md").read_text()
    queries = re.findall(r'`(\{namespace="<namespace>", app="<service>"\} \| json \| [^`]+)`', runbooks)
    five_xx = next(q for q in queries if "status >= 500" in q)
    _, client, stream = app
    for path, trace in (("/missing", "trace-5xx-1"), ("/boom", "trace-5xx-2"), ("/users/1", "trace-5xx-3")):
        client.get(path, headers={"X-Trace-ID": trace})
    lines = {line["trace_id"]: line for line in map(json.loads, stream.getvalue().splitlines()) if line.get("message") == "request"}
    assert _logql_matches(five_xx, lines["trace-5xx-1"]) and _logql_matches(five_xx, lines["trace-5xx-2"])
    assert not _logql_matches(five_xx, lines["trace-5xx-3"])
    # The old query's premise, planted: 5xx access lines are not at level error.
    assert not _logql_matches('{x} | json | level="error"', lines["trace-5xx-1"])


def test_made_up_methods_share_one_label_value(app):
    """Any anonymous client can send any method: the label stays bounded, so it cannot push a pod's
    scrape past the ServiceMonitor's sample limit (which drops the whole scrape)."""
    registry, client, _ = app
    for index in range(50):
        client.request(f"X{index}", "/users/1")
    client.request("PATCH", "/users/1")
    methods = {dict(k)["method"] for k, v in samples(registry, "http_requests_total").items() if v}
    assert methods == {"_OTHER", "PATCH"}
    assert requests_by(registry)[("_OTHER", "/users/{user_id}", "405")] == 50


@pytest.mark.parametrize("prefix_in_path", [True, False])
def test_an_app_served_under_a_root_path_records_its_templates(prefix_in_path):
    """Behind a path-routing ingress (`uvicorn --root-path /svc`): the ASGI server may leave the
    prefix in `path` (the spec) or not; either way the request is its route's, not `unmatched`."""
    registry = CollectorRegistry()
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict:
        return {"id": user_id}

    instrument(app, service="orders-api", version="1.4.2", registry=registry)
    seen = []

    async def server(scope, receive, send):  # what uvicorn --root-path /svc hands the app
        if scope["type"] == "http":
            scope = {**scope, "root_path": "/svc", "path": ("/svc" if prefix_in_path else "") + scope["path"]}
            seen.append(scope["path"])
        await app(scope, receive, send)

    client = TestClient(server)
    assert client.get("/users/7").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert seen[0] == ("/svc/users/7" if prefix_in_path else "/users/7")
    assert requests_by(registry) == {("GET", "/users/{user_id}", "200"): 1}


def test_routers_are_recorded_by_their_full_template():
    """Most services are built from APIRouters, nested and prefixed: each request is its route's full
    template, and only real templates are pre-created (no `path=""` set for the router entry)."""
    from fastapi import APIRouter

    registry = CollectorRegistry()
    users = APIRouter(prefix="/v1/users")
    settings = APIRouter(prefix="/settings")

    @users.get("/{user_id}")
    async def user(user_id: int) -> dict:
        return {"id": user_id}

    @settings.put("/{key}")
    async def setting(key: str) -> dict:
        return {"key": key}

    users.include_router(settings)
    app = FastAPI()
    app.include_router(users, prefix="/api")
    instrument(app, service="orders-api", version="1.4.2", registry=registry)
    client = TestClient(app)
    assert client.get("/api/v1/users/1").status_code == 200
    assert client.put("/api/v1/users/settings/theme").status_code == 200
    assert client.delete("/api/v1/users/2").status_code == 405
    assert client.get("/api/v2/nothing").status_code == 404
    assert requests_by(registry) == {
        ("GET", "/api/v1/users/{user_id}", "200"): 1,
        ("PUT", "/api/v1/users/settings/{key}", "200"): 1,
        ("DELETE", "/api/v1/users/{user_id}", "405"): 1,
        ("GET", UNMATCHED, "404"): 1,
    }
    created = {dict(k)["path"] for k in samples(registry, "http_requests_total")}
    assert created == {"/api/v1/users/{user_id}", "/api/v1/users/settings/{key}", UNMATCHED}


def test_the_trace_id_is_the_duration_exemplar_in_openmetrics(app):
    """A scraper asking for OpenMetrics (Prometheus does) gets each bucket's latest request's trace id
    as its exemplar; the classic text format stays as it was."""
    _, client, _ = app
    client.get("/users/1", headers={"traceparent": TRACEPARENT})
    om = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    bucket = next(
        line for line in om.text.splitlines()
        if line.startswith("http_request_duration_seconds_bucket{") and 'path="/users/{user_id}"' in line and 'status="200"' in line and " # " in line
    )  # fmt: skip
    assert '# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}' in bucket
    plain = client.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain") and " # {" not in plain.text


def test_opentelemetry_span_and_propagators_give_the_trace_id(app):
    """With the OpenTelemetry API installed, its propagators read the headers (here B3, configured by
    the service) and an active span wins: logs, exemplars and traces share one id."""
    otel = pytest.importorskip("opentelemetry", reason="the OpenTelemetry API is optional (absent in the oldest-dependencies run)")
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.textmap import TextMapPropagator

    class B3Single(TextMapPropagator):  # a propagator the package does not know itself
        def extract(self, carrier, context=None, getter=None):  # noqa: ANN001, ANN201
            trace_id, span_id = carrier["b3"].split("-")[:2]
            span = trace.NonRecordingSpan(trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True))
            return trace.set_span_in_context(span, context)

        def inject(self, carrier, context=None, setter=None):  # noqa: ANN001, ANN201
            pass

        @property
        def fields(self):  # noqa: ANN201
            return {"b3"}

    _, client, _ = app
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(B3Single())
    try:
        response = client.get("/users/1", headers={"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"})
    finally:
        propagate.set_global_textmap(previous)
    assert response.headers["x-trace-id"] == "80f198ee56343ba864fe8b2a57d3eff7"
    assert otel is not None


def _asgi_requests(application: FastAPI, requests: list[tuple[str, str]]) -> None:
    """Requests straight through the ASGI app, in one event loop (no HTTP client: 10,000 take seconds)."""
    import asyncio
    from collections.abc import MutableMapping
    from typing import Any

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    async def run() -> None:
        for method, raw_path in requests:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
                     "path": raw_path, "raw_path": raw_path.encode(), "root_path": "", "query_string": b"", "headers": [],
                     "server": ("testserver", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
            await application(scope, receive, send)

    asyncio.run(run())


def test_a_hostile_client_cannot_grow_the_series_count():
    """10,000 distinct raw paths, made-up methods and oversized headers: the series stay those of the
    app's routes and the standard methods (far under a pod's sample limit, past which Prometheus
    drops the whole scrape)."""
    registry = CollectorRegistry()
    application, client, _ = make_app(registry)
    client.get("/metrics")  # the middleware stack is built
    before = sum(1 for family in registry.collect() for _ in family.samples)
    _asgi_requests(
        application,
        [("GET" if index % 10 else f"M{index}", f"/users/{index}/x{index}" if index % 2 else f"/users/{index}") for index in range(10_000)],
    )
    huge = "a" * 16_000
    response = client.get("/users/1", headers={"x-trace-id": huge, "traceparent": huge})
    assert response.status_code == 200 and len(response.headers["x-trace-id"]) == 32  # not echoed: made up
    labels = [dict(k) for k in samples(registry, "http_requests_total")]
    assert {label["path"] for label in labels} <= {"/users/{user_id}", "/orders", "/boom", "/missing", UNMATCHED}
    assert {label["method"] for label in labels} <= {"GET", "POST", "_OTHER"}
    after = sum(1 for family in registry.collect() for _ in family.samples)
    assert after - before < 100, (before, after)


def test_websockets_and_lifespan_pass_through_untouched():
    """Only HTTP requests are counted: a websocket route and the app's lifespan work as without the package."""
    from contextlib import asynccontextmanager

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        events.append("startup")
        yield
        events.append("shutdown")

    registry = CollectorRegistry()
    app = FastAPI(lifespan=lifespan)

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    instrument(app, service="orders-api", version="1.4.2", registry=registry, log_level=None)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "ping"
    assert events == ["startup", "shutdown"]
    assert not requests_by(registry)
