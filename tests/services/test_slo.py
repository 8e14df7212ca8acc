"""SLO burn-rate and health alerts on Prometheus' rule engine (promtool), fed traffic as client
libraries record it (tools/synthetic.py): no `status="500"` series before the first error, bucket
bounds as Prometheus 3 stores them."""

from __future__ import annotations

import re

import pytest

from components.conventions import SLO_FLEET_GROUP
from components.services.budgets import BUDGET_GROUP
from components.services.config import ServiceConfig
from components.services.rules import service_rule_groups, slo_rule_groups
from tests import promtool
from tests.conftest import FLEET, ROOT
from tests.services.support import RUNBOOKS, rule_groups
from tools.detection import HISTORY, LABELS, PAGE, TICKET, first_firing, markdown, reference_service, table
from tools.synthetic import INPUT_INTERVAL, Phase, series

START = HISTORY[0].minutes


def _alert(name: str, slo: str, severity: str, objective: str, meaning: str, windows: str, gate: str = "") -> dict:
    return {
        "exp_labels": {"namespace": "orders", "service": "orders-api", "severity": severity, "slo": slo, "team": "platform"},
        "exp_annotations": {
            "summary": f"orders-api is burning its {slo} error budget ({'fast' if 'Fast' in name else 'slow'})",
            "description": f"orders-api in orders burns the {slo} budget of its {objective} objective ({meaning}) too fast: {windows}.{gate}",
            "runbook_url": f"{RUNBOOKS}#{name.lower()}",
        },
    }


FAST = "10m/2m at 14.4x or 1h/5m at 14.4x or 6h/30m at 6x"
SLOW = "1d/2h at 3x or 3d/6h at 1x"
GATE = " Starts paging only with at least 5 requests a minute; once paging, it holds while the burn lasts, and 10m after."
CASES = {
    # alert: (traffic, first evaluation that fires in minutes, expected alert); measured with tools/detection.py
    "ServiceAvailabilityBudgetBurnFast": (
        [*HISTORY, Phase(30, 600, error_ratio=0.1)],
        # 10% failing: the 10m ratio passes 14.4 x 0.5% = 7.2% once 7.2 of its 10 minutes fail, so the first
        # 30s evaluation after is +7.5. (Prometheus 2.42 fired at +7.0: its rate() extrapolated the 5xx series,
        # born at the first error, a whole interval back to its zero point, before the incident began.)
        START + 7.5,
        _alert(PAGE, "availability", "critical", "99.50%", "of requests answered without 5xx", FAST, GATE),
    ),
    "ServiceAvailabilityBudgetBurnSlow": (
        [Phase(60, 600, error_ratio=0.02)],
        # The slow pairs' windows come from the fleet group, which reads the service groups' tiles
        # one evaluation back (SLO_FLEET_LAG): a ticket fires 30s later than from raw windows (16.0).
        16.5,
        _alert(TICKET, "availability", "warning", "99.50%", "of requests answered without 5xx", SLOW),
    ),
    "ServiceLatencyBudgetBurnFast": (
        [*HISTORY, Phase(30, 600, slow_ratio=0.3)],
        START + 5,
        _alert("ServiceLatencyBudgetBurnFast", "latency", "critical", "99.00%", "of requests faster than 0.5s", FAST, GATE),
    ),
    "ServiceLatencyBudgetBurnSlow": (
        [Phase(60, 600, slow_ratio=0.04)],
        16.5,
        _alert("ServiceLatencyBudgetBurnSlow", "latency", "warning", "99.00%", "of requests faster than 0.5s", SLOW),
    ),
}


@pytest.mark.parametrize("alert", sorted(CASES))
def test_slo_alert_fires_with_its_labels_and_annotations(alert):
    """Silent one evaluation before, firing with exactly these labels and annotations at the minute measured."""
    phases, fires, expected = CASES[alert]
    groups = slo_rule_groups([reference_service()], RUNBOOKS)
    tests = [
        {
            "interval": INPUT_INTERVAL,
            "input_series": series(phases, LABELS),
            "alert_rule_test": [
                {"eval_time": f"{int((fires - 0.5) * 60)}s", "alertname": alert, "exp_alerts": []},
                {"eval_time": f"{int(fires * 60)}s", "alertname": alert, "exp_alerts": [expected]},
            ],
        },
        {
            "interval": INPUT_INTERVAL,
            "input_series": series([Phase(START + 30, 600, error_ratio=0.001, slow_ratio=0.001)], LABELS),
            "alert_rule_test": [{"eval_time": f"{int(START + 30)}m", "alertname": alert, "exp_alerts": []}],
        },
    ]
    proc = promtool.test_rules(groups, tests, evaluation_interval="30s")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_detection_targets_and_the_documented_table():
    """A sustained 20% burst pages within 5 minutes; a 2-minute blip and a trickle never page; every
    incident is one page that stays up until recovery; the table in docs/alerting.md is this measurement."""
    measured = table()
    rows = {r.incident: r for r in measured}
    burst, outage = rows["20% 5xx burst"].page, rows["100% outage"].page
    assert burst is not None and outage is not None
    # Plus up to one scrape and one evaluation interval (1 minute) in production: within 5 minutes.
    assert burst <= 4.0
    assert outage <= 1.0
    blip = rows["2-minute 20% blip"]
    assert (blip.page, blip.ticket, blip.catch_all, blip.pages) == (None, None, None, 0)
    trickle = rows["trickle: 2 req/min, all failing"]
    assert (trickle.page, trickle.catch_all, trickle.pages) == (None, None, 0)  # never pages
    assert trickle.ticket is not None  # a ticket still says something is wrong
    for row in measured:
        assert row.page_runs <= 1 and row.pages <= 1, row  # one incident, one page
        assert row.critical_gaps == 0, row  # once paged, never silent until recovery
        if row.resolved is not None:
            assert row.resolved <= 12.0, row  # PAGE_KEEP_FIRING_FOR after the short window clears
    backed_off = rows["30-minute outage, clients back off to 4 req/min"]
    assert backed_off.page is not None and backed_off.resolved is not None and backed_off.resolved > 0
    vanished = rows["every target vanishes for 20 min"]
    assert vanished.service_down is not None and vanished.service_down <= 4.0
    assert markdown(measured) in (ROOT / "docs" / "alerting.md").read_text(), "run `make detection` and update docs/alerting.md"


