"""Helpers the service tests share: one service's registered objects and rule groups."""

from __future__ import annotations

from tools.mockrun import RunResult

RUNBOOKS = "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md"
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
# The kinds of one service's stack, sorted.
SERVICE_KINDS = ["AnalysisTemplate", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Rollout", "Service", "ServiceMonitor"]


def service_stack(result: RunResult, service: str) -> dict[str, dict]:
    prefix = f"svc-{service}-"
    return {r.name.removeprefix(prefix): r.inputs for r in result.registrations if r.name.startswith(prefix) and r.custom}


def rule_groups(result: RunResult, service: str) -> list[dict]:
    return service_stack(result, service)["rules"]["spec"]["groups"]
