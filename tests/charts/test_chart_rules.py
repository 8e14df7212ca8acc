"""The charts' own PrometheusRules (kube-prometheus-stack's default rules: crash loops, nodes, Prometheus
itself; Loki's) load with the program's on promtool, as one Prometheus loads them all."""

from __future__ import annotations

import pytest

from tests import promtool
from tests.charts.helm import STACKS, rendered


def rule_objects(stack: str) -> list[tuple[str, dict]]:
    return [(origin, obj) for origin, obj in rendered(stack).all_objects() if obj["kind"] == "PrometheusRule"]


@pytest.mark.parametrize("stack", STACKS)
def test_chart_and_program_rules_load_together(stack):
    objects = rule_objects(stack)
    origins = {origin for origin, _ in objects}
    assert {"program", "kube-prometheus-stack", "loki"} <= origins
    groups = [g for _, obj in objects for g in obj["spec"]["groups"]]
    names = [g["name"] for g in groups]
    # One Prometheus loads every group: a name used twice would make one group shadow another.
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    proc = promtool.check_rules(groups, lint_fatal=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Each PrometheusRule is its own rule file to the operator: each of the program's passes the linter
    # on its own. (The chart's apiserver rules record one metric in several rules, upstream's design.)
    for origin, obj in objects:
        if origin != "program":
            continue
        proc = promtool.check_rules(obj["spec"]["groups"])
        assert proc.returncode == 0, (origin, obj["metadata"]["name"], proc.stdout + proc.stderr)


def test_the_default_rules_cover_crash_loops_nodes_and_prometheus():
    alerts = {r["alert"] for _, obj in rule_objects("prod") for g in obj["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {"KubePodCrashLooping", "PrometheusRuleFailures", "AlertmanagerFailedToSendAlerts", "Watchdog"} <= alerts
    # The EKS control plane is not scrapeable: its rules stay off (components/metrics/values.py).
    assert not {"KubeControllerManagerDown", "KubeSchedulerDown", "etcdMembersDown"} & alerts


def test_a_broken_chart_rule_is_caught():
    """Planted defect: one default rule with a PromQL syntax error fails the combined check."""
    (_, obj), *_ = [(o, r) for o, r in rule_objects("dev") if o == "kube-prometheus-stack"]
    groups = [dict(g) for g in obj["spec"]["groups"]]
    first = groups[0]
    groups[0] = {**first, "rules": [{**first["rules"][0], "expr": "sum(rate(up[5m]"}, *first["rules"][1:]]}
    proc = promtool.check_rules(groups)
    assert proc.returncode != 0
