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
    PAGE_KEEP_FIRING_FOR,
    PAGE_TRAFFIC_WINDOW,
    RECORD_ERROR_RATE,
    RECORD_ERROR_RATIO,
    RECORD_REQUEST_RATE,
    RECORD_SLO_REQUESTS,
    SERVICE_RULE_GROUP_PREFIX,
    SLO_EVENT_WINDOWS,
    SLO_LABEL,
    SLO_PART_LABEL,
    SLO_RULE_INTERVAL,
    SLO_TILES,
    SLO_WINDOWS,
    SloPart,
    record_slo_errors,
    record_slo_events,
)
from ..lib import promql as q
from ..lib.alerts import AlertRule
from ..lib.types import duration_seconds
from .config import ServiceConfig

BY_VERSION = ["namespace", "service", "version"]
BY_SERVICE = ["namespace", "service"]
SLOS = ("availability", "latency")
PARTS: tuple[SloPart, SloPart] = ("bad", "total")
# ServiceDown: a service that had scrape targets this recently and has none now is down, not absent
# by design; `for` is shorter than PAGE_KEEP_FIRING_FOR so a page held after every pod crashed hands
# over to it with no gap.
SERVICE_DOWN_MEMORY = "1h"
SERVICE_DOWN_FOR = "3m"
RECORDED_WINDOWS = (*SLO_EVENT_WINDOWS, SLO_TILES[0][0], *(window for _, window in SLO_TILES))


def scope(service: ServiceConfig) -> list[str]:
    return [q.eq("namespace", service.namespace), q.eq("service", service.name)]


def _requests(service: ServiceConfig) -> tuple[str, str]:
    """(every request, 5xx answers) of the service's request counter."""
    matchers = scope(service)
    metric = service.metrics.requests_metric
    return q.selector(metric, matchers), q.selector(metric, [*matchers, q.match("status", "5..")])


def recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """Per-version request rate, 5xx rate and error ratio over the analysis window: the canary
    analysis and the service dashboard read them, and the 2m SLO window sums them.

    Traffic and no 5xx series is a 5xx rate of 0 (a healthy canary passes); no traffic at all leaves
    the rates empty and the ratio NaN or empty, which the analysis treats as inconclusive. Latency
    quantiles are not recorded: the analysis and the dashboard compute them from the buckets when
    they ask (LATENCY_QUANTILES).
    """
    matchers = scope(service)
    requests, errors = _requests(service)
    request_rate = q.selector(RECORD_REQUEST_RATE, matchers)
    return [
        {"record": RECORD_REQUEST_RATE, "expr": q.sum_by(q.rate(requests, ANALYSIS_WINDOW), BY_VERSION)},
        # The zero for versions without a 5xx series reads the rate just recorded, not the raw series again.
        {"record": RECORD_ERROR_RATE, "expr": f"({q.sum_by(q.rate(errors, ANALYSIS_WINDOW), BY_VERSION)} or {request_rate} * 0)"},
        {"record": RECORD_ERROR_RATIO, "expr": f"{q.selector(RECORD_ERROR_RATE, matchers)}\n/\n{request_rate}"},
    ]


def _slo_rates(service: ServiceConfig, slo: str, window: str) -> tuple[str, str]:
    """Raw (bad, total) per-second rates of one SLO over one window; for latency, bad is the total
    less the requests within the objective (the `good` of `_latency_good`)."""
    if slo == "availability":
        requests, errors = _requests(service)
        return q.rate_or_zero(errors, requests, window, BY_SERVICE), q.sum_by(q.rate(requests, window), BY_SERVICE)
    good, total = _latency_good(service, window)
    return f"{total}\n-\n{good}", total


def _latency_good(service: ServiceConfig, window: str) -> tuple[str, str]:
    c, matchers = service.metrics, scope(service)
    bucket = q.selector(f"{c.duration_metric}_bucket", [*matchers, q.eq("le", q.le(service.slo.latency_seconds))])
    count = q.selector(f"{c.duration_metric}_count", matchers)
    return q.sum_by(q.rate(bucket, window), BY_SERVICE), q.sum_by(q.rate(count, window), BY_SERVICE)


def raw_slo_ratio(service: ServiceConfig, slo: str, window: str) -> str:
    """One SLO's error ratio over `window` from raw series alone: what every built window must equal.
    Latency is 1 - good/total, which reads the count series once, not twice."""
    if slo == "latency":
        good, total = _latency_good(service, window)
        return f"1 - (\n{good}\n/\n{total}\n)"
    return q.ratio(*_slo_rates(service, slo, window))


