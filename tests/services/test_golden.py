"""Every per-service renderer, called directly for each fixture service and checked whole against its golden file."""

from __future__ import annotations

import pytest

from components.lib.contract import MetricContract
from components.services.canary import analysis_template_spec
from components.services.dashboards import budgets_overview, error_budget, service_detail
from components.services.manifests import network_policy_spec, pdb_spec, rollout_spec, service_monitor_spec, service_spec
from components.services.rules import platform_slo_rule_groups, service_rule_groups
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config

PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
RUNBOOKS = "https://runbooks.example.com/runbooks.md"
SERVICES = {s.name: s for s in fixture_config().services}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_manifests(name):
    service = SERVICES[name]
    assert_golden(
        f"services/{name}.yaml",
        {
            "Service": service_spec(service),
            "ServiceMonitor": service_monitor_spec(service),
            "Rollout": rollout_spec(service),
            "AnalysisTemplate": analysis_template_spec(service, PROMETHEUS),
            "PodDisruptionBudget": pdb_spec(service),
            "NetworkPolicy": network_policy_spec(service, "monitoring"),
        },
    )


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_rules(name):
    assert_golden(f"services/{name}.rules.yaml", {"groups": service_rule_groups(SERVICES[name], RUNBOOKS)})


@pytest.mark.parametrize("period", ["28d", "30d"])
def test_fleet_rules(period):
    """The long SLO windows and the error budgets of every service, the same whatever the services."""
    assert_golden(f"services/fleet.{period}.rules.yaml", {"groups": platform_slo_rule_groups(RUNBOOKS, period)})


def test_service_dashboard():
    assert_golden("services/service-detail.json", service_detail(MetricContract()))
    # With the events collector, the service's Kubernetes events sit under its metrics.
    assert_golden("services/service-detail.events.json", service_detail(MetricContract(), events=True))
    # With the cost model, its namespace's spend and GPUs under them.
    assert_golden("services/service-detail.events-cost.json", service_detail(MetricContract(), events=True, cost=True))


def test_error_budget_dashboards():
    assert_golden("services/error-budget.json", error_budget())
    assert_golden("services/error-budgets.json", budgets_overview())
