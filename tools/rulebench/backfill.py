"""Raw history for the benchmark: N services' traffic written in 2-hour slices, one TSDB block each.

A slice holds every service for two hours, so blocks never overlap and no text file is larger than
one slice (about 11 GB for 200 services). Two slices are written at a time, one per core.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from . import traffic

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


def _slice(history: History, start_s: int, blocks: Path, scratch: Path) -> tuple[int, float]:
    began = time.monotonic()
    text = scratch / f"slice-{start_s}.om"
    try:
        with text.open("w") as out:
            profile = traffic.periodic((history.end_s - history.start_s) / traffic.DAY_S)
            traffic.write(out, service_names(history.services), profile, history.start_s, start_s, start_s + BLOCK_S)
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(text), str(blocks)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=3600,
        )
    finally:
        text.unlink(missing_ok=True)
    return start_s, time.monotonic() - began


def write_history(history: History, directory: Path, workers: int = 2) -> None:
    blocks, scratch = directory / "raw", directory / "scratch"
    blocks.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(exist_ok=True)
    history.save(directory)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_slice, history, start, blocks, scratch) for start in history.slices]
        for done, future in enumerate(futures, 1):
            start, seconds = future.result()
            print(f"slice {done}/{len(futures)} at {start}: {seconds:.0f}s", flush=True)
    scratch.rmdir()
