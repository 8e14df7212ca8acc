"""Error budgets: each service's SLOs as the series Sloth records (`slo:*`, `sloth_slo_info`,
labelled `sloth_id`, `sloth_service`, `sloth_slo`), so the community's Sloth dashboards read them
unchanged, and the budget remaining over the SLO period. Pure data.

Nothing here reads a raw series. The SLI error ratios are the service rules' recorded ratios with
Sloth's labels added; the period window (28 or 30 days) is the sum of the fleet group's recorded
1d tiles, tiled like every long window (docs/rule-cost.md); a service contributes only constants
(its objectives). The budget series change slowly, so their group runs every minute, not every 30s.
"""

from __future__ import annotations

from typing import Any

from ..conventions import (
    SLO_FLEET_LAG,
    SLO_INFO,
    SLO_LABEL,
    SLOTH_ID_LABEL,
    SLOTH_SERVICE_LABEL,
    SLOTH_SLO_LABEL,
    SLOTH_WINDOW_LABEL,
    TEAM_LABEL,
    record_slo_errors,
    record_slo_events,
)
from ..lib.alerts import AlertRule
from ..lib.types import duration_seconds
from .config import ServiceConfig
from .rules import owning_team, slo_ratios, tiled

BUDGET_GROUP = "service-fleet.error-budgets"
BUDGET_INTERVAL = "1m"
# The period is summed from the fleet group's 1d tiles.
PERIOD_TILE = "1d"
# Sloth's SLI windows (its google-30d set), each recorded as `slo:sli_error:ratio_rate<window>`.
SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
TIME_PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
SLOTH_KEYS = (SLOTH_ID_LABEL, SLOTH_SERVICE_LABEL, SLOTH_SLO_LABEL)
BUDGET_EXHAUSTED_FOR = "15m"


def sli_error(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def sloth_id(service: ServiceConfig, slo: str) -> str:
    """Sloth's `<service>-<slo>`; service names are unique in a stack."""
    return f"{service.name}-{slo}"


def objectives(service: ServiceConfig) -> dict[str, float]:
    return {"availability": service.slo.availability, "latency": service.slo.latency_target}


def _with_sloth_labels(expr: str) -> str:
    """Sloth's identity labels from ours: `sloth_service` is `service`, `sloth_slo` is `slo`, `sloth_id` both."""
    named = f'label_replace({expr}, "{SLOTH_SERVICE_LABEL}", "$1", "service", "(.*)")'
    named = f'label_replace({named}, "{SLOTH_SLO_LABEL}", "$1", "{SLO_LABEL}", "(.*)")'
    return f'label_join({named}, "{SLOTH_ID_LABEL}", "-", "service", "{SLO_LABEL}")'


def _without_window(expr: str) -> str:
    return f'label_replace({expr}, "{SLOTH_WINDOW_LABEL}", "", "", "")'


def service_budget_rules(service: ServiceConfig, period: str) -> list[dict[str, Any]]:
    """A service's constants, per SLO: its objective, the period's length and Sloth's info series."""
    rules = []
    days = int(duration_seconds(period)) // 86400
    for slo, objective in objectives(service).items():
        labels = {
            "namespace": service.namespace,
            "service": service.name,
            TEAM_LABEL: owning_team(service),
            SLO_LABEL: slo,
            SLOTH_ID_LABEL: sloth_id(service, slo),
            SLOTH_SERVICE_LABEL: service.name,
            SLOTH_SLO_LABEL: slo,
        }
        rules += [
            {"record": OBJECTIVE, "expr": f"vector({objective:.6g})", "labels": labels},
            {"record": TIME_PERIOD_DAYS, "expr": f"vector({days})", "labels": labels},
            {"record": SLO_INFO, "expr": "vector(1)", "labels": {**labels, "sloth_objective": f"{objective * 100:.6g}"}},
        ]
    return rules


def _period_events(period: str) -> str:
    """The period's SLO events: the fleet group's 1d tiles, a day apart back from SLO_FLEET_LAG ago
    (that group may be mid-evaluation as this one reads), the oldest the exact 1d window."""
    return tiled([], PERIOD_TILE, period, extended=False, lag_s=int(duration_seconds(SLO_FLEET_LAG)))


def _per_slo(numerator: str, denominator: str) -> str:
    """`numerator / denominator` per SLO, taking the team from the service's constants (the SLI ratios have none)."""
    return _without_window(f"{numerator}\n/ on ({', '.join(SLOTH_KEYS)}) group_left ({TEAM_LABEL})\n{denominator}")


def budget_rule_groups(period: str, runbook_base_url: str) -> list[dict[str, Any]]:
    """Every service's Sloth series and period budget, and the alert on a spent budget, in one group for the fleet."""
    rules: list[dict[str, Any]] = [
        {"record": record_slo_events(period), "expr": _period_events(period)},
        {"record": record_slo_errors(period), "expr": slo_ratios([], period)},
    ]
    rules += [
        {"record": sli_error(window), "expr": _with_sloth_labels(record_slo_errors(window)), "labels": {SLOTH_WINDOW_LABEL: window}}
        for window in (*SLOTH_WINDOWS, period)
    ]
    rules += [
        {"record": ERROR_BUDGET, "expr": f"1 - {OBJECTIVE}"},
        {"record": CURRENT_BURN_RATE, "expr": _per_slo(sli_error(SLOTH_WINDOWS[0]), ERROR_BUDGET)},
        {"record": PERIOD_BURN_RATE, "expr": _per_slo(sli_error(period), ERROR_BUDGET)},
        {"record": PERIOD_BUDGET_REMAINING, "expr": f"1 - {PERIOD_BURN_RATE}"},
    ]
    rules += [alert.to_rule(runbook_base_url) for alert in budget_alerts(period)]
    return [{"name": BUDGET_GROUP, "interval": BUDGET_INTERVAL, "rules": rules}]


def budget_alerts(period: str) -> list[AlertRule]:
    """One warning per service and SLO whose budget over the period is spent: releases that risk it
    wait (the error-budget policy), and the team hears it before its users do."""
    return [
        AlertRule(
            alert="ServiceErrorBudgetExhausted",
            expr=f"{PERIOD_BUDGET_REMAINING} <= 0",
            for_=BUDGET_EXHAUSTED_FOR,
            severity="warning",
            summary="{{ $labels.service }} has spent its {{ $labels.slo }} error budget",
            description=f"{{{{ $labels.service }}}} in {{{{ $labels.namespace }}}} has {{{{ $value | humanizePercentage }}}} of its "
            f"{{{{ $labels.slo }}}} error budget left over the last {period}: its SLO is missed for the period. "
            "Freeze risky releases until the budget recovers.",
        )
    ]


def retention_warning(period: str, retention: str) -> str | None:
    """Prometheus keeps `retention`; a shorter one than the period leaves the budget over what it kept."""
    if duration_seconds(retention) >= duration_seconds(period):
        return None
    return (
        f"alerting.sloPeriod is {period} but prometheusStack.prometheus.retention keeps {retention}: every error budget "
        f"(slo:period_error_budget_remaining:ratio) covers only the last {retention}. Raise the retention to {period} or more "
        "(and retentionSize to match) where budgets matter."
    )
