"""Error budgets on promtool: Sloth's series with Sloth's labels, the budget over the period from the
fleet's recorded 1d tiles, and the warning when it is spent.

The period is 28 or 30 days in a stack; here the same rules are rendered for a 2-day period (the
function takes any whole number of days), so two days of traffic exercise the tiled sum (a 1d tile
and the exact 1d window a day back) in seconds instead of a month of samples.
"""

from __future__ import annotations

import pytest

from components.conventions import SLO_PART_LABEL, record_slo_events
from components.lib import promql as q
from components.services.budgets import (
    CURRENT_BURN_RATE,
    ERROR_BUDGET,
    OBJECTIVE,
    PERIOD_BUDGET_REMAINING,
    PERIOD_BURN_RATE,
    SLO_INFO,
    TIME_PERIOD_DAYS,
    budget_rule_groups,
    retention_warning,
    sli_error,
)
from components.services.rules import fleet_rule_groups, scope, service_rule_groups
from tests import promtool
from tests.services.support import RUNBOOKS
from tools.detection import LABELS, reference_service
from tools.synthetic import INPUT_INTERVAL, STEP_S, Phase, series

PERIOD = "2d"
SLOTH = 'namespace="orders", service="orders-api", slo="{slo}", sloth_id="orders-api-{slo}", sloth_service="orders-api", sloth_slo="{slo}"'


def _groups(period: str = PERIOD) -> list[dict]:
    service = reference_service()
    return fleet_rule_groups() + budget_rule_groups(period, RUNBOOKS) + service_rule_groups(service, RUNBOOKS, period)


def _sample(name: str, value: float, slo: str = "availability", extra: str = ', team="platform"') -> dict:
    """A series of the reference service's `slo`; the constants and what divides by them carry the owning team."""
    return {"labels": f"{name}{{{SLOTH.format(slo=slo)}{extra}}}", "value": value}


def test_a_steady_burn_is_sloths_series_and_a_share_of_the_budget():
    """0.2% of requests failing, steadily, for two days and an hour, against a 99.5% objective: a
    burn rate of 0.4 now and over the period, 60% of the budget left; the latency SLO untouched.
    (Whole requests per scrape: the ratios are 0.2% to a few parts in a thousand.)"""
    at = f"{(2 * 24 * 60 + 50) * 60}s"
    phases = [Phase(2 * 24 * 60 + 60, 600, error_ratio=0.002)]
    both = ("availability", "latency")
    checks = [
        {"expr": OBJECTIVE, "eval_time": at, "exp_samples": [_sample(OBJECTIVE, 0.995), _sample(OBJECTIVE, 0.99, "latency")]},
        {"expr": f"round({ERROR_BUDGET}, 1e-12)", "eval_time": at, "exp_samples": [_sample("", 0.005), _sample("", 0.01, "latency")]},
        {"expr": TIME_PERIOD_DAYS, "eval_time": at, "exp_samples": [_sample(TIME_PERIOD_DAYS, 2, slo) for slo in both]},
        {
            "expr": SLO_INFO,
            "eval_time": at,
            "exp_samples": [_sample(SLO_INFO, 1, slo, f', sloth_objective="{o}", team="platform"') for slo, o in (("availability", "99.5"), ("latency", "99"))],
        },
        *(
            {
                "expr": f"round({name}, 0.01)",
                "eval_time": at,
                "exp_samples": [_sample("", 0.4), _sample("", 0.0, "latency")],
            }
            for name in (CURRENT_BURN_RATE, PERIOD_BURN_RATE)
        ),
        {"expr": f"round({PERIOD_BUDGET_REMAINING}, 1e-3)", "eval_time": at, "exp_samples": [_sample("", 0.6), _sample("", 1, "latency")]},
        {
            "expr": f"round({sli_error(PERIOD)}, 0.0001)",
            "eval_time": at,
            "exp_samples": [_sample("", 0.002, extra=f', sloth_window="{PERIOD}"'), _sample("", 0, "latency", f', sloth_window="{PERIOD}"')],
        },
    ]
    tests = [{"interval": INPUT_INTERVAL, "input_series": series(phases, LABELS), "promql_expr_test": checks}]
    proc = promtool.test_rules(_groups(), tests, "30s")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _period_events_equal_raw(groups: list[dict]) -> int:
    """promtool's exit code: the period's events, over traffic that doubles after a day and a half,
    equal the raw histogram's sampled events over the period ending two evaluations back (the budget
    group reads the fleet group's tiles 30s back, the fleet group the service group's)."""
    service = reference_service()
    phases = [Phase(36 * 60, 600, error_ratio=0.01), Phase(14 * 60, 1200, error_ratio=0.01)]
    every = q.selector("http_request_duration_seconds_bucket", [*scope(service), q.eq("le", "+Inf")])
    span_s = 2 * 86400 - STEP_S
    built = q.sum_by(q.selector(record_slo_events(PERIOD), [*scope(service), q.match(SLO_PART_LABEL, "error|ok")]), ["namespace", "service"])
    raw = q.sum_by(q.rate(every, PERIOD, "1m"), ["namespace", "service"])
    checks = [
        {
            "expr": f"round({built} / ({raw} * {span_s}), 1e-6)",
            "eval_time": f"{minute * 60}s",
            "exp_samples": [{"labels": '{namespace="orders", service="orders-api"}', "value": 1}],
        }
        for minute in (2 * 24 * 60 + 10, 2 * 24 * 60 + 60, 2 * 24 * 60 + 110)
    ]
    tests = [{"interval": INPUT_INTERVAL, "input_series": series(phases, LABELS), "promql_expr_test": checks}]
    return promtool.test_rules(groups, tests, "30s").returncode