def _slo_ratio(service: ServiceConfig, slo: str, window: str) -> str:
    """The error ratio over a window: 2m availability from the per-version rates of the same group,
    the windows of SLO_TILES from their recorded events, the others raw. Each sums what raw rate() sums."""
    matchers = scope(service)
    if window == ANALYSIS_WINDOW and slo == "availability":
        bad, total = (q.sum_by(q.selector(name, matchers), BY_SERVICE) for name in (RECORD_ERROR_RATE, RECORD_REQUEST_RATE))
        return q.ratio(bad, total)
    if window not in RECORDED_WINDOWS:
        return raw_slo_ratio(service, slo, window)
    bad, total = (
        q.sum_by(q.selector(record_slo_events(window), [*matchers, q.eq(SLO_LABEL, slo), q.eq(SLO_PART_LABEL, part)]), BY_SERVICE)
        for part in PARTS
    )
    return q.ratio(bad, total)


def _raw_events(service: ServiceConfig, window: str, extended: bool = False) -> list[dict[str, Any]]:
    """Two rules recording every SLO's total, then bad, events between the first and last samples of
    `window` (one scrape interval longer when `extended`, as a tile), one series each: rate() is
    their slope, and a window of W seconds holds W minus one scrape interval of samples. The bad
    events read the totals just recorded (for availability's zero without a 5xx series; latency's
    bad is the total less the good), so each raw series set is decoded once per window."""
    matchers = scope(service)
    scrape_s = int(duration_seconds(service.scrape_interval))
    record = record_slo_events(window, tile=extended)
    window_s = int(duration_seconds(window)) + (scrape_s if extended else 0)

    def labelled(expr: str, slo: str) -> str:
        return q.with_labels(f"(\n{expr}\n)", {SLO_LABEL: slo})

    def total(slo: str) -> str:
        return q.selector(record, [*matchers, q.eq(SLO_LABEL, slo), q.eq(SLO_PART_LABEL, "total")])

    requests, errors = _requests(service)
    c = service.metrics

    def events(series: str) -> str:
        # A window itself is rate() over it, every series scaled alike; a tile of a longer window
        # counts a series born inside it as that window's rate() does (q.tile_events).
        if not extended:
            return f"{q.sum_by(q.rate(series, q.duration(window_s)), BY_SERVICE)} * {window_s - scrape_s}"
        return q.sum_by(q.tile_events(series, window_s, scrape_s), BY_SERVICE)

    good = events(q.selector(f"{c.duration_metric}_bucket", [*matchers, q.eq("le", q.le(service.slo.latency_seconds))]))
    totals = [
        labelled(events(requests), "availability"),
        labelled(events(q.selector(f"{c.duration_metric}_count", matchers)), "latency"),
    ]
    bad = [
        labelled(f"{events(errors)}\nor on ({', '.join(BY_SERVICE)})\n{total('availability')} * 0", "availability"),
        labelled(f"{total('latency')}\n- ignoring ({SLO_LABEL}, {SLO_PART_LABEL})\n{good}", "latency"),
    ]
    # The part is each rule's own label: two rules recording one metric with the same labels are a
    # duplicate to `promtool check rules --lint-fatal`, and the rule label overrides what the `or` carries.
    return [
        {"record": record, "expr": "\nor\n".join(totals), "labels": {SLO_PART_LABEL: "total"}},
        {"record": record, "expr": "\nor\n".join(bad), "labels": {SLO_PART_LABEL: "bad"}},
    ]


def _tiled(service: ServiceConfig, tile: str, window: str, extended: bool) -> str:
    """Events in `window` as the sum of recorded `tile` events, one tile apart back from now; the
    oldest is the exact tile unless this sum is itself a tile (which starts a sample earlier). A tile
    from before the series existed (or Prometheus ran) counts as no events, in both parts of the
    ratio alike, so the ratio is that of the history there is, as rate() gives it."""
    tile_s = int(duration_seconds(tile))
    tiles = int(duration_seconds(window)) // tile_s
    matchers = scope(service)

    def at(k: int) -> str:
        recorded = q.selector(record_slo_events(tile, tile=extended or k < tiles - 1), matchers)
        if k == 0:
            return recorded
        # Absent before there was history: 0, with the labels of a tile that exists now.
        return f"({recorded} offset {q.duration(k * tile_s)} or {q.selector(record_slo_events(tile, tile=True), matchers)} * 0)"

    return "\n+ ".join(at(k) for k in range(tiles))


def _page_traffic(service: ServiceConfig) -> str:
    """Requests per second over PAGE_TRAFFIC_WINDOW, from its recorded events: events over the
    samples' span, which is the window less one scrape interval, is what rate() reads."""
    span_s = int(duration_seconds(PAGE_TRAFFIC_WINDOW) - duration_seconds(service.scrape_interval))
    total = q.selector(record_slo_events(PAGE_TRAFFIC_WINDOW), [*scope(service), q.eq(SLO_LABEL, "availability"), q.eq(SLO_PART_LABEL, "total")])
    return f"{q.sum_by(total, BY_SERVICE)} / {span_s}"


