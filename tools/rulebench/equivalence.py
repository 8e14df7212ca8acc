"""The SLO windows the rules build from recorded tiles, against raw rate() over the same window, on the real server.

One service gets `days` of bursty traffic (incidents of 2 minutes to 6 hours, 1% to 100% of
requests failing or slow), from one pod or from pods replaced every POD_LIFETIME_S. The rules'
events are recorded over the whole history with `promtool tsdb create-blocks-from rules`, as
Prometheus would have recorded them live, and both expressions of every window are read back with
query_range over all but the first three days. The report counts the evaluations where the two
disagree on any threshold an alert compares that window with, and how far apart the two ratios are.

    python -m tools.rulebench equivalence [--days 10]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.conventions import (
    BURN_RATE_ALERTS,
    SLO_FLEET_LAG,
    SLO_FLEET_WINDOWS,
    SLO_LABEL,
    SLO_PART_LABEL,
    SLO_TILES,
    record_slo_errors,
    record_slo_events,
)
from components.lib import promql as q
from components.services.config import ServiceConfig
from components.services.rules import RECORDED_WINDOWS, fleet_rule_groups, raw_slo_ratio, scope, service_rule_groups

from . import traffic
from .backfill import openmetrics_blocks, record_events
from .server import prometheus

ORIGIN_S = 1_699_999_200  # fixed, 2h-aligned: the same bytes and the same report every run
SLOS = ("availability", "latency")
SEED = 7
# Pods replaced every 7h13m20s (a rollout or a restart), at every offset within the tiles over the run:
# each new pod's series are born (its 503 series at its first 503) and the old pod's end, inside
# tiles and windows alike.
POD_LIFETIME_S = 26_000
# Ratios under a billionth are floating-point noise around zero (no slow request in the window, say):
# relative differences are taken against this floor, far below any threshold an alert compares with.
NOISE = 1e-9
# The raw base is the same expression on both sides: only floating point may differ (latency's bad
# events are a difference of two recorded totals).
BASE_TOLERANCE = 1e-6
ATTEMPTS = 2
WINDOWS = RECORDED_WINDOWS  # every ratio built from recorded events


@dataclass(frozen=True)
class WindowReport:
    slo: str
    window: str
    points: int
    thresholds: tuple[float, ...]
    flips: int
    crossings: int  # times the raw ratio crosses one of the thresholds: how much the run tests
    max_relative_difference: float
    within_1_percent: float  # share of points
    longest_flip: int  # most consecutive evaluations decided differently: 1 is a crossing one evaluation apart
    max_threshold_share: float  # largest difference as a share of the smallest threshold: how far a decision could move


def thresholds(service: ServiceConfig, slo: str, window: str) -> tuple[float, ...]:
    """Every value an alert compares this window's ratio with."""
    objective = service.slo.availability if slo == "availability" else service.slo.latency_target
    found = {factor * (1 - objective) for _, _, _, pairs in BURN_RATE_ALERTS for factor, long, short in pairs if window in (long, short)}
    return tuple(sorted(found))


def _slo_groups(service: ServiceConfig, plant: Callable[[str], str] | None = None) -> list[dict]:
    """The service's SLO group and the fleet group of the long windows as rendered, in the order
    they read each other; `plant` rewrites every expression (to prove the comparison catches a wrong one)."""
    (group,) = [g for g in service_rule_groups(service, "https://runbooks.invalid") if g["name"].endswith(".rules")]
    groups = [group, *fleet_rule_groups()]
    if plant is not None:
        groups = [{**g, "rules": [{**r, "expr": plant(r["expr"])} for r in g["rules"]]} for g in groups]
    return groups


def _backfill(service: ServiceConfig, days: float, work: Path, pod_lifetime_s: int | None) -> Path:
    data = work / "data"
    data.mkdir()
    span = (ORIGIN_S, ORIGIN_S + int(days * traffic.DAY_S))
    # One block: a single pass over the text instead of one per 2 hours.
    openmetrics_blocks(
        [(service.namespace, service.name)],
        traffic.bursty(days, seed=SEED, pod_lifetime_s=pod_lifetime_s),
        ORIGIN_S,
        span,
        data,
        max_block="240h",
    )
    return data


