"""Templated dashboards for every service: the detail (pick namespace, service and versions), its
error budget, and every service's budget on one page.

Rates and error ratios read the per-service recording rules (the series the canary analysis
judges); latency quantiles are computed from the buckets when the panel loads, as the analysis
does. Canary and stable sit side by side as one line per version. The budget dashboards read
Sloth's series (components/services/budgets.py), so Sloth's own dashboards work beside them.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.common import TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import DashboardLink, QueryVariable, Row
from grafana_foundation_sdk.builders.logs import Panel as Logs
from grafana_foundation_sdk.builders.loki import Dataquery as LokiQuery
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef, GridPos
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from ..conventions import (
    BUDGETS_OVERVIEW_DASHBOARD_UID,
    ERROR_BUDGET_DASHBOARD_UID,
    KUBERNETES_EVENTS_JOB,
    LATENCY_QUANTILES,
    LOKI_DATASOURCE_UID,
    RECORD_ERROR_RATIO,
    RECORD_REQUEST_RATE,
    SERVICE_DASHBOARD_UID,
)
from ..integrations.cost import HOURLY_BY_RESOURCE as NAMESPACE_COST_BY_RESOURCE
from ..lib import promql as q
from ..lib.contract import MetricContract
from ..lib.dashboards import PROMETHEUS, WIDTH, Timeseries, dashboard, encode, query, timeseries, variable
from .budgets import CURRENT_BURN_RATE, ERROR_BUDGET, PERIOD_BUDGET_REMAINING, PERIOD_BURN_RATE, SLO_INFO, sli_error

# Every services dashboard opens on a team: its services' namespaces and names, read from the SLO info
# series, which carry the owning team (`platform` for services no team owns).
OF_TEAM = q.selector(SLO_INFO, [q.match("team", "$team")])
OF_TEAM_NAMESPACE = q.selector(SLO_INFO, [q.match("team", "$team"), q.eq("namespace", "$namespace")])


def _team_variables() -> list[QueryVariable]:
    return [
        variable("team", f"label_values({SLO_INFO}, team)"),
        variable("namespace", f"label_values({OF_TEAM}, namespace)", include_all=False),
        variable("service", f"label_values({OF_TEAM_NAMESPACE}, service)", include_all=False),
    ]


LOKI = DataSourceRef(type_val="loki", uid=LOKI_DATASOURCE_UID)
# The service's objects by name: its Rollout or Deployment and Service (`<service>`), ReplicaSets, pods and
# AnalysisRuns (`<service>-<hash>[-<suffix>]`). Another service named `<service>-<word>` matches too.
SERVICE_EVENTS = (
    f'{{job="{KUBERNETES_EVENTS_JOB}", namespace="$namespace"}} | json | involvedObject_name=~"$service(-[a-z0-9]+)*"'
    ' | line_format "{{.type}} {{.reason}} {{.involvedObject_kind}}/{{.involvedObject_name}}: {{.message}}"'
)


def events_panel(panel_id: int, pos: GridPos) -> Logs:
    """The service's Kubernetes events (evictions, OOM kills, failed scheduling, image pulls, Rollout aborts) from Loki."""
    target = LokiQuery().expr(SERVICE_EVENTS).ref_id("A").max_lines(500)
    return Logs().id(panel_id).title("Kubernetes events").datasource(LOKI).grid_pos(pos).with_target(target).show_time(True).wrap_log_message(True).enable_log_details(True)


def cost_panels(top: int) -> list[Timeseries]:
    """The service's namespace's hourly spend by resource and the GPUs it holds (the cost model's series)."""
    spend = query(q.selector(NAMESPACE_COST_BY_RESOURCE, [q.eq("namespace", "$namespace")]), "{{resource}}")
    gpus = query('sum(container_gpu_allocation{namespace="$namespace"})', "GPUs allocated")
    return [
        timeseries(10, "Namespace spend per hour, by resource", "currencyUSD", [spend], GridPos(h=8, w=12, x=0, y=top)),
        timeseries(11, "GPUs allocated in the namespace (GPU hours: the area)", "none", [gpus], GridPos(h=8, w=12, x=12, y=top)),
    ]


