"""The platform's alert rules, as Prometheus rule groups (pure data, rendered into PrometheusRules).

Every alert carries `severity` and the annotations `summary`, `description` and `runbook_url`
(`<runbookBaseUrl>#<alert name in lower case>`). Every alert stays silent when its input series are
absent or idle: ratios over zero traffic are NaN, and NaN compares false with every threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..lib import promql as q
from ..lib.alerts import AlertRule
from ..lib.contract import MetricContract, contract_scopes
from .config import AlertingConfig

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
    parts = []
    for contract, services in contract_scopes(contracts):
        scope = [q.match("service", "|".join(services))] if contract != MetricContract() else []
        parts.append(expr(contract, scope))
    return parts[0] if len(parts) == 1 else "\nor\n".join(f"(\n{p}\n)" for p in parts)


def http_rules(alerting: AlertingConfig, contracts: dict[str, MetricContract]) -> list[AlertRule]:
    t = alerting.thresholds
    by_service = ["namespace", "service"]
    errors = _per_contract(
        contracts, lambda c, scope: f"{q.error_ratio(c.requests_metric, '5m', scope, by_service)}\n> {t.error_ratio:g}"
    )
    latency = _per_contract(
        contracts,
        lambda c, scope: f"{q.histogram_quantile(0.99, c.duration_metric, '5m', scope, by_service)}\n> {t.latency_p99_seconds:g}",
    )
    return [
        AlertRule(
            alert="PlatformHighErrorRate",
            expr=errors,
            for_=t.error_rate_for,
            severity="critical",
            summary="{{ $labels.service }} is failing requests",
            description="{{ $labels.service }} in {{ $labels.namespace }} answered "
            "{{ $value | humanizePercentage }} of requests with 5xx over 5m "
            f"(threshold {t.error_ratio:.0%}).",
        ),
        AlertRule(
            alert="PlatformHighLatencyP99",
            expr=latency,
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
            alert="NodeNotReady",
            expr=f"{q.selector('kube_node_status_condition', [q.eq('condition', 'Ready'), q.eq('status', 'true')])} == 0",
            for_=t.node_not_ready_for,
            severity="critical",
            summary="Node {{ $labels.node }} is not ready",
            description=f"Node {{{{ $labels.node }}}} has not been Ready for {t.node_not_ready_for}.",
        ),
        AlertRule(
            alert="NodeCPUSaturated",
            expr="1 - avg by (instance) ("
            f"{q.rate(q.selector('node_cpu_seconds_total', [q.eq('mode', 'idle')]), '5m')})"
            f" > {t.cpu_saturation_ratio:g}",
            for_=t.saturation_for,
            severity="warning",
            summary="Node {{ $labels.instance }} CPU is saturated",
            description="CPU on {{ $labels.instance }} is {{ $value | humanizePercentage }} busy "
            f"(threshold {t.cpu_saturation_ratio:.0%}).",
        ),
        AlertRule(
            alert="NodeMemorySaturated",
            expr="1 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)" f" > {t.memory_saturation_ratio:g}",
            for_=t.saturation_for,
            severity="warning",
            summary="Node {{ $labels.instance }} memory is almost exhausted",
            description="Memory on {{ $labels.instance }} is {{ $value | humanizePercentage }} used "
            f"(threshold {t.memory_saturation_ratio:.0%}).",
        ),
        AlertRule(
            alert="NodeDiskSpaceLow",
            expr=f"({q.selector('node_filesystem_avail_bytes', fs)} / {q.selector('node_filesystem_size_bytes', fs)})"
            f" < {t.disk_free_ratio:g}\nand {q.selector('node_filesystem_readonly', fs)} == 0",
            for_=t.disk_free_for,
            severity="warning",
            summary="Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
            description="{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} "
            f"space left (threshold {t.disk_free_ratio:.0%}).",
        ),
    ]


def workload_rules(alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    waiting = q.selector("kube_pod_container_status_waiting_reason", [q.eq("reason", "CrashLoopBackOff")])
    return [
        AlertRule(
            alert="PodCrashLooping",
            expr=f"max_over_time({waiting}[5m]) >= 1",
            for_=t.crash_loop_for,
            severity="warning",
            summary="{{ $labels.namespace }}/{{ $labels.pod }} is crash-looping",
            description="Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} "
            f"has been in CrashLoopBackOff for {t.crash_loop_for}.",
        ),
    ]


def self_rules() -> list[AlertRule]:
    return [
        AlertRule(
            alert="PrometheusRuleEvaluationFailures",
            expr=f"{q.increase('prometheus_rule_evaluation_failures_total', '5m')} > 0",
            for_="15m",
            severity="critical",
            summary="Prometheus {{ $labels.pod }} fails to evaluate rules",
            description="{{ $labels.pod }} failed {{ $value | humanize }} rule evaluations in 5m: alerts may be missed.",
        ),
        AlertRule(
            alert="PrometheusErrorSendingAlerts",
            expr=q.ratio(
                q.rate("prometheus_notifications_errors_total", "5m"), q.rate("prometheus_notifications_sent_total", "5m")
            )
            + "\n> 0.01",
            for_="15m",
            severity="critical",
            summary="Prometheus {{ $labels.pod }} cannot deliver alerts",
            description="{{ $value | humanizePercentage }} of alerts from {{ $labels.pod }} to "
            "{{ $labels.alertmanager }} fail.",
        ),
        AlertRule(
            alert="AlertmanagerFailedToSendAlerts",
            expr=q.ratio(
                q.sum_by(q.rate("alertmanager_notifications_failed_total", "5m"), ["integration"]),
                q.sum_by(q.rate("alertmanager_notifications_total", "5m"), ["integration"]),
            )
            + "\n> 0.01",
            for_="5m",
            severity="warning",
            summary="Alertmanager cannot deliver to {{ $labels.integration }}",
            description="{{ $value | humanizePercentage }} of notifications to {{ $labels.integration }} fail.",
        ),
    ]


def gpu_rules(alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    return [
        AlertRule(
            alert="GPUTemperatureHigh",
            expr=f"DCGM_FI_DEV_GPU_TEMP > {t.gpu_temperature_celsius:g}",
            for_=t.gpu_temperature_for,
            severity="warning",
            summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is hot",
            description="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is at {{ $value }}°C "
            f"(threshold {t.gpu_temperature_celsius:g}°C).",
        ),
        AlertRule(
            alert="GPUMemoryAlmostFull",
            expr="DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)" f" > {t.gpu_memory_ratio:g}",
            for_=t.gpu_memory_for,
            severity="warning",
            summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} memory is almost full",
            description="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} uses {{ $value | humanizePercentage }} "
            f"of its framebuffer (threshold {t.gpu_memory_ratio:.0%}).",
        ),
        AlertRule(
            alert="GPUXidError",
            # The gauge holds the last XID error code, 0 when none: any code is a driver/hardware event.
            expr="DCGM_FI_DEV_XID_ERRORS > 0",
            for_="0s",
            severity="critical",
            summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported an XID error",
            description="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}; "
            "check the node's kernel log and drain it if the XID is fatal (48, 63, 64, 74, 79, 94, 95).",
        ),
    ]


def _rule_sets(alerting: AlertingConfig, contracts: dict[str, MetricContract], gpu: bool) -> list[tuple[str, list[AlertRule]]]:
    """(group name, alerts) in rule-file order; the GPU group only where the DCGM exporter runs."""
    sets = [
        ("http", http_rules(alerting, contracts)),
        ("nodes", node_rules(alerting)),
        ("workloads", workload_rules(alerting)),
        ("self", self_rules()),
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
