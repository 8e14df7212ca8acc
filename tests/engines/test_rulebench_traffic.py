"""The benchmark's synthetic traffic is what a client library would expose: the contract's series,
counters that never go down (within a slice or across two), cumulative buckets, `le` as Prometheus 3
stores it."""

from __future__ import annotations

import io
from collections import defaultdict

from tools.rulebench import traffic


def _series(text: str) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in text.splitlines():
        if line == "# EOF":
            continue
        name, value, stamp = line.rsplit(" ", 2)
        found[name].append((float(stamp), float(value)))
    return found


def _write(profile: traffic.Profile, start: int, end: int) -> str:
    out = io.StringIO()
    traffic.write(out, [("bench", "svc-0000")], profile, 0, start, end)
    return out.getvalue()


def test_the_shape_is_the_contracts():
    profile = traffic.periodic(1)
    series = _series(_write(profile, 0, 600))
    assert len(series) == traffic.series_per_service(profile) == 1360
    assert any('status="500"' in name for name in series)  # pre-initialised, from the first scrape
    assert any('le="1.0"' in name for name in series) and not any('le="1"' in name for name in series)
    assert {len(points) for points in series.values()} == {20}


def test_counters_never_go_down_across_slices_and_buckets_are_cumulative():
    profile = traffic.bursty(1, seed=3)
    joined: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for start in range(0, 4 * 7200, 7200):
        for name, points in _series(_write(profile, start, start + 7200)).items():
            joined[name] += points
    for name, points in joined.items():
        values = [v for _, v in sorted(points)]
        assert all(b >= a for a, b in zip(values, values[1:], strict=False)), name
    last = {name: points[-1][1] for name, points in joined.items()}
    labels = 'method="GET",path="/api/v1/resource-0",status="200",version="1.4.2"'
    prefix = f'http_request_duration_seconds_bucket{{namespace="bench",service="svc-0000",{labels},le='
    buckets = [last[f'{prefix}"{le}"}}'] for le in traffic.LE_LABELS]
    assert (
        buckets == sorted(buckets)
        and buckets[-1] == last[f'http_request_duration_seconds_count{{namespace="bench",service="svc-0000",{labels}}}']
    )
    errors = [v for _, v in sorted(joined[f'http_requests_total{{namespace="bench",service="svc-0000",{labels.replace("200", "500")}}}'])]
    assert errors[-1] > errors[0]  # incidents happened


def test_the_live_exporter_serves_the_backfilled_shape():
    """`rulebench live` scrapes what `measure` backfills: the same series names and label sets per
    service (values differ), cumulative buckets, the +Inf bucket equal to the count."""
    from tools.rulebench import live

    backfilled = set(_series(_write(traffic.periodic(1), 0, 600)))
    served = dict(line.rsplit(" ", 1) for line in live.exposition(1, 3600.0).splitlines())
    assert set(served) == backfilled and len(served) == 1360
    prefix = 'namespace="bench",service="svc-0000",method="GET",path="/api/v1/resource-0",status="200",version="1.4.2"'
    buckets = [float(served[f'http_request_duration_seconds_bucket{{{prefix},le="{le}"}}']) for le in traffic.LE_LABELS]
    assert buckets == sorted(buckets) and buckets[-1] == float(served[f"http_request_duration_seconds_count{{{prefix}}}"]) > 0
