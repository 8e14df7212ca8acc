"""Grafana dashboards as code (grafana-foundation-sdk builders), serialised with sorted keys.

Each public function returns the dashboard JSON text a ConfigMap carries to Grafana's sidecar.
Every query comes from `promql`, so dashboards, alerts and canary analysis read the same series.
"""

from __future__ import annotations

from typing import Sequence

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

from . import promql as q
from .config import MetricContract
from .conventions import (
    LATENCY_QUANTILES,
    RECORD_ERROR_RATIO,
    RECORD_REQUEST_RATE,
    record_latency,
)

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
WIDTH = 24


def encode(dashboard: Dashboard) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(dashboard.build()) + "\n"


def _query(expr: str, legend: str, ref: str = "A", instant: bool = False) -> Dataquery:
    query = Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    return query.instant() if instant else query.range()


def _timeseries(panel_id: int, title: str, unit: str, targets: Sequence[Dataquery], pos: GridPos) -> Timeseries:
    panel = Timeseries().id(panel_id).title(title).unit(unit).datasource(PROMETHEUS).grid_pos(pos).min(0)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def _variable(name: str, query: str, include_all: bool = True) -> QueryVariable:
    variable = QueryVariable(name).label(name).query(query).datasource(PROMETHEUS).multi(include_all).include_all(include_all)
    return variable.refresh(2).sort(1)  # refresh on time range change, sort alphabetically


def platform_overview(contract: MetricContract) -> str:
    """Request rate, error % and p99 latency for every service on the platform."""
    service = [q.match("service", "$service")]
    by = ["service"]
    requests = q.selector(contract.requests_metric, service)
    dashboard = (
        Dashboard("Platform / Services overview")
        .uid("platform-overview")
        .tags(["eks-observability", "platform"])
        .refresh("1m")
        .time("now-3h", "now")
        .timezone("utc")
        .with_variable(_variable("service", f"label_values({contract.requests_metric}, service)"))
        .with_row(Row("Traffic").id(1).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=0)))
        .with_panel(
            _timeseries(
                2,
                "Request rate by service",
                "reqps",
                [_query(q.sum_by(q.rate(requests, "$__rate_interval"), by), "{{service}}")],
                GridPos(h=8, w=8, x=0, y=1),
            )
        )
        .with_panel(
            _timeseries(
                3,
                "5xx error ratio by service",
                "percentunit",
                [_query(q.error_ratio(contract.requests_metric, "$__rate_interval", service, by), "{{service}}")],
                GridPos(h=8, w=8, x=8, y=1),
            )
        )
        .with_panel(
            _timeseries(
                4,
                "p99 latency by service",
                "s",
                [_query(q.histogram_quantile(0.99, contract.duration_metric, "$__rate_interval", service, by), "{{service}}")],
                GridPos(h=8, w=8, x=16, y=1),
            )
        )
    )
    return encode(dashboard)


def gpu(hostname_label: str = "Hostname") -> str:
    """DCGM exporter: utilisation, framebuffer used %, temperature and power per GPU."""
    node = [q.match(hostname_label, "$node")]
    legend = f"{{{{{hostname_label}}}}} GPU {{{{gpu}}}}"
    used, free = q.selector("DCGM_FI_DEV_FB_USED", node), q.selector("DCGM_FI_DEV_FB_FREE", node)
    dashboard = (
        Dashboard("Platform / GPUs")
        .uid("platform-gpu")
        .tags(["eks-observability", "gpu"])
        .refresh("1m")
        .time("now-3h", "now")
        .timezone("utc")
        .with_variable(_variable("node", f"label_values(DCGM_FI_DEV_GPU_TEMP, {hostname_label})"))
        .with_panel(
            _timeseries(1, "GPU utilisation", "percent", [_query(q.selector("DCGM_FI_DEV_GPU_UTIL", node), legend)], GridPos(h=8, w=12, x=0, y=0))
        )
        .with_panel(
            _timeseries(2, "Framebuffer used", "percentunit", [_query(f"{used} / ({used} + {free})", legend)], GridPos(h=8, w=12, x=12, y=0))
        )
        .with_panel(
            _timeseries(3, "Temperature", "celsius", [_query(q.selector("DCGM_FI_DEV_GPU_TEMP", node), legend)], GridPos(h=8, w=12, x=0, y=8))
        )
        .with_panel(
            _timeseries(4, "Power draw", "watt", [_query(q.selector("DCGM_FI_DEV_POWER_USAGE", node), legend)], GridPos(h=8, w=12, x=12, y=8))
        )
    )
    return encode(dashboard)


