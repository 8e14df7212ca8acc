"""The SLO windows built from recorded tiles against raw rate() on the Prometheus the chart deploys (3.x), over days of bursty traffic
written the way a client library exposes it (tools/rulebench/equivalence.py)."""

from __future__ import annotations

import pytest

from tests.engines.servers import require
from tools.detection import reference_service
from tools.rulebench.equivalence import POD_LIFETIME_S, compare, markdown


@pytest.fixture(autouse=True)
def _engines():
    """The comparison runs promtool and the server the cluster runs; missing, it fails (`make tools`)."""
    require("prometheus")
    require("promtool")


def test_every_tiled_window_equals_raw_rate_at_every_evaluation():
    """Two days of evaluations every minute after three days of history: the ratios are the same
    numbers, so no alert threshold can decide differently; and the run does cross thresholds."""
    reports = compare(reference_service(), days=5)
    print(markdown(reports))
    # The page's 2m, 5m and 10m windows are recorded as events too (raw, read once): they equal raw rate() as well.
    assert {(r.slo, r.window) for r in reports} == {
        (s, w) for s in ("availability", "latency") for w in ("2m", "5m", "10m", "30m", "1h", "2h", "6h", "1d", "3d")
    }
    for r in reports:
        assert r.points == 2 * 1440 - 120 + 1, r
        assert r.max_relative_difference < 1e-5, r  # scrape jitter of milliseconds, nothing more
        assert r.flips == 0, r
    assert all(r.crossings > 0 for r in reports if r.window in ("2h", "6h")), markdown(reports)


def test_tiles_that_do_not_share_their_boundary_samples_are_caught():
    """The planted defect: 30m tiles read over 30m instead of 30m plus a scrape interval, so the
    events between two tiles' samples are lost; the comparison sees it in every tiled window."""
    reports = compare(reference_service(), days=4, windows=("1h", "6h"), plant=lambda expr: expr.replace("[30m30s]", "[30m]"))
    print(markdown(reports))
    assert all(r.max_relative_difference > 1e-3 for r in reports), markdown(reports)
    assert sum(r.flips for r in reports) > 0, markdown(reports)


def test_with_pods_replaced_the_ratios_differ_only_around_pod_changes():
    """Pods replaced every 7h13m: each pod's series start and end inside tiles, where rate()
    extrapolates a partial series from the slope it sees in the tile, not in the whole window. The
    ratios then differ around a pod change (most when an incident coincides with it, up to a third
    of the smallest threshold over ten days, docs/rule-cost.md), at under 2% of the evaluations by
    over 1%, and a decision differs only at a crossing, never for more than two compared
    evaluations (a minute apart) in a row."""
    reports = compare(reference_service(), days=5, pod_lifetime_s=POD_LIFETIME_S)
    print(markdown(reports))
    for r in reports:
        assert r.max_threshold_share < 0.5, r
        assert r.within_1_percent > 0.98, r
        assert r.longest_flip <= 2, r
    assert all(r.max_relative_difference < 1e-6 for r in reports if r.window == "30m")  # the raw base itself
