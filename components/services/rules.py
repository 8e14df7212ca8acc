"""A service's rules: recording rules, then SLO burn-rate alerts built on them (validate ->
record -> alert, as sloth does). Pure data; `ServiceMonitoring` wraps it in a PrometheusRule."""

from __future__ import annotations

from typing import Any

from ..conventions import (
    ANALYSIS_WINDOW,
    BURN_RATE_ALERTS,
    LATENCY_QUANTILES,
    RECORD_ERROR_RATE,
    RECORD_ERROR_RATIO,
    RECORD_REQUEST_RATE,
    SERVICE_RULE_GROUP_PREFIX,
    SLO_WINDOWS,
    record_latency,
    record_slo_errors,
)
from ..lib import promql as q
from ..lib.alerts import AlertRule
from .config import ServiceConfig

BY_VERSION = ["namespace", "service", "version"]
BY_SERVICE = ["namespace", "service"]


def _scope(service: ServiceConfig) -> list[str]:
    return [q.eq("namespace", service.namespace), q.eq("service", service.name)]


def recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """Per-version request rate, 5xx rate, error ratio and latency quantiles over the analysis window."""
    c, scope = service.metrics, _scope(service)
    requests = q.selector(c.requests_metric, scope)
    errors = q.selector(c.requests_metric, [*scope, q.match("status", "5..")])
    rules = [
        {"record": RECORD_REQUEST_RATE, "expr": q.sum_by(q.rate(requests, ANALYSIS_WINDOW), BY_VERSION)},
        {"record": RECORD_ERROR_RATE, "expr": q.sum_by(q.rate(errors, ANALYSIS_WINDOW), BY_VERSION)},
        # No traffic: 0 / 0 is NaN, recorded as NaN; the analysis treats it as inconclusive.
        {"record": RECORD_ERROR_RATIO, "expr": f"{RECORD_ERROR_RATE}\n/\n{RECORD_REQUEST_RATE}"},
    ]
    rules += [
        {"record": record_latency(quantile), "expr": q.histogram_quantile(quantile, c.duration_metric, ANALYSIS_WINDOW, scope, BY_VERSION)}
        for quantile in LATENCY_QUANTILES
    ]
    return rules


def slo_recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """SLI error ratios per window: 5xx share (availability) and share slower than the objective (latency)."""
    c, scope = service.metrics, _scope(service)
    bucket = q.selector(f"{c.duration_metric}_bucket", [*scope, q.eq("le", f"{service.slo.latency_seconds:g}")])
    count = q.selector(f"{c.duration_metric}_count", scope)
    rules = []
    for window in SLO_WINDOWS:
        rules.append(
            {
                "record": record_slo_errors("availability", window),
                "expr": q.error_ratio(c.requests_metric, window, scope, BY_SERVICE),
            }
        )
        rules.append(
            {
                "record": record_slo_errors("latency", window),
                "expr": f"1 - (\n{q.sum_by(q.rate(bucket, window), BY_SERVICE)}\n/\n{q.sum_by(q.rate(count, window), BY_SERVICE)}\n)",
            }
        )
    return rules


def slo_alerts(service: ServiceConfig) -> list[AlertRule]:
    objectives = (
        ("availability", "Availability", service.slo.availability, "of requests answered without 5xx"),
        (
            "latency",
            "Latency",
            service.slo.latency_target,
            f"of requests faster than {service.slo.latency_seconds:g}s",
        ),
    )
    scope = _scope(service)
    alerts = []
    for slo, title, objective, meaning in objectives:
        budget = 1 - objective
        for speed, severity, hold, pairs in BURN_RATE_ALERTS:
            conditions = [
                f"({q.selector(record_slo_errors(slo, long), scope)} > {factor * budget:.6g}\n"
                f"and {q.selector(record_slo_errors(slo, short), scope)} > {factor * budget:.6g})"
                for factor, long, short in pairs
            ]
            windows = " or ".join(f"{long}/{short} at {factor:g}x" for factor, long, short in pairs)
            alerts.append(
                AlertRule(
                    alert=f"Service{title}BudgetBurn{speed}",
                    expr="\nor\n".join(conditions),
                    for_=hold,
                    severity=severity,
                    summary=f"{{{{ $labels.service }}}} is burning its {slo} error budget ({speed.lower()})",
                    description=f"{{{{ $labels.service }}}} in {{{{ $labels.namespace }}}} burns the {slo} budget "
                    f"of its {objective:.2%} objective ({meaning}) too fast: {windows}.",
                    labels={"slo": slo},
                )
            )
    return alerts


def service_rule_groups(service: ServiceConfig, runbook_base_url: str) -> list[dict[str, Any]]:
    prefix = f"{SERVICE_RULE_GROUP_PREFIX}.{service.namespace}.{service.name}"
    return [
        {"name": f"{prefix}.recording", "rules": recording_rules(service)},
        # One group: rules of a group run in order, so each alert reads the SLI recorded in the
        # same evaluation instead of racing another group (which would delay it by an interval).
        {
            "name": f"{prefix}.slo",
            "rules": slo_recording_rules(service) + [a.to_rule(runbook_base_url) for a in slo_alerts(service)],
        },
    ]
