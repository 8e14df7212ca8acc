"""Every logging renderer, called directly with fixture configs and checked whole against its golden file."""

from __future__ import annotations

import pytest

from components.logging.fluent_bit_values import events_pipeline, events_values, fluent_bit_values, pipeline, render_sections
from components.logging.loki_values import grafana_datasource, lifecycle_rules, loki_values, ruler_lifecycle_rules
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config

STACKS = {"dev": (), "prod": ("prod",)}
LOKI_GATEWAY = ("loki-gateway.logging.svc.cluster.local", 80)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_loki_values(stack):
    config = fixture_config(*STACKS[stack])
    alertmanager = "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    values = loki_values(config.loki, "fixture-loki-chunks", "fixture-loki-ruler", config.cluster.region, config.prod, alertmanager)
    assert_golden(f"logging/loki.{stack}.yaml", values)


def test_loki_bucket_lifecycle_and_datasource():
    loki = fixture_config("prod").loki
    assert_golden("logging/loki-bucket-lifecycle.yaml", lifecycle_rules(loki.retention, loki.delete_delay))
    assert_golden("logging/loki-ruler-bucket-lifecycle.yaml", ruler_lifecycle_rules())
    assert_golden("logging/loki-datasource.yaml", grafana_datasource("http://loki-gateway.logging.svc.cluster.local"))


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_fluent_bit(stack):
    config = fixture_config(*STACKS[stack])
    sections = pipeline(config.fluent_bit, config.cluster.region, config.log_group_name, LOKI_GATEWAY)
    assert_golden(f"logging/fluent-bit.{stack}.conf", render_sections(sections))
    assert_golden(f"logging/fluent-bit.{stack}.yaml", fluent_bit_values(config.fluent_bit, sections))


def test_events_collector():
    config = fixture_config("prod")
    sections = events_pipeline(config.fluent_bit, LOKI_GATEWAY)
    assert_golden("logging/fluent-bit-events.conf", render_sections(sections))
    assert_golden("logging/fluent-bit-events.yaml", events_values(config.fluent_bit, sections))


def test_fluent_bit_without_loki():
    config = fixture_config(loki={"enabled": False}, fluentBit={"sendToLoki": False})
    sections = pipeline(config.fluent_bit, config.cluster.region, config.log_group_name, None)
    assert_golden("logging/fluent-bit.no-loki.conf", render_sections(sections))