def slo_recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """SLO events per window (the first of SLO_TILES raw, longer ones tiled from it), the error ratio
    of each SLI per window (availability: 5xx share; latency: share slower than the objective), and
    the request rate that gates the page."""
    rules = [rule for window in SLO_EVENT_WINDOWS for rule in _raw_events(service, window)]
    rules += _raw_events(service, SLO_TILES[0][0]) + _raw_events(service, SLO_TILES[0][0], extended=True)
    for index, (tile, window) in enumerate(SLO_TILES):
        rules.append({"record": record_slo_events(window), "expr": _tiled(service, tile, window, extended=False)})
        if index + 1 < len(SLO_TILES):  # a tile of the next window
            rules.append({"record": record_slo_events(window, tile=True), "expr": _tiled(service, tile, window, extended=True)})
    for window in SLO_WINDOWS:
        for slo in SLOS:
            rules.append({"record": record_slo_errors(slo, window), "expr": _slo_ratio(service, slo, window)})
    rules.append({"record": RECORD_SLO_REQUESTS, "expr": _page_traffic(service)})
    return rules


def _burn(service: ServiceConfig, alert: str, slo: str, budget: float, severity: str, pairs: tuple[tuple[float, str, str], ...]) -> str:
    matchers = scope(service)
    conditions = [
        f"({q.selector(record_slo_errors(slo, long), matchers)} > {factor * budget:.6g}\n"
        f"and {q.selector(record_slo_errors(slo, short), matchers)} > {factor * budget:.6g})"
        for factor, long, short in pairs
    ]
    expr = "\nor\n".join(conditions)
    if severity != "critical":
        return expr
    # The traffic floor decides whether a page starts, never that it ends: clients back off during an
    # outage (600 to 4 requests a minute), and a page resolved by the floor while every request fails
    # is a silent outage. So a page that is firing (its own ALERTS series) passes the floor.
    per_minute = service.slo.page_min_requests_per_minute
    firing = q.selector("ALERTS", [q.eq("alertname", alert), q.eq("alertstate", "firing"), *matchers])
    return (
        f"(\n{expr}\n)\nand on (namespace, service)\n(\n"
        f"{q.selector(RECORD_SLO_REQUESTS, matchers)} * 60 >= {per_minute:g}\n"
        f"or on (namespace, service)\ngroup by (namespace, service) ({firing})\n)"
    )


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
                f" Starts paging only with at least {service.slo.page_min_requests_per_minute:g} requests a minute; once "
                f"paging, it holds while the burn lasts, and {PAGE_KEEP_FIRING_FOR} after."
                if severity == "critical"
                else ""
            )
            alert = f"Service{title}BudgetBurn{speed}"
            alerts.append(
                AlertRule(
                    alert=alert,
                    expr=_burn(service, alert, slo, budget, severity, pairs),
                    for_=hold,
                    keep_firing_for=PAGE_KEEP_FIRING_FOR if severity == "critical" else "",
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
    matchers = scope(service)
    up = q.selector("up", matchers)
    return [
        AlertRule(
            alert="ServiceDown",
            # Every target failing, or every target gone (all pods crashed or evicted: no `up` at all,
            # so the sum is empty) after there were some within SERVICE_DOWN_MEMORY.
            expr=f"sum by (namespace, service) ({up}) == 0\n"
            f"or\n(absent({up}) and on () count(present_over_time({up}[{SERVICE_DOWN_MEMORY}])) > 0)",
            for_=SERVICE_DOWN_FOR,
            severity="critical",
            summary="{{ $labels.service }} cannot be scraped on any pod",
            description=f"Every target of {{{{ $labels.service }}}} in {{{{ $labels.namespace }}}} has been down or gone for "
            f"{SERVICE_DOWN_FOR} (it had targets within {SERVICE_DOWN_MEMORY}): its SLO alerts and canary analysis see no data.",
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


def service_alert_names() -> list[str]:
    """Every alert name the platform gives each service (the same for all services)."""
    example = ServiceConfig(name="example", namespace="example", port=8080, image="example:1", version="1")
    return [a.alert for a in slo_alerts(example) + health_alerts(example) + budget_alerts(example)]


def service_rule_groups(service: ServiceConfig, runbook_base_url: str) -> list[dict[str, Any]]:
    prefix = f"{SERVICE_RULE_GROUP_PREFIX}.{service.namespace}.{service.name}"
    alerts = slo_alerts(service) + health_alerts(service) + budget_alerts(service)
    custom = [{"name": f"{prefix}.custom", "rules": custom_alert_rules(service)}] if service.alerts else []
    return [
        # One group: rules of a group run in order, so every window reads the events and rates
        # recorded before it in the same evaluation, and each alert the SLI of that evaluation,
        # instead of racing another group (which would delay it by an interval). Pinned: tiles are
        # a whole number of evaluations apart, and the detection times in docs/alerting.md hold at
        # this interval, whichever ruler evaluates the group (AMP's defaults to 1m).
        {
            "name": f"{prefix}.rules",
            "interval": SLO_RULE_INTERVAL,
            "rules": recording_rules(service) + slo_recording_rules(service) + [a.to_rule(runbook_base_url) for a in alerts],
        },
        *custom,
    ]
