"""Configs the tests own: `fixtures/base.yaml` plus overlays and overrides, never the user's stack files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from components.conventions import PROJECT
from components.stack import StackConfig, load_stack_config

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def fixture_values(*overlays: str, **overrides: Any) -> dict[str, Any]:
    """base.yaml, then each named overlay (`fixtures/<name>.yaml`), then `overrides`, deep-merged."""
    values: dict[str, Any] = yaml.safe_load((FIXTURES / "base.yaml").read_text())
    for overlay in overlays:
        values = deep_merge(values, yaml.safe_load((FIXTURES / f"{overlay}.yaml").read_text()))
    return deep_merge(values, overrides)


def to_pulumi_config(values: dict[str, Any], secrets: dict[str, str] | None = None) -> tuple[dict[str, str], set[str]]:
    """Plain values -> (config, secret keys) exactly as the Pulumi CLI hands them to the program."""
    config: dict[str, str] = {"aws:region": "ap-northeast-2"}
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            config[f"{PROJECT}:{key}"] = json.dumps(value)
        elif isinstance(value, bool):
            config[f"{PROJECT}:{key}"] = "true" if value else "false"
        else:
            config[f"{PROJECT}:{key}"] = str(value)
    secret_keys = set()
    for key, value in (secrets or {}).items():
        config[f"{PROJECT}:{key}"] = value
        secret_keys.add(f"{PROJECT}:{key}")
    return config, secret_keys


def namespaces(result: Any) -> list[Any]:
    """The namespaces a run registers: created (Namespace) or applied and retained (NamespacePatch)."""
    return [*result.of_type("kubernetes:core/v1:Namespace"), *result.of_type("kubernetes:core/v1:NamespacePatch")]


def fixture_config(*overlays: str, **overrides: Any) -> StackConfig:
    """The validated StackConfig of a fixture."""
    return load_stack_config(*to_pulumi_config(fixture_values(*overlays, **overrides)))


# A team with its own receivers (`alerting.teams`), as a stack file gives it: the team tests and the
# real-engine tier route its alerts.
TEAM_PAYMENTS: dict[str, Any] = {
    "name": "payments",
    "slack": {
        "criticalChannel": "#payments-oncall",
        "warningChannel": "#payments",
        "criticalWebhookSecret": "paymentsSlackCritical",
        "warningWebhookSecret": "paymentsSlackWarning",
    },
    "pagerduty": {"routingKeySecret": "paymentsPagerdutyKey"},
}
TEAM_PAYMENTS_SECRETS = ("paymentsSlackCritical", "paymentsSlackWarning", "paymentsPagerdutyKey")
