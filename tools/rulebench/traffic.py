"""Days of synthetic service traffic as OpenMetrics text, for `promtool tsdb create-blocks-from openmetrics`.

The shape is the service-contract package's: every (route, method, status, version) label set has
the request counter and the duration histogram with its 13 buckets, +Inf, _sum and _count (17
series), and the statuses the package pre-initialises (200, 400, 404, 500) exist from the first
scrape, as prometheus_client exposes them. Bucket bounds are written as Prometheus 3 stores them
(`le="1.0"`). Ten routes, four statuses and two versions make 80 label sets: 1,360 series a
service, scraped every 30s with a few milliseconds of jitter.

Every counter is a closed-form function of time (no state), so any time slice can be written on
its own and slices join into one continuous history. Traffic follows a daily cycle between 40% and
100% of a route's peak; 0.1% of requests fail and 0.12% are slower than 0.5s, except during
incidents, which raise either share for a while.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
from service_contract.contract import BUCKETS, PREINITIALISED_STATUSES

from components.lib import promql as q

VERSIONS = (("1.4.2", 0.9), ("1.5.0", 0.1))
STEP_S = 30
DAY_S = 86400
BASE_ERROR_SHARE = 0.001
CLIENT_ERROR_SHARE = 0.01  # each of 400 and 404
SLOW_LE = 2.5  # incidents' slow requests land above the 1.0 bucket
SERIES_PER_LABEL_SET = 1 + len(BUCKETS) + 3
LE_LABELS = (*(q.le(b) for b in BUCKETS), "+Inf")
# Share of requests at or under each bound outside incidents: half under ~60ms, 97.5% under 0.25s.
LE_SHARES = (*(1 - 0.5 * math.exp(-12 * b) for b in BUCKETS), 1.0)


@dataclass(frozen=True)
class Incident:
    start_s: int  # seconds after the history's origin
    length_s: int
    share: float  # of requests failing (or slow) while it lasts


@dataclass(frozen=True)
class Profile:
    routes: int
    errors: tuple[Incident, ...]
    slow: tuple[Incident, ...]
    # None: one pod for the whole history. Otherwise pods are replaced this often (a rollout or a
    # restart): each new pod's series start from its own zero under its own `pod` label, the old
    # pod's end, and half of its 5xx answers are a `status="503"` series that, not being
    # pre-initialised, the client library creates at the pod's first 503.
    pod_lifetime_s: int | None = None


def periodic(days: float, routes: int = 10) -> Profile:
    """The benchmark's traffic: a 10-minute 20% error burst every 7 hours, and 10 minutes of 30%
    slow requests between them."""
    span = int(days * DAY_S) + DAY_S
    return Profile(
        routes,
        tuple(Incident(s, 600, 0.2) for s in range(0, span, 7 * 3600)),
        tuple(Incident(s + 12600, 600, 0.3) for s in range(0, span, 7 * 3600)),
    )


def bursty(days: float, seed: int, routes: int = 2, pod_lifetime_s: int | None = None) -> Profile:
    """Incidents of every size at random (2 minutes to 6 hours, 1% to 100% of requests) in calm
    and stormy days: day-long ratios drift across every threshold the alerts compare them with,
    again and again, which is what an equivalence run needs to test."""
    rng = random.Random(seed)

    def incidents() -> tuple[Incident, ...]:
        found: list[Incident] = []
        for day in range(math.ceil(days)):
            at, storm = day * DAY_S + rng.randint(0, 3600), rng.choice([0.0, 0.5, 1.0, 2.0, 3.0])
            while storm and at < (day + 1) * DAY_S:
                length = rng.choice([120, 600, 1800, 3600, 3 * 3600, 6 * 3600])
                share = rng.choice([0.02, 0.03, 0.05, 0.1]) if length >= 3600 else rng.choice([0.1, 0.3, 1.0])
                found.append(Incident(at, length, share))
                at += length + int(rng.randint(2 * 3600, 12 * 3600) / storm)
        return tuple(found)

    return Profile(routes, incidents(), incidents(), pod_lifetime_s)


def series_per_service(profile: Profile) -> int:
    return profile.routes * len(PREINITIALISED_STATUSES) * len(VERSIONS) * SERIES_PER_LABEL_SET


def _requests(t: np.ndarray, peak: float) -> np.ndarray:
    """Requests since the origin: the integral of peak * (0.7 + 0.3 sin(2 pi t / day))."""
    return peak * (0.7 * t - 0.3 * DAY_S / (2 * math.pi) * (np.cos(2 * math.pi * t / DAY_S) - 1))


Cumulative = Callable[[np.ndarray], np.ndarray]


def _share_of(total: Cumulative, t: np.ndarray, base: float, incidents: tuple[Incident, ...]) -> np.ndarray:
    """Events since the origin that are `base` of `total`, or an incident's share while it lasts.
    Exact for any traffic shape, so a share of 1.0 is every request and no counter ever goes down."""
    events = base * total(t)
    for i in incidents:
        during = total(np.clip(t, i.start_s, i.start_s + i.length_s)) - total(np.array([float(i.start_s)]))
        events = events + (i.share - base) * during
    return events


def _lines(name: str, labels: str, stamps: list[str], values: np.ndarray) -> str:
    prefix = f"{name}{{{labels}}} "
    return "".join(f"{prefix}{v} {s}\n" for v, s in zip(values.tolist(), stamps, strict=True))


def _bucket(count: np.ndarray, slow: np.ndarray, bound: float, below: float) -> np.ndarray:
    """Requests at or under `bound` out of `count`, `slow` of which took 1 to 2.5 seconds."""
    if bound >= SLOW_LE:
        return count
    fast = count - slow
    return fast * below / LE_SHARES[BUCKETS.index(0.5)] if bound <= 0.5 else fast


BORN_STATUS = "503"  # the share of 5xx a pod answers as 503, a series that exists from its first one
BORN_SHARE = 0.5


def _pods(profile: Profile, service: str, origin_s: int, t: np.ndarray) -> Iterator[tuple[str, np.ndarray, float]]:
    """(extra labels, mask of `t` the pod serves, when it started, in seconds after the origin)."""
    tf = t - origin_s
    if profile.pod_lifetime_s is None:
        yield "", np.ones(len(t), dtype=bool), 0.0
        return
    life = profile.pod_lifetime_s
    for k in range(int(tf.min()) // life, int(tf.max()) // life + 1):
        yield f',pod="{service}-{k}"', (tf >= k * life) & (tf < (k + 1) * life), float(k * life)


def _by_status(profile: Profile, route: int, tf: np.ndarray, started: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """status -> (requests, slow requests) of one route at `tf`, counted since the pod started at
    `started`: a new pod's counters start from zero."""
    peak, zero = 2.0 + route, np.array([started])
    base_slow = 1 - LE_SHARES[BUCKETS.index(0.5)]

    def requests(x: np.ndarray) -> np.ndarray:
        return _requests(x, peak)

    def ok(x: np.ndarray) -> np.ndarray:
        served = (1 - 2 * CLIENT_ERROR_SHARE) * requests(x)
        return served - (1 - 2 * CLIENT_ERROR_SHARE) * _share_of(requests, x, BASE_ERROR_SHARE, profile.errors)

    total = requests(tf) - requests(zero)
    answered = ok(tf) - ok(zero)
    slow_ok = _share_of(ok, tf, base_slow, profile.slow) - _share_of(ok, zero, base_slow, profile.slow)
    errors = (1 - 2 * CLIENT_ERROR_SHARE) * total - answered
    born = profile.pod_lifetime_s is not None
    by_status = {
        "200": (answered, slow_ok),
        "400": (CLIENT_ERROR_SHARE * total, 0 * total),
        "404": (CLIENT_ERROR_SHARE * total, 0 * total),
        "500": ((1 - BORN_SHARE) * errors if born else errors, 0 * total),
    }
    if born:
        by_status[BORN_STATUS] = (BORN_SHARE * errors, 0 * total)
    return by_status


