"""Cost budgets on promtool, with the series the cost model exports: node prices per vCPU-, GiB- and
GPU-hour, and allocations per container that come and go with the pods (a rolling update replaces one,
an HPA scale-up adds four, a GPU job starts on day 2). What `pulumi up` registers, and what config is
refused."""

from __future__ import annotations

from typing import Any

import pytest

from components.conventions import PROJECT
from components.integrations.cost import Budget, cost_rule_groups
from tests import promtool

STEP_MIN = 5
DAY = 24 * 60 // STEP_MIN  # samples a day
TOTAL = 5 * DAY
SCALE_UP = DAY * 7 // 2  # day 3.5: the HPA goes from 2 to 6 replicas
GPU_JOB = 2 * DAY
GIB = 1024**3
WEB, GPU = "ip-10-0-1-5.ec2.internal", "ip-10-0-9-9.ec2.internal"
RUNBOOKS = "https://wiki.example.com/platform/runbooks"
NAMESPACE_TEAMS = {"orders": "payments", "ml": "ml", "billing": "platform"}
BUDGETS = [Budget(50, namespace="orders"), Budget(500, team="ml"), Budget(100, namespace="billing")]


def _span(value: float, start: int = 0, end: int = TOTAL) -> str:
    """A series present from sample `start` to `end` (absent before, stale after)."""
    parts = ([f"_x{start - 1}", "_"] if start > 1 else ["_"] if start == 1 else []) + [f"{value:g}x{end - start - 1}"]
    if end < TOTAL:
        parts.append("stale")
    return " ".join(parts)


def _pod(namespace: str, pod: str, node: str, cpu: float, memory_gib: float, start: int = 0, end: int = TOTAL, gpu: int = 0) -> list[dict[str, str]]:
    labels = f'namespace="{namespace}", pod="{pod}", container="{pod.rsplit("-", 2)[0]}", node="{node}", job="kubecost"'
    series = [
        {"series": f"container_cpu_allocation{{{labels}}}", "values": _span(cpu, start, end)},
        {"series": f"container_memory_allocation_bytes{{{labels}}}", "values": _span(memory_gib * GIB, start, end)},
    ]
    if gpu:
        series.append({"series": f"container_gpu_allocation{{{labels}}}", "values": _span(gpu, start, end)})
    return series


def _series() -> list[dict[str, str]]:
    # The cost model's split of an m5.xlarge ($0.192/h) and a g5.xlarge's GPU, per unit-hour.
    nodes = [
        {"series": f'node_cpu_hourly_cost{{node="{node}", instance_type="{kind}", job="kubecost"}}', "values": _span(0.0316)}
        for node, kind in ((WEB, "m5.xlarge"), (GPU, "g5.xlarge"))
    ] + [
        {"series": f'node_ram_hourly_cost{{node="{node}", instance_type="{kind}", job="kubecost"}}', "values": _span(0.00424)}
        for node, kind in ((WEB, "m5.xlarge"), (GPU, "g5.xlarge"))
    ]
    nodes.append({"series": f'node_gpu_hourly_cost{{node="{GPU}", instance_type="g5.xlarge", job="kubecost"}}', "values": _span(0.85)})
    pods = _pod("orders", "orders-api-7f9c-aaaaa", WEB, 0.5, 1)
    # A rolling update on day 1: the new pod starts a scrape before the old one goes.
    pods += _pod("orders", "orders-api-7f9c-bbbbb", WEB, 0.5, 1, end=DAY + 1)
    pods += _pod("orders", "orders-api-8d2e-ggggg", WEB, 0.5, 1, start=DAY)
    for suffix in ("ccccc", "ddddd", "eeeee", "fffff"):
        pods += _pod("orders", f"orders-api-8d2e-{suffix}", WEB, 0.5, 1, start=SCALE_UP)
    pods += _pod("ml", "trainer-0-xxxxx", GPU, 4, 16, start=GPU_JOB, gpu=1)
    pods += _pod("billing", "billing-api-5c4b-hhhhh", WEB, 0.25, 0.5)
    return nodes + pods


def _at(samples: int) -> str:
    return f"{samples * STEP_MIN}m"


def _groups() -> list[dict[str, Any]]:
    return cost_rule_groups(BUDGETS, NAMESPACE_TEAMS, 0.5, 0.10, RUNBOOKS)


