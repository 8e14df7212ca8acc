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

from dataclasses import dataclass

from components.lib import promql as q

STEP_S = 30
# promtool's `interval` for these series: scrapes every STEP_S, half a step off the evaluations.
INPUT_INTERVAL = f"{STEP_S // 2}s"


@dataclass(frozen=True)
class Phase:
    minutes: float
    rpm: float
    error_ratio: float = 0.0
    slow_ratio: float = 0.0


def _values(samples: list[float | None]) -> str:
    """Each scrape's value on the half-step grid: nothing at the evaluation instants, the scrape between them."""
    return " ".join(f"_ {'_' if v is None else f'{v:g}'}" for v in samples)


def series(
    phases: list[Phase],
    labels: str,
    latency_seconds: float = 0.5,
    requests_metric: str = "http_requests_total",
    duration_metric: str = "http_request_duration_seconds",
) -> list[dict[str, str]]:
    """promtool `input_series` for these phases, at INPUT_INTERVAL; `labels` is the inner label list of every series."""
    ok: list[float | None] = []
    errors: list[float | None] = []
    fast: list[float | None] = []
    total: list[float | None] = []
    n_ok = n_err = n_fast = n_total = 0.0
    seen_error = False
    for phase in phases:
        per_step = phase.rpm * STEP_S / 60
        for _ in range(round(phase.minutes * 60 / STEP_S)):
            n_total += per_step
            n_err += per_step * phase.error_ratio
            n_ok += per_step * (1 - phase.error_ratio)
            n_fast += per_step * (1 - phase.slow_ratio)
            seen_error = seen_error or phase.error_ratio > 0
            ok.append(n_ok)
            errors.append(n_err if seen_error else None)
            fast.append(n_fast)
            total.append(n_total)
    bucket = f"{duration_metric}_bucket"
    return [
        {"series": f'{requests_metric}{{{labels}, status="200"}}', "values": _values(ok)},
        {"series": f'{requests_metric}{{{labels}, status="500"}}', "values": _values(errors)},
        {"series": f'{bucket}{{{labels}, le="{q.le(latency_seconds)}"}}', "values": _values(fast)},
        {"series": f'{bucket}{{{labels}, le="+Inf"}}', "values": _values(total)},
        {"series": f"{duration_metric}_count{{{labels}}}", "values": _values(total)},
    ]


def minutes(phases: list[Phase]) -> float:
    return sum(p.minutes for p in phases)
