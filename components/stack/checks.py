"""Rules that span several keys, each reported at the key an operator must change."""

from __future__ import annotations

import json

from ..conventions import PROJECT
from ..lib.types import byte_size_bytes, quantity_bytes
from .config import StackConfig

# Prometheus needs room beside the blocks retentionSize counts: the WAL and a compaction's output.
MAX_RETENTION_SHARE = 0.85


def cross_checks(config: StackConfig) -> list[str]:
    issues = []
    if config.cluster.oidc_provider_arn is None:
        for path in config.needs_irsa():
            issues.append(
                f"{PROJECT}:cluster.oidcProviderArn: missing, but {path} needs an IRSA role; set it to the cluster's "
                "IAM OIDC provider ARN (aws eks describe-cluster --query cluster.identity.oidc.issuer)."
            )
    if config.prod and not config.protect_data:
        issues.append(f"{PROJECT}:protectData: got false; prod stacks must protect and retain their data (set true).")
    seen: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.name in seen:
            issues.append(
                f"{PROJECT}:services[{index}].name: got {json.dumps(service.name)}; duplicate of services[{seen[service.name]}].name, "
                "service names must be unique."
            )
        seen.setdefault(service.name, index)
    platform = {config.namespaces.monitoring, config.namespaces.logging, config.namespaces.rollouts}
    for index, service in enumerate(config.services):
        if service.namespace in platform:
            issues.append(
                f"{PROJECT}:services[{index}].namespace: got {json.dumps(service.namespace)}; the platform's own namespaces "
                f"({', '.join(sorted(platform))}) are not for services: use the team's own namespace."
            )
    if config.services and not config.argo_rollouts.enabled:
        issues.append(f"{PROJECT}:argoRollouts.enabled: got false; services need the Argo Rollouts controller for their canaries.")
    if config.services and not config.prometheus_stack.enabled:
        issues.append(f"{PROJECT}:prometheusStack.enabled: got false; service monitoring and canary analysis need Prometheus.")
    prom = config.prometheus_stack.prometheus
    share = byte_size_bytes(prom.retention_size) / quantity_bytes(prom.storage_size)
    if share > MAX_RETENTION_SHARE:
        allowed = int(quantity_bytes(prom.storage_size) * MAX_RETENTION_SHARE / 2**30)
        issues.append(
            f"{PROJECT}:prometheusStack.prometheus.retentionSize: got {json.dumps(prom.retention_size)}; that is {share:.0%} of "
            f"storageSize {prom.storage_size} (Prometheus counts GB as GiB). Keep at most {MAX_RETENTION_SHARE:.0%}, "
            f"{allowed}GB here, so the WAL and compaction have room before the volume fills."
        )
    if config.kubecost.enabled and not config.prometheus_stack.enabled:
        issues.append(f"{PROJECT}:kubecost.enabled: got true; Kubecost reads the platform Prometheus, so prometheusStack.enabled must be true.")
    if config.fluent_bit.send_to_loki and config.fluent_bit.enabled and not config.loki.enabled:
        issues.append(f"{PROJECT}:fluentBit.sendToLoki: got true, but loki.enabled is false; disable one or enable Loki.")
    return issues
