"""Detection times of the SLO alerts, measured on Prometheus' own rule engine (promtool).

    python -m tools.detection        (make detection)

For the default SLO (99.5% availability) and a service's rendered rules, each scenario starts with
three hours of healthy traffic, then the incident. The table gives the minutes from the start of the
incident to the first evaluation at which each alert fires (30s scrapes and evaluations, as in
production), or "never" within the hour after it. Targets: a sustained 20% burst pages within 5
minutes; a 2-minute blip and a trickle of errors on a low-traffic service never page.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.lib.types import duration_seconds  # noqa: E402
from components.metrics.config import AlertingConfig  # noqa: E402
from components.metrics.rules import platform_rule_groups  # noqa: E402
from components.services.config import ServiceConfig  # noqa: E402
from components.services.rules import service_rule_groups  # noqa: E402
from tools import engines  # noqa: E402
from tools.synthetic import INPUT_INTERVAL, STEP_S, Phase, minutes, series  # noqa: E402

HISTORY = [Phase(180, 600)]
SCENARIOS: dict[str, list[Phase]] = {
    "20% 5xx burst": [*HISTORY, Phase(60, 600, error_ratio=0.2)],
    "100% outage": [*HISTORY, Phase(60, 600, error_ratio=1.0)],
    "2-minute 20% blip": [*HISTORY, Phase(2, 600, error_ratio=0.2), Phase(58, 600)],
    "trickle: 2 req/min, all failing": [Phase(180, 2), Phase(60, 2, error_ratio=1.0)],
}
PAGE, TICKET = "ServiceAvailabilityBudgetBurnFast", "ServiceAvailabilityBudgetBurnSlow"
CATCH_ALL = "PlatformHighErrorRate"
STEP = STEP_S  # evaluations every scrape interval, as in production
LABELS = 'namespace="orders", service="orders-api", method="GET", path="/orders/{id}", version="1.4.2"'
_FAILED = re.compile(r"alertname: (\w+), time: ([0-9hms]+),")


def reference_service() -> ServiceConfig:
    """A service with every SLO and analysis setting at its default."""
    return ServiceConfig(name="orders-api", namespace="orders", port=8080, version="1.4.2", image="registry.example.com/orders-api:1.4.2")


def first_firing(
    groups: list[dict[str, Any]],
    phases: list[Phase],
    start_minute: float,
    alerts: list[str],
    input_series: list[dict[str, str]] | None = None,
) -> dict[str, float | None]:
    """Minutes after `start_minute` at which each alert first fires, or None: one promtool run that
    expects silence at every evaluation and reports where it was not. `input_series` defaults to the
    phases' traffic for the reference service."""
    end = minutes(phases)
    times = [start_minute * 60 + i * STEP for i in range(int((end - start_minute) * 60 / STEP))]
    checks = [{"eval_time": f"{t}s", "alertname": alert, "exp_alerts": []} for alert in alerts for t in times]
    spec = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{STEP}s",
        "tests": [{"interval": INPUT_INTERVAL, "input_series": input_series or series(phases, LABELS), "alert_rule_test": checks}],
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
    fired: dict[str, float | None] = {alert: None for alert in alerts}
    for alert, when in _FAILED.findall(output):
        at = (duration_seconds(when) / 60) - start_minute
        if fired[alert] is None or at < fired[alert]:  # type: ignore[operator]
            fired[alert] = at
    return fired


Row = tuple[str, float | None, float | None, float | None]


def table(service: ServiceConfig | None = None) -> list[Row]:
    """(incident, page, ticket, platform catch-all) minutes for the service's rules and the platform HTTP group."""
    service = service or reference_service()
    http = [g for g in platform_rule_groups(AlertingConfig(), {}, gpu=False) if g["name"] == "platform.http"]
    groups = service_rule_groups(service, "https://runbooks.example.com") + http
    start = HISTORY[0].minutes
    rows = []
    for name, phases in SCENARIOS.items():
        fired = first_firing(groups, phases, start, [PAGE, TICKET, CATCH_ALL])
        rows.append((name, fired[PAGE], fired[TICKET], fired[CATCH_ALL]))
    return rows


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} min"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| incident (99.5% availability SLO, 600 req/min) | SLO page (critical) | SLO ticket (warning) | PlatformHighErrorRate (critical) |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {_fmt(page)} | {_fmt(ticket)} | {_fmt(catch_all)} |" for name, page, ticket, catch_all in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    print(markdown(table()), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
