"""The SLO windows built from recorded tiles against raw rate() on Debian's Prometheus, over days of bursty traffic
written the way a client library exposes it (tools/rulebench/equivalence.py)."""

from __future__ import annotations

import shutil

import pytest

from tools.detection import reference_service
from tools.rulebench.equivalence import compare, markdown

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="`make tools` installs Debian's prometheus")


def test_every_tiled_window_equals_raw_rate_at_every_evaluation():
    """Two days of evaluations every minute after three days of history: the ratios are the same
    numbers, so no alert threshold can decide differently; and the run does cross thresholds."""
    reports = compare(reference_service(), days=5)
    print(markdown(reports))
    assert {(r.slo, r.window) for r in reports} == {
        (s, w) for s in ("availability", "latency") for w in ("30m", "1h", "2h", "6h", "1d", "3d")
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
