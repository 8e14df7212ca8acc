"""No workload reads every Secret in the cluster unless it needs to: chart-rendered ClusterRoles included."""

from __future__ import annotations

from typing import Any

import pytest

from components.metrics.values import GRAFANA_SERVICE_ACCOUNT, GRAFANA_SIDECAR_CLUSTER_ROLE
from tests.charts.helm import STACKS, rendered

# ClusterRole -> why its controller must read Secrets in every namespace.
NEEDS_SECRETS = {
    "kube-prometheus-stack-operator": "the prometheus-operator writes the Prometheus and Alertmanager config Secrets and reads the "
    "Secrets that ServiceMonitors and AlertmanagerConfigs reference, in any namespace",
    "argo-rollouts": "the controller resolves AnalysisTemplate `secretKeyRef` arguments and notification credentials in each "
    "Rollout's namespace",
}
READS = {"get", "list", "watch", "*"}


def secret_readers(stack: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for origin, obj in rendered(stack).all_objects():
        if obj["kind"] != "ClusterRole":
            continue
        rules = [
            r
            for r in obj.get("rules") or []
            if {"", "*"} & set(r.get("apiGroups") or [])
            and {"secrets", "*"} & set(r.get("resources") or [])
            and READS & set(r.get("verbs") or [])
            and not r.get("resourceNames")
        ]
        if rules:
            out[f"{origin}/{obj['metadata']['name']}"] = rules
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_only_controllers_that_need_them_read_every_secret(stack):
    readers = {key.split("/", 1)[1] for key in secret_readers(stack)}
    assert readers <= set(NEEDS_SECRETS), readers - set(NEEDS_SECRETS)


def test_the_chart_defaults_would_read_every_secret():
    """Planted defect: with the chart defaults back, the check names the roles (Loki's rules sidecar,
    Datadog's cluster agent)."""
    from tools import charts

    out = rendered("everything")
    found = {}
    for release in charts.releases(out.files):
        if release.release not in ("loki", "datadog"):
            continue
        values = {k: v for k, v in release.values.items() if k != "sidecar"}
        if release.release == "datadog":
            values["datadog"] = {k: v for k, v in values["datadog"].items() if k != "kubeStateMetricsCore"}
        planted = charts.Release(release.release, release.chart, release.version, release.namespace, values)
        for obj in charts.template(planted):
            if obj["kind"] == "ClusterRole" and any("secrets" in (r.get("resources") or []) for r in obj.get("rules") or []):
                found[release.release] = obj["metadata"]["name"]
    assert found == {"loki": "loki-clusterrole", "datadog": "datadog-ksm-core"}


def test_grafana_sidecars_run_with_the_programs_configmap_only_role():
    """The grafana subchart's own ClusterRole grants `secrets` whenever a sidecar is on; the release binds
    Grafana's service account to the program's role instead, and the sidecars watch ConfigMaps only."""
    out = rendered("dev")
    role = next(o for o in out.program_objects() if o["kind"] == "ClusterRole" and o["metadata"]["name"] == GRAFANA_SIDECAR_CLUSTER_ROLE)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    from tools import charts

    (stack,) = [r for r in charts.releases(out.files) if r.release == "kube-prometheus-stack"]
    grafana = stack.values["grafana"]
    assert grafana["rbac"] == {"useExistingClusterRole": GRAFANA_SIDECAR_CLUSTER_ROLE}
    assert grafana["serviceAccount"]["name"] == GRAFANA_SERVICE_ACCOUNT
    assert {grafana["sidecar"][kind]["resource"] for kind in ("dashboards", "datasources")} == {"configmap"}
