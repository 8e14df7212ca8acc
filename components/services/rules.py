"""A service's rules: recording rules, then SLO burn-rate alerts built on them (validate ->
record -> alert, as sloth does). Pure data; `ServiceMonitoring` wraps it in a PrometheusRule.

Every recording rule of a service's group reads only its own service's series, so N services cost
N times one service. The long windows (SLO_FLEET_WINDOWS) are summed for every service at once in
one platform group (`ServiceFleetRules`), whose series keep each service's labels: no series has
two writers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    SLO_FLEET_GROUP,
    SLO_FLEET_LAG,
    SLO_FLEET_WINDOWS,
    SLO_LABEL,
    SLO_PART_LABEL,
    SLO_PARTS,
    SLO_PERIODS,
    SLO_RULE_INTERVAL,
    SLO_TILES,
    SLO_WINDOWS,
    TEAM_LABEL,
    record_slo_errors,
    record_slo_events,
)
from ..lib import promql as q
from ..lib.alerts import AlertRule
from ..lib.types import duration_seconds
from ..metrics.config import PLATFORM_TEAM
from .config import ServiceConfig

BY_VERSION = ["namespace", "service", "version"]
BY_SERVICE = ["namespace", "service"]
SLOS = ("availability", "latency")
# Tells the tiles of a sum apart while `or` gathers them (dropped by the sum).
TILE_LABEL = "tile"
# ServiceDown: a service that had scrape targets this recently and has none now is down, not absent
# by design; `for` is shorter than PAGE_KEEP_FIRING_FOR so a page held after every pod crashed hands
# over to it with no gap.
SERVICE_DOWN_MEMORY = "1h"
SERVICE_DOWN_FOR = "3m"
RECORDED_WINDOWS = (*SLO_EVENT_WINDOWS, SLO_TILES[0][0], *(window for _, window in SLO_TILES))


# Both SLOs' total: every request, 5xx or not.
TOTAL = "error|ok"


def _span_s(service: ServiceConfig, window: str) -> int:
    """Seconds between the first and last samples of `window`: the window less one scrape interval.
    Recorded events over it are the per-second rate rate() reads."""
    return int(duration_seconds(window) - duration_seconds(service.scrape_interval))


def scope(service: ServiceConfig) -> list[str]:
    return [q.eq("namespace", service.namespace), q.eq("service", service.name)]


def recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """Per-version request rate, 5xx rate and error ratio over the analysis window, for the service
    dashboard, from the window's recorded events (they keep the version): events over the samples'
    span, which is the window less one scrape interval, is what rate() reads.

    A version with traffic and no 5xx has a 5xx rate of 0; no traffic at all leaves the ratio NaN.
    Latency quantiles are not recorded: the analysis and the dashboard compute them from the
    buckets when they ask (LATENCY_QUANTILES).
    """
    matchers = scope(service)
    span_s = _span_s(service, ANALYSIS_WINDOW)

    def per_version(part: str) -> str:
        events = q.selector(record_slo_events(ANALYSIS_WINDOW), [*matchers, _part_matcher(part)])
        return f"{q.sum_by(events, BY_VERSION)} / {span_s}"

    return [
        {"record": RECORD_REQUEST_RATE, "expr": per_version(TOTAL)},
        # A version without a 5xx series yet (a canary's) has only the zero of the stable version.
        {"record": RECORD_ERROR_RATE, "expr": f"({per_version('error')} or {q.selector(RECORD_REQUEST_RATE, matchers)} * 0)"},
        {
            "record": RECORD_ERROR_RATIO,
            "expr": f"{q.selector(RECORD_ERROR_RATE, matchers)}\n/\n{q.selector(RECORD_REQUEST_RATE, matchers)}",
        },
    ]


def _events_source(service: ServiceConfig) -> str:
    """The series every SLO event is counted from: the duration histogram's `+Inf` bucket (every
    request, with its status) and the latency objective's bucket, in one selector."""
    objective = q.le(service.slo.latency_seconds)
    bucket = f"{service.metrics.duration_metric}_bucket"
    return q.selector(bucket, [*scope(service), q.match("le", f"{re.escape(objective)}|{re.escape(q.le(float('inf')))}")])


