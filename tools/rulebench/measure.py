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
from .server import prometheus

CYCLE_S = 30
# Rendered in the project's own interpreter and checkout, so an older commit renders its own rules.
RENDER = """
import json, sys
from components.services.config import ServiceConfig
from components.services.rules import service_rule_groups
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


def _rule_times(server_rules: Any) -> dict[str, float]:
    """Seconds each rule took at its group's last evaluation, summed over groups by position and name."""
    times: dict[str, float] = {}
    for group in server_rules["groups"]:
        for index, rule in enumerate(group["rules"]):
            key = f"{index:02d} {rule['name']}"
            times[key] = times.get(key, 0.0) + float(rule["evaluationTime"])
    return times


def measure(data: Path, services: int, project: Path, cycles: int = 3, warmup: int = 1) -> Result:
    rule_file = data.parent / f"rules-{services}.yml"
    groups, rules = render_rules(services, project, rule_file)
    durations: dict[str, list[float]] = {}
    rule_times: dict[str, float] = {}
    with prometheus(data, [rule_file], timeout_s=600) as server:
        deadline = time.monotonic() + (cycles + warmup) * 4 * CYCLE_S + 120  # groups that miss iterations run less often
        seen = 0
        while seen < cycles:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{services} services: fewer than {cycles} measured cycles in time")
            text = server.metrics()
            iterations = _samples(text, "prometheus_rule_group_iterations_total")
            if len(iterations) == groups and min(iterations.values()) >= warmup + seen + 1:
                for group, seconds in _samples(text, "prometheus_rule_group_last_duration_seconds").items():
                    durations.setdefault(group, []).append(seconds)
                for rule, seconds in _rule_times(server.get("/api/v1/rules")).items():
                    rule_times[rule] = rule_times.get(rule, 0.0) + seconds
                seen += 1
            time.sleep(2)
        text = server.metrics()
    means = {group: sum(values) / len(values) for group, values in durations.items()}
    return Result(
        services=services,
        groups=groups,
        rules=rules,
        ms_per_service=1000 * sum(means.values()) / services,
        slowest_group_ms=1000 * max(means.values()),
        missed_iterations=int(sum(_samples(text, "prometheus_rule_group_iterations_missed_total").values())),
        rss_mib=_samples(text, "process_resident_memory_bytes")["{}"] / 2**20,
        by_rule={rule: 1000 * seconds / cycles / services for rule, seconds in sorted(rule_times.items())},
    )
