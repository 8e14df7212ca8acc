"""Raw history for the benchmark: N services' traffic written in 2-hour slices, one TSDB block each.

A slice holds every service for two hours, so blocks never overlap and no text file is larger than
one slice (about 11 GB for 200 services). Two slices are written at a time, one per core.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from components.conventions import record_slo_events

from .. import engines
from . import traffic
from .server import prometheus

BLOCK_S = 7200
NAMESPACE = "bench"


def service_names(count: int) -> list[tuple[str, str]]:
    return [(NAMESPACE, f"svc-{index:04d}") for index in range(count)]


@dataclass(frozen=True)
class History:
    services: int
    start_s: int  # the first slice; counters count from here
    end_s: int  # exclusive; past the measurement runs, so every window ending "now" is full

    @property
    def slices(self) -> list[int]:
        return list(range(self.start_s, self.end_s, BLOCK_S))

    def save(self, directory: Path) -> None:
        (directory / "history.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> History:
        return cls(**json.loads((directory / "history.json").read_text()))


def plan(services: int, days: float, ahead_hours: float, now_s: int | None = None) -> History:
    now_s = int(time.time()) if now_s is None else now_s
    start = (now_s - int(days * 86400)) // BLOCK_S * BLOCK_S
    end = -(-(now_s + int(ahead_hours * 3600)) // BLOCK_S) * BLOCK_S
    return History(services, start, end)


def openmetrics_blocks(
    services: list[tuple[str, str]], profile: traffic.Profile, origin_s: int, span: tuple[int, int], blocks: Path, max_block: str = "2h"
) -> None:
    """Traffic over span [start, end) as OpenMetrics text beside `blocks`, turned into TSDB blocks
    there by promtool (blocks of at most `max_block`), the text removed whatever happens."""
    text = blocks.parent / f"{blocks.name}-{span[0]}.om"
    try:
        with text.open("w") as out:
            traffic.write(out, services, profile, origin_s, *span)
        subprocess.run(
            [
                engines.binary("promtool"),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                f"--max-block-duration={max_block}",
                str(text),
                str(blocks),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=3600,
        )
    finally:
        text.unlink(missing_ok=True)


def _slice(history: History, start_s: int, blocks: Path) -> tuple[int, float]:
    began = time.monotonic()
    profile = traffic.periodic((history.end_s - history.start_s) / traffic.DAY_S)
    openmetrics_blocks(service_names(history.services), profile, history.start_s, (start_s, start_s + BLOCK_S), blocks)
    return start_s, time.monotonic() - began


def write_history(history: History, directory: Path, workers: int = 2) -> None:
    blocks = directory / "raw"
    blocks.mkdir(parents=True, exist_ok=True)
    history.save(directory)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_slice, history, start, blocks) for start in history.slices]
        for done, future in enumerate(futures, 1):
            start, seconds = future.result()
            print(f"slice {done}/{len(futures)} at {start}: {seconds:.0f}s", flush=True)


def _runs(rules: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rules in order, cut wherever a rule reads a series recorded earlier in the same run:
    promtool evaluates a run's rules over raw history only, so such a rule needs a run of its own."""
    runs: list[list[dict[str, Any]]] = [[]]
    for rule in rules:
        if any(re.search(rf"\b{re.escape(r['record'])}\b", rule["expr"]) for r in runs[-1]):
            runs.append([])
        runs[-1].append(rule)
    return runs


