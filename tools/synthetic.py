"""Synthetic traffic as client libraries record it, for promtool unit tests and the detection benchmark.

A phase is minutes of traffic at a request rate with a share of 5xx and a share slower than the
latency objective. Series are sampled every `step` seconds like a scrape. As prometheus_client does,
the `status="500"` series appears only at the first error, and bucket bounds are written as
Prometheus 3 stores them (`le="1.0"`).

Scrapes land half a step after the rule evaluations, as they do on a server, where each target's
scrape offset and each group's evaluation offset are hashed apart: promtool starts both at zero,
and a sample exactly on a window's left edge is one no live range query sees twice (Prometheus
2's ranges include that edge, Prometheus 3's do not). The input series are therefore written on a
grid of half a step (INPUT_INTERVAL), every other point missing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from components.lib import promql as q

STEP_S = 30
# promtool's `interval` for these series: scrapes every STEP_S, half a step off the evaluations.
INPUT_INTERVAL = f"{STEP_S // 2}s"


# The service's scrape targets during a phase: scraped (`up` 1), every pod crashed but still a target
# (`up` 0: a failed scrape marks the pod's series stale), or every target gone (pods deleted or
# evicted: `up` itself goes stale). Pods that come back are new processes: counters from zero, and the
# `status="500"` series again only at their first error.
Targets = Literal["up", "down", "gone"]


@dataclass(frozen=True)
class Phase:
    minutes: float
    rpm: float
    error_ratio: float = 0.0
    slow_ratio: float = 0.0
    targets: Targets = "up"


def noisy(minutes: float, rpm: float, error_ratio: float, seed: int) -> list[Phase]:
    """A steady error ratio as real traffic has it: each scrape interval's requests and errors drawn
    (Poisson arrivals, each failing independently), so the short windows wander around the mean."""
    rng = random.Random(seed)
    phases = []
    for _ in range(round(minutes * 60 / STEP_S)):
        mean = rpm * STEP_S / 60
        n = max(0, round(rng.gauss(mean, mean**0.5)))
        errors = sum(rng.random() < error_ratio for _ in range(n))
        phases.append(Phase(STEP_S / 60, n * 60 / STEP_S, error_ratio=errors / n if n else 0.0))
    return phases


def _values(samples: list[float | str | None]) -> str:
    """Each scrape's value on the half-step grid: nothing at the evaluation instants, the scrape between
    them (`stale` is a staleness marker, None no sample)."""
    return " ".join(f"_ {'_' if v is None else (v if isinstance(v, str) else f'{v:g}')}" for v in samples)


def series(
    phases: list[Phase],
    labels: str,
    latency_seconds: float = 0.5,
    requests_metric: str = "http_requests_total",
    duration_metric: str = "http_request_duration_seconds",
    up_labels: str | None = None,
) -> list[dict[str, str]]:
    """promtool `input_series` for these phases, at INPUT_INTERVAL; `labels` is the inner label list of
    every series, `up_labels` (when given) that of the target's `up` series."""
    ok: list[float | str | None] = []
    errors: list[float | str | None] = []
    fast_ok: list[float | str | None] = []
    fast_errors: list[float | str | None] = []
    up: list[float | str | None] = []
    n_ok = n_err = n_fast_ok = n_fast_err = 0.0
    seen_error = False
    previous: Targets = "up"
    for phase in phases:
        per_step = phase.rpm * STEP_S / 60
        for _ in range(round(phase.minutes * 60 / STEP_S)):
            if phase.targets != "up":
                # The first failed scrape writes stale markers; then there is nothing.
                mark: str | None = "stale" if previous == "up" else None
                for values in (ok, errors, fast_ok, fast_errors):
                    born = values is errors or values is fast_errors
                    values.append(mark if not born or seen_error else None)
                up.append(0 if phase.targets == "down" else ("stale" if previous != "gone" else None))
                previous = phase.targets
                continue
            if previous != "up":  # a new pod: its counters start from zero
                n_ok = n_err = n_fast_ok = n_fast_err = 0.0
                seen_error = False
            previous = "up"
            n_err += per_step * phase.error_ratio
            n_ok += per_step * (1 - phase.error_ratio)
            n_fast_ok += per_step * (1 - phase.error_ratio) * (1 - phase.slow_ratio)
            n_fast_err += per_step * phase.error_ratio * (1 - phase.slow_ratio)
            seen_error = seen_error or phase.error_ratio > 0
            ok.append(n_ok)
            errors.append(n_err if seen_error else None)
            fast_ok.append(n_fast_ok)
            fast_errors.append(n_fast_err if seen_error else None)
            up.append(1)
    # Every series of a status, as client libraries expose it: the 500 series (counter and
    # histogram alike) exist from the first error on.
    bucket = f"{duration_metric}_bucket"
    out = []
    for status, answered, fast in (("200", ok, fast_ok), ("500", errors, fast_errors)):
        out += [
            {"series": f'{requests_metric}{{{labels}, status="{status}"}}', "values": _values(answered)},
            {"series": f'{bucket}{{{labels}, status="{status}", le="{q.le(latency_seconds)}"}}', "values": _values(fast)},
            {"series": f'{bucket}{{{labels}, status="{status}", le="+Inf"}}', "values": _values(answered)},
            {"series": f'{duration_metric}_count{{{labels}, status="{status}"}}', "values": _values(answered)},
        ]
    if up_labels is not None:
        out.append({"series": f"up{{{up_labels}}}", "values": _values(up)})
    return out


def minutes(phases: list[Phase]) -> float:
    return sum(p.minutes for p in phases)
