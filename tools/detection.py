"""Detection times of the SLO alerts, measured on Prometheus' own rule engine (promtool).

    python -m tools.detection        (make detection)

For the default SLO (99.5% availability) and a service's rendered rules, each scenario starts with
three hours of healthy traffic, then the incident. The table gives the minutes from the start of the
incident to the first evaluation at which each alert fires (30s scrapes and evaluations, as in
production), or "never" within the hour after it; then how many separate runs the SLO page fired
in, how many PagerDuty incidents the service's critical alerts made (Alertmanager groups them by
namespace and service, so overlapping ones are one), the minutes between the first critical alert
and recovery with none firing, and when the last one resolved after recovery. Targets: a sustained
20% burst pages within 5 minutes; a 2-minute blip and a trickle of errors on a low-traffic service
never page; every incident is one page, and no outage goes silent until it ends.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.lib.types import duration_seconds  # noqa: E402
from components.metrics.config import AlertingConfig  # noqa: E402
from components.metrics.rules import platform_rule_groups  # noqa: E402
from components.services.config import ServiceConfig  # noqa: E402
from components.services.rules import slo_rule_groups  # noqa: E402
from tools import engines  # noqa: E402
from tools.synthetic import INPUT_INTERVAL, STEP_S, Phase, minutes, noisy, series  # noqa: E402

HISTORY = [Phase(180, 600)]
RECOVERY = Phase(30, 600)
BACK_OFF = [Phase(0.5, 600, error_ratio=1.0), Phase(0.5, 150, error_ratio=1.0), Phase(0.5, 40, error_ratio=1.0), Phase(0.5, 10, error_ratio=1.0)]
# Incidents as real systems produce them; the second element is the minute (after the incident's
# start) at which the service recovers, for the time to resolve, or None.
INCIDENTS: dict[str, tuple[list[Phase], float | None]] = {
    "20% 5xx burst": ([*HISTORY, Phase(60, 600, error_ratio=0.2)], None),
    "100% outage": ([*HISTORY, Phase(60, 600, error_ratio=1.0)], None),
    "2-minute 20% blip": ([*HISTORY, Phase(2, 600, error_ratio=0.2), Phase(58, 600)], None),
    "trickle: 2 req/min, all failing": ([Phase(180, 2), Phase(60, 2, error_ratio=1.0)], None),
    "30-minute outage, clients back off to 4 req/min": ([*HISTORY, *BACK_OFF, Phase(28, 4, error_ratio=1.0), RECOVERY], 30),
    "steady 7.5-8% 5xx for 40 min (Poisson)": ([*HISTORY, *noisy(40, 600, 0.0775, seed=7), RECOVERY], 40),
    "60 s full outage": ([*HISTORY, Phase(1, 600, error_ratio=1.0), RECOVERY], 1),
    "120 s full outage": ([*HISTORY, Phase(2, 600, error_ratio=1.0), RECOVERY], 2),
    "every pod crashes 5 min into an outage, back after 20": (
        [*HISTORY, Phase(5, 600, error_ratio=1.0), Phase(20, 0, targets="down"), RECOVERY],
        25,
    ),
    "every target vanishes for 20 min": ([*HISTORY, Phase(20, 0, targets="gone"), RECOVERY], 20),
}
SCENARIOS: dict[str, list[Phase]] = {name: phases for name, (phases, _) in INCIDENTS.items()}
PAGE, TICKET = "ServiceAvailabilityBudgetBurnFast", "ServiceAvailabilityBudgetBurnSlow"
CATCH_ALL = "PlatformHighErrorRate"
DOWN = "ServiceDown"
# A service's critical alerts are one PagerDuty incident while any of them fires (Alertmanager groups
# them by namespace and service): the pages of an incident are the separate runs of their union.
CRITICAL = (PAGE, "ServiceLatencyBudgetBurnFast", CATCH_ALL, DOWN)
STEP = STEP_S  # evaluations every scrape interval, as in production
LABELS = 'namespace="orders", service="orders-api", method="GET", path="/orders/{id}", version="1.4.2"'
UP_LABELS = 'namespace="orders", service="orders-api", job="orders-api", instance="10.0.0.7:8080"'
_FAILED = re.compile(r"alertname: (\w+), time: ([0-9hms]+),")


def reference_service() -> ServiceConfig:
    """A service with every SLO and analysis setting at its default."""
    return ServiceConfig(name="orders-api", namespace="orders", port=8080, version="1.4.2", image="registry.example.com/orders-api:1.4.2")


def firing(
    groups: list[dict[str, Any]],
    phases: list[Phase],
    start_minute: float,
    alerts: list[str],
    input_series: list[dict[str, str]] | None = None,
) -> dict[str, list[float]]:
    """Minutes after `start_minute` of every evaluation at which each alert fires: one promtool run that
    expects silence at every evaluation and reports where it was not. `input_series` defaults to the
    phases' traffic for the reference service, with its `up` series."""
    end = minutes(phases)
    times = [start_minute * 60 + i * STEP for i in range(int((end - start_minute) * 60 / STEP))]
    checks = [{"eval_time": f"{t}s", "alertname": alert, "exp_alerts": []} for alert in alerts for t in times]
    spec = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{STEP}s",
        # In list order (promtool's own is a random map walk): the fleet SLO group first, as `slo_rule_groups` lists it.
        "group_eval_order": [g["name"] for g in groups],
        "tests": [
            {"interval": INPUT_INTERVAL, "input_series": input_series or series(phases, LABELS, up_labels=UP_LABELS), "alert_rule_test": checks}
        ],
    }
    promtool = engines.binary("promtool")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        (Path(tmp) / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        proc = subprocess.run([promtool, "test", "rules", "test.yaml"], capture_output=True, text=True, cwd=tmp, timeout=300)
    output = proc.stdout + proc.stderr
    # Exit 1 with "FAILED" is the answer (an alert fired where silence was expected); anything else is an error.
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and "FAILED" not in output):
        raise RuntimeError(output)
    fired: dict[str, set[float]] = {alert: set() for alert in alerts}
    for alert, when in _FAILED.findall(output):
        fired[alert].add(duration_seconds(when) / 60 - start_minute)
    return {alert: sorted(times) for alert, times in fired.items()}