def _parts(service: ServiceConfig, expr: str, labels: Sequence[str] = BY_SERVICE, scale: int = 1) -> str:
    """Per-series `expr` over `_events_source` summed into the SLO_PARTS by `labels`: the objective's
    bucket is `fast`, the `+Inf` bucket `error` when answered 5xx and `ok` otherwise; a part with no
    series is 0. Summed by status and bucket first, so the labels are rewritten on a few series."""
    summed = q.sum_by(expr, [*labels, "status", "le"]) + (f" * {scale}" if scale != 1 else "")
    error = f'label_replace({summed}, "{SLO_PART_LABEL}", "error", "status", "5..")'
    fast = f'label_replace({error}, "{SLO_PART_LABEL}", "fast", "le", {q.quote(re.escape(q.le(service.slo.latency_seconds)))})'
    parts = f'label_replace(\n{q.sum_by(fast, [*labels, SLO_PART_LABEL])},\n"{SLO_PART_LABEL}", "ok", "{SLO_PART_LABEL}", ""\n)'
    # No lookup: a constant per part with the service's labels, kept only where the part has no series.
    fixed = {"namespace": service.namespace, "service": service.name, **({"version": service.version} if "version" in labels else {})}
    zeros = [q.with_labels("vector(0)", {**fixed, SLO_PART_LABEL: p}) for p in SLO_PARTS]
    return "\nor ".join([parts, *zeros])


def _events(matchers: Sequence[str], window: str, part: str) -> str:
    """Recorded events of `window` of the parts matching `part` (a regex), summed per service."""
    return q.sum_by(q.selector(record_slo_events(window), [*matchers, _part_matcher(part)]), BY_SERVICE)


def _part_matcher(part: str) -> str:
    return q.match(SLO_PART_LABEL, part) if "|" in part else q.eq(SLO_PART_LABEL, part)


def raw_slo_ratio(service: ServiceConfig, slo: str, window: str, lag: str = "") -> str:
    """One SLO's error ratio over `window` (ending `lag` ago) from the raw histogram: what every
    built window must equal. Latency is 1 - fast/total, which reads the +Inf bucket once, not twice."""
    c, matchers = service.metrics, scope(service)
    bucket = f"{c.duration_metric}_bucket"
    every = q.selector(bucket, [*matchers, q.eq("le", q.le(float("inf")))])
    total = q.sum_by(q.rate(every, window, lag), BY_SERVICE)
    if slo == "latency":
        fast = q.selector(bucket, [*matchers, q.eq("le", q.le(service.slo.latency_seconds))])
        return f"1 - (\n{q.sum_by(q.rate(fast, window, lag), BY_SERVICE)}\n/\n{total}\n)"
    errors = q.selector(bucket, [*matchers, q.eq("le", q.le(float("inf"))), q.match("status", "5..")])
    return q.ratio(q.rate_or_zero(errors, every, window, BY_SERVICE, lag), total)


def slo_ratios(matchers: Sequence[str], window: str) -> str:
    """Both SLOs' error ratios over a window from its recorded events, bad / total (never an average
    of ratios), in one rule of two lookups: 1 - good/total, where availability's good is `ok` and
    latency's `fast`. With no traffic both are 0/0, NaN, which compares false with every threshold.
    `matchers` select one service, or none for every service at once (the fleet group)."""
    good = q.sum_by(q.selector(record_slo_events(window), [*matchers, q.match(SLO_PART_LABEL, "ok|fast")]), [*BY_SERVICE, SLO_PART_LABEL])
    shares = f"1 - (\n{good}\n/ on ({', '.join(BY_SERVICE)}) group_left\n{_events(matchers, window, TOTAL)}\n)"
    for slo, part in (("availability", "ok"), ("latency", "fast")):
        shares = f'label_replace({shares}, "{SLO_LABEL}", "{slo}", "{SLO_PART_LABEL}", "{part}")'
    return q.sum_by(shares, [*BY_SERVICE, SLO_LABEL])


