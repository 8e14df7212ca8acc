"""NetworkPolicies allow exactly the platform's flows: checked with Kubernetes' ingress semantics on the
registered policies, for every (source, destination) pair that matters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.manifests import validate
from tests.netpol import Pod, admitted
from tools.mockrun import RunResult

Peer = tuple[str, dict[str, str]]  # (namespace, labels)
# Named container ports the charts give these pods (tests/charts checks them on the real chart output).
PORTS = {"loki": {"http-metrics": 3100, "grpc": 9095, "http": 8080}}


def allowed(policies: list[dict[str, Any]], source: Peer, target: Peer, port: int, protocol: str = "TCP") -> bool:
    def pod(peer: Peer) -> Pod:
        namespace, labels = peer
        return Pod(
            f"{namespace}/{labels.get('app.kubernetes.io/name')}",
            namespace,
            labels,
            PORTS.get(labels.get("app.kubernetes.io/name", ""), {}),
        )

    return admitted(policies, pod(source), pod(target), port, protocol)


def _policies(result: RunResult) -> list[dict[str, Any]]:
    return [r.inputs for r in result.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")]


FLUENT_BIT = ("logging", {"app.kubernetes.io/name": "fluent-bit"})
RULES_SYNC = ("logging", {"app.kubernetes.io/name": "loki-rules-sync"})
LOKI_GATEWAY = ("logging", {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "gateway"})
LOKI_WRITE = ("logging", {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "distributor"})
LOKI_QUERIER = ("logging", {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "querier"})
LOKI_RULER = ("logging", {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "ruler"})
GRAFANA = ("monitoring", {"app.kubernetes.io/name": "grafana"})
PROMETHEUS = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
ALERTMANAGER = ("monitoring", {"app.kubernetes.io/name": "alertmanager"})
ARGO = ("argo-rollouts", {"app.kubernetes.io/name": "argo-rollouts", "app.kubernetes.io/component": "rollouts-controller"})
ARGO_DASHBOARD = ("argo-rollouts", {"app.kubernetes.io/name": "argo-rollouts", "app.kubernetes.io/component": "rollouts-dashboard"})
TEAM_POD = ("orders", {"app.kubernetes.io/name": "orders-api"})
STRANGER = ("monitoring", {"app.kubernetes.io/name": "something-else"})
LEGACY_POD = ("legacy", {"app.kubernetes.io/name": "legacy-api"})
TEAM_NEIGHBOUR = ("orders", {"app.kubernetes.io/name": "orders-db"})

FLOWS = [
    # (source, destination, port, protocol, allowed)
    (FLUENT_BIT, LOKI_GATEWAY, 8080, "TCP", True),
    (GRAFANA, LOKI_GATEWAY, 8080, "TCP", True),
    (TEAM_POD, LOKI_GATEWAY, 8080, "TCP", False),  # nobody else reads or deletes logs
    (STRANGER, LOKI_GATEWAY, 8080, "TCP", False),
    (RULES_SYNC, LOKI_GATEWAY, 8080, "TCP", True),  # the platform's LogQL rules, to the ruler's API
    (RULES_SYNC, LOKI_RULER, 3100, "TCP", False),  # through the gateway only
    (FLUENT_BIT, LOKI_WRITE, 3100, "TCP", False),  # writes only through the gateway
    (LOKI_GATEWAY, LOKI_WRITE, 3100, "TCP", True),
    (PROMETHEUS, LOKI_WRITE, 3100, "TCP", True),  # metrics
    (FLUENT_BIT, LOKI_QUERIER, 3100, "TCP", False),  # the read path only through the gateway
    (LOKI_RULER, LOKI_QUERIER, 9095, "TCP", True),  # inside Loki
    (LOKI_RULER, ALERTMANAGER, 9093, "TCP", True),  # LogQL alerts
    (FLUENT_BIT, ALERTMANAGER, 9093, "TCP", False),
    (GRAFANA, PROMETHEUS, 9090, "TCP", True),
    (ARGO, PROMETHEUS, 9090, "TCP", True),  # canary analysis
    (ARGO_DASHBOARD, PROMETHEUS, 9090, "TCP", False),  # same chart and name, no queries
    (PROMETHEUS, LOKI_GATEWAY, 8080, "TCP", False),  # Prometheus scrapes Loki's metrics ports, writes nothing
    (PROMETHEUS, LOKI_GATEWAY, 3100, "TCP", True),
    (TEAM_POD, PROMETHEUS, 9090, "TCP", False),
    (STRANGER, PROMETHEUS, 9090, "TCP", False),
    (PROMETHEUS, ALERTMANAGER, 9093, "TCP", True),
    (ALERTMANAGER, ALERTMANAGER, 9094, "UDP", True),  # gossip
    (TEAM_POD, ALERTMANAGER, 9093, "TCP", False),
    (PROMETHEUS, TEAM_POD, 8080, "TCP", True),  # a service's HTTP port is open to its callers
    (STRANGER, TEAM_POD, 8080, "TCP", True),
    (STRANGER, TEAM_POD, 9999, "TCP", False),  # nothing else reaches the service's pods
    (PROMETHEUS, LEGACY_POD, 9117, "TCP", True),  # a separate metrics port: Prometheus only
    (STRANGER, LEGACY_POD, 9117, "TCP", False),
    (STRANGER, LEGACY_POD, 8010, "TCP", True),
    (STRANGER, TEAM_NEIGHBOUR, 5432, "TCP", True),  # the team's other workloads are the team's
]


@pytest.mark.parametrize(("source", "target", "port", "protocol", "expected"), FLOWS)
def test_flows(prod, source, target, port, protocol, expected):
    assert allowed(_policies(prod), source, target, port, protocol) is expected


def test_policies_are_valid_and_can_be_turned_off(prod, run, make_config):
    for policy in _policies(prod):
        assert validate(policy) == [], policy["metadata"]["name"]
    names = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in _policies(prod))
    assert names == [
        ("billing", "billing-api"),
        ("legacy", "legacy-api"),
        ("logging", "loki"),
        ("monitoring", "alertmanager-api"),
        ("monitoring", "prometheus-api"),
        ("orders", "orders-api"),
    ]
    assert _policies(run(make_config("dev", cluster={"networkPolicies": False}))) == []


def test_a_service_can_opt_out_of_its_policy(run, make_config):
    values = make_config("dev")
    values["services"][0]["networkPolicy"] = False
    names = {p["metadata"]["name"] for p in _policies(run(values))}
    assert values["services"][0]["name"] not in names and "loki" in names


def test_the_evaluator_denies_when_a_policy_selects(prod):
    deny_all = [{"metadata": {"namespace": "x"}, "spec": {"podSelector": {}, "ingress": []}}]
    assert allowed(deny_all, TEAM_POD, ("x", {}), 80) is False
    assert allowed([], TEAM_POD, ("x", {}), 80) is True