def test_the_period_is_the_raw_window_ending_two_evaluations_back():
    assert _period_events_equal_raw(_groups()) == 0


def test_a_period_summed_from_the_wrong_tiles_is_caught():
    """The planted defect: every day of the period read from the exact 1d window (no shared boundary
    sample), so the events between two days' samples are lost."""
    groups = [{**g, "rules": [{**r, "expr": r["expr"].replace("increase1d_tile offset", "increase1d offset")} for r in g["rules"]]} for g in _groups()]
    assert _period_events_equal_raw(groups) != 0


def test_a_spent_budget_warns_once_per_slo():
    """1% failing for two days against a 99.5% objective: twice the budget spent, the warning fires
    for availability only, with the service's labels for routing."""
    phases = [Phase(2 * 24 * 60 + 60, 600, error_ratio=0.01)]
    at = f"{(2 * 24 * 60 + 40) * 60}s"
    expected = {
        "exp_labels": {"namespace": "orders", "service": "orders-api", "slo": "availability", "severity": "warning",
                       "sloth_id": "orders-api-availability", "sloth_service": "orders-api", "sloth_slo": "availability", "team": "platform"},
        "exp_annotations": {
            "summary": "orders-api has spent its availability error budget",
            "description": "orders-api in orders has -100% of its availability error budget left over the last 2d: its SLO is "
            "missed for the period. Freeze risky releases until the budget recovers.",
            "runbook_url": f"{RUNBOOKS}#serviceerrorbudgetexhausted",
        },
    }  # fmt: skip
    tests = [
        {
            "interval": INPUT_INTERVAL,
            "input_series": series(phases, LABELS),
            "alert_rule_test": [{"eval_time": at, "alertname": "ServiceErrorBudgetExhausted", "exp_alerts": [expected]}],
        }
    ]
    proc = promtool.test_rules(_groups(), tests, "30s")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("period", "retention", "warns"), [("30d", "30d", False), ("30d", "15d", True), ("28d", "720h", False), ("28d", "3d", True)])
def test_a_retention_shorter_than_the_period_is_said_at_preview(period, retention, warns):
    warning = retention_warning(period, retention)
    assert (warning is not None) == warns
    if warning:
        assert warning.startswith(f"alerting.sloPeriod is {period} but prometheusStack.prometheus.retention keeps {retention}")