def _raw_events(service: ServiceConfig, window: str, extended: bool = False) -> dict[str, Any]:
    """One rule recording every SLO event part between the first and last samples of `window` (one
    scrape interval longer when `extended`, as a tile): rate() is their slope, and a window of W
    seconds holds W minus one scrape interval of samples. One lookup of `_events_source`; a tile's
    per-series test reads it twice more (q.tile_events)."""
    scrape_s = int(duration_seconds(service.scrape_interval))
    window_s = int(duration_seconds(window)) + (scrape_s if extended else 0)
    source = _events_source(service)
    # A window itself is rate() over it, every series scaled alike; a tile of a longer window counts
    # a series born inside it as that window's rate() does (q.tile_events).
    # The analysis window keeps the version: the per-version rates are read from it (recording_rules).
    labels = BY_VERSION if window == ANALYSIS_WINDOW and not extended else BY_SERVICE
    if extended:
        expr = _parts(service, q.tile_events(source, window_s, scrape_s), labels)
    else:
        expr = _parts(service, q.rate(source, q.duration(window_s)), labels, scale=window_s - scrape_s)
    return {"record": record_slo_events(window, tile=extended), "expr": expr}


def tiled(matchers: Sequence[str], tile: str, window: str, extended: bool, lag_s: int = 0) -> str:
    """Events in `window` as the sum of recorded `tile` events, one tile apart back from now (from
    `lag_s` ago); the oldest is the exact tile unless this sum is itself a tile (which starts a
    sample earlier). A tile from before the series existed (or Prometheus ran) counts as no events,
    in every part alike, so the ratio is that of the history there is, as rate() gives it. Each tile
    is one lookup, labelled apart so `or` keeps them all and one `sum` adds them."""
    tile_s = int(duration_seconds(tile))
    tiles = int(duration_seconds(window)) // tile_s

    def at(k: int) -> str:
        recorded = q.selector(record_slo_events(tile, tile=extended or k < tiles - 1), matchers)
        back = k * tile_s + lag_s
        return q.with_labels(f"{recorded} offset {q.duration(back)}" if back else recorded, {TILE_LABEL: str(k)})

    return q.sum_by("\nor ".join(at(k) for k in range(tiles)), [*BY_SERVICE, SLO_PART_LABEL])


def _page_traffic(service: ServiceConfig) -> str:
    """Requests per second over PAGE_TRAFFIC_WINDOW, from its recorded events: events over the
    samples' span, which is the window less one scrape interval, is what rate() reads."""
    span_s = _span_s(service, PAGE_TRAFFIC_WINDOW)
    return f"{_events(scope(service), PAGE_TRAFFIC_WINDOW, TOTAL)} / {span_s}"


def _tiled_rules(matchers: Sequence[str], fleet: bool) -> list[dict[str, Any]]:
    """The tiled windows' events (and the tiles of the next window) of the service group, or of the
    fleet group (SLO_FLEET_WINDOWS): the fleet's lookups of the service groups' tiles read
    SLO_FLEET_LAG back, its lookups of its own tiles land on its own evaluations."""
    lag_s = int(duration_seconds(SLO_FLEET_LAG))
    rules = []
    for index, (tile, window) in enumerate(SLO_TILES):
        if (window in SLO_FLEET_WINDOWS) != fleet:
            continue
        back = lag_s if fleet and tile not in SLO_FLEET_WINDOWS else 0
        rules.append({"record": record_slo_events(window), "expr": tiled(matchers, tile, window, extended=False, lag_s=back)})
        if index + 1 < len(SLO_TILES):  # a tile of the next window
            rules.append({"record": record_slo_events(window, tile=True), "expr": tiled(matchers, tile, window, extended=True, lag_s=back)})
    return rules


def slo_recording_rules(service: ServiceConfig) -> list[dict[str, Any]]:
    """SLO events per window (the page's windows and the first of SLO_TILES raw, longer ones tiled
    from it, up to the fleet group's windows), the error ratio of each SLI per window (availability:
    5xx share; latency: share slower than the objective), and the request rate that gates the page."""
    rules = [_raw_events(service, window) for window in (*SLO_EVENT_WINDOWS, SLO_TILES[0][0])]
    rules.append(_raw_events(service, SLO_TILES[0][0], extended=True))
    rules += _tiled_rules(scope(service), fleet=False)
    windows = [window for window in SLO_WINDOWS if window not in SLO_FLEET_WINDOWS]
    rules += [{"record": record_slo_errors(window), "expr": slo_ratios(scope(service), window)} for window in windows]
    rules.append({"record": RECORD_SLO_REQUESTS, "expr": _page_traffic(service)})
    return rules


