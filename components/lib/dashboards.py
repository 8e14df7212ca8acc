"""Dashboard building blocks (grafana-foundation-sdk builders), serialised with sorted keys.

Each area builds its own dashboards from these; every query comes from `promql`, so dashboards,
alerts and canary analysis read the same series.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders.common import VizLegendOptions, VizTooltipOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement, SortOrder, TooltipDisplayMode
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos, VariableRefresh, VariableSort

from ..conventions import PROMETHEUS_DATASOURCE_UID

PROMETHEUS = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_DATASOURCE_UID)
WIDTH = 24
TAG = "eks-observability"


def encode(dashboard: Dashboard) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(dashboard.build()) + "\n"


def dashboard(title: str, uid: str, tag: str, since: str = "now-3h") -> Dashboard:
    """A dashboard with the platform's defaults: UTC, refreshed every minute."""
    return Dashboard(title).uid(uid).tags([TAG, tag]).refresh("1m").time(since, "now").timezone("utc")


def query(expr: str, legend: str, ref: str = "A") -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref).range()


def timeseries(panel_id: int, title: str, unit: str, targets: Sequence[Dataquery], pos: GridPos) -> Timeseries:
    """A time series panel: Grafana's panel schema requires its legend and tooltip options (without them the
    SDK writes `options: null`, which Grafana's schema refuses); every series in the tooltip, descending."""
    legend = VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM).show_legend(True)
    tooltip = VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING)
    panel = Timeseries().id(panel_id).title(title).unit(unit).datasource(PROMETHEUS).grid_pos(pos).min(0).legend(legend).tooltip(tooltip)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def variable(name: str, expr: str, include_all: bool = True) -> QueryVariable:
    var = QueryVariable(name).label(name).query(expr).datasource(PROMETHEUS).multi(include_all).include_all(include_all)
    return var.refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
