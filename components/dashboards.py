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
