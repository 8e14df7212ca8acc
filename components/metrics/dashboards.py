"""Platform dashboards: every service's traffic on one page, and the GPUs."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Row
from grafana_foundation_sdk.models.dashboard import GridPos

from ..conventions import GPU_DASHBOARD_UID, OVERVIEW_DASHBOARD_UID
from ..lib import promql as q
from ..lib.contract import MetricContract, contract_scopes
from ..lib.dashboards import WIDTH, Timeseries, dashboard, encode, query, timeseries, variable

# The DCGM exporter's node label.
HOSTNAME = "Hostname"


def platform_overview(contracts: dict[str, MetricContract]) -> str:
    """Request rate, error % and p99 latency for every service on the platform.

    `contracts` maps each service to its metric contract: a service that renamed its metrics gets
    its own query, so the overview reads each service's series by its own names.
    """
    scopes = contract_scopes(contracts)
    by = ["service"]
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rate, errors, p99 = [], [], []
    for ref, (contract, scope) in zip(refs, scopes, strict=False):
        matchers = [q.match("service", "$service"), *scope]
        requests = q.selector(contract.requests_metric, matchers)
        rate.append(query(q.sum_by(q.rate(requests, "$__rate_interval"), by), "{{service}}", ref))
        errors.append(query(q.error_ratio(contract.requests_metric, "$__rate_interval", matchers, by), "{{service}}", ref))
        p99.append(query(q.histogram_quantile(0.99, contract.duration_metric, "$__rate_interval", matchers, by), "{{service}}", ref))
    names = sorted({c.requests_metric for c, _ in scopes})
    services_query = names[0] if len(names) == 1 else q.selector("", [q.match("__name__", "|".join(names))])
    board = (
        dashboard("Platform / Services overview", OVERVIEW_DASHBOARD_UID, "platform")
        .with_variable(variable("service", f"label_values({services_query}, service)"))
        .with_row(Row("Traffic").id(1).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=0)))
        .with_panel(timeseries(2, "Request rate by service", "reqps", rate, GridPos(h=8, w=8, x=0, y=1)))
        .with_panel(timeseries(3, "5xx error ratio by service", "percentunit", errors, GridPos(h=8, w=8, x=8, y=1)))
        .with_panel(timeseries(4, "p99 latency by service", "s", p99, GridPos(h=8, w=8, x=16, y=1)))
    )
    return encode(board)


def gpu() -> str:
    """DCGM exporter: utilisation, framebuffer used %, temperature and power per GPU, then the GPUs by the
    workload holding them (`pod` is on a DCGM series only while its GPU is allocated)."""
    node = [q.match(HOSTNAME, "$node")]
    legend = f"{{{{{HOSTNAME}}}}} GPU {{{{gpu}}}}"
    used, free = q.selector("DCGM_FI_DEV_FB_USED", node), q.selector("DCGM_FI_DEV_FB_FREE", node)
    workload = [q.match("namespace", "$namespace"), 'pod!=""']
    by_pod = ["namespace", "pod"]

    def panel(panel_id: int, title: str, unit: str, expr: str, pos: GridPos, shown: str = legend) -> Timeseries:
        return timeseries(panel_id, title, unit, [query(expr, shown)], pos)

    def per_workload(panel_id: int, title: str, unit: str, aggregate: str, metric: str, x: int) -> Timeseries:
        expr = f"{aggregate}{q.by(by_pod)} ({q.selector(metric, workload)})"
        return panel(panel_id, title, unit, expr, GridPos(h=8, w=8, x=x, y=17), "{{namespace}}/{{pod}}")

    board = (
        dashboard("Platform / GPUs", GPU_DASHBOARD_UID, "gpu")
        .with_variable(variable("node", f"label_values(DCGM_FI_DEV_GPU_TEMP, {HOSTNAME})"))
        .with_variable(variable("namespace", 'label_values(DCGM_FI_DEV_GPU_UTIL{pod!=""}, namespace)'))
        .with_panel(panel(1, "GPU utilisation", "percent", q.selector("DCGM_FI_DEV_GPU_UTIL", node), GridPos(h=8, w=12, x=0, y=0)))
        .with_panel(panel(2, "Framebuffer used", "percentunit", f"{used} / ({used} + {free})", GridPos(h=8, w=12, x=12, y=0)))
        .with_panel(panel(3, "Temperature", "celsius", q.selector("DCGM_FI_DEV_GPU_TEMP", node), GridPos(h=8, w=12, x=0, y=8)))
        .with_panel(panel(4, "Power draw", "watt", q.selector("DCGM_FI_DEV_POWER_USAGE", node), GridPos(h=8, w=12, x=12, y=8)))
        .with_row(Row("By workload").id(5).grid_pos(GridPos(h=1, w=WIDTH, x=0, y=16)))
        .with_panel(per_workload(6, "GPU utilisation by workload (mean of its GPUs)", "percent", "avg", "DCGM_FI_DEV_GPU_UTIL", 0))
        .with_panel(per_workload(7, "GPUs held by workload", "none", "count", "DCGM_FI_DEV_GPU_UTIL", 8))
        .with_panel(per_workload(8, "GPU memory used by workload", "mbytes", "sum", "DCGM_FI_DEV_FB_USED", 16))
    )
    return encode(board)
