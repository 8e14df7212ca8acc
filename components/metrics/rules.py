"""The platform's alert rules, as Prometheus rule groups (pure data, rendered into PrometheusRules).

Every alert carries `severity` and the annotations `summary`, `description` and `runbook_url`
(`<runbookBaseUrl>#<alert name in lower case>`). Every alert stays silent when its input series are
absent or idle: ratios over zero traffic are NaN, and NaN compares false with every threshold.
Conditions kube-prometheus-stack's default rules already alert on (KubeNodeNotReady,
KubePodCrashLooping, NodeCPUHighUsage, NodeMemoryHighUtilization, PrometheusRuleFailures,
PrometheusErrorSendingAlertsTo*, AlertmanagerFailedToSendAlerts) are not repeated here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..conventions import PAGE_TRAFFIC_WINDOW, SLO_INFO, TEAM_LABEL
from ..lib import promql as q
from ..lib.alerts import AlertRule
from ..lib.contract import MetricContract, contract_scopes
from .config import AlertingConfig
from .rules_components import contract_rules, gpu_rules, logging_rules, rollout_rules

GROUP_PREFIX = "platform"
# kube-prometheus-stack's job names for its own exporters.
NODE_EXPORTER_JOB = "node-exporter"
# Filesystems that are not node disks: their fill level says nothing about the node.
_PSEUDO_FS = q.not_match("fstype", "tmpfs|overlay|squashfs|nsfs|ramfs")
_NODE_MOUNTS = q.not_match("mountpoint", "/run.*|/var/lib/kubelet/pods.*")


def _per_contract(contracts: dict[str, MetricContract], expr: Callable[[MetricContract, list[str]], str]) -> str:
    """`expr` once per distinct metric contract, joined with `or`.

    The default contract is not narrowed to listed services (an app outside `services` that
    speaks it is covered too); a service that renamed its metrics is read by its own names.
    """
    parts = [expr(contract, scope) for contract, scope in contract_scopes(contracts)]
    return parts[0] if len(parts) == 1 else "\nor\n".join(f"(\n{p}\n)" for p in parts)


def _owned(expr: str) -> str:
    """`expr` with each service's owning team (from its SLO info series), so a team's service reaches the
    team's receivers; a service the program does not list (no SLO info) keeps no team: the platform's."""
    # One team a service, even in the evaluation where a re-owned service's old info series is still there.
    teams = f"topk by (namespace, service) (1, max by (namespace, service, {TEAM_LABEL}) ({SLO_INFO}))"
    return f"(\n{expr}\n)\n* on (namespace, service) group_left ({TEAM_LABEL})\n{teams}\nor on (namespace, service)\n(\n{expr}\n)"


def http_rules(alerting: AlertingConfig, contracts: dict[str, MetricContract]) -> list[AlertRule]:
    """Catch-alls for every service speaking the contract; a service's own SLO page inhibits them."""
    t = alerting.thresholds
    by_service = ["namespace", "service"]

    def errors(c: MetricContract, scope: list[str]) -> str:
        traffic = q.sum_by(q.rate(q.selector(c.requests_metric, scope), PAGE_TRAFFIC_WINDOW), by_service)
        return (
            f"{q.error_ratio(c.requests_metric, '5m', scope, by_service)}\n> {t.error_ratio:g}\n"
            f"and on (namespace, service)\n{traffic} * 60 >= {t.page_min_requests_per_minute:g}"
        )

    def latency(c: MetricContract, scope: list[str]) -> str:
        return f"{q.histogram_quantile(0.99, c.duration_metric, '5m', scope, by_service)}\n> {t.latency_p99_seconds:g}"

    return [
        AlertRule(
            alert="PlatformHighErrorRate",
            expr=_owned(_per_contract(contracts, errors)),
            for_=t.error_rate_for,
            severity="critical",
            summary="{{ $labels.service }} is failing requests",
            description="{{ $labels.service }} in {{ $labels.namespace }} answered "
            "{{ $value | humanizePercentage }} of requests with 5xx over 5m "
            f"(threshold {t.error_ratio:.0%}, with at least {t.page_min_requests_per_minute:g} requests a minute).",
        ),
        AlertRule(
            alert="PlatformHighLatencyP99",
            expr=_owned(_per_contract(contracts, latency)),
            for_=t.latency_for,
            severity="warning",
            summary="{{ $labels.service }} is slow",
            description="p99 latency of {{ $labels.service }} in {{ $labels.namespace }} is "
            f'{{{{ $value | printf "%.2f" }}}}s (threshold {t.latency_p99_seconds:g}s).',
        ),
    ]


def node_rules(alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    fs = [_PSEUDO_FS, _NODE_MOUNTS]
    return [
        AlertRule(
            alert="NodeDown",
            expr=f"{q.selector('up', [q.eq('job', NODE_EXPORTER_JOB)])} == 0",
            for_=t.node_down_for,
            severity="critical",
            summary="Node {{ $labels.instance }} is down",
            description=f"node-exporter on {{{{ $labels.instance }}}} has been unreachable for {t.node_down_for}.",
        ),
        AlertRule(
            alert="NodeDiskSpaceLow",
            expr=f"({q.selector('node_filesystem_avail_bytes', fs)} / {q.selector('node_filesystem_size_bytes', fs)})"
            f" < {t.disk_free_ratio:g}\nand {q.selector('node_filesystem_readonly', fs)} == 0",
            for_=t.disk_free_for,
            severity="warning",
            summary="Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
            description="{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} "
            f"space left (threshold {t.disk_free_ratio:.0%}; the chart's NodeFilesystemAlmostOutOfSpace follows at 5%).",
        ),
    ]


def _rule_sets(alerting: AlertingConfig, contracts: dict[str, MetricContract], gpu: bool) -> list[tuple[str, list[AlertRule]]]:
    """(group name, alerts) in rule-file order; the GPU group only where the DCGM exporter runs."""
    sets = [
        ("http", http_rules(alerting, contracts) + contract_rules()),
        ("nodes", node_rules(alerting)),
        ("rollouts", rollout_rules(alerting)),
        ("logging", logging_rules()),
    ]
    return sets + [("gpu", gpu_rules(alerting))] if gpu else sets


def platform_rule_groups(alerting: AlertingConfig, contracts: dict[str, MetricContract], gpu: bool) -> list[dict[str, Any]]:
    """Rule groups for the platform PrometheusRule; `contracts` maps each service to its metric contract."""
    return [
        {"name": f"{GROUP_PREFIX}.{name}", "rules": [r.to_rule(alerting.runbook_base_url) for r in rules]}
        for name, rules in _rule_sets(alerting, contracts, gpu)
    ]


def all_alert_rules(alerting: AlertingConfig) -> list[AlertRule]:
    """Every platform alert, for the runbook index and tests."""
    return [rule for _, rules in _rule_sets(alerting, {}, gpu=True) for rule in rules]
