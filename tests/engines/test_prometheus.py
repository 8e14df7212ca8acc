"""The rendered rules, ServiceMonitors and canary analysis on the real Prometheus server the chart deploys (3.x)."""

from __future__ import annotations

import json
import math

import pytest

from tests.engines.conftest import CANARIES, Stack
from tests.engines.servers import wait_for
from tools import charts


def test_every_rule_group_loads_and_every_rule_is_healthy(stack: Stack):
    expected = {g["name"] for r in [*stack.custom("PrometheusRule"), *stack.chart_rules] for g in r["spec"]["groups"]}
    if (charts.CHARTS_DIR / "README.md").is_file():
        # kube-prometheus-stack's default rules (crash loops, nodes, Prometheus itself) and Loki's load beside ours.
        assert {r["metadata"]["name"] for r in stack.chart_rules} >= {
            "kube-prometheus-stack-kubernetes-apps",
            "kube-prometheus-stack-prometheus",
        }

    def evaluated() -> list[dict]:
        groups = stack.query_api("/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if {g["name"] for g in groups} == expected and all(r["lastEvaluation"] > "2000" for r in rules):
            return groups
        return []

    groups = wait_for(evaluated, 30, "every rule to be evaluated")
    unhealthy = [(g["name"], r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
    assert unhealthy == []


def test_forbidden_labels_and_non_contract_metrics_never_reach_the_tsdb(stack: Stack):
    for label in ("user_id", "trace_id"):
        assert stack.query(f'count({{{label}!=""}})') == []
    for metric in ("user_sessions_total", "http_requests_created", "http_requests_total_created"):
        assert stack.query(f'count({{__name__="{metric}"}})') == []
    assert stack.query('count({__name__=~"http_request_duration_seconds_created|.*_created"})') == []


def test_a_contract_violation_is_visible_not_silently_undercounted(stack: Stack):
    violation = wait_for(lambda: stack.query('metric_contract_violation{service="legacy-api"}'), 20, "the violation series")
    # One of the labels the app added is named (the last one checked); fixing it reveals the next.
    assert {v["metric"]["forbidden_label"] for v in violation} in ({"user_id"}, {"trace_id"})
    assert all("user_id" not in v["metric"] and "trace_id" not in v["metric"] for v in violation)
    # No quiet partial rate: the contract's series of the offending service are empty, not a fraction.
    assert stack.query('http_requests_total{service="legacy-api"}') == []


@pytest.mark.parametrize("canary", sorted(CANARIES))
def test_canary_verdicts_on_the_real_server(stack: Stack, canary: str):
    pod, p95_verdict, error_verdict = CANARIES[canary]
    expected = {"p95-latency": p95_verdict, "error-ratio": error_verdict}
    # The canary's counts grow with every scrape until the evidence decides; give it a few seconds.
    verdicts = wait_for(
        lambda: stack.verdicts("orders", "orders-api", pod.template_hash) == expected and expected, 30, f"verdicts {expected}"
    )
    assert verdicts == expected
    assert not any(math.isnan(float(v["value"][1])) for v in stack.query('service_version:http_requests:rate2m{version="2.0.0"}'))


def test_a_failing_service_pages_pagerduty_and_the_critical_channel(stack: Stack):
    def paged() -> list:
        return [
            r
            for r in stack.sink.at("/pagerduty")
            # Alertmanager 0.28+ sends `firing` as the alerts' JSON, 0.25 as text: read either.
            if "ServiceAvailabilityBudgetBurnFast" in json.dumps(r.body["payload"]["custom_details"]["firing"])
            and "billing-api" in r.body["payload"]["summary"]
        ]

    (event, *_) = wait_for(paged, 60, "the billing-api page at PagerDuty")
    assert event.body["event_action"] == "trigger"
    assert event.body["routing_key"] == "0123456789abcdef0123456789abcdef"
    assert event.body["payload"]["summary"].startswith("[FIRING:1] ServiceAvailabilityBudgetBurnFast billing/billing-api: ")
    slack = wait_for(
        lambda: [r for r in stack.sink.at("/slack/critical") if "ServiceAvailabilityBudgetBurnFast" in r.body["attachments"][0]["title"]],
        30,
        "the page in the critical Slack channel",
    )
    assert slack