def compare(
    service: ServiceConfig,
    days: float = 10,
    step_s: int = 60,
    windows: tuple[str, ...] = WINDOWS,
    plant: Callable[[str], str] | None = None,
    pod_lifetime_s: int | None = None,
) -> list[WindowReport]:
    groups = _slo_groups(service, plant)
    for _ in range(ATTEMPTS):
        with tempfile.TemporaryDirectory(prefix="slo-equivalence-") as tmp:
            work = Path(tmp)
            data = _backfill(service, days, work, pod_lifetime_s)
            for group in groups:
                record_events(group, ORIGIN_S, ORIGIN_S + int(days * traffic.DAY_S), data)
            reports = _read(service, groups, data, days, step_s, windows)
            if reports is not None:
                return reports
            print(
                f"equivalence: the recorded {SLO_TILES[0][0]} events differ from their raw expression; backfilling again", file=sys.stderr
            )
    raise RuntimeError(f"the recorded {SLO_TILES[0][0]} events differ from their own raw expression in {ATTEMPTS} backfills")


def _read(service: ServiceConfig, groups: list[dict], data: Path, days: float, step_s: int, windows: tuple[str, ...]) -> list[WindowReport] | None:
    """Both answers of every window, or None when the backfill is not what the live group would
    have recorded: the raw base window must equal its own raw expression, whatever the traffic.
    (About one backfill in six has shown recorded samples that do not; the cause is not known.)"""
    expr = {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}
    begin: float = ORIGIN_S + 3 * traffic.DAY_S + 3600  # every window full from here on
    with prometheus(data) as server:

        def stamp(series: str, at: float, back: str = "") -> float:
            selected = q.selector(series, [*scope(service), q.eq(SLO_PART_LABEL, "error")]) + (f" offset {back}" if back else "")
            (sample,) = server.get("/api/v1/query", query=f"timestamp({selected})", time=str(at))["result"]
            return float(sample["value"][1])

        # Compare at the instants each group evaluated (promtool keeps the group's hash offset, as
        # the live rule manager does), not a step off them. A fleet window ends on the service
        # group's last evaluation at least SLO_FLEET_LAG back: its raw twin ends there too.
        start = stamp(record_slo_events(SLO_TILES[0][0]), begin)
        fleet_start = stamp(record_slo_events(SLO_FLEET_WINDOWS[0]), begin)
        tile = record_slo_events(SLO_TILES[0][1], tile=True)
        fleet_lag = f"{round((fleet_start - stamp(tile, fleet_start, SLO_FLEET_LAG)) * 1000)}ms"
        end = ORIGIN_S + int(days * traffic.DAY_S) - 3600

        def report(slo: str, window: str) -> WindowReport:
            fleet = window in SLO_FLEET_WINDOWS
            first = fleet_start if fleet else start
            both = server.query_range(expr[record_slo_errors(window)], first, end, step_s)
            built = {labels: points for labels, points in both.items() if (SLO_LABEL, slo) in labels}
            raw = server.query_range(raw_slo_ratio(service, slo, window, fleet_lag if fleet else ""), first, end, step_s)
            return _report(service, slo, window, built, raw)

        if any(report(slo, SLO_TILES[0][0]).max_relative_difference > BASE_TOLERANCE for slo in SLOS):
            return None
        return [report(slo, window) for window in windows for slo in SLOS]


def _report(service: ServiceConfig, slo: str, window: str, built: dict, raw: dict) -> WindowReport:
    (series,) = raw.values()
    (rebuilt,) = built.values()
    assert [t for t, _ in series] == [t for t, _ in rebuilt], f"{slo} {window}: the two answers cover different evaluations"
    limits = thresholds(service, slo, window)
    flips, worst, close, crossings, run, longest, gap = 0, 0.0, 0, 0, 0, 0, 0.0
    previous: float | None = None
    for (_, a), (_, b) in zip(series, rebuilt, strict=True):
        flipped = any((a > limit) != (b > limit) for limit in limits)
        flips += flipped
        run = run + 1 if flipped else 0
        longest = max(longest, run)
        crossings += previous is not None and any((a > limit) != (previous > limit) for limit in limits)
        previous = a
        difference = abs(b - a) / max(abs(a), NOISE)
        worst = max(worst, difference)
        close += difference <= 0.01
        gap = max(gap, abs(b - a) / min(limits)) if limits else gap
    return WindowReport(slo, window, len(series), limits, flips, crossings, worst, close / len(series), longest, gap)


def markdown(reports: list[WindowReport]) -> str:
    lines = [
        "| SLO | window | evaluations | thresholds | raw crossings | flipped decisions (longest run) | max difference | within 1% | max difference / threshold |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in reports:
        limits = ", ".join(f"{t:g}" for t in r.thresholds) or "none"
        lines.append(
            f"| {r.slo} | {r.window} | {r.points} | {limits} | {r.crossings} | {r.flips} ({r.longest_flip}) | "
            f"{r.max_relative_difference:.1e} | {r.within_1_percent:.1%} | {r.max_threshold_share:.1e} |"
        )
    return "\n".join(lines)