def test_the_planted_paging_defects_are_caught():
    """What the fixes change, planted back: a page resolved by the traffic floor while clients back off
    goes silent before recovery; without keep_firing_for a 2-minute outage pages twice and a steady
    error rate just over the threshold pages again and again; without the
    `absent` clause a service whose every target vanished never gets ServiceDown."""
    def floor_only(expr: str) -> str:
        return re.sub(r"\nor on \(namespace, service\)\ngroup by \(namespace, service\) \(ALERTS\{[^}]*\}\)", "", expr)

    (backed_off,) = table(only=["30-minute outage, clients back off to 4 req/min"], plant=floor_only)
    assert backed_off.critical_gaps > 0, backed_off
    short, steady = table(only=["120 s full outage", "steady 7.5-8% 5xx for 40 min (Poisson)"], keep_firing=False)
    assert short.pages == 2, short
    assert steady.page_runs >= 5, steady  # the page flaps with the short window
    (vanished,) = table(only=["every target vanishes for 20 min"], plant=lambda expr: expr.split("\nor\n(absent(")[0])
    assert vanished.service_down is None, vanished


def test_whole_second_latency_objective_matches_prometheus_3_buckets():
    """`latencySeconds: 1` must select `le="1.0"`, the bound Prometheus 3 stores; `le="1"` matches nothing."""
    service = ServiceConfig.model_validate({**reference_service().model_dump(by_alias=True), "slo": {"latencySeconds": 1}})
    groups = slo_rule_groups([service], RUNBOOKS)
    phases = [*HISTORY, Phase(30, 600, slow_ratio=0.5)]
    alert = "ServiceLatencyBudgetBurnFast"
    fired = first_firing(groups, phases, START, [alert], series(phases, LABELS, latency_seconds=1))[alert]
    assert fired is not None and fired <= 3


