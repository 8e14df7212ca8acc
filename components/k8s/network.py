"""NetworkPolicies: inside the cluster, only the flows the platform needs reach its APIs.

Loki's write path only from Fluent Bit, its read path only from Grafana (the ruler runs inside
Loki), its ruler API only from the platform's rules sync Job; Prometheus' API only from Grafana, the Argo Rollouts controller (canary analysis), Kubecost
and Prometheus itself; Alertmanager only from Prometheus, Loki's ruler, its peers and Grafana. Prometheus scrapes
everything. Enforced by the VPC CNI's network policy agent (a cluster prerequisite).
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from ..conventions import MANAGED_BY_LABELS, PROJECT
from ..lib.options import child_opts
from ..metrics.backend import THANOS_GRPC_PORT

NAME = "app.kubernetes.io/name"
NS = "kubernetes.io/metadata.name"
COMPONENT = "app.kubernetes.io/component"
LOKI_GATEWAY_PORT = 8080
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
METRICS_PORT_NAME = "http-metrics"
RULES_SYNC_APP = "loki-rules-sync"  # the `app.kubernetes.io/name` of logging.ruler's Job pods


def peer(namespace: str, app: str, component: Optional[str] = None) -> dict[str, Any]:
    """Pods named `app` (of `component`, where a chart names several workloads alike) in `namespace`, as a NetworkPolicy peer."""
    pods = {NAME: app, **({COMPONENT: component} if component else {})}
    return {"namespaceSelector": {"matchLabels": {NS: namespace}}, "podSelector": {"matchLabels": pods}}


def _policy(name: str, namespace: str, pods: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY_LABELS)},
        "spec": {"podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress"], "ingress": rules},
    }


def network_policies(
    monitoring: str, logging: Optional[str], rollouts: Optional[str], kubecost: bool, thanos: bool = False
) -> list[dict[str, Any]]:
    """The platform's policies as manifests. A pod a policy selects accepts only the flows listed."""
    prometheus = peer(monitoring, "prometheus")
    grafana = peer(monitoring, "grafana")
    policies = []
    # The Rollouts controller runs the canary analysis; its dashboard (same chart, same name) queries nothing.
    readers = [grafana, prometheus] + ([peer(rollouts, "argo-rollouts", "rollouts-controller")] if rollouts else [])
    api_clients = readers + ([peer("kubecost", "cost-analyzer")] if kubecost else [])
    prometheus_rules = [{"from": api_clients, "ports": [{"port": PROMETHEUS_PORT, "protocol": "TCP"}]}, {"from": [prometheus]}]
    if thanos:
        query = peer(monitoring, "thanos-query")
        # The querier reads each replica's recent blocks from its sidecar; the store gateway reads S3.
        grpc = [{"port": THANOS_GRPC_PORT, "protocol": "TCP"}]
        prometheus_rules.append({"from": [query], "ports": grpc})
        policies.append(
            _policy(
                "thanos-query",
                monitoring,
                {NAME: "thanos-query"},
                [{"from": readers, "ports": [{"port": PROMETHEUS_PORT, "protocol": "TCP"}]}, {"from": [prometheus]}],
            )
        )
        policies.append(
            _policy("thanos-store", monitoring, {NAME: "thanos-store"}, [{"from": [query], "ports": grpc}, {"from": [prometheus]}])
        )
        policies.append(_policy("thanos-compact", monitoring, {NAME: "thanos-compact"}, [{"from": [prometheus]}]))
    policies.append(_policy("prometheus-api", monitoring, {NAME: "prometheus"}, prometheus_rules))
    alertmanager = peer(monitoring, "alertmanager")
    senders = [prometheus, grafana] + ([peer(logging, "loki")] if logging else [])
    policies.append(
        _policy(
            "alertmanager-api",
            monitoring,
            {NAME: "alertmanager"},
            [
                {"from": senders, "ports": [{"port": ALERTMANAGER_PORT, "protocol": "TCP"}]},
                {
                    "from": [alertmanager],
                    "ports": [
                        {"port": ALERTMANAGER_CLUSTER_PORT, "protocol": "TCP"},
                        {"port": ALERTMANAGER_CLUSTER_PORT, "protocol": "UDP"},
                    ],
                },
                {"from": [prometheus]},  # scrapes of the config reloader and Alertmanager itself
            ],
        )
    )
    if logging:
        loki = peer(logging, "loki")
        policies.append(
            _policy(
                "loki",
                logging,
                {NAME: "loki"},
                [
                    # Writes from Fluent Bit, reads from Grafana and the platform's rule groups from the
                    # rules sync Job (the ruler's API), through the gateway only.
                    {
                        "from": [peer(logging, "fluent-bit"), grafana, peer(logging, RULES_SYNC_APP)],
                        "ports": [{"port": LOKI_GATEWAY_PORT, "protocol": "TCP"}],
                    },
                    {"from": [loki]},  # the ring, the read and write paths inside Loki, the ruler
                    # Metrics only: every Loki container names its metrics port so (the gateway's exporter, memcached's too).
                    {"from": [prometheus], "ports": [{"port": METRICS_PORT_NAME, "protocol": "TCP"}]},
                ],
            )
        )
    return policies


class NetworkPolicies(pulumi.ComponentResource):
    """Creates the platform's NetworkPolicies (see `network_policies`)."""

    def __init__(self, name: str, manifests: list[dict[str, Any]], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:k8s:NetworkPolicies", name, None, opts)
        self.policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{m['metadata']['name']}",
                metadata=k8s.meta.v1.ObjectMetaArgs(**m["metadata"]),
                spec=m["spec"],
                opts=child_opts(self, opts),
            )
            for m in manifests
        ]
        self.register_outputs({"policies": [m["metadata"]["name"] for m in manifests]})
