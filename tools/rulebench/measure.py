"""Rule evaluation cost on Debian's Prometheus: N services' rule groups over a backfilled history.

The rule groups are rendered by a project checkout (this one, or an older one given as
`--project`, for the "before" column), so both columns run exactly what each version ships.
Prometheus evaluates them every 30s; after a warm-up cycle the script reads, for three cycles,
`prometheus_rule_group_last_duration_seconds` of every group, and at the end missed iterations
and resident memory. Groups run concurrently, so on a machine with fewer cores than busy groups
the durations include waiting for a core: the sum is what one core would spend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from .backfill import service_configs
from .server import Server, prometheus

CYCLE_S = 30
# Rendered in the project's own interpreter and checkout, so an older commit renders its own rules.
RENDER = """
import json, sys
from components.services.config import ServiceConfig
from components.services.rules import service_rule_groups
try:  # the long windows of every service in one group, since 2026-12-07
    from components.services.rules import fleet_rule_groups
    groups = fleet_rule_groups()
except ImportError:
    groups = []
for entry in json.loads(sys.argv[1]):
    groups += service_rule_groups(ServiceConfig.model_validate(entry), "https://runbooks.example.com")
print(json.dumps(groups))
"""


@dataclass(frozen=True)
class Result:
    services: int
    groups: int
    rules: int
    ms_per_service: float  # rule evaluation per service per 30s cycle, every group summed
    slowest_group_ms: float
    missed_iterations: int
    rss_mib: float
    # ms per service per cycle of each rule, keyed by its position in the group and its name: where the time goes.
    by_rule: dict[str, float]

    @property
    def cycle_share(self) -> float:
        return self.ms_per_service * self.services / (CYCLE_S * 1000)


def render_rules(services: int, project: Path, out: Path) -> tuple[int, int]:
    entries = json.dumps(service_configs(services))
    proc = subprocess.run([sys.executable, "-c", RENDER, entries], cwd=project, capture_output=True, text=True, check=True, timeout=600)
    groups = json.loads(proc.stdout)
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return len(groups), sum(len(g["rules"]) for g in groups)


def _samples(text: str, metric: str) -> dict[str, float]:
    """{labels as JSON: value} of one sample name in the server's exposition text."""
    return {
        json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric
    }


def _rule_times(server_rules: Any, file: str) -> dict[str, float]:
    """Seconds each rule of `file` took at its group's last evaluation, summed over groups by position and name."""
    times: dict[str, float] = {}
    for group in (g for g in server_rules["groups"] if g["file"] == file):
        for index, rule in enumerate(group["rules"]):
            key = f"{index:02d} {rule['name']}"
            times[key] = times.get(key, 0.0) + float(rule["evaluationTime"])
    return times


class Cycles:
    """What each evaluation cycle measured, per rule file: group durations and each rule's time."""

    def __init__(self, files: dict[str, Path]):
        self.files = files
        self.durations: dict[str, list[float]] = {}
        self.rule_times: dict[str, dict[str, float]] = {label: {} for label in files}
        self.seen = 0

    def record(self, server: Server, text: str) -> None:
        for group, seconds in _samples(text, "prometheus_rule_group_last_duration_seconds").items():
            self.durations.setdefault(group, []).append(seconds)
        rules = server.get("/api/v1/rules")
        for label, file in self.files.items():
            for rule, seconds in _rule_times(rules, str(file)).items():
                self.rule_times[label][rule] = self.rule_times[label].get(rule, 0.0) + seconds
        self.seen += 1

    def results(self, services: int, counts: dict[str, tuple[int, int]], text: str) -> dict[str, Result]:
        """Each rule set's figures; `text` is the server's metrics at the end (missed iterations, memory)."""
        missed = _samples(text, "prometheus_rule_group_iterations_missed_total")
        rss = _samples(text, "process_resident_memory_bytes")["{}"] / 2**20
        results = {}
        for label, file in self.files.items():

            def of_file(samples: dict[str, Any], prefix: str = f"{file};") -> dict[str, Any]:
                return {k: v for k, v in samples.items() if json.loads(k)["rule_group"].startswith(prefix)}

            means = [sum(values) / len(values) for values in of_file(self.durations).values()]
            results[label] = Result(
                services=services,
                groups=counts[label][0],
                rules=counts[label][1],
                ms_per_service=1000 * sum(means) / services,
                slowest_group_ms=1000 * max(means),
                missed_iterations=int(sum(of_file(missed).values())),
                rss_mib=rss,
                by_rule={rule: 1000 * seconds / self.seen / services for rule, seconds in sorted(self.rule_times[label].items())},
            )
        return results


def measure(data: Path, services: int, projects: dict[str, Path], cycles: int = 3, warmup: int = 1) -> dict[str, Result]:
    """Each project's rule groups, all loaded in one server and evaluated side by side, so they share
    whatever else the machine is doing (its speed varies from run to run by a third): compare the
    columns of one run, not of two. Resident memory is the server's, all sets together."""
    files = {label: data.parent / f"rules-{label}-{services}.yml" for label in projects}
    counts = {label: render_rules(services, project, files[label]) for label, project in projects.items()}
    total_groups = sum(groups for groups, _ in counts.values())
    measured = Cycles(files)
    with prometheus(data, list(files.values()), timeout_s=600) as server:
        deadline = time.monotonic() + (cycles + warmup) * 4 * CYCLE_S * len(projects) + 120  # groups that miss iterations run less often
        while measured.seen < cycles:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{services} services: fewer than {cycles} measured cycles in time")
            text = server.metrics()
            iterations = _samples(text, "prometheus_rule_group_iterations_total")
            if len(iterations) == total_groups and min(iterations.values()) >= warmup + measured.seen + 1:
                measured.record(server, text)
            time.sleep(2)
        text = server.metrics()
    return measured.results(services, counts, text)
