"""The SLO windows as the rules build them (per-version sums, recorded tiles) against every window
read raw, on Prometheus' own rule engine: every burn-rate alert must fire at the same evaluation.

The raw twin of each alert reads `raw_slo_ratio` where the rendered alert reads a recorded ratio,
and both run in one promtool test over the same traffic, scenario by scenario: the detection
table's incidents and the alert cases of test_slo.py (which start without history, so the tiles
older than the traffic are missing). The fleet group's windows (SLO_FLEET_WINDOWS) end one
evaluation back (SLO_FLEET_LAG; promtool evaluates the fleet group first, as listed): their twins read
the raw window ending then.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from components.conventions import (
    SLO_FLEET_LAG,
    SLO_FLEET_WINDOWS,
    SLO_LABEL,
    SLO_PART_LABEL,
    SLO_WINDOWS,
    record_slo_errors,
    record_slo_events,
)
from components.lib import promql as q
from components.lib.types import duration_seconds
from components.services.rules import raw_slo_ratio, scope, slo_rule_groups
from tests import promtool
from tests.services.support import RUNBOOKS
from tests.services.test_slo import CASES, START
from tools.detection import LABELS, SCENARIOS, first_firing, reference_service
from tools.synthetic import INPUT_INTERVAL, STEP_S, Phase, minutes, series

SLO_ALERTS = tuple(f"Service{slo}BudgetBurn{speed}" for slo in ("Availability", "Latency") for speed in ("Fast", "Slow"))
RAW = "Raw"
INCIDENTS = {**SCENARIOS, **{f"case {alert}": phases for alert, (phases, _, _) in CASES.items()}}


def _with_raw_twins(plant: Callable[[str], str] = lambda expr: expr) -> list[dict]:
    """The service's groups (every expression through `plant`), plus a twin of each SLO alert that
    reads every window raw."""
    service = reference_service()
    groups = slo_rule_groups([service], RUNBOOKS)
    groups = [{**g, "rules": [{**r, "expr": plant(r["expr"])} for r in g["rules"]]} for g in groups]
    recorded = {
        q.selector(record_slo_errors(w), [*scope(service), q.eq(SLO_LABEL, slo)]): raw_slo_ratio(
            service, slo, w, SLO_FLEET_LAG if w in SLO_FLEET_WINDOWS else ""
        )
        for slo in ("availability", "latency")
        for w in SLO_WINDOWS
    }
    pattern = re.compile("|".join(re.escape(s) for s in sorted(recorded, key=len, reverse=True)))
    twins = [
        {
            **r,
            "alert": r["alert"] + RAW,
            # A page holds through its own ALERTS series: the twin through the twin's.
            "expr": pattern.sub(lambda m: f"({recorded[m.group(0)]})", r["expr"]).replace(
                f'alertname="{r["alert"]}"', f'alertname="{r["alert"]}{RAW}"'
            ),
        }
        for g in groups
        for r in g["rules"]
        if r.get("alert") in SLO_ALERTS
    ]
    assert len(twins) == len(SLO_ALERTS)
    return [*groups, {"name": "raw-twins", "interval": "30s", "rules": twins}]


def _firing(groups: list[dict], phases: list) -> dict[str, float | None]:
    start = START if minutes(phases) > START else 0
    return first_firing(groups, phases, start, [a for alert in SLO_ALERTS for a in (alert, alert + RAW)])


@pytest.mark.parametrize("incident", sorted(INCIDENTS))
def test_every_alert_fires_at_the_same_evaluation_as_with_raw_windows(incident):
    fired = _firing(_with_raw_twins(), INCIDENTS[incident])
    assert {a: fired[a] for a in SLO_ALERTS} == {a: fired[a + RAW] for a in SLO_ALERTS}
    # The incident is caught at all, but for those no SLO alert is for (ServiceDown is, docs/alerting.md).
    assert any(fired[a] is not None for a in SLO_ALERTS) or incident in ("2-minute 20% blip", "every target vanishes for 20 min"), fired


def _tiles_added(expr: str) -> str:
    """The planted defect: a tiled window as `+` of its tiles, which is empty while any tile is absent."""
    if '"tile", "' not in expr:
        return expr
    expr = re.sub(r'label_replace\((service:slo_parts:[^,]+), "tile", "\d+", "", ""\)', r"\1", expr)
    return re.sub(r"^sum by \(namespace, service, part\) \((.*)\)$", r"\1", expr, flags=re.S).replace("\nor ", "\n+ ")


def test_a_window_without_its_fallback_for_missing_history_is_caught():
    """The planted defect: tiles from before the traffic began are absent instead of zero, so the
    long windows are empty for their first day and the slow alerts stay silent; the raw twins fire."""
    phases = CASES["ServiceAvailabilityBudgetBurnSlow"][0]
    fired = _firing(_with_raw_twins(_tiles_added), phases)
    assert fired["ServiceAvailabilityBudgetBurnSlowRaw"] is not None
    assert fired["ServiceAvailabilityBudgetBurnSlow"] is None


def _fleet_window_checks(plant: Callable[[str], str] = lambda expr: expr) -> int:
    """promtool's exit code: each fleet window's events, over traffic that doubles at 4h, equal the raw
    histogram's sampled events over the window ending SLO_FLEET_LAG back, at evaluations before, at and
    after the step (`plant` rewrites every expression)."""
    service = reference_service()
    groups = [{**g, "rules": [{**r, "expr": plant(r["expr"])} for r in g["rules"]]} for g in slo_rule_groups([service], RUNBOOKS)]
    phases = [Phase(240, 600, error_ratio=0.01), Phase(205, 1200, error_ratio=0.01)]
    every = q.selector("http_request_duration_seconds_bucket", [*scope(service), q.eq("le", "+Inf")])
    checks = []
    # Each window once full (a series born inside a window is extrapolated differently; see docs/rule-cost.md).
    for window, at in (("2h", (239, 240, 240.5, 241, 300)), ("6h", (400, 420.5, 439))):
        span_s = int(duration_seconds(window)) - STEP_S
        built = q.sum_by(q.selector(record_slo_events(window), [*scope(service), q.match(SLO_PART_LABEL, "error|ok")]), ["namespace", "service"])
        raw = q.sum_by(q.rate(every, window, SLO_FLEET_LAG), ["namespace", "service"])
        for minute in at:
            checks.append(
                {
                    # Equal to a millionth (float sums of tiles); the race's overlap is a 240th of a 2h window.
                    "expr": f"round({built} / ({raw} * {span_s}), 1e-6)",
                    "eval_time": f"{int(minute * 60)}s",
                    "exp_samples": [{"labels": '{namespace="orders", service="orders-api"}', "value": 1}],
                }
            )
    tests = [{"interval": INPUT_INTERVAL, "input_series": series(phases, LABELS), "promql_expr_test": checks}]
    return promtool.test_rules(groups, tests, "30s").returncode


def test_the_fleet_windows_are_the_raw_windows_ending_one_evaluation_back():
    assert _fleet_window_checks() == 0


def test_fleet_windows_read_without_the_lag_are_caught():
    """The planted race: the fleet group reads the service groups' newest tile without SLO_FLEET_LAG,
    where (evaluated first, or mid-evaluation on a server) the newest is an evaluation old and overlaps
    the next tile by one scrape interval."""
    lag = f" offset {SLO_FLEET_LAG}"

    def unlagged(expr: str) -> str:
        if lag not in expr:
            return expr
        expr = expr.replace(lag, "")
        return re.sub(r"offset (\d+)h30s", r"offset \1h", expr)

    assert _fleet_window_checks(unlagged) != 0