def first_firing(
    groups: list[dict[str, Any]],
    phases: list[Phase],
    start_minute: float,
    alerts: list[str],
    input_series: list[dict[str, str]] | None = None,
) -> dict[str, float | None]:
    """Minutes after `start_minute` at which each alert first fires, or None."""
    return {alert: (times[0] if times else None) for alert, times in firing(groups, phases, start_minute, alerts, input_series).items()}


def runs(times: list[float]) -> list[tuple[float, float]]:
    """(first, last) minute of each uninterrupted run of evaluations in `times`."""
    out: list[tuple[float, float]] = []
    for t in times:
        if out and t - out[-1][1] <= STEP / 60 + 1e-9:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


@dataclass(frozen=True)
class Row:
    incident: str
    page: float | None  # the SLO page's first firing, minutes after the incident starts
    ticket: float | None
    catch_all: float | None
    service_down: float | None
    page_runs: int  # separate runs of the SLO page itself
    pages: int  # runs of the service's critical alerts: PagerDuty incidents
    critical_gaps: int  # evaluations between the first critical alert and recovery with none firing
    resolved: float | None  # minutes from recovery to the last critical evaluation firing, plus one


def table(
    service: ServiceConfig | None = None,
    only: Iterable[str] | None = None,
    plant: Callable[[str], str] = lambda expr: expr,
    keep_firing: bool = True,
) -> list[Row]:
    """One row per incident (`only` these) for the service's rules and the platform HTTP group, every
    expression through `plant` and, unless `keep_firing`, no alert's keep_firing_for (a test's planted
    defects)."""
    service = service or reference_service()
    http = [g for g in platform_rule_groups(AlertingConfig(), {}, gpu=False) if g["name"] == "platform.http"]
    groups = slo_rule_groups([service], "https://runbooks.example.com") + http
    groups = [
        {**g, "rules": [{k: v for k, v in {**r, "expr": plant(r["expr"])}.items() if keep_firing or k != "keep_firing_for"} for r in g["rules"]]}
        for g in groups
    ]
    rows = []
    for name in only or INCIDENTS:
        phases, recovery = INCIDENTS[name]
        start = phases[0].minutes  # every incident follows three hours of its service's normal traffic
        fired = firing(groups, phases, start, [PAGE, TICKET, *CRITICAL[1:]])
        critical = sorted({t for alert in CRITICAL for t in fired[alert]})
        pages = runs(critical)
        gaps = 0
        if pages and recovery is not None:
            inside = [t for t in critical if t < recovery]
            expected = round((recovery - pages[0][0]) * 60 / STEP)
            gaps = expected - len(inside)
        resolved = None
        if recovery is not None and critical and critical[-1] >= recovery:
            resolved = critical[-1] + STEP / 60 - recovery
        rows.append(
            Row(
                incident=name,
                page=fired[PAGE][0] if fired[PAGE] else None,
                ticket=fired[TICKET][0] if fired[TICKET] else None,
                catch_all=fired[CATCH_ALL][0] if fired[CATCH_ALL] else None,
                service_down=fired[DOWN][0] if fired[DOWN] else None,
                page_runs=len(runs(fired[PAGE])),
                pages=len(pages),
                critical_gaps=gaps,
                resolved=resolved,
            )
        )
    return rows


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} min"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| incident (99.5% availability SLO, 600 req/min) | SLO page (critical) | SLO ticket (warning) | PlatformHighErrorRate "
        "(critical) | ServiceDown (critical) | SLO page runs | pages | silent minutes | resolved after recovery |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {r.incident} | {_fmt(r.page)} | {_fmt(r.ticket)} | {_fmt(r.catch_all)} | {_fmt(r.service_down)} | {r.page_runs} | "
        f"{r.pages} | {r.critical_gaps * STEP / 60:g} | "
        f"{'n/a' if r.resolved is None else f'{r.resolved:.1f} min'} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    print(markdown(table()), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
