"""Helpers the service tests share: one service's registered objects and rule groups."""

from __future__ import annotations

from tools.mockrun import RunResult

RUNBOOKS = "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md"
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
# The kinds of one service's stack, sorted.
SERVICE_KINDS = ["AnalysisTemplate", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Rollout", "Service", "ServiceMonitor"]


def service_stack(result: RunResult, service: str) -> dict[str, dict]:
    """The objects of exactly this service: the children of its component (`svc-<name>`), not of
    every service whose name merely starts the same (`mediprepai` and `mediprepai-api`)."""
    (component,) = [r for r in result.registrations if not r.custom and r.name == f"svc-{service}"]
    prefix = f"{component.name}-"
    return {r.name.removeprefix(prefix): r.inputs for r in result.registrations if r.parent == component.urn and r.custom}


def rule_groups(result: RunResult, service: str) -> list[dict]:
    return service_stack(result, service)["rules"]["spec"]["groups"]