def record_events(group: dict[str, Any], start_s: int, end_s: int, data: Path, skip: Collection[str] = ()) -> None:
    """The SLO group's recorded events over [start_s, end_s), as Prometheus would have recorded
    them live, with `promtool tsdb create-blocks-from rules`. promtool cannot backfill a rule that
    reads another rule of the same run, so the rules run in as many passes as that takes, each on a
    server restarted over the blocks of the passes before."""
    events = [r for r in group["rules"] if r.get("record", "").startswith(record_slo_events("")) and r["record"] not in skip]
    for run in _runs(events):
        rules = {"groups": [{**group, "rules": run}]}
        # One path for every level: the evaluation offset within the interval hashes the group's
        # file and name, and the tiles must land on the same instants, as in the live group.
        path = data.parent / f"{data.name}-recorded.yml"
        path.write_text(yaml.safe_dump(rules))
        # Blocks land beside the data, not in it, while the server runs: it would load and compact
        # them under the importer's feet.
        staging = data.parent / f"{data.name}-staging"
        shutil.rmtree(staging, ignore_errors=True)
        with prometheus(data) as server:
            subprocess.run(
                [
                    engines.binary("promtool"), "tsdb", "create-blocks-from", "rules", "--quiet",
                    f"--url={server.url}", f"--start={start_s}", f"--end={end_s}", f"--output-dir={staging}", str(path),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=7200,
            )  # fmt: skip
        for block in staging.iterdir():
            block.rename(data / block.name)
        staging.rmdir()


def service_configs(count: int) -> list[dict[str, Any]]:
    """The `services` entries of the benchmark's services, as a stack file would give them."""
    return [
        {"name": name, "namespace": namespace, "port": 8080, "image": "registry.example.com/bench:1.4.2", "version": "1.4.2"}
        for namespace, name in service_names(count)
    ]


def slo_groups() -> list[dict[str, Any]]:
    """What records the tiles for every benchmark service, in the order they read each other: one
    service's SLO group with its matcher widened to every benchmark service (the recorded series are
    the same, per service, in one promtool rule instead of one per service: promtool writes a block
    per rule and 2 hours), then the platform's fleet group of the long windows."""
    from components.services.rules import fleet_rule_groups

    return [_wide_service_group(), *fleet_rule_groups()]


def _wide_service_group() -> dict[str, Any]:
    from components.services.config import ServiceConfig
    from components.services.rules import service_rule_groups

    service = ServiceConfig.model_validate(service_configs(1)[0])
    name = service.name
    (group,) = [g for g in service_rule_groups(service, "https://runbooks.example.com") if g["name"].endswith(".rules")]
    wide = 'service=~"svc-[0-9]{4}"'
    return {**group, "rules": [{**r, "expr": re.sub(f'service="{name}"', wide, r["expr"])} for r in group["rules"]]}


def link_blocks(source: Path, target: Path, since_ms: int = 0) -> None:
    """`target` as a TSDB of `source`'s blocks starting at or after `since_ms`, as hard links: the
    blocks are never rewritten in place, so `source` is untouched whatever a server does to `target`."""
    target.mkdir(parents=True)
    for block in sorted(p for p in source.iterdir() if (p / "meta.json").exists()):
        if json.loads((block / "meta.json").read_text())["minTime"] >= since_ms:
            subprocess.run(["cp", "-al", str(block), str(target / block.name)], check=True, timeout=600)


def keep_last(source: Path, target: Path, days: float) -> None:
    """A second TSDB with only the blocks of the last `days` (before any compaction)."""
    link_blocks(source, target, (int(time.time()) - int(days * 86400)) // BLOCK_S * BLOCK_S * 1000)


def compact(data: Path, timeout_s: float = 3600, quiet_s: float = 150) -> int:
    """Let Prometheus compact the backfilled blocks as it would on its own, before anything is
    measured on them; returns the blocks left. Done when nothing has changed for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    watched = ("prometheus_tsdb_blocks_loaded", "prometheus_tsdb_compactions_total", "prometheus_tsdb_vertical_compactions_total")
    with prometheus(data, timeout_s=600) as server:
        last, since = "", time.monotonic()
        while time.monotonic() - since < quiet_s:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{data}: compaction still running after {timeout_s}s")
            state = " ".join(line for line in server.metrics().splitlines() if line.startswith(watched))
            if state != last:
                last, since = state, time.monotonic()
            time.sleep(5)
    return len([p for p in data.iterdir() if (p / "meta.json").exists()])
