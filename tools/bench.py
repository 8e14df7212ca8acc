"""Benchmark: the whole program under mocks against a bare-SDK baseline.

For 10, 100 and 500 services (the dev stack's service fleet repeated), time `__main__.py` under
the mock runtime and a baseline program that registers the same number of plain resources with
nothing else: no config validation, no components, no rendering of values. The ratio is what
this program costs on top of the Pulumi SDK itself.

    python -m tools.bench [--repeat 3] [--sizes 10,100,500]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi  # noqa: E402

from components.conventions import PROJECT  # noqa: E402
from tools.mockrun import load_stack_file, run_program, with_redacted_secrets  # noqa: E402


def fleet_config(services: int) -> tuple[dict[str, str], set[str]]:
    """The dev stack with `services` services, cloned from its fleet with unique names."""
    config, secret_keys = with_redacted_secrets(*load_stack_file("dev"))
    template = json.loads(config[f"{PROJECT}:services"])
    fleet = []
    for index in range(services):
        service = copy.deepcopy(template[index % len(template)])
        service["name"] = f"{service['name'][:50]}-{index:04d}"
        fleet.append(service)
    config[f"{PROJECT}:services"] = json.dumps(fleet)
    return config, secret_keys


def _timed(action: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def _program(config: dict[str, Any], secret_keys: set[str]) -> int:
    return len(run_program(config, secret_keys, stack="dev").registrations)


def bench(sizes: list[int], repeat: int) -> list[tuple[int, int, float, float]]:
    rows = []
    # Warm-up: module imports and first-call caches are start-up cost, not per-run cost.
    run_program(*fleet_config(1), stack="dev")
    for size in sizes:
        config, secret_keys = fleet_config(size)
        program_s, resources = _timed(functools.partial(_program, config, secret_keys), repeat)

        def baseline(resources: int = resources) -> int:
            def plain() -> None:
                for index in range(resources):
                    pulumi.CustomResource("bench:index:Plain", f"plain-{index}", {"index": index})

            return len(run_program({}, set(), stack="dev", program=plain).registrations)

        baseline_s, baseline_resources = _timed(baseline, repeat)
        assert baseline_resources == resources, (baseline_resources, resources)
        rows.append((size, resources, program_s, baseline_s))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--sizes", default="10,100,500", help="comma-separated service counts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = bench(sizes, args.repeat)
    print(f"{'services':>8}  {'resources':>9}  {'program s':>10}  {'baseline s':>10}  {'ratio':>6}")
    for size, resources, program_s, baseline_s in rows:
        print(f"{size:>8}  {resources:>9}  {program_s:>10.3f}  {baseline_s:>10.3f}  {program_s / baseline_s:>6.2f}")
    size, _, program_s, baseline_s = rows[-1]
    print(f"overhead ratio at {size} services: {program_s / baseline_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
