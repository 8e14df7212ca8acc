"""Renamed keys keep working for one release, with a warning naming the new key."""

from __future__ import annotations

import pytest

from components.conventions import PROJECT
from components.stack import ConfigError, load_stack_config
from tests.stackfixtures import fixture_values, to_pulumi_config


def test_old_error_ratio_key_still_works_with_a_warning():
    warnings: list[str] = []
    values = fixture_values(alerting={"thresholds": {"errorRateRatio": 0.07}})
    config = load_stack_config(*to_pulumi_config(values), warn=warnings.append)
    assert config.alerting.thresholds.error_ratio == 0.07
    assert warnings == [
        f"{PROJECT}:alerting.thresholds.errorRateRatio is deprecated; rename it to {PROJECT}:alerting.thresholds.errorRatio (same meaning)."
    ]


def test_new_key_needs_no_warning():
    warnings: list[str] = []
    config = load_stack_config(*to_pulumi_config(fixture_values(alerting={"thresholds": {"errorRatio": 0.07}})), warn=warnings.append)
    assert (config.alerting.thresholds.error_ratio, warnings) == (0.07, [])


def test_both_keys_is_an_error():
    values = fixture_values(alerting={"thresholds": {"errorRateRatio": 0.07, "errorRatio": 0.05}})
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(values))
    assert err.value.issues == [
        f"{PROJECT}:alerting.thresholds.errorRateRatio: deprecated and {PROJECT}:alerting.thresholds.errorRatio "
        f"is also set; keep only {PROJECT}:alerting.thresholds.errorRatio."
    ]


def test_analysis_and_alerting_use_the_same_name():
    config = load_stack_config(*to_pulumi_config(fixture_values()))
    assert "error_ratio" in type(config.alerting.thresholds).model_fields
    assert "error_ratio" in type(config.services[0].analysis).model_fields


def test_loki_single_binary_is_monolithic_with_a_warning():
    warnings: list[str] = []
    config = load_stack_config(*to_pulumi_config(fixture_values(loki={"deploymentMode": "SingleBinary"})), warn=warnings.append)
    assert config.loki.deployment_mode == "Monolithic"
    assert warnings == [f"{PROJECT}:loki.deploymentMode: 'SingleBinary' is deprecated; use 'Monolithic' (same mode)."]


def test_simple_scalable_still_deploys_with_the_upstream_deprecation():
    warnings: list[str] = []
    values = fixture_values(loki={"deploymentMode": "SimpleScalable", "replicas": 3})
    config = load_stack_config(*to_pulumi_config(values), warn=warnings.append)
    assert config.loki.deployment_mode == "SimpleScalable"
    assert warnings == [
        f"{PROJECT}:loki.deploymentMode: 'SimpleScalable' is deprecated by the Loki chart and removed in Loki 4; "
        "Distributed is the scale-out path on S3."
    ]
