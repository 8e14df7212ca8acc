"""The golden path, end to end on the real engines: a FastAPI app with the service-contract package,
scraped through the rendered ServiceMonitor, judged by the rendered rules and canary analysis, paging
through the rendered Alertmanager configuration."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.engines.conftest import GOLDEN, Stack
from tests.engines.golden import SERVICE
from tests.engines.servers import wait_for


@pytest.mark.parametrize("version", [v for v, (_, p95, _) in GOLDEN.items() if p95])
def test_canary_verdicts_for_a_real_app(stack: Stack, version: str):
    pod, p95, errors = GOLDEN[version]
    expected = {"p95-latency": p95, "error-ratio": errors}
    verdicts = wait_for(lambda: stack.verdicts("shop", SERVICE, pod.template_hash) == expected and expected, 40, f"{version}: {expected}")
    assert verdicts == expected


def test_an_error_burst_pages_through_alertmanager(stack: Stack):
    pages = wait_for(
        # One PagerDuty incident per service: the summary names the alert while it is the group's only one.
        lambda: [r for r in stack.sink.at("/pagerduty") if f"ServiceAvailabilityBudgetBurnFast shop/{SERVICE}" in r.body["payload"]["summary"]],
        60,
        f"the {SERVICE} page",
    )
    assert pages[0].body["event_action"] == "trigger"


def test_a_requests_trace_id_is_stored_as_its_exemplar(stack: Stack):
    """The package puts each request's trace id on its duration bucket as an exemplar; Prometheus,
    started with the flags the rendered values give the operator, scrapes it over OpenMetrics and
    stores it: what Grafana's exemplar link to the trace's log lines reads."""
    import time
    import urllib.parse

    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    # The idle pod: no other request overwrites the bucket's exemplar before the scrape.
    idle = GOLDEN["1.3.0"][0]
    request = urllib.request.Request(f"http://{idle.address}/items/42", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
        assert response.status == 200
    selector = f'http_request_duration_seconds_bucket{{service="{SERVICE}", version="1.3.0"}}'

    def stored() -> list[dict]:
        now = time.time()
        query = urllib.parse.urlencode({"query": selector, "start": f"{now - 300:.3f}", "end": f"{now + 5:.3f}"})
        answer = stack.query_api(f"/api/v1/query_exemplars?{query}")
        exemplars = [e for series in answer["data"] for e in series["exemplars"] if e["labels"].get("trace_id") == trace]
        return exemplars

    (exemplar,) = wait_for(stored, 20, "the request's exemplar")[:1]
    assert exemplar["labels"] == {"trace_id": trace} and float(exemplar["value"]) > 0


def test_stored_series_stay_bounded(stack: Stack):
    """Thousands of distinct raw paths and a per-user metric: the TSDB holds the contract's templates only."""
    apps = [pod for pod, _, _ in GOLDEN.values()]
    wait_for(lambda: sum(p.sent for p in apps) >= 500, 60, "500 requests with distinct paths")
    paths = {s["metric"]["path"] for s in stack.query(f'http_requests_total{{service="{SERVICE}"}}')}
    assert paths == {"/items/{item_id}", "/checkout", "unmatched"}
    assert stack.query(f'count({{service="{SERVICE}", __name__=~"shop_views_by_user.*"}})') == []
    assert stack.query('count({user_id!=""})') == []

    def series() -> int:
        # Scraped series only (a target's `job`): the rules' own series appear as their groups first
        # run (the error budgets' once a minute), whatever the traffic.
        (count,) = stack.query(f'count({{service="{SERVICE}", job!=""}})')
        return int(count["value"][1])

    stable_items = f'sum(http_requests_total{{service="{SERVICE}", version="1.0.0", path="/items/{{item_id}}"}})'

    def recorded() -> float:
        return float(stack.query(stable_items)[0]["value"][1])

    before, total = series(), recorded()
    # 10,000 more requests, each to a path never seen before, on the stable pod.
    stable = GOLDEN["1.0.0"][0]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda n: _get(f"http://{stable.address}/items/{10**6 + n}"), range(10_000)))
    assert statuses.count(200) == 10_000
    # Once the burst is scraped, the series are still the same ones.
    wait_for(lambda: recorded() >= total + 10_000, 30, "the burst to be scraped")
    after = series()
    print(f"\nseries stored for {SERVICE}: {before} before and {after} after 10,000 requests to distinct raw paths")
    assert after <= before  # never grows with distinct paths
    assert after < 1500


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
        return int(response.status)