def argo_rollouts() -> str:
    """Argo Rollouts: rollouts and analysis runs by phase, controller reconcile errors."""
    namespace = [q.match("namespace", "$namespace")]
    dashboard = (
        Dashboard("Platform / Argo Rollouts")
        .uid("platform-argo-rollouts")
        .tags(["eks-observability", "rollouts"])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("utc")
        .with_variable(_variable("namespace", "label_values(rollout_info, namespace)"))
        .with_panel(
            _timeseries(
                1,
                "Rollouts by phase",
                "short",
                [_query(q.sum_by(q.selector("rollout_info", namespace), ["phase"]), "{{phase}}")],
                GridPos(h=8, w=12, x=0, y=0),
            )
        )
        .with_panel(
            _timeseries(
                2,
                "Analysis runs by phase",
                "short",
                [_query(q.sum_by(q.selector("analysis_run_info", namespace), ["phase"]), "{{phase}}")],
                GridPos(h=8, w=12, x=12, y=0),
            )
        )
        .with_panel(
            _timeseries(
                3,
                "Reconcile errors",
                "ops",
                [_query(q.sum_by(q.rate(q.selector("rollout_reconcile_error", namespace), "$__rate_interval"), ["namespace", "rollout"]), "{{namespace}}/{{rollout}}")],
                GridPos(h=8, w=24, x=0, y=8),
            )
        )
    )
    return encode(dashboard)


def service_detail(uid: str, contract: MetricContract) -> str:
    """One templated dashboard for every service: pick namespace, service and versions.

    Panels read the per-service recording rules (the same series the canary analysis judges), so
    canary and stable sit side by side as one line per version.
    """
    scope = [q.eq("namespace", "$namespace"), q.eq("service", "$service"), q.match("version", "$version")]
    raw_scope = [q.eq("namespace", "$namespace"), q.eq("service", "$service")]
    latency = [
        _query(q.selector(record_latency(quantile), scope), f"p{round(quantile * 100)} {{{{version}}}}", ref)
        for quantile, ref in zip(LATENCY_QUANTILES, "ABC")
    ]
    top_endpoints = (
        "topk(10, "
        + q.histogram_quantile(0.95, f"{contract.duration_metric}", "$__rate_interval", raw_scope, ["path"])
        + ")"
    )
    dashboard = (
        Dashboard("Services / Service detail")
        .uid(uid)
        .tags(["eks-observability", "services"])
        .refresh("1m")
        .time("now-3h", "now")
        .timezone("utc")
        .with_variable(_variable("namespace", f"label_values({RECORD_REQUEST_RATE}, namespace)", include_all=False))
        .with_variable(_variable("service", f'label_values({RECORD_REQUEST_RATE}{{namespace="$namespace"}}, service)', include_all=False))
        .with_variable(
            _variable("version", f'label_values({RECORD_REQUEST_RATE}{{namespace="$namespace", service="$service"}}, version)')
        )
        .with_row(Row("Canary vs stable").id(1).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=0)))
        .with_panel(
            _timeseries(2, "Requests per second by version", "reqps", [_query(q.selector(RECORD_REQUEST_RATE, scope), "{{version}}")], GridPos(h=8, w=8, x=0, y=1))
        )
        .with_panel(
            _timeseries(3, "5xx error ratio by version", "percentunit", [_query(q.selector(RECORD_ERROR_RATIO, scope), "{{version}}")], GridPos(h=8, w=8, x=8, y=1))
        )
        .with_panel(_timeseries(4, "Latency p50 / p95 / p99 by version", "s", latency, GridPos(h=8, w=8, x=16, y=1)))
        .with_row(Row("Endpoints").id(5).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=9)))
        .with_panel(
            _timeseries(6, "Top 10 endpoints by p95 latency", "s", [_query(top_endpoints, "{{path}}")], GridPos(h=10, w=WIDTH, x=0, y=10))
        )
    )
    return encode(dashboard)
