"""Every metrics renderer, called directly with fixture configs and checked whole against its golden file."""

from __future__ import annotations

import pytest

from components.lib.contract import MetricContract
from components.metrics.alertmanager import alertmanager_config
from components.metrics.dashboards import gpu, platform_overview
from components.metrics.dcgm_values import dcgm_values
from components.metrics.rules import platform_rule_groups
from components.metrics.values import kube_prometheus_stack_values
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config

STACKS = {"dev": (), "prod": ("prod",)}
CUSTOM = MetricContract(requests_metric="legacy_requests_total", duration_metric="legacy_request_seconds")


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_kube_prometheus_stack_values(stack):
    config = fixture_config(*STACKS[stack])
    values = kube_prometheus_stack_values(
        config.prometheus_stack,
        config.alerting,
        config.cluster.region,
        config.prod,
        True,
        config.protect_data,
        {"cluster": config.cluster.name, "environment": config.environment},
    )
    assert_golden(f"metrics/kube-prometheus-stack.{stack}.yaml", values)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_alertmanager_config(stack):
    assert_golden(f"metrics/alertmanager.{stack}.yaml", alertmanager_config(fixture_config(*STACKS[stack]).alerting))


def test_platform_rules():
    config = fixture_config("prod")
    contracts = {s.name: s.metrics for s in config.services}
    assert_golden("metrics/platform-rules.yaml", {"groups": platform_rule_groups(config.alerting, contracts, gpu=True)})


def test_platform_rules_read_each_services_contract():
    config = fixture_config()
    contracts = {"orders-api": MetricContract(), "legacy-api": CUSTOM}
    assert_golden("metrics/platform-rules.custom-contract.yaml", {"groups": platform_rule_groups(config.alerting, contracts, gpu=False)})


@pytest.mark.parametrize("name", ["default", "custom-contract"])
def test_overview_dashboard(name):
    contracts = {"orders-api": MetricContract()} | ({"legacy-api": CUSTOM} if name != "default" else {})
    assert_golden(f"metrics/dashboards/platform-overview.{name}.json", platform_overview(contracts))


def test_gpu_dashboard():
    assert_golden("metrics/dashboards/platform-gpu.json", gpu())


def test_dcgm_values():
    assert_golden("metrics/dcgm-exporter.yaml", dcgm_values(fixture_config("prod").dcgm_exporter))


def test_custom_contract_rules_pass_promtool():
    """The `or` of per-contract expressions is valid PromQL, and each contract's series fires the alert."""
    from tests import promtool

    groups = platform_rule_groups(fixture_config().alerting, {"legacy-api": CUSTOM}, gpu=False)
    http = [g for g in groups if g["name"] == "platform.http"]
    assert promtool.check_rules(groups).returncode == 0
    series = [
        {"series": 'legacy_requests_total{namespace="legacy", service="legacy-api", status="500"}', "values": "0+60x20"},
        {"series": 'legacy_requests_total{namespace="legacy", service="legacy-api", status="200"}', "values": "0+540x20"},
    ]
    expr = http[0]["rules"][0]["expr"]
    # 60 of 600 requests a minute fail: the legacy contract's 10% error ratio is what the alert sees.
    check = {"expr": expr, "eval_time": "15m", "exp_samples": [{"labels": '{namespace="legacy", service="legacy-api"}', "value": 0.1}]}
    proc = promtool.test_rules(http, [{"interval": "1m", "input_series": series, "promql_expr_test": [check]}])
    assert proc.returncode == 0, proc.stdout + proc.stderr
