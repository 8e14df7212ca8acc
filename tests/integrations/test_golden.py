"""Optional integrations' values, checked whole against their golden files."""

from __future__ import annotations

from components.integrations.container_insights import addon_configuration
from components.integrations.datadog import datadog_values
from components.integrations.kubecost import kubecost_values
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config


def test_integration_values():
    config = fixture_config("prod", "integrations")
    assert_golden("integrations/datadog.yaml", datadog_values(config.datadog, config.cluster.name))
    assert_golden("integrations/kubecost.yaml", kubecost_values(config.cluster.name, "http://prometheus.monitoring:9090"))
    assert_golden("integrations/container-insights-addon.json", addon_configuration())
