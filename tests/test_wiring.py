"""Each component hands its renderer the config it was given: the registered Helm values equal the
pure renderer's output for the same fixture config (the golden files pin that output whole)."""

from __future__ import annotations

import pytest

from components.delivery.argo_rollouts import argo_rollouts_values
from components.integrations.datadog import datadog_values
from components.integrations.kubecost import kubecost_values
from components.logging.fluent_bit_values import events_pipeline, events_values, fluent_bit_values, parse_sections, pipeline
from components.logging.loki_values import loki_values
from components.metrics.backend import grafana_datasources
from components.metrics.dcgm_values import dcgm_values
from components.metrics.values import kube_prometheus_stack_values
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.stackfixtures import fixture_config, fixture_values, to_pulumi_config
from tools.mockrun import run_program

OVERLAYS = {"dev": (), "prod": ("prod", "integrations")}
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def case(request):
    overlays = OVERLAYS[request.param]
    config, secret_keys = to_pulumi_config(fixture_values(*overlays), {k: REDACTED for k in SECRET_CONFIG_KEYS})
    return fixture_config(*overlays), run_program(config, secret_keys, stack=request.param)


def test_helm_values_come_from_the_renderers(case):
    config, result = case
    region, prod = config.cluster.region, config.prod
    loki = (f"loki-gateway.{config.namespaces.logging}.svc.cluster.local", 80)
    sections = pipeline(config.fluent_bit, region, config.log_group_name, loki)
    expected = {
        "kube-prometheus-stack": kube_prometheus_stack_values(
            config.prometheus_stack,
            config.alerting,
            region,
            prod,
            True,
            config.protect_data,
            {"cluster": config.cluster.name, "environment": config.environment},
            datasources=grafana_datasources(
                config.prometheus_stack.backend.mode,
                None,
                region,
                PROMETHEUS,
                config.prometheus_stack.prometheus.scrape_interval,
                trace_logs=config.logs_in_loki,
            ),
        ),
        "loki": loki_values(
            config.loki,
            "loki-bucket-mock0001",
            "loki-ruler-bucket-mock0001",
            region,
            prod,
            f"http://kube-prometheus-stack-alertmanager.{config.namespaces.monitoring}.svc.cluster.local:9093",
        ),
        "fluent-bit": fluent_bit_values(config.fluent_bit, sections),
        "fluent-bit-events": events_values(config.fluent_bit, events_pipeline(config.fluent_bit, loki)),
        "argo-rollouts": argo_rollouts_values(config.argo_rollouts, prod),
    }
    if config.dcgm_exporter.enabled:
        expected["dcgm-exporter"] = dcgm_values(config.dcgm_exporter)
    if config.datadog.enabled:
        expected["datadog"] = datadog_values(config.datadog, config.cluster.name)
    if config.kubecost.enabled:
        expected["kubecost"] = kubecost_values(config.cluster.name, PROMETHEUS)
    releases = {r.inputs["name"]: r.inputs["values"] for r in result.of_type("kubernetes:helm.sh/v3:Release")}
    assert sorted(releases) == sorted(expected)
    for name, values in expected.items():
        assert releases[name] == values, name


def test_fluent_bit_config_parses_back(case):
    """What the chart writes to the node is the pipeline, section for section."""
    config, result = case
    rendered = result.release("fluent-bit")["values"]["config"]
    parsed = [s for part in ("service", "inputs", "filters", "outputs") for s in parse_sections(rendered[part])]
    loki = (f"loki-gateway.{config.namespaces.logging}.svc.cluster.local", 80)
    assert parsed == pipeline(config.fluent_bit, config.cluster.region, config.log_group_name, loki)