def _label_set(labels: str, stamps: list[str], events: np.ndarray, slow: np.ndarray, share: float, status: str) -> Iterator[str]:
    """The counter and the histogram of one label set, `share` of a route's `events`; one not
    pre-initialised exists from its first event on."""
    count = np.floor(share * events).astype(np.int64)
    first = 0 if status in PREINITIALISED_STATUSES else int(np.searchsorted(count, 1))
    at, count = stamps[first:], count[first:]
    if not at:
        return
    yield _lines("http_requests_total", labels, at, count)
    for bound, le, below in zip((*BUCKETS, math.inf), LE_LABELS, LE_SHARES, strict=True):
        bucket = np.floor(share * _bucket(events, slow, bound, below)[first:]).astype(np.int64)
        yield _lines("http_request_duration_seconds_bucket", f'{labels},le="{le}"', at, bucket)
    yield _lines("http_request_duration_seconds_count", labels, at, count)
    yield _lines("http_request_duration_seconds_sum", labels, at, np.round(count * 0.08, 3))


def service_text(namespace: str, service: str, profile: Profile, origin_s: int, start_s: int, end_s: int) -> Iterator[str]:
    """One service's series over [start_s, end_s), counting from origin_s (its pods' start), each
    series in time order as promtool needs. Slow requests are successful ones (status 200)."""
    t = np.arange(start_s + (-start_s) % STEP_S, end_s, STEP_S, dtype=np.int64)
    if len(t) == 0:
        return
    # Scrape jitter of 0-19 ms, the same for a timestamp in every slice that writes it.
    all_stamps = [f"{s}.{(s * 7919) % 20:03d}" for s in t.tolist()]
    for pod, mask, started in _pods(profile, service, origin_s, t):
        stamps = [s for s, keep in zip(all_stamps, mask.tolist(), strict=True) if keep]
        if not stamps:
            continue
        tf = (t[mask] - origin_s).astype(np.float64)
        for route in range(profile.routes):
            path, method = f"/api/v1/resource-{route}", ("GET", "POST")[route % 2]
            by_status = _by_status(profile, route, tf, started)
            for version, share in VERSIONS:
                for status, (events, slow) in by_status.items():
                    labels = f'namespace="{namespace}",service="{service}",method="{method}",path="{path}",status="{status}",version="{version}"{pod}'
                    yield from _label_set(labels, stamps, events, slow, share, status)


def write(out: IO[str], services: list[tuple[str, str]], profile: Profile, origin_s: int, start_s: int, end_s: int) -> None:
    for namespace, service in services:
        for chunk in service_text(namespace, service, profile, origin_s, start_s, end_s):
            out.write(chunk)
    out.write("# EOF\n")
