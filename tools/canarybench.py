"""How often the canary analysis aborts a good canary, and how fast it fails a bad one: a simulation.

    python -m tools.canarybench [--rollouts 20000]

Each simulated rollout follows the default steps (setWeight 10, pause 60s, analysis, setWeight 50,
pause 60s, analysis; 5 measurements a minute apart per analysis) with the canary receiving Poisson
traffic at a fixed rate from the moment its pods start. Each request fails, or is slower than the
analysis's p95 bound, independently. Argo Rollouts' rules decide each AnalysisRun: a metric fails
once its failed measurements exceed `failureLimit`, is Inconclusive once its inconclusive ones exceed
`inconclusiveLimit` (the rollout pauses for a human), and a failed run aborts the rollout.

Two decisions are compared, both with the program's own numbers (`components/services/canary.py`):
`ratio`, what the analysis did before (the 5xx ratio and the p95 over the last 2 minutes against the
threshold, failureLimit 1), and `sprt`, what it does now (a sequential probability ratio test on
the counts since the canary started, failureLimit 0, Inconclusive below minRequests).

Canaries: one exactly as good as the SLO (0.5% 5xx, 1% of requests slower than the p95 bound), one
with 5% 5xx, one whose p95 is 0.5 s (log-normal latencies, sigma 1: 12.8% slower than the 0.3 s
bound; a wider spread is the harder case).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.lib.types import duration_seconds  # noqa: E402
from components.services.canary import Sprt, error_test, latency_test  # noqa: E402
from components.services.config import ServiceConfig  # noqa: E402
from tools.detection import reference_service  # noqa: E402

RATIO_WINDOW_S = 120  # the old decision's 2m window
SIGMA = 1.0  # log-normal spread of the slow canary's latencies


@dataclass(frozen=True)
class Canary:
    name: str
    error_share: float
    slow_share: float  # share slower than analysis.latencyP95Seconds


def canaries(service: ServiceConfig) -> list[Canary]:
    bound = service.analysis.latency_p95_seconds
    median = 0.5 / math.exp(1.6448536 * SIGMA)  # p95 of 0.5 s
    slow = 0.5 * math.erfc(math.log(bound / median) / SIGMA / math.sqrt(2))
    return [
        Canary("as good as the SLO", 1 - service.slo.availability, 1 - service.slo.latency_target),
        Canary("5% 5xx", 0.05, 1 - service.slo.latency_target),
        Canary("p95 of 0.5 s", 1 - service.slo.availability, slow),
    ]


@dataclass(frozen=True)
class Outcome:
    aborted: float  # share of rollouts aborted
    aborted_early: float  # aborted within two intervals of the first analysis starting
    paused: float  # share paused by an Inconclusive run (and not aborted)


def _schedule(service: ServiceConfig) -> list[list[int]]:
    """Measurement times (seconds since the canary's pods started) of each inline analysis step."""
    interval = int(duration_seconds(service.analysis.interval))
    t, runs = 0, []
    for step in service.canary.steps:
        if step.pause is not None:
            t += int(duration_seconds(step.pause))
        elif step.analysis:
            runs.append([t + i * interval for i in range(service.analysis.count)])
            t += (service.analysis.count - 1) * interval
    return runs


def simulate(service: ServiceConfig, canary: Canary, rps: float, decision: str, rollouts: int, seed: int = 1) -> Outcome:
    a = service.analysis
    runs = _schedule(service)
    end = runs[-1][-1] + 1
    rng = np.random.default_rng(seed)
    requests = rng.poisson(rps, size=(rollouts, end))
    errors = rng.binomial(requests, canary.error_share)
    slow = rng.binomial(requests, canary.slow_share)
    cum = [np.cumsum(x, axis=1) for x in (requests, errors, slow)]
    tests: list[tuple[Sprt, int]] = [(error_test(service), 1), (latency_test(service), 2)]
    first_deadline = runs[0][0] + 2 * int(duration_seconds(a.interval))
    aborted = np.zeros(rollouts, dtype=bool)
    early = np.zeros(rollouts, dtype=bool)
    paused = np.zeros(rollouts, dtype=bool)
    for times in runs:
        run_failed = np.zeros(rollouts, dtype=bool)
        run_inconclusive = np.zeros(rollouts, dtype=bool)
        for test, bad_index in tests:
            failed = np.zeros(rollouts, dtype=int)
            inconclusive = np.zeros(rollouts, dtype=int)
            limit = a.failure_limit if decision == "sprt" else 1
            for t in times:
                n_all, k_all = cum[0][:, t], cum[bad_index][:, t]
                if decision == "sprt":
                    known = n_all >= a.min_requests
                    bad = known & (test.llr(n_all, k_all) >= test.limit)
                else:
                    since = max(0, t - RATIO_WINDOW_S)
                    n = n_all - (cum[0][:, since] if t > RATIO_WINDOW_S else 0)
                    k = k_all - (cum[bad_index][:, since] if t > RATIO_WINDOW_S else 0)
                    known = n > 0
                    threshold = a.error_ratio if bad_index == 1 else 0.05  # p95 above the bound: over 5% slower
                    bad = known & (k >= threshold * np.maximum(n, 1))
                failed += bad
                inconclusive += ~known
                newly = (failed > limit) & ~aborted & ~run_failed
                if t <= first_deadline:
                    early |= newly
                run_failed |= failed > limit
            run_inconclusive |= inconclusive > a.inconclusive_limit
        paused |= run_inconclusive & ~run_failed & ~aborted
        aborted |= run_failed & ~paused
    return Outcome(float(aborted.mean()), float(early.mean()), float((paused & ~aborted).mean()))


def table(rollouts: int, rates: tuple[float, ...] = (0.2, 1.0, 5.0)) -> str:
    service = reference_service()
    lines = [
        "| canary | canary traffic | decision | aborted | aborted within 2 intervals | paused (Inconclusive) |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for canary in canaries(service):
        for rps in rates:
            for decision in ("ratio", "sprt"):
                o = simulate(service, canary, rps, decision, rollouts)
                lines.append(
                    f"| {canary.name} | {rps:g} req/s | {decision} | {o.aborted:.1%} | {o.aborted_early:.1%} | {o.paused:.1%} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=20000)
    args = parser.parse_args(argv)
    print(f"{args.rollouts} simulated rollouts per row\n")
    print(table(args.rollouts), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
