"""checkov over what the charts really render (every release of the stack with every option on): each
check that still fails is listed here, for the workloads it fails on, with the reason it stays."""

from __future__ import annotations

import re

import pytest

from tests.charts.helm import rendered
from tests.services.test_checkov import scan

PLATFORM = r"(Deployment|StatefulSet|DaemonSet|Job)\.(argo-rollouts|logging|monitoring|datadog)\."
# check -> (the resources it may fail on, as a regex of checkov's `Kind.namespace.name` ids; the reason).
ACCEPTED: dict[str, tuple[str, str]] = {
    "CKV_K8S_11": (
        PLATFORM,
        "no CPU limits: CFS throttling of collectors and query paths drops data or times out queries; requests are set where the program sizes a workload",
    ),
    "CKV_K8S_15": (
        PLATFORM,
        "imagePullPolicy IfNotPresent: each chart pins versioned tags, and Always makes every restart depend on the registry",
    ),
    "CKV_K8S_43": (PLATFORM, "images by the tag each pinned chart version sets; digests would be per-image pins outside the chart's own"),
    "CKV_K8S_38": (
        PLATFORM,
        "controllers and agents talk to the API server (Argo Rollouts, the operator, Fluent Bit's kubernetes filter, Datadog, Loki's components)",
    ),
    "CKV_K8S_40": (
        PLATFORM,
        "the images' own non-root users are kept (UIDs under 10000 in upstream images); runAsNonRoot holds where the namespace is restricted",
    ),
    "CKV_K8S_13": (
        PLATFORM,
        "chart defaults without memory limits (Argo Rollouts, the operator, Loki's gateway and caches, Datadog): sized per cluster by the chart values",
    ),
    "CKV_K8S_10": (
        r"(Deployment|StatefulSet)\.(logging\.loki-(gateway|chunks-cache|results-cache)|datadog\.datadog-cluster-agent)$",
        "chart defaults without CPU requests",
    ),
    "CKV_K8S_12": (
        r"(Deployment|StatefulSet)\.(logging\.loki-(gateway|chunks-cache|results-cache)|datadog\.datadog-cluster-agent)$",
        "chart defaults without memory requests",
    ),
    "CKV_K8S_8": (
        r"(Deployment|DaemonSet)\.(argo-rollouts\.argo-rollouts-dashboard|logging\.loki-gateway|datadog\.datadog)$",
        "the charts define no liveness probe there",
    ),
    "CKV_K8S_9": (
        r"(Deployment|DaemonSet)\.(argo-rollouts\.argo-rollouts-dashboard|datadog\.datadog)$",
        "the charts define no readiness probe there",
    ),
    "CKV_K8S_22": (
        r"(DaemonSet|Deployment)\.(monitoring\.dcgm-exporter|datadog\.datadog(-cluster-agent)?)$",
        "DCGM and the Datadog agents write to their root filesystem",
    ),
    "CKV_K8S_23": (
        r"(DaemonSet|Deployment)\.(logging\.fluent-bit|monitoring\.dcgm-exporter|datadog\.datadog(-cluster-agent)?)$",
        "root: Fluent Bit opens the node's root-owned 0640 logs (every capability dropped), DCGM reads the GPUs, Datadog's agent the host",
    ),
    "CKV_K8S_29": (
        r"(DaemonSet|Deployment)\.(logging\.fluent-bit|monitoring\.dcgm-exporter|datadog\.datadog-cluster-agent)$",
        "the container-level securityContext is set instead (Fluent Bit, DCGM)",
    ),
    "CKV_K8S_20": (
        r"(DaemonSet|Deployment)\.datadog\.datadog(-cluster-agent)?$",
        "Datadog's agents as its chart runs them, in the privileged `datadog` namespace",
    ),
    "CKV_K8S_28": (r"(DaemonSet|Deployment)\.datadog\.datadog(-cluster-agent)?$", "Datadog's agents as its chart runs them"),
    "CKV_K8S_30": (r"(DaemonSet|Deployment)\.datadog\.datadog(-cluster-agent)?$", "Datadog's agents as its chart runs them"),
    "CKV_K8S_31": (
        r"(DaemonSet|Deployment)\.(monitoring\.dcgm-exporter|datadog\.datadog(-cluster-agent)?)$",
        "seccomp left to the runtime default by DCGM's and Datadog's charts",
    ),
    "CKV_K8S_35": (
        r"(DaemonSet|Deployment)\.datadog\.datadog(-cluster-agent)?$",
        "Datadog reads its API and app keys from the keys Secret as environment variables, as its chart wires them",
    ),
    "CKV_K8S_37": (r"(DaemonSet|Deployment)\.datadog\.datadog(-cluster-agent)?$", "Datadog's agents as its chart runs them"),
    "CKV_K8S_17": (
        r"DaemonSet\.datadog\.datadog$",
        "the node agent shares the host PID namespace to see every process (the `datadog` namespace is privileged for it)",
    ),
    "CKV_K8S_49": (r"ClusterRole\.default\.kube-prometheus-stack-operator$", "the prometheus-operator's own role"),
    "CKV_K8S_155": (
        r"ClusterRole\.default\.(kube-prometheus-stack-admission|datadog-cluster-agent)$",
        "they patch their own admission webhooks' CA bundles",
    ),
    "CKV2_K8S_5": (
        r"RoleBinding\.(monitoring\.kube-prometheus-stack-admission|datadog\.datadog-(cluster-agent-main|dca-flare))$",
        "Secrets of their own namespace only: the webhook's TLS certificate, Datadog's tokens",
    ),
    "CKV2_K8S_6": (
        r"Pod\.",
        "policies guard the APIs that hold data (Prometheus, Alertmanager, Loki) and the services' pods; agents and controllers expose only their metrics",
    ),
}


def failures(stack: str) -> dict[str, set[str]]:
    import tempfile
    from pathlib import Path

    manifests = {
        f"{release}--{obj['kind']}--{obj['metadata'].get('namespace', '')}--{obj['metadata']['name']}.yaml": obj
        for release, obj in rendered(stack).chart_objects()
        if obj["kind"] != "CustomResourceDefinition"
    }
    with tempfile.TemporaryDirectory() as tmp:
        return scan(manifests, Path(tmp) / "scan")


@pytest.fixture(scope="module")
def everything() -> dict[str, set[str]]:
    return failures("everything")


def test_every_remaining_failure_is_listed_with_its_reason(everything):
    unlisted = {
        check: sorted(r for r in resources if check not in ACCEPTED or not re.match(ACCEPTED[check][0], r))
        for check, resources in everything.items()
    }
    assert {k: v for k, v in unlisted.items() if v} == {}


def test_no_reason_is_stale(everything):
    """A listed check that no longer fails is removed from the list, so the list stays what is true."""
    assert sorted(set(ACCEPTED) - set(everything)) == []


def test_the_helm_test_pod_and_restricted_workloads_pass(everything):
    """Fixed, not listed: Fluent Bit's `helm test` pod is not rendered; the Rollouts dashboard passes
    the checks its restricted namespace implies (privilege escalation, capabilities)."""
    flat = {r for resources in everything.values() for r in resources}
    assert not any("test-connection" in r for r in flat)
    for check in ("CKV_K8S_20", "CKV_K8S_28", "CKV_K8S_37"):
        assert not any("argo-rollouts" in r for r in everything.get(check, set())), check
