"""Platform alert rules, run through the real Prometheus rule engine (`promtool`) as rendered.

Every alert has a unit test: it fires at the expected time for breaching series, is still pending
just before, and stays silent for healthy series and for no traffic at all.
"""

from __future__ import annotations

import pytest

from components.metrics.config import AlertingConfig
from components.metrics.rules import all_alert_rules
from tests import promtool
from tests.metrics.rule_cases import CASES, RUNBOOKS, Case
from tools.mockrun import RunResult


def _groups(result: RunResult) -> list[dict]:
    return result.named("kube-prometheus-stack-platform-rules").inputs["spec"]["groups"]


def _series(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"series": s, "values": v} for s, v in pairs]


def _unit_tests(alert: str, case: Case) -> list[dict]:
    expected = [
        {
            "exp_labels": case.labels,
            "exp_annotations": {
                "summary": case.summary,
                "description": case.description,
                "runbook_url": f"{RUNBOOKS}#{alert.lower()}",
            },
        }
    ]
    firing_checks = [{"eval_time": case.fires_at, "alertname": alert, "exp_alerts": expected}]
    if case.pending_at:
        firing_checks.insert(0, {"eval_time": case.pending_at, "alertname": alert, "exp_alerts": []})
    silent = [{"eval_time": case.fires_at, "alertname": alert, "exp_alerts": []}]
    tests = [
        {"name": f"{alert} fires", "interval": "1m", "input_series": _series(case.firing), "alert_rule_test": firing_checks},
        {"name": f"{alert} healthy", "interval": "1m", "input_series": _series(case.healthy), "alert_rule_test": silent},
        {"name": f"{alert} no traffic", "interval": "1m", "input_series": _series(case.idle), "alert_rule_test": silent},
    ]
    return tests


def test_every_alert_has_a_case():
    names = {rule.alert for rule in all_alert_rules(AlertingConfig())}
    assert names == set(CASES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rules_pass_promtool_check(stack, request):
    proc = promtool.check_rules(_groups(request.getfixturevalue(stack)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {r["alert"] for g in _groups(request.getfixturevalue(stack)) for r in g["rules"]}
    gpu = {n for n in CASES if n.startswith("GPU")}
    # The GPU group exists only where the DCGM exporter runs.
    assert names == (set(CASES) if stack == "prod" else set(CASES) - gpu)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_alert_unit(alert, prod):
    proc = promtool.test_rules(_groups(prod), _unit_tests(alert, CASES[alert]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_unit_tests_can_fail(prod):
    """A wrong expectation makes promtool fail, so the passing tests above mean something."""
    case = CASES["NodeDown"]
    wrong = Case(**{**case.__dict__, "fires_at": case.pending_at})
    proc = promtool.test_rules(_groups(prod), _unit_tests("NodeDown", wrong))
    assert proc.returncode != 0


def test_every_alert_is_fully_annotated(prod):
    for group in _groups(prod):
        assert group["name"].startswith("platform.")
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info")
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
            assert rule["annotations"]["runbook_url"] == f"{RUNBOOKS}#{rule['alert'].lower()}"


def test_thresholds_come_from_config(run, make_config):
    result = run(make_config("dev", alerting={"thresholds": {"errorRatio": 0.1, "errorRateFor": "10m", "diskFreeRatio": 0.2}}))
    rules = {r["alert"]: r for g in _groups(result) for r in g["rules"]}
    assert "> 0.1\n" in rules["PlatformHighErrorRate"]["expr"]
    assert rules["PlatformHighErrorRate"]["for"] == "10m"
    assert "< 0.2\n" in rules["NodeDiskSpaceLow"]["expr"]
    assert rules["NodeDiskSpaceLow"]["for"] == "10m"


def test_reference_thresholds_are_the_defaults(prod):
    rules = {r["alert"]: r for g in _groups(prod) for r in g["rules"]}
    assert "> 0.05\n" in rules["PlatformHighErrorRate"]["expr"] and rules["PlatformHighErrorRate"]["for"] == "5m"
    assert rules["PlatformHighErrorRate"]["expr"].endswith("* 60 >= 5\n)")
    assert rules["PlatformHighLatencyP99"]["expr"].endswith("> 5\n)")
    assert rules["GPUTemperatureHigh"]["expr"] == "DCGM_FI_DEV_GPU_TEMP > 85"
    assert rules["GPUMemoryAlmostFull"]["expr"].endswith("> 0.95")
    assert "< 0.15\n" in rules["NodeDiskSpaceLow"]["expr"] and rules["NodeDiskSpaceLow"]["for"] == "10m"
