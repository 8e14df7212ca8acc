"""Cost budgets as Prometheus rules, from the cost model's own metrics (Kubecost's cost-model, which
OpenCost is: the same metric names), so budget alerts reach the same Alertmanager routes as every other.

The cost model prices each node per vCPU-, GiB- and GPU-hour (`node_{cpu,ram,gpu}_hourly_cost`) and exports
what each container is allocated (`container_{cpu,memory,gpu}_allocation`: the larger of request and use).
A namespace's hourly spend is its containers' allocations priced on the nodes they run on; a team's is the
sum of its services' namespaces. Why rules and not Kubecost's own budget alerts: those send to Slack or
e-mail by themselves, outside the platform's routing, team receivers and inhibitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..conventions import TEAM_LABEL
from ..lib.alerts import AlertRule

GROUP = "cost.budgets"
EVALUATION_INTERVAL = "5m"
HOURLY = "namespace:kubecost_cost_hourly:sum"
HOURLY_BY_RESOURCE = "namespace_resource:kubecost_cost_hourly:sum"
TEAM_HOURLY = "team:kubecost_cost_hourly:sum"
NAMESPACE_TEAM = "platform:namespace_team:info"
HOURS_A_MONTH = 730  # 365 × 24 / 12
FORECAST_WINDOW = "3d"
BASELINE_WINDOW = "7d"
GIB = 1024**3
# resource -> (allocation metric, its unit's divisor, the node's hourly price of one unit)
RESOURCES = (
    ("cpu", "container_cpu_allocation", 1, "node_cpu_hourly_cost"),
    ("memory", "container_memory_allocation_bytes", GIB, "node_ram_hourly_cost"),
    ("gpu", "container_gpu_allocation", 1, "node_gpu_hourly_cost"),
)


@dataclass(frozen=True)
class Budget:
    """A monthly budget of one namespace or one team (exactly one of the two)."""

    monthly: float
    namespace: Optional[str] = None
    team: Optional[str] = None


def resource_cost(metric: str, divisor: int, price: str) -> str:
    allocated = f"sum by (namespace, node) ({metric})" + (f" / {divisor}" if divisor != 1 else "")
    return f"sum by (namespace) (\n  {allocated}\n  * on (node) group_left ()\n  max by (node) ({price})\n)"


def recording_rules(namespace_teams: dict[str, str]) -> list[dict[str, Any]]:
    """Hourly spend by namespace (and by resource), the namespaces' owning teams, and hourly spend by team."""
    rules: list[dict[str, Any]] = [
        {"record": HOURLY_BY_RESOURCE, "expr": resource_cost(metric, divisor, price), "labels": {"resource": resource}}
        for resource, metric, divisor, price in RESOURCES
    ]
    rules.append({"record": HOURLY, "expr": f"sum by (namespace) ({HOURLY_BY_RESOURCE})"})
    rules += [
        {"record": NAMESPACE_TEAM, "expr": "vector(1)", "labels": {"namespace": namespace, TEAM_LABEL: team}}
        for namespace, team in sorted(namespace_teams.items())
    ]
    if namespace_teams:
        rules.append(
            {"record": TEAM_HOURLY, "expr": f"sum by ({TEAM_LABEL}) (\n  {HOURLY}\n  * on (namespace) group_left ({TEAM_LABEL})\n  {NAMESPACE_TEAM}\n)"}
        )
    return rules


def _forecast(series: str) -> str:
    return f"avg_over_time({series}[{FORECAST_WINDOW}]) * {HOURS_A_MONTH}"


def budget_alert(budget: Budget, namespace_teams: dict[str, str]) -> AlertRule:
    if budget.namespace is not None:
        series, who = f'{HOURLY}{{namespace="{budget.namespace}"}}', f"namespace {budget.namespace}"
        labels = {"namespace": budget.namespace, TEAM_LABEL: namespace_teams.get(budget.namespace, "platform")}
    else:
        series, who = f'{TEAM_HOURLY}{{{TEAM_LABEL}="{budget.team}"}}', f"team {budget.team}"
        labels = {TEAM_LABEL: str(budget.team)}
    return AlertRule(
        alert="CostBudgetForecastOverrun",
        expr=f"{_forecast(series)} > {budget.monthly:g}",
        for_="1h",
        severity="warning",
        labels=labels,
        summary=f"{who} is on course to overspend its monthly budget",
        description=f"At its spend rate of the last {FORECAST_WINDOW}, {who} costs {{{{ $value | printf \"%.0f\" }}}} a month, "
        f"over its budget of {budget.monthly:g}.",
    )


def surge_alert(ratio: float, min_hourly: float) -> AlertRule:
    now = HOURLY
    baseline = f"avg_over_time({HOURLY}[{BASELINE_WINDOW}] offset 1h)"
    surge = f"{now}\n> {1 + ratio:g} * {baseline}\nand {now} > {min_hourly:g}"
    # The owning team for routing; a namespace no service of the platform runs in goes to the platform.
    owned = f"(\n{surge}\n)\n* on (namespace) group_left ({TEAM_LABEL})\n{NAMESPACE_TEAM}\nor on (namespace)\n(\n{surge}\n)"
    return AlertRule(
        alert="CostSpendSurge",
        expr=owned,
        for_="1h",
        severity="warning",
        summary="{{ $labels.namespace }} spends much more an hour than usual",
        description=f"{{{{ $labels.namespace }}}} spends {{{{ $value | printf \"%.2f\" }}}} an hour, over {1 + ratio:g} times its "
        f"average of the last {BASELINE_WINDOW} (and over {min_hourly:g} an hour): a scale-up, a larger instance type or GPUs.",
    )


def cost_rule_groups(
    budgets: Sequence[Budget], namespace_teams: dict[str, str], ratio: float, min_hourly: float, runbook_base_url: str
) -> list[dict[str, Any]]:
    alerts = [surge_alert(ratio, min_hourly), *(budget_alert(b, namespace_teams) for b in budgets)]
    return [
        {
            "name": GROUP,
            "interval": EVALUATION_INTERVAL,
            "rules": [*recording_rules(namespace_teams), *(a.to_rule(runbook_base_url) for a in alerts)],
        }
    ]