def _alert(name: str, eval_at: int, fired: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": _at(eval_at), "alertname": name, "exp_alerts": fired}


def _run(checks: list[dict[str, Any]], recorded: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    test = {"name": "cost", "interval": f"{STEP_MIN}m", "input_series": _series(), "alert_rule_test": checks}
    if recorded:
        test["promql_expr_test"] = list(recorded)
    proc = promtool.test_rules(_groups(), [test], evaluation_interval=f"{STEP_MIN}m")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _hourly(namespace: str, value: float, at: int) -> dict[str, Any]:
    return {
        "expr": f'round(namespace:kubecost_cost_hourly:sum{{namespace="{namespace}"}}, 0.0001)',
        "eval_time": _at(at),
        "exp_samples": [{"labels": f'{{namespace="{namespace}"}}', "value": value}],
    }


def test_hourly_spend_follows_the_pods_and_their_nodes_prices():
    per_pod = 0.5 * 0.0316 + 1 * 0.00424  # 0.01004 an hour
    _run(
        [],
        [
            _hourly("orders", round(2 * per_pod, 4), DAY // 2),
            _hourly("orders", round(6 * per_pod, 4), SCALE_UP + 12),
            # The GPU job: one GPU, 4 vCPU and 16 GiB on the GPU node.
            _hourly("ml", round(0.85 + 4 * 0.0316 + 16 * 0.00424, 4), GPU_JOB + 12),
            {
                "expr": 'round(team:kubecost_cost_hourly:sum{team="payments"}, 0.0001)',
                "eval_time": _at(SCALE_UP + 12),
                "exp_samples": [{"labels": '{team="payments"}', "value": round(6 * per_pod, 4)}],
            },
        ],
    )


def test_a_scale_up_surges_after_an_hour_and_a_rolling_update_does_not():
    surge = {
        "exp_labels": {"namespace": "orders", "team": "payments", "severity": "warning"},
        "exp_annotations": {
            "summary": "orders spends much more an hour than usual",
            "description": "orders spends 0.12 an hour, over 1.5 times its average of the last 7d (and over 0.1 an hour): "
            "a scale-up, a larger instance type or GPUs.",
            "runbook_url": f"{RUNBOOKS}#costspendsurge",
        },
    }
    _run(
        [
            _alert("CostSpendSurge", DAY + 6, []),  # three pods for one scrape: not a surge
            _alert("CostSpendSurge", SCALE_UP + 9, []),  # pending for its hour
            _alert("CostSpendSurge", SCALE_UP + 15, [surge]),
        ]
    )


def test_budgets_warn_on_the_run_rate_and_route_to_the_owning_team():
    def overrun(who: str, labels: dict[str, str], cost: str, budget: str, anchor: str = "costbudgetforecastoverrun") -> dict[str, Any]:
        return {
            "exp_labels": {**labels, "severity": "warning"},
            "exp_annotations": {
                "summary": f"{who} is on course to overspend its monthly budget",
                "description": f"At its spend rate of the last 3d, {who} costs {cost} a month, over its budget of {budget}.",
                "runbook_url": f"{RUNBOOKS}#{anchor}",
            },
        }

    per_pod = 0.5 * 0.0316 + 1 * 0.00424
    ml = f"{(0.85 + 4 * 0.0316 + 16 * 0.00424) * 730:.0f}"  # 762: its first hour's rate is its 3-day rate
    # 30 hours after the scale-up, 30 of the last 72 hours were at 6 pods, the rest at 2.
    orders = f"{(2 * per_pod + 30 / 72 * 4 * per_pod) * 730:.0f}"  # 54
    _run(
        [
            # The GPU job's first hour at its rate is 762 a month: the ml team's budget of 500 warns an hour in.
            _alert("CostBudgetForecastOverrun", GPU_JOB + 15, [overrun("team ml", {"team": "ml"}, ml, "500")]),
            # orders at 6 pods runs at 88 a month; its 3-day average crosses 50 some 26 hours after the scale-up.
            _alert("CostBudgetForecastOverrun", SCALE_UP + 24 * 12, [overrun("team ml", {"team": "ml"}, ml, "500")]),
            _alert(
                "CostBudgetForecastOverrun",
                SCALE_UP + 30 * 12,
                [
                    overrun("namespace orders", {"namespace": "orders", "team": "payments"}, orders, "50"),
                    overrun("team ml", {"team": "ml"}, ml, "500"),
                ],
            ),
        ]
    )


def test_a_wrong_expectation_fails():
    with pytest.raises(AssertionError):
        _run([_alert("CostSpendSurge", SCALE_UP + 9, [{"exp_labels": {"namespace": "orders", "severity": "warning"}}])])


def test_rules_pass_promtool_check():
    proc = promtool.check_rules(_groups())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kubecost_is_scraped_and_its_budgets_registered(run, make_config):
    values = make_config("prod", kubecost={"enabled": True, "budgets": [{"namespace": "orders", "monthly": 1200}]})
    result = run(values, stack="prod")
    assert result.release("kubecost")["values"]["serviceMonitor"] == {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}}
    rules = result.named("kubecost-rules").inputs
    assert rules["metadata"]["namespace"] == "monitoring"
    alerts = [r for g in rules["spec"]["groups"] for r in g["rules"] if r.get("alert") == "CostBudgetForecastOverrun"]
    assert [a["expr"] for a in alerts] == ['avg_over_time(namespace:kubecost_cost_hourly:sum{namespace="orders"}[3d]) * 730 > 1200']


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"namespace": "orders", "monthly": 0}, "kubecost.budgets[0].monthly: got 0"),
        ({"monthly": 10}, "name exactly one of namespace or team"),
        ({"namespace": "orders", "team": "payments", "monthly": 10}, "name exactly one of namespace or team"),
        ({"namespace": "Orders_NS", "monthly": 10}, "kubecost.budgets[0].namespace: got \"Orders_NS\""),
        ({"team": "nobody", "monthly": 10}, 'kubecost.budgets[0].team: got "nobody"; expected one of alerting.teams'),
    ],
)
def test_bad_budgets_are_refused_with_the_key_path(run, make_config, budget, message):
    from components.stack import ConfigError, load_stack_config
    from tests.stackfixtures import to_pulumi_config

    values = make_config("prod", kubecost={"enabled": True, "budgets": [budget]})
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(values))
    assert any(message in issue and issue.startswith(f"{PROJECT}:kubecost") for issue in err.value.issues), err.value.issues
