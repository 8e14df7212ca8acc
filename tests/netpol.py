"""Kubernetes' NetworkPolicy ingress semantics, to judge flows between pods by their labels and ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    workload: str  # "<namespace>/<name>"
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _peer_admits(peer: Mapping[str, Any], source: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    namespaces = peer.get("namespaceSelector")
    in_namespace = (
        selects(namespaces, {"kubernetes.io/metadata.name": source.namespace})
        if namespaces is not None
        else (source.namespace == policy_namespace)
    )
    return in_namespace and selects(peer.get("podSelector") or {}, source.labels)


def _port_admits(ports: list[dict[str, Any]] | None, target: Pod, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        number = entry.get("port")
        number = target.ports.get(number, number) if isinstance(number, str) else number
        if (number is None or number == port) and entry.get("protocol", "TCP") == protocol:
            return True
    return False


def admitted(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    """Kubernetes' ingress semantics: a pod no policy selects takes everything; a selected pod takes what
    one of its policies' rules admits."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == target.namespace and selects(p["spec"]["podSelector"], target.labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if (peers is None or any(_peer_admits(p, source, target.namespace) for p in peers)) and _port_admits(
                rule.get("ports"), target, port, protocol
            ):
                return True
    return False
