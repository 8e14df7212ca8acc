"""One templated dashboard for every service: pick namespace, service and versions.

Rates and error ratios read the per-service recording rules (the series the canary analysis
judges); latency quantiles are computed from the buckets when the panel loads, as the analysis
does. Canary and stable sit side by side as one line per version.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Row
from grafana_foundation_sdk.models.dashboard import GridPos

from ..conventions import LATENCY_QUANTILES, RECORD_ERROR_RATIO, RECORD_REQUEST_RATE, SERVICE_DASHBOARD_UID
from ..lib import promql as q
from ..lib.contract import MetricContract
from ..lib.dashboards import WIDTH, dashboard, encode, query, timeseries, variable


def service_detail(contract: MetricContract, exemplars: bool = False) -> str:
    """`exemplars`: the latency panel shows the requests' exemplars (each links to its trace's log
    lines), where the `prometheus` datasource serves them."""
    scope = [q.eq("namespace", "$namespace"), q.eq("service", "$service"), q.match("version", "$version")]
    raw_scope = [q.eq("namespace", "$namespace"), q.eq("service", "$service")]
    latency = [
        query(
            q.histogram_quantile(quantile, contract.duration_metric, "$__rate_interval", scope, ["version"]),
            f"p{round(quantile * 100)} {{{{version}}}}",
            ref,
        )
        for quantile, ref in zip(LATENCY_QUANTILES, "ABC", strict=True)
    ]
    if exemplars:
        # On one quantile: the exemplars are the buckets' own, the same dots for every quantile.
        latency[0] = latency[0].exemplar(True)
    top_endpoints = f"topk(10, {q.histogram_quantile(0.95, contract.duration_metric, '$__rate_interval', raw_scope, ['path'])})"
    in_namespace = f'{RECORD_REQUEST_RATE}{{namespace="$namespace"}}'
    of_service = f'{RECORD_REQUEST_RATE}{{namespace="$namespace", service="$service"}}'
    board = (
        dashboard("Services / Service detail", SERVICE_DASHBOARD_UID, "services")
        .with_variable(variable("namespace", f"label_values({RECORD_REQUEST_RATE}, namespace)", include_all=False))
        .with_variable(variable("service", f"label_values({in_namespace}, service)", include_all=False))
        .with_variable(variable("version", f"label_values({of_service}, version)"))
        .with_row(Row("Canary vs stable").id(1).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=0)))
        .with_panel(
            timeseries(
                2,
                "Requests per second by version",
                "reqps",
                [query(q.selector(RECORD_REQUEST_RATE, scope), "{{version}}")],
                GridPos(h=8, w=8, x=0, y=1),
            )
        )
        .with_panel(
            timeseries(
                3,
                "5xx error ratio by version",
                "percentunit",
                [query(q.selector(RECORD_ERROR_RATIO, scope), "{{version}}")],
                GridPos(h=8, w=8, x=8, y=1),
            )
        )
        .with_panel(timeseries(4, "Latency p50 / p95 / p99 by version", "s", latency, GridPos(h=8, w=8, x=16, y=1)))
        .with_row(Row("Endpoints").id(5).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=9)))
        .with_panel(
            timeseries(6, "Top 10 endpoints by p95 latency", "s", [query(top_endpoints, "{{path}}")], GridPos(h=10, w=WIDTH, x=0, y=10))
        )
    )
    return encode(board)
