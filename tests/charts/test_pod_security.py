"""Every pod the cluster would admit, chart-rendered ones included, passes its namespace's enforced
Pod Security level; and the checker itself refuses what Pod Security Admission refuses."""

from __future__ import annotations

import copy

import pytest

from tests.charts.helm import STACKS, rendered
from tools import charts
from tools.pod_security import pod_specs, violations


def refused(stack: str) -> list[str]:
    out = rendered(stack)
    levels = out.namespace_levels()
    problems = []
    for origin, obj in out.all_objects():
        namespace = obj.get("metadata", {}).get("namespace")
        for pod in pod_specs(obj):
            if namespace not in levels:
                problems.append(
                    f"{origin}: {obj['kind']}/{obj['metadata']['name']} runs in {namespace!r}, a namespace the program does not create"
                )
                continue
            for problem in violations(pod, levels[namespace]):
                problems.append(f"{origin}: {obj['kind']} {namespace}/{obj['metadata']['name']} ({levels[namespace]}): {problem}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_no_pod_is_refused_by_its_namespace(stack):
    assert refused(stack) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_is_checked(stack):
    """The tier really sees the charts' workloads (a render that lost them would pass vacuously)."""
    kinds = {(origin, obj["kind"]) for origin, obj in rendered(stack).all_objects() if list(pod_specs(obj))}
    assert {
        ("argo-rollouts", "Deployment"),
        ("fluent-bit", "DaemonSet"),
        ("kube-prometheus-stack", "Prometheus"),
        ("program", "Rollout"),
    } <= kinds
    assert ("loki", "StatefulSet") in kinds or ("loki", "Deployment") in kinds


def test_restricted_platform_namespaces_hold_only_restricted_pods():
    """`argo-rollouts` stays `restricted`: the fix is the dashboard's securityContext, not a weaker level."""
    levels = rendered("dev").namespace_levels()
    assert levels["argo-rollouts"] == "restricted"
    dashboard = next(
        obj
        for release, obj in rendered("dev").chart_objects()
        if release == "argo-rollouts" and obj["metadata"]["name"].endswith("dashboard") and obj["kind"] == "Deployment"
    )
    (pod,) = pod_specs(dashboard)
    assert violations(pod, "restricted") == []


def test_the_chart_default_dashboard_is_refused():
    """Planted defect: the chart's own default (an empty container securityContext) is what the cluster
    refused; rendered through the chart, the checker refuses it too."""
    out = rendered("dev")
    (release,) = [r for r in charts.releases(out.files) if r.release == "argo-rollouts"]
    values = copy.deepcopy(dict(release.values))
    values["dashboard"].pop("containerSecurityContext")
    planted = charts.Release(release.release, release.chart, release.version, release.namespace, values)
    dashboard = next(o for o in charts.template(planted) if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("dashboard"))
    (pod,) = pod_specs(dashboard)
    assert violations(pod, "restricted") == [
        "privilege escalation: container 'argo-rollouts-dashboard' must set allowPrivilegeEscalation=false",
        "seccomp: container 'argo-rollouts-dashboard' must set seccompProfile RuntimeDefault or Localhost (or the pod)",
        "capabilities: container 'argo-rollouts-dashboard' must drop ALL",
    ]


@pytest.mark.parametrize("stack", ["everything"])
def test_every_subchart_is_rendered(stack):
    """Subcharts missing from ../shared/charts are rendered around, not through: say so, visibly."""
    missing = rendered(stack).missing_subcharts
    if missing:
        pytest.skip(f"subcharts absent from {charts.CHARTS_DIR} (their pods are not checked here): {missing}")