def service_detail(contract: MetricContract, exemplars: bool = False, events: bool = False, cost: bool = False) -> str:
    """`exemplars`: the latency panel shows the requests' exemplars (each links to its trace's log
    lines), where the `prometheus` datasource serves them. `events`: the service's Kubernetes events
    from Loki under its metrics, where the events collector runs. `cost`: its namespace's spend and GPUs,
    where the cost model (Kubecost) runs."""
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
    of_service = f'{RECORD_REQUEST_RATE}{{namespace="$namespace", service="$service"}}'
    board = dashboard("Services / Service detail", SERVICE_DASHBOARD_UID, "services").links(_budget_links())
    for var in _team_variables():
        board = board.with_variable(var)
    board = (
        board.with_variable(variable("version", f"label_values({of_service}, version)"))
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
    top = 20
    if events:
        board = board.with_row(Row("Events").id(7).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=top)))
        board = board.with_panel(events_panel(8, GridPos(h=10, w=WIDTH, x=0, y=top + 1)))
        top += 11
    if cost:
        board = board.with_row(Row("Cost").id(9).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=top)))
        for panel in cost_panels(top + 1):
            board = board.with_panel(panel)
    return encode(board)


def _budget_links() -> list[Builder[models.DashboardLink]]:
    """Between a service's detail, its budget and every service's budgets, keeping the picked service."""
    return [DashboardLink("Services").type(DashboardLinkType.DASHBOARDS).tags(["services"]).keep_time(True).include_vars(True)]


def error_budget() -> str:
    """One service's error budgets over the SLO period, burn rates and SLI error ratios, per SLO."""
    scope = [q.eq("namespace", "$namespace"), q.eq("service", "$service")]
    board = dashboard("Services / Error budget", ERROR_BUDGET_DASHBOARD_UID, "services", since="now-30d").links(_budget_links())
    for var in _team_variables():
        board = board.with_variable(var)
    board = (
        board.with_panel(
            timeseries(
                1,
                "Error budget remaining over the SLO period",
                "percentunit",
                [query(q.selector(PERIOD_BUDGET_REMAINING, scope), "{{slo}}")],
                GridPos(h=8, w=12, x=0, y=0),
            ).min(-1).max(1)
        )
        .with_panel(
            timeseries(
                2,
                "Burn rate (1 spends the budget exactly over the period)",
                "none",
                [
                    query(q.selector(CURRENT_BURN_RATE, scope), "{{slo}} over 5m", "A"),
                    query(q.selector(PERIOD_BURN_RATE, scope), "{{slo}} over the period", "B"),
                ],
                GridPos(h=8, w=12, x=12, y=0),
            )
        )
        .with_panel(
            timeseries(
                3,
                "SLI error ratio (1h) against the error budget",
                "percentunit",
                [
                    query(q.selector(sli_error("1h"), scope), "{{slo}} errors over 1h", "A"),
                    query(q.selector(ERROR_BUDGET, scope), "{{slo}} budget", "B"),
                ],
                GridPos(h=8, w=WIDTH, x=0, y=8),
            )
        )
    )
    return encode(board)


def budgets_overview() -> str:
    """Every service and SLO, the least budget left first: where to look, and what may ship."""
    remaining = (
        Table()
        .id(1)
        .title("Error budget remaining over the SLO period, least first")
        .datasource(PROMETHEUS)
        .grid_pos(GridPos(h=20, w=WIDTH, x=0, y=0))
        .unit("percentunit")
        .with_target(
            query(f"sort({q.selector(PERIOD_BUDGET_REMAINING, [q.match('team', '$team')])})", "{{service}} {{slo}}")
            .instant()
            .format(PromQueryFormat.TABLE)
        )
        .sort_by([TableSortByFieldState().display_name("Value").desc(False)])
    )
    board = (
        dashboard("Services / Error budgets", BUDGETS_OVERVIEW_DASHBOARD_UID, "services", since="now-1h")
        .links(_budget_links())
        .with_variable(variable("team", f"label_values({SLO_INFO}, team)"))
        .with_panel(remaining)
    )
    return encode(board)
