"""Workloads that survive a node and a zone, and namespaces that admit only what they must."""

from __future__ import annotations

from tests.manifests import validate
from tests.services.support import service_stack
from tests.stackfixtures import namespaces
from tools.mockrun import RunResult


def _namespace_labels(result: RunResult) -> dict[str, dict[str, str]]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in namespaces(result)}


def test_pod_security_admission_on_every_namespace(prod):
    labels = _namespace_labels(prod)
    enforce = {ns: lab["pod-security.kubernetes.io/enforce"] for ns, lab in labels.items()}
    assert enforce == {
        "monitoring": "privileged",  # node-exporter, DCGM exporter
        "logging": "privileged",  # Fluent Bit's hostPath
        "argo-rollouts": "restricted",
        "orders": "baseline",  # teams' namespaces: their other workloads must keep starting
        "legacy": "baseline",
        "billing": "baseline",
    }
    assert all(lab["pod-security.kubernetes.io/warn"] == "restricted" == lab["pod-security.kubernetes.io/audit"] for lab in labels.values())
    reasons = {r.inputs["metadata"]["name"]: (r.inputs["metadata"].get("annotations") or {}) for r in namespaces(prod)}
    assert "hostPath" in reasons["logging"]["eks-observability/pod-security-reason"]


def test_service_pods_are_locked_down(prod, shared_schemas):
    rollout = service_stack(prod, "orders-api")["rollout"]
    pod = rollout["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    (app,) = pod["containers"]
    assert app["securityContext"]["readOnlyRootFilesystem"] is True and app["securityContext"]["runAsNonRoot"] is True
    assert app["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}] and pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert app["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert validate(rollout, shared_schemas / "crds") == []


def test_every_owned_pod_template_has_a_readiness_probe(prod):
    for service in ("orders-api", "legacy-api"):
        containers = service_stack(prod, service)["rollout"]["spec"]["template"]["spec"]["containers"]
        assert "readinessProbe" in containers[0], service


def test_service_spread_and_disruption_budget(prod):
    stack = service_stack(prod, "orders-api")
    spread = stack["rollout"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert all(c["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "orders-api"}} for c in spread)
    assert stack["pdb"]["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "orders-api"}}}
    assert validate(stack["pdb"]) == []


def test_prometheus_and_alertmanager_spread_across_zones(prod, dev):
    for result, rule in ((prod, "DoNotSchedule"), (dev, "ScheduleAnyway")):
        values = result.release("kube-prometheus-stack")["values"]
        for spec, app in (
            (values["prometheus"]["prometheusSpec"], "prometheus"),
            (values["alertmanager"]["alertmanagerSpec"], "alertmanager"),
        ):
            (zone,) = spec["topologySpreadConstraints"]
            assert (zone["topologyKey"], zone["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", rule)
            assert zone["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": app}}
    values = prod.release("kube-prometheus-stack")["values"]
    # Budgets that still let a node drain: one replica of each may go.
    assert values["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert values["alertmanager"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 2}


def test_no_pdb_for_the_fluent_bit_daemonset(prod):
    assert "podDisruptionBudget" not in prod.release("fluent-bit")["values"]


def test_grafana_knows_its_public_address(prod):
    grafana = prod.release("kube-prometheus-stack")["values"]["grafana"]
    assert grafana["grafana.ini"] == {"server": {"root_url": "https://grafana.example.com"}}
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}
