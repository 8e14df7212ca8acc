"""Every flow the platform needs is admitted by its NetworkPolicies, judged on the pod labels the charts
(and the prometheus-operator) really set, and the APIs admit nothing else from the platform's pods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.charts.helm import STACKS, Rendered, rendered
from tests.netpol import Pod, admitted, selects

NAME = "app.kubernetes.io/name"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Rollout"}


def _operator_pods(obj: dict[str, Any]) -> Iterator[Pod]:
    """The pods prometheus-operator builds for a Prometheus or Alertmanager (its StatefulSet labels:
    pkg/prometheus/statefulset.go, pkg/alertmanager/statefulset.go), with their podMetadata labels."""
    kind, name, namespace = obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]
    app = kind.lower()
    labels = {
        NAME: app,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "prometheus-operator",
        app: name,
        **((obj["spec"].get("podMetadata") or {}).get("labels") or {}),
    }
    ports = {"web": 9090} if kind == "Prometheus" else {"web": 9093, "mesh-tcp": 9094, "mesh-udp": 9094}
    if kind == "Prometheus" and obj["spec"].get("thanos"):
        ports["grpc"] = 10901
    yield Pod(f"{namespace}/{name}", namespace, labels, ports)


def pods(out: Rendered) -> list[Pod]:
    found = []
    for _, obj in out.all_objects():
        if obj["kind"] == "Rollout" and "workloadRef" in obj["spec"]:
            # A Rollout taking over a team's Deployment: its pods carry at least the Rollout's selector labels.
            meta = obj["metadata"]
            found.append(Pod(f"{meta['namespace']}/{meta['name']}", meta["namespace"], obj["spec"]["selector"]["matchLabels"], {}))
        elif obj["kind"] in WORKLOADS:
            template = obj["spec"]["template"]
            ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
            meta = obj["metadata"]
            found.append(Pod(f"{meta['namespace']}/{meta['name']}", meta["namespace"], template["metadata"].get("labels") or {}, ports))
        elif obj["kind"] in ("Prometheus", "Alertmanager"):
            found += _operator_pods(obj)
    return found


def _policies(out: Rendered) -> list[dict[str, Any]]:
    return [obj for _, obj in out.all_objects() if obj["kind"] == "NetworkPolicy"]


def _one(found: list[Pod], what: str) -> list[Pod]:
    assert found, f"no pod is {what}"
    return found


def by(out: Rendered, **labels: str) -> list[Pod]:
    wanted = {k.replace("__", "/").replace("_", "."): v for k, v in labels.items()}
    return [p for p in pods(out) if all(p.labels.get(k) == v for k, v in wanted.items())]


def named(out: Rendered, name: str, component: str | None = None) -> list[Pod]:
    return [
        p
        for p in pods(out)
        if p.labels.get(NAME) == name and (component is None or p.labels.get("app.kubernetes.io/component") == component)
    ]


# (source, target, port, protocol): the flows the platform needs, by pod labels.
NEEDED = [
    (("fluent-bit", None), ("loki", "gateway"), 8080, "TCP"),
    (("prometheus", None), ("alertmanager", None), 9093, "TCP"),
    (("loki", "ruler"), ("alertmanager", None), 9093, "TCP"),
    (("alertmanager", None), ("alertmanager", None), 9094, "UDP"),
    (("argo-rollouts", "rollouts-controller"), ("prometheus", None), 9090, "TCP"),
    (("prometheus", None), ("loki", "ingester"), 3100, "TCP"),
    (("loki", "distributor"), ("loki", "ingester"), 9095, "TCP"),
]


@pytest.mark.parametrize("stack", STACKS)
def test_every_needed_flow_is_admitted(stack):
    out = rendered(stack)
    policies = _policies(out)
    assert policies
    refused = []
    for (src, src_component), (dst, dst_component), port, protocol in NEEDED:
        sources, targets = named(out, src, src_component), named(out, dst, dst_component)
        if not sources or not targets:
            continue  # that part is not deployed in this stack
        for source in sources:
            for target in targets:
                if not admitted(policies, source, target, port, protocol):
                    refused.append(f"{source.workload} -> {target.workload}:{port}/{protocol}")
    assert refused == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_selects_real_pods(stack):
    """A policy whose selector matches no pod the charts render protects nothing, silently."""
    out = rendered(stack)
    all_pods = pods(out)
    for policy in _policies(out):
        selected = [
            p for p in all_pods if p.namespace == policy["metadata"]["namespace"] and selects(policy["spec"]["podSelector"], p.labels)
        ]
        if policy["metadata"]["namespace"] in ("monitoring",) and policy["metadata"]["name"] == "prometheus-api":
            assert any(p.labels.get(NAME) == "prometheus" for p in selected)
        if policy["spec"]["podSelector"] == {}:
            continue
        assert selected, f"{policy['metadata']['namespace']}/{policy['metadata']['name']} selects no rendered pod"


@pytest.mark.parametrize("stack", ["dev", "everything"])
def test_the_apis_admit_only_their_clients(stack):
    """Of the platform's own pods, only the listed clients reach Prometheus' and Loki's APIs."""
    out = rendered(stack)
    policies = _policies(out)
    everyone = [p for p in pods(out) if p.namespace in out.namespace_levels()]
    prometheus = _one(named(out, "prometheus"), "prometheus")[0]
    reach = {p.workload for p in everyone if admitted(policies, p, prometheus, 9090)}
    expected = {p.workload for p in named(out, "prometheus") + named(out, "argo-rollouts", "rollouts-controller")}
    assert reach == expected
    gateway = _one(named(out, "loki", "gateway"), "the loki gateway")[0]
    writers = {p.workload for p in everyone if admitted(policies, p, gateway, 8080)}
    assert writers == {p.workload for p in named(out, "fluent-bit") + named(out, "loki")}


def test_a_label_the_chart_does_not_set_is_caught():
    """Planted defect: a policy admitting the Rollouts controller by a label its chart does not set refuses
    the canary analysis' queries."""
    out = rendered("dev")
    policies = _policies(out)
    controller = named(out, "argo-rollouts", "rollouts-controller")[0]
    prometheus = named(out, "prometheus")[0]
    assert admitted(policies, controller, prometheus, 9090)
    planted = [
        {**p, "spec": {**p["spec"], "ingress": [
            {**r, "from": [
                {**peer, "podSelector": {"matchLabels": {NAME: "rollouts-controller"}}}
                if (peer.get("podSelector") or {}).get("matchLabels", {}).get(NAME) == "argo-rollouts" else peer
                for peer in r.get("from") or []
            ]} for r in p["spec"]["ingress"]
        ]}}
        for p in policies
    ]  # fmt: skip
    assert not admitted(planted, controller, prometheus, 9090)
