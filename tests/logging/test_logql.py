"""LogQL rules for Loki's ruler: what is rendered (golden), that every LogQL the platform ships parses with
Grafana's own LogQL grammar, that a service's burst reaches its team's receivers, and what `pulumi up`
registers to write the rules (a ConfigMap and a Job named by their content)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import yaml

from components.lib.contract import MetricContract
from components.logging.logql import RULES_NAMESPACE, ServiceLogs, logql_rule_groups, service_error_lines
from components.logging.ruler import IMAGE, rules_files
from components.services.dashboards import SERVICE_EVENTS, service_detail
from tests import promtool
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.golden import assert_golden
from tests.stackfixtures import TEAM_PAYMENTS, TEAM_PAYMENTS_SECRETS, fixture_config
from tools import logql

SERVICES = [ServiceLogs("orders", "orders-api", "payments"), ServiceLogs("billing", "billing-api", "platform")]


def _grammar() -> None:
    if logql.installed():
        return
    message = f"Grafana's LogQL grammar is not installed in {logql.GRAMMAR} (`make tools` runs npm ci there)"
    if os.environ.get("REQUIRE_SHARED_SCHEMAS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _groups(result: Any) -> list[dict[str, Any]]:
    data = next(r for r in result.of_type("kubernetes:core/v1:ConfigMap") if r.name == "loki-rules-rules").inputs["data"]
    return [yaml.safe_load(text) for name, text in sorted(data.items()) if name.endswith(".yaml")]


def test_rule_groups():
    config = fixture_config("prod")
    assert_golden("logging/logql-rules.yaml", {"groups": logql_rule_groups(SERVICES, "logging", config.alerting)})


def test_every_logql_the_platform_ships_parses():
    _grammar()
    config = fixture_config("prod")
    exprs = [r["expr"] for g in logql_rule_groups(SERVICES, "logging", config.alerting) for r in g["rules"]]
    detail = json.loads(service_detail(MetricContract(), events=True))
    exprs += [t["expr"] for p in detail["panels"] if p.get("datasource", {}).get("type") == "loki" for t in p["targets"]]
    assert SERVICE_EVENTS in exprs
    assert logql.syntax_errors(exprs) == [[] for _ in exprs]


@pytest.mark.parametrize(
    "broken",
    [
        service_error_lines(SERVICES[0]).replace(" [5m]", " [5m"),  # an unclosed range
        service_error_lines(SERVICES[0]).replace("| json", "| jsn"),  # an unknown parser stage
        '{namespace="orders", app="orders-api" | json',  # an unclosed selector
    ],
)
def test_the_grammar_catches_a_broken_expression(broken):
    _grammar()
    (errors,) = logql.syntax_errors([broken])
    assert errors, broken


def test_a_services_error_burst_is_routed_to_its_team(run, make_config):
    values = make_config("prod", alerting={"slack": {"enabled": True}, "pagerduty": {"enabled": True}, "teams": [TEAM_PAYMENTS]})
    for service in values["services"]:
        if service["name"] == "orders-api":
            service["team"] = "payments"
    secrets = {**{key: REDACTED for key in SECRET_CONFIG_KEYS}, **{key: REDACTED for key in TEAM_PAYMENTS_SECRETS}}
    result = run(values, secrets, stack="prod")
    rules = {(r["alert"], r["labels"].get("service")): r for g in _groups(result) for r in g["rules"]}
    burst = rules[("ServiceErrorLogBurst", "orders-api")]
    assert burst["labels"] == {"severity": "warning", "namespace": "orders", "service": "orders-api", "team": "payments"}
    config = result.release("kube-prometheus-stack")["values"]["alertmanager"]["config"]
    labels = [f"{k}={v}" for k, v in burst["labels"].items()]
    assert promtool.route(config, "alertname=ServiceErrorLogBurst", *labels) == ["team-payments-slack-warning"]
    pipeline = rules[("LogPipelineErrors", None)]
    assert promtool.route(config, "alertname=LogPipelineErrors", "severity=warning", "namespace=logging") == ["slack-warning"]
    assert pipeline["expr"].startswith('sum by (namespace, app, container) (count_over_time({namespace="logging", app=~"fluent-bit|loki"}')


def test_the_sync_job_is_restricted_and_named_by_its_content(prod, run, make_config):
    (job,) = [r.inputs for r in prod.of_type("kubernetes:batch/v1:Job")]
    (config_map,) = [r.inputs for r in prod.of_type("kubernetes:core/v1:ConfigMap") if r.name == "loki-rules-rules"]
    name = job["metadata"]["name"]
    assert name.startswith("loki-rules-sync-") and name == config_map["metadata"]["name"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {e["name"]: e["value"] for e in container["env"]}["RULES_NAMESPACE"] == RULES_NAMESPACE
    assert {e["name"]: e["value"] for e in container["env"]}["LOKI_URL"] == "http://loki-gateway.logging.svc.cluster.local"
    assert job["spec"]["activeDeadlineSeconds"] == 600
    config = fixture_config("prod")
    assert config_map["data"] == rules_files(logql_rule_groups(config.services_in_loki(), "logging", config.alerting))
    # A retuned threshold is new content: a new ConfigMap and a new Job, which `pulumi up` waits for.
    retuned = run(make_config("prod", alerting={"thresholds": {"logErrorsPerMinute": 120}}), stack="prod")
    (job2,) = [r.inputs for r in retuned.of_type("kubernetes:batch/v1:Job")]
    assert job2["metadata"]["name"] != name
    # The same config is the same Job (nothing runs on an unchanged `up`).
    again = run(make_config("prod"), stack="prod")
    assert [r.inputs["metadata"]["name"] for r in again.of_type("kubernetes:batch/v1:Job")] == [name]


@pytest.mark.parametrize(
    "overrides",
    [
        {"prometheusStack": {"enabled": False}, "services": []},  # no Alertmanager to send the alerts to
        {"fluentBit": {"sendToLoki": False}},  # no log lines in Loki
    ],
)
def test_no_rules_without_an_alertmanager_or_logs_in_loki(run, make_config, overrides):
    result = run(make_config("dev", **overrides))
    assert result.of_type("kubernetes:batch/v1:Job") == []


def test_services_whose_logs_stay_out_of_loki_get_no_rule(run, make_config):
    values = make_config("dev")
    kept_out = values["services"][0]["namespace"]
    values["fluentBit"] = {**values.get("fluentBit", {}), "cloudwatchOnlyNamespaces": ["kube-system", kept_out]}
    rules = [r for g in _groups(run(values)) for r in g["rules"]]
    namespaces = {r["labels"].get("namespace") for r in rules if r["alert"] == "ServiceErrorLogBurst"}
    assert kept_out not in namespaces and namespaces