def fleet_rule_groups() -> list[dict[str, Any]]:
    """The long windows (SLO_FLEET_WINDOWS) of every service at once, and their error ratios: one
    group for the whole platform, whatever the services, since it reads only the service groups'
    recorded tiles. Every recorded series keeps its service's `namespace` and `service`."""
    rules = _tiled_rules([], fleet=True)
    rules += [{"record": record_slo_errors(window), "expr": slo_ratios([], window)} for window in SLO_FLEET_WINDOWS]
    return [{"name": SLO_FLEET_GROUP, "interval": SLO_RULE_INTERVAL, "rules": rules}]


def _burn(service: ServiceConfig, alert: str, slo: str, budget: float, severity: str, pairs: tuple[tuple[float, str, str], ...]) -> str:
    matchers = scope(service)
    conditions = [
        f"({q.selector(record_slo_errors(long), [*matchers, q.eq(SLO_LABEL, slo)])} > {factor * budget:.6g}\n"
        f"and {q.selector(record_slo_errors(short), [*matchers, q.eq(SLO_LABEL, slo)])} > {factor * budget:.6g})"
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


def platform_slo_rule_groups(runbook_base_url: str, period: str = SLO_PERIODS[-1]) -> list[dict[str, Any]]:
    """The fleet's groups: the long windows, then the error budgets (which read them)."""
    from .budgets import budget_rule_groups

    return fleet_rule_groups() + budget_rule_groups(period, runbook_base_url)


def owning_team(service: ServiceConfig) -> str:
    return service.team or PLATFORM_TEAM


def slo_rule_groups(services: Sequence[ServiceConfig], runbook_base_url: str, period: str = SLO_PERIODS[-1]) -> list[dict[str, Any]]:
    """Every rule group these services' SLOs need, as the cluster runs them: the fleet's groups, then
    each service's. Listed in the order promtool evaluates them (`group_eval_order`)."""
    services_groups = [group for service in services for group in service_rule_groups(service, runbook_base_url, period)]
    return platform_slo_rule_groups(runbook_base_url, period) + services_groups


def service_alert_names() -> list[str]:
    """Every alert name the platform gives each service (the same for all services)."""
    from .budgets import budget_alerts as error_budget_alerts

    example = ServiceConfig(name="example", namespace="example", port=8080, image="example:1", version="1")
    alerts = slo_alerts(example) + health_alerts(example) + budget_alerts(example) + error_budget_alerts(SLO_PERIODS[-1])
    return [a.alert for a in alerts]


def service_rule_groups(service: ServiceConfig, runbook_base_url: str, period: str = SLO_PERIODS[-1]) -> list[dict[str, Any]]:
    """The service's SLO group, its error-budget constants (Sloth's series, `period` long) and its team's own alerts."""
    from .budgets import BUDGET_INTERVAL, service_budget_rules

    prefix = f"{SERVICE_RULE_GROUP_PREFIX}.{service.namespace}.{service.name}"
    # Every alert of the service carries its team: Alertmanager routes it to that team's receivers.
    owner = {TEAM_LABEL: owning_team(service)}
    alerts = [a.model_copy(update={"labels": {**a.labels, **owner}}) for a in slo_alerts(service) + health_alerts(service) + budget_alerts(service)]
    custom_rules = [{**rule, "labels": {**rule["labels"], **owner}} for rule in custom_alert_rules(service)]
    custom = [{"name": f"{prefix}.custom", "rules": custom_rules}] if service.alerts else []
    return [
        # One group: rules of a group run in order, so every window reads the events and rates
        # recorded before it in the same evaluation, and each alert the SLI of that evaluation,
        # instead of racing another group (which would delay it by an interval). Pinned: tiles are
        # a whole number of evaluations apart, and the detection times in docs/alerting.md hold at
        # this interval, whichever ruler evaluates the group (AMP's defaults to 1m).
        {
            "name": f"{prefix}.rules",
            "interval": SLO_RULE_INTERVAL,
            "rules": slo_recording_rules(service) + recording_rules(service) + [a.to_rule(runbook_base_url) for a in alerts],
        },
        # Constants, read by the fleet's error-budget group: evaluated once a minute, off the SLO group's cost.
        {"name": f"{prefix}.budget", "interval": BUDGET_INTERVAL, "rules": service_budget_rules(service, period)},
        *custom,
    ]
