"""A service's rules: recording rules, then SLO burn-rate alerts built on them (validate ->
record -> alert, as sloth does). Pure data; `ServiceMonitoring` wraps it in a PrometheusRule.

Every recording rule reads only its own service's series, so N services cost N times one
service, and no series has two writers.
"""

from __future__ import annotations

from typing import Any

from ..conventions import (
    ANALYSIS_WINDOW,
    BURN_RATE_ALERTS,
    LATENCY_QUANTILES,
    PAGE_TRAFFIC_WINDOW,
    RECORD_ERROR_RATE,
    RECORD_ERROR_RATIO,
    RECORD_REQUEST_RATE,
    RECORD_SLO_REQUESTS,
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


def scope(service: ServiceConfig) -> list[str]:
    return [q.eq("namespace", service.namespace), q.eq("service", service.name)]


def recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """Per-version request rate, 5xx rate, error ratio and latency quantiles over the analysis window.

    Traffic and no 5xx series is a 5xx rate of 0 (a healthy canary passes); no traffic at all leaves
    the rates empty and the ratio NaN or empty, which the analysis treats as inconclusive.
    """
    c, matchers = service.metrics, scope(service)
    requests = q.selector(c.requests_metric, matchers)
    errors = q.selector(c.requests_metric, [*matchers, q.match("status", "5..")])
    rules = [
        {"record": RECORD_REQUEST_RATE, "expr": q.sum_by(q.rate(requests, ANALYSIS_WINDOW), BY_VERSION)},
        {"record": RECORD_ERROR_RATE, "expr": q.rate_or_zero(errors, requests, ANALYSIS_WINDOW, BY_VERSION)},
        {
            "record": RECORD_ERROR_RATIO,
            "expr": f"{q.selector(RECORD_ERROR_RATE, matchers)}\n/\n{q.selector(RECORD_REQUEST_RATE, matchers)}",
        },
    ]
    rules += [
        {
            "record": record_latency(quantile),
            "expr": q.histogram_quantile(quantile, c.duration_metric, ANALYSIS_WINDOW, matchers, BY_VERSION),
        }
        for quantile in LATENCY_QUANTILES
    ]
    return rules


def slo_recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """SLI error ratios per window: 5xx share (availability) and share slower than the objective
    (latency), plus the request rate that gates the page."""
    c, matchers = service.metrics, scope(service)
    bucket = q.selector(f"{c.duration_metric}_bucket", [*matchers, q.eq("le", q.le(service.slo.latency_seconds))])
    count = q.selector(f"{c.duration_metric}_count", matchers)
    rules = []
    for window in SLO_WINDOWS:
        rules.append(
            {"record": record_slo_errors("availability", window), "expr": q.error_ratio(c.requests_metric, window, matchers, BY_SERVICE)}
        )
        fast = q.sum_by(q.rate(bucket, window), BY_SERVICE)
        rules.append(
            {
                "record": record_slo_errors("latency", window),
                "expr": f"1 - (\n{fast}\n/\n{q.sum_by(q.rate(count, window), BY_SERVICE)}\n)",
            }
        )
    requests = q.selector(c.requests_metric, matchers)
    rules.append({"record": RECORD_SLO_REQUESTS, "expr": q.sum_by(q.rate(requests, PAGE_TRAFFIC_WINDOW), BY_SERVICE)})
    return rules


def _burn(service: ServiceConfig, slo: str, budget: float, severity: str, pairs: tuple[tuple[float, str, str], ...]) -> str:
    matchers = scope(service)
    conditions = [
        f"({q.selector(record_slo_errors(slo, long), matchers)} > {factor * budget:.6g}\n"
        f"and {q.selector(record_slo_errors(slo, short), matchers)} > {factor * budget:.6g})"
        for factor, long, short in pairs
    ]
    expr = "\nor\n".join(conditions)
    if severity != "critical":
        return expr
    per_minute = service.slo.page_min_requests_per_minute
    return f"(\n{expr}\n)\nand on (namespace, service)\n{q.selector(RECORD_SLO_REQUESTS, matchers)} * 60 >= {per_minute:g}"


def slo_alerts(service: ServiceConfig) -> list[AlertRule]:
    objectives = (
        ("availability", "Availability", service.slo.availability, "of requests answered without 5xx"),
        ("latency", "Latency", service.slo.latency_target, f"of requests faster than {service.slo.latency_seconds:g}s"),
    )
    alerts = []
    for slo, title, objective, meaning in objectives:
        budget = 1 - objective
        for speed, severity, hold, pairs in BURN_RATE_ALERTS:
            windows = " or ".join(f"{long}/{short} at {factor:g}x" for factor, long, short in pairs)
            gate = (
                f" Pages only with at least {service.slo.page_min_requests_per_minute:g} requests a minute."
                if severity == "critical"
                else ""
            )
            alerts.append(
                AlertRule(
                    alert=f"Service{title}BudgetBurn{speed}",
                    expr=_burn(service, slo, budget, severity, pairs),
                    for_=hold,
                    severity=severity,
                    summary=f"{{{{ $labels.service }}}} is burning its {slo} error budget ({speed.lower()})",
                    description=f"{{{{ $labels.service }}}} in {{{{ $labels.namespace }}}} burns the {slo} budget "
                    f"of its {objective:.2%} objective ({meaning}) too fast: {windows}.{gate}",
                    labels={"slo": slo},
                )
            )
    return alerts


def health_alerts(service: ServiceConfig) -> list[AlertRule]:
    """Burn-rate alerts are silent without data: say so when the service cannot be scraped at all."""
    up = q.selector("up", scope(service))
    return [
        AlertRule(
            alert="ServiceDown",
            expr=f"sum by (namespace, service) ({up}) == 0",
            for_="5m",
            severity="critical",
            summary="{{ $labels.service }} cannot be scraped on any pod",
            description="Every target of {{ $labels.service }} in {{ $labels.namespace }} has been down for 5m: "
            "its SLO alerts and canary analysis see no data.",
        ),
        AlertRule(
            alert="ServiceMetricsAbsent",
            expr=f"absent({up})",
            for_="15m",
            severity="warning",
            summary="{{ $labels.service }} has no scrape target",
            description="No target of {{ $labels.service }} in {{ $labels.namespace }} has been discovered for 15m "
            "(no ready pod, or the ServiceMonitor selects nothing): its SLO alerts cannot fire.",
        ),
    ]


def custom_alert_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """The team's own alerts, labelled with the service so routing, grouping and inhibition treat them like the platform's."""
    return [
        {
            "alert": alert.name,
            "expr": alert.expr,
            "for": alert.for_,
            "labels": {"severity": alert.severity, "namespace": service.namespace, "service": service.name},
            "annotations": {"summary": alert.summary, "description": alert.summary, "runbook_url": alert.runbook},
        }
        for alert in service.alerts
    ]


def budget_alerts(service: ServiceConfig) -> list[AlertRule]:
    """Warn before a pod's scrape reaches the sample limit (at the limit the whole scrape is dropped)."""
    limit = service.metrics.sample_limit
    kept = q.selector("scrape_samples_post_metric_relabeling", scope(service))
    return [
        AlertRule(
            alert="ServiceNearSampleLimit",
            expr=f"max by (namespace, service) ({kept}) > {0.8 * limit:g}",
            for_="15m",
            severity="warning",
            summary="{{ $labels.service }} is close to its per-pod sample limit",
            description=f"A pod of {{{{ $labels.service }}}} in {{{{ $labels.namespace }}}} exposes {{{{ $value }}}} samples, over 80% of "
            f"its limit of {limit}: at the limit its scrapes are dropped entirely. Too many routes, methods or statuses, "
            "or raw paths as labels; raise services[].metrics.maxRoutes only for real new routes.",
        )
    ]


def service_rule_groups(service: ServiceConfig, runbook_base_url: str) -> list[dict[str, Any]]:
    prefix = f"{SERVICE_RULE_GROUP_PREFIX}.{service.namespace}.{service.name}"
    alerts = slo_alerts(service) + health_alerts(service) + budget_alerts(service)
    custom = [{"name": f"{prefix}.custom", "rules": custom_alert_rules(service)}] if service.alerts else []
    return [
        {"name": f"{prefix}.recording", "rules": recording_rules(service)},
        # One group: rules of a group run in order, so each alert reads the SLI recorded in the
        # same evaluation instead of racing another group (which would delay it by an interval).
        {"name": f"{prefix}.slo", "rules": slo_recording_rules(service) + [a.to_rule(runbook_base_url) for a in alerts]},
        *custom,
    ]
