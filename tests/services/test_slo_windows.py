"""The SLO windows as the rules build them (per-version sums, recorded tiles) against every window
read raw, on Prometheus' own rule engine: every burn-rate alert must fire at the same evaluation.

The raw twin of each alert reads `raw_slo_ratio` where the rendered alert reads a recorded ratio,
and both run in one promtool test over the same traffic, scenario by scenario: the detection
table's incidents and the alert cases of test_slo.py (which start without history, so the tiles
older than the traffic are missing).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from components.conventions import SLO_LABEL, SLO_WINDOWS, record_slo_errors
from components.lib import promql as q
from components.services.rules import raw_slo_ratio, scope, service_rule_groups
from tests.services.support import RUNBOOKS
from tests.services.test_slo import CASES, START
from tools.detection import SCENARIOS, first_firing, reference_service
from tools.synthetic import minutes

SLO_ALERTS = tuple(f"Service{slo}BudgetBurn{speed}" for slo in ("Availability", "Latency") for speed in ("Fast", "Slow"))
RAW = "Raw"
INCIDENTS = {**SCENARIOS, **{f"case {alert}": phases for alert, (phases, _, _) in CASES.items()}}


def _with_raw_twins(plant: Callable[[str], str] = lambda expr: expr) -> list[dict]:
    """The service's groups (every expression through `plant`), plus a twin of each SLO alert that
    reads every window raw."""
    service = reference_service()
    groups = service_rule_groups(service, RUNBOOKS)
    groups = [{**g, "rules": [{**r, "expr": plant(r["expr"])} for r in g["rules"]]} for g in groups]
    recorded = {
        q.selector(record_slo_errors(w), [*scope(service), q.eq(SLO_LABEL, slo)]): raw_slo_ratio(service, slo, w)
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
