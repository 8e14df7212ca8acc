"""SLO burn-rate alerts: promtool unit tests on the rendered service rules."""

from __future__ import annotations

import pytest

from tests import promtool
from tests.conftest import FLEET
from tests.services.support import RUNBOOKS, rule_groups
from tests.services.test_canary import SERIES

LONG = 4320 + 60  # three days of minutes and an hour: every window can fill


def _slo_series(ok: int, errors: int, fast: int, total: int, minutes: int = 60) -> list[dict[str, str]]:
    labels = f'{SERIES}, version="1.8.2"'
    return [
        {"series": f'http_requests_total{{{labels}, status="200"}}', "values": f"0+{ok}x{minutes}"},
        {"series": f'http_requests_total{{{labels}, status="500"}}', "values": f"0+{errors}x{minutes}"},
        {"series": f'http_request_duration_seconds_bucket{{{labels}, status="200", le="0.5"}}', "values": f"0+{fast}x{minutes}"},
        {"series": f'http_request_duration_seconds_count{{{labels}, status="200"}}', "values": f"0+{total}x{minutes}"},
    ]


def _slo_alert(name: str, slo: str, severity: str, objective: str, meaning: str, windows: str) -> dict:
    return {
        "exp_labels": {"namespace": "orders", "service": "orders-api", "severity": severity, "slo": slo},
        "exp_annotations": {
            "summary": f"orders-api is burning its {slo} error budget ({'fast' if 'Fast' in name else 'slow'})",
            "description": f"orders-api in orders burns the {slo} budget of its {objective} objective ({meaning}) too fast: {windows}.",
            "runbook_url": f"{RUNBOOKS}#{name.lower()}",
        },
    }


FAST_WINDOWS = "1h/5m at 14.4x or 6h/30m at 6x"
SLOW_WINDOWS = "1d/2h at 3x or 3d/6h at 1x"
AVAILABILITY = ("availability", "99.50%", "of requests answered without 5xx")
LATENCY = ("latency", "99.00%", "of requests faster than 0.5s")
SLO_CASES = {
    # alert: (firing series, pending at, fires at, severity, slo, healthy series, idle series)
    "ServiceAvailabilityBudgetBurnFast": (_slo_series(540, 60, 600, 600), "2m", "3m", "critical", AVAILABILITY, FAST_WINDOWS),
    "ServiceAvailabilityBudgetBurnSlow": (_slo_series(588, 12, 600, 600), "15m", "16m", "warning", AVAILABILITY, SLOW_WINDOWS),
    "ServiceLatencyBudgetBurnFast": (_slo_series(600, 0, 480, 600), "2m", "3m", "critical", LATENCY, FAST_WINDOWS),
    "ServiceLatencyBudgetBurnSlow": (_slo_series(600, 0, 570, 600), "15m", "16m", "warning", LATENCY, SLOW_WINDOWS),
}


@pytest.mark.parametrize("alert", sorted(SLO_CASES))
def test_slo_alert_unit(alert, prod):
    series, pending, fires, severity, (slo, objective, meaning), windows = SLO_CASES[alert]
    expected = [_slo_alert(alert, slo, severity, objective, meaning, windows)]
    healthy = _slo_series(599, 1, 599, 600)  # 0.17% errors, 0.17% slow: within both budgets
    idle = _slo_series(0, 0, 0, 0)
    tests = [
        {
            "name": "fires",
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": pending, "alertname": alert, "exp_alerts": []},
                {"eval_time": fires, "alertname": alert, "exp_alerts": expected},
            ],
        },
        {"name": "healthy", "interval": "1m", "input_series": healthy, "alert_rule_test": [{"eval_time": "30m", "alertname": alert, "exp_alerts": []}]},
        {"name": "idle", "interval": "1m", "input_series": idle, "alert_rule_test": [{"eval_time": "30m", "alertname": alert, "exp_alerts": []}]},
    ]
    proc = promtool.test_rules(rule_groups(prod, "orders-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slow_burn_does_not_page(prod):
    """2% errors burn the budget 4x: a ticket, never a page."""
    series = _slo_series(588, 12, 600, 600, minutes=120)
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [{"eval_time": "2h", "alertname": "ServiceAvailabilityBudgetBurnFast", "exp_alerts": []}],
        }
    ]
    proc = promtool.test_rules(rule_groups(prod, "orders-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_rules_pass_promtool_check(stack, request):
    """Each PrometheusRule is checked as the operator loads it: one rule file per object."""
    result = request.getfixturevalue(stack)
    for service in FLEET:
        proc = promtool.check_rules(rule_groups(result, service))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "SUCCESS: 24 rules found" in proc.stdout, proc.stdout


def test_service_alerts_are_annotated(prod):
    for service in FLEET:
        for group in rule_groups(prod, service):
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["labels"]["severity"] in ("critical", "warning")
                    assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


