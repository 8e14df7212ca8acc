"""The Argo Rollouts dashboard: rollouts and analysis runs by phase, controller reconcile errors."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import GridPos

from ..conventions import ROLLOUTS_DASHBOARD_UID
from ..lib import promql as q
from ..lib.dashboards import dashboard, encode, query, timeseries, variable


def argo_rollouts() -> str:
    namespace = [q.match("namespace", "$namespace")]
    errors = q.sum_by(q.rate(q.selector("rollout_reconcile_error", namespace), "$__rate_interval"), ["namespace", "rollout"])
    board = (
        dashboard("Platform / Argo Rollouts", ROLLOUTS_DASHBOARD_UID, "rollouts", since="now-6h")
        .with_variable(variable("namespace", "label_values(rollout_info, namespace)"))
        .with_panel(
            timeseries(
                1,
                "Rollouts by phase",
                "short",
                [query(q.sum_by(q.selector("rollout_info", namespace), ["phase"]), "{{phase}}")],
                GridPos(h=8, w=12, x=0, y=0),
            )
        )
        .with_panel(
            timeseries(
                2,
                "Analysis runs by phase",
                "short",
                [query(q.sum_by(q.selector("analysis_run_info", namespace), ["phase"]), "{{phase}}")],
                GridPos(h=8, w=12, x=12, y=0),
            )
        )
        .with_panel(timeseries(3, "Reconcile errors", "ops", [query(errors, "{{namespace}}/{{rollout}}")], GridPos(h=8, w=24, x=0, y=8)))
    )
    return encode(board)