def test_each_service_records_only_its_own_series():
    """Two services' rule files loaded together: every recorded series has exactly one writer. A
    service's group reads only its service's series; the fleet group's sums and ratios keep each
    service apart (one series per part or SLO and service, never one for the fleet)."""
    other = ServiceConfig(
        name="billing-api", namespace="billing", port=8000, version="2.0.0", image="registry.example.com/billing-api:2.0.0"
    )
    groups = slo_rule_groups([reference_service(), other], RUNBOOKS)
    other_labels = 'namespace="billing", service="billing-api", method="GET", path="/invoices", version="2.0.0"'
    phases = [Phase(10, 600, error_ratio=0.01)]
    checks = [
        {
            "expr": "count by (namespace, service) (service_version:http_request_error_ratio:rate2m)",
            "eval_time": "9m",
            "exp_samples": [
                {"labels": '{namespace="orders", service="orders-api"}', "value": 1},
                {"labels": '{namespace="billing", service="billing-api"}', "value": 1},
            ],
        },
        *(
            {
                "expr": f"count by (namespace, service) ({name})",
                "eval_time": "9m",
                "exp_samples": [
                    {"labels": '{namespace="orders", service="orders-api"}', "value": count},
                    {"labels": '{namespace="billing", service="billing-api"}', "value": count},
                ],
            }
            for name, count in (("service:slo_parts:increase3d", 3), ("service:slo_errors:ratio_rate3d", 2), ("service:slo_errors:ratio_rate1h", 2))
        ),
    ]
    tests = [
        {"interval": INPUT_INTERVAL, "input_series": series(phases, LABELS) + series(phases, other_labels), "promql_expr_test": checks}
    ]
    proc = promtool.test_rules(groups, tests, "30s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for group in groups:
        if group["name"] in (SLO_FLEET_GROUP, BUDGET_GROUP):  # the fleet's groups: checked by the counts above
            continue
        for rule in group["rules"]:
            if "record" in rule and "absent(" not in rule["expr"]:
                assert rule["expr"].count('service="') >= rule["expr"].count("{"), rule["expr"]


def test_service_down_and_absent():
    """Burn-rate alerts are silent without data; these say so."""
    groups = slo_rule_groups([reference_service()], RUNBOOKS)
    target = 'up{namespace="orders", service="orders-api", job="orders-api", instance="10.0.0.1:8080", pod="orders-api-1"}'
    labels = {"namespace": "orders", "service": "orders-api", "team": "platform"}
    tests = [
        {
            "interval": "1m",
            "input_series": [{"series": target, "values": "1 1 0x10"}],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ServiceDown", "exp_alerts": []},
                {
                    "eval_time": "5m",
                    "alertname": "ServiceDown",
                    "exp_alerts": [{"exp_labels": {**labels, "severity": "critical"}, "exp_annotations": _annotations("ServiceDown")}],
                },
            ],
        },
        {
            # Every target gone (pods deleted or evicted): `up` itself goes stale, the sum is empty.
            "interval": "1m",
            "input_series": [{"series": target, "values": "1 1 1 stale"}],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "ServiceDown", "exp_alerts": []},
                {
                    "eval_time": "6m",
                    "alertname": "ServiceDown",
                    "exp_alerts": [{"exp_labels": {**labels, "severity": "critical"}, "exp_annotations": _annotations("ServiceDown")}],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [{"series": 'up{namespace="billing", service="billing-api"}', "values": "1x30"}],
            "alert_rule_test": [
                {"eval_time": "14m", "alertname": "ServiceMetricsAbsent", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "ServiceMetricsAbsent",
                    "exp_alerts": [
                        {"exp_labels": {**labels, "severity": "warning"}, "exp_annotations": _annotations("ServiceMetricsAbsent")}
                    ],
                },
            ],
        },
    ]
    proc = promtool.test_rules(groups, tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _annotations(alert: str) -> dict:
    rule = next(r for g in service_rule_groups(reference_service(), RUNBOOKS) for r in g["rules"] if r.get("alert") == alert)
    return {
        k: v.replace("{{ $labels.service }}", "orders-api").replace("{{ $labels.namespace }}", "orders")
        for k, v in rule["annotations"].items()
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_rules_pass_promtool_check(stack, request):
    """Each PrometheusRule is checked as the operator loads it: one rule file per object."""
    result = request.getfixturevalue(stack)
    for service in FLEET:
        proc = promtool.check_rules(rule_groups(result, service))
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_service_alerts_are_annotated(prod):
    for service in FLEET:
        for group in rule_groups(prod, service):
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["labels"]["severity"] in ("critical", "warning")
                    assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


def test_a_teams_own_alert_fires_with_the_platform_labels():
    from tests.stackfixtures import fixture_config

    billing = next(s for s in fixture_config().services if s.name == "billing-api")
    groups = slo_rule_groups([billing], RUNBOOKS)
    assert groups[-1]["name"] == "service.billing.billing-api.custom"
    series = [{"series": 'billing_credits_remaining{namespace="billing", plan="pro", pod="billing-1"}', "values": "500 400 300 200 90x20"}]
    expected = {
        "exp_labels": {"namespace": "billing", "service": "billing-api", "plan": "pro", "severity": "critical", "team": "platform"},
        "exp_annotations": {
            "summary": "Credits of plan pro are almost exhausted (90 left)",
            "description": "Credits of plan pro are almost exhausted (90 left)",
            "runbook_url": "https://runbooks.example.com/billing#credits-exhausted",
        },
    }
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "13m", "alertname": "CreditsExhausted", "exp_alerts": []},
                {"eval_time": "14m", "alertname": "CreditsExhausted", "exp_alerts": [expected]},
            ],
        }
    ]
    proc = promtool.test_rules(groups, tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_near_the_sample_limit_warns_before_scrapes_are_dropped():
    service = reference_service()
    limit = service.metrics.sample_limit
    assert limit == 50 * 4 * 8 * 17
    groups = slo_rule_groups([service], RUNBOOKS)
    samples = 'scrape_samples_post_metric_relabeling{namespace="orders", service="orders-api", pod="orders-api-1"}'
    tests: list[dict] = [
        {
            "interval": "1m",
            "input_series": [{"series": samples, "values": f"{int(0.9 * limit)}x30"}],
            "alert_rule_test": [
                {"eval_time": "14m", "alertname": "ServiceNearSampleLimit", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "ServiceNearSampleLimit",
                    "exp_alerts": [
                        {
                            "exp_labels": {"namespace": "orders", "service": "orders-api", "severity": "warning", "team": "platform"},
                            "exp_annotations": _annotations("ServiceNearSampleLimit")
                            | {
                                "description": _annotations("ServiceNearSampleLimit")["description"].replace(
                                    "{{ $value }}", str(int(0.9 * limit))
                                )
                            },
                        }
                    ],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [{"series": samples, "values": f"{int(0.5 * limit)}x30"}],
            "alert_rule_test": [{"eval_time": "20m", "alertname": "ServiceNearSampleLimit", "exp_alerts": []}],
        },
    ]
    proc = promtool.test_rules(groups, tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
