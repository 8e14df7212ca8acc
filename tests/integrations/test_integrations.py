"""Optional integrations on registered resources: off by default, keys only from secrets, scoped roles."""

from __future__ import annotations

import json

from tools.mockrun import RunResult


def _values(result: RunResult, name: str) -> dict:
    return result.release(name)["values"]


def test_optional_integrations_off_by_default(prod):
    types = {r.typ for r in prod.registrations}
    assert "aws:eks/addon:Addon" not in types
    assert {r.inputs["name"] for r in prod.of_type("kubernetes:helm.sh/v3:Release")} == {
        "kube-prometheus-stack",
        "loki",
        "fluent-bit",
        "fluent-bit-events",
        "dcgm-exporter",
        "argo-rollouts",
    }


def test_datadog_keys_only_from_secrets(run, make_config):
    result = run(make_config("dev", datadog={"enabled": True}), secrets=None)
    values = _values(result, "datadog")
    assert values["datadog"]["apiKeyExistingSecret"] == "datadog-keys"
    assert values["datadog"]["appKeyExistingSecret"] == "datadog-keys"
    assert "apiKey" not in values["datadog"] and "appKey" not in values["datadog"]
    from pulumi.runtime import rpc

    assert rpc.is_rpc_secret(result.named("datadog-keys").inputs["stringData"])


def test_datadog_needs_its_secrets(run, make_config):
    result = run(make_config("dev", datadog={"enabled": True}), secrets={"grafanaAdminPassword": "x"}, check=False)
    assert "eks-observability:datadogApiKey: required secret is not set" in str(result.error)
    assert result.registrations == []


def test_kubecost_reads_platform_prometheus(run, make_config):
    values = _values(run(make_config("dev", kubecost={"enabled": True})), "kubecost")
    assert values["global"]["prometheus"] == {
        "enabled": False,
        "fqdn": "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090",
    }


def test_container_insights(run, make_config):
    result = run(make_config("dev", containerInsights={"enabled": True}))
    group = result.named("container-insights-performance-log-group").inputs
    assert group == {"name": "/aws/containerinsights/fixture/performance", "retentionInDays": 30}
    addon = result.named("container-insights-addon").inputs
    assert addon["addonName"] == "amazon-cloudwatch-observability"
    assert addon["addonVersion"] == "v4.4.0-eksbuild.1"
    assert json.loads(addon["configurationValues"]) == {"containerLogs": {"enabled": False}}
    assert addon["serviceAccountRoleArn"] == "arn:aws:iam::111122223333:role/container-insights-irsa-role-mock0001"
    trust = json.loads(result.named("container-insights-irsa-role").inputs["assumeRolePolicy"])
    sub = next(v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert sub == "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"
    assert not [r for r in result.registrations if r.name == "container-insights-irsa-sa"]
