"""Canary delivery as data: the Rollout strategy and the AnalysisTemplate that judges it.

The canary is the pods of the pod template Argo Rollouts is rolling out, told apart by the
`rollouts-pod-template-hash` it gives them (the ServiceMonitor copies it to every series), never by
the `version` label: a pod change without a version bump is still a canary of its own.

Each metric is a sequential probability ratio test (Wald's SPRT) on the canary's counts since its
pods started: is it as good as the SLO (p0), or as bad as the analysis threshold (p1)? The query
returns the log-likelihood ratio of the two; the measurement fails once it crosses
ln((1 - MISSED) / FALSE_ABORT), which bounds the share of canaries that are as good as the SLO and
still aborted by FALSE_ABORT per metric, however many measurements look at the growing counts.
One bad request among three is not evidence: the ratio needs several. Below `minRequests` the query
returns nothing, so the measurement is Inconclusive (neither condition holds on an empty result);
past `inconclusiveLimit` the AnalysisRun is Inconclusive and Argo Rollouts pauses the rollout for a
human. Too little traffic is never a failure. tools/canarybench.py measures both rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..lib import promql as q
from .config import ServiceConfig

ARGS = ("namespace", "service", "canary-hash")
HASH_LABEL = "rollouts_pod_template_hash"
CANARY = [q.eq("namespace", "{{args.namespace}}"), q.eq("service", "{{args.service}}"), q.eq(HASH_LABEL, "{{args.canary-hash}}")]
# Per metric; the two metrics together abort at most 1% of canaries that are as good as the SLO.
FALSE_ABORT = 0.005
MISSED = 0.05
# Counts since the canary's pods started, as long as an analysis looks at them: each series' highest
# value in the window (counters only grow; a canary pod's start from zero).
EVIDENCE_WINDOW = "1h"
# The p95 check: "bad" is 5% of requests slower than the bound (the p95 at the bound).
P95_SHARE = 0.05


def template_name(service: ServiceConfig) -> str:
    return f"{service.name}-canary"


@dataclass(frozen=True)
class Sprt:
    """log-likelihood ratio of n requests with k bad ones: k * bad + (n - k) * good."""

    p0: float  # bad share of a canary as good as the SLO
    p1: float  # bad share at the analysis threshold

    @property
    def bad(self) -> float:
        return math.log(self.p1 / self.p0)

    @property
    def good(self) -> float:
        return math.log((1 - self.p1) / (1 - self.p0))

    @property
    def limit(self) -> float:
        return math.log((1 - MISSED) / FALSE_ABORT)

    def llr(self, n: Any, k: Any) -> Any:
        """For numbers, or numpy arrays of them (tools/canarybench simulates many rollouts at once)."""
        return k * self.bad + (n - k) * self.good


def error_test(service: ServiceConfig) -> Sprt:
    """5xx share: the SLO's (at most half the threshold, so the two stay apart) against the analysis threshold."""
    p1 = service.analysis.error_ratio
    return Sprt(min(1 - service.slo.availability, p1 / 2), p1)


def latency_test(service: ServiceConfig) -> Sprt:
    """Share slower than latencyP95Seconds: the SLO's share of slow requests (at most half of 5%) against 5%."""
    return Sprt(min(1 - service.slo.latency_target, P95_SHARE / 2), P95_SHARE)


def _total(series: str) -> str:
    return q.sum_by(f"max_over_time({series}[{EVIDENCE_WINDOW}])")


def _evidence(test: Sprt, requests: str, bad: str, min_requests: int) -> str:
    """The log-likelihood ratio, only with at least `min_requests` requests (else nothing: Inconclusive)."""
    return f"(\n{bad} * {test.bad - test.good:.9g}\n+ {requests} * {test.good:.9g}\n)\nand on ()\n{requests} >= {min_requests}"


def conditions(limit: float) -> tuple[str, str]:
    """(successCondition, failureCondition): fail at the SPRT limit, pass below it."""
    known = "len(result) > 0 && !isNaN(result[0])"
    return f"{known} && result[0] < {limit:.6g}", f"{known} && result[0] >= {limit:.6g}"


def analysis_queries(service: ServiceConfig) -> dict[str, tuple[str, Sprt]]:
    """metric name -> (PromQL returning its log-likelihood ratio, the test)."""
    c, a = service.metrics, service.analysis
    requests = _total(q.selector(c.requests_metric, CANARY))
    errors = f"({_total(q.selector(c.requests_metric, [*CANARY, q.match('status', '5..')]))} or vector(0))"
    timed = _total(q.selector(f"{c.duration_metric}_count", CANARY))
    fast = _total(q.selector(f"{c.duration_metric}_bucket", [*CANARY, q.eq("le", q.le(a.latency_p95_seconds))]))
    return {
        "p95-latency": (_evidence(latency_test(service), timed, f"({timed} - {fast})", a.min_requests), latency_test(service)),
        "error-ratio": (_evidence(error_test(service), requests, errors, a.min_requests), error_test(service)),
    }


def analysis_template_spec(service: ServiceConfig, prometheus_url: Any, sigv4_region: str | None = None) -> dict[str, Any]:
    """The canary's metrics; with `sigv4_region` the controller signs its queries with its IRSA
    role (an AMP workspace). The queries are the same text whichever backend answers them, and are
    computed only while an analysis runs (no rule records them for every version all the time)."""
    a = service.analysis
    provider: dict[str, Any] = {"address": prometheus_url}
    if sigv4_region:
        provider["authentication"] = {"sigv4": {"region": sigv4_region}}
    metrics = []
    for name, (query, test) in analysis_queries(service).items():
        success, failure = conditions(test.limit)
        metrics.append(
            {
                "name": name,
                "interval": a.interval,
                "count": a.count,
                "failureLimit": a.failure_limit,
                "inconclusiveLimit": a.inconclusive_limit,
                "successCondition": success,
                "failureCondition": failure,
                "provider": {"prometheus": {**provider, "query": query}},
            }
        )
    return {"args": [{"name": arg} for arg in ARGS], "metrics": metrics}


def analysis_ref(service: ServiceConfig) -> dict[str, Any]:
    """The AnalysisTemplate with this rollout's args, as steps and background analysis name it: the
    canary is whatever pod template Argo is rolling out (its hash), whatever its version label says."""
    return {
        "templates": [{"templateName": template_name(service)}],
        "args": [
            {"name": "namespace", "value": service.namespace},
            {"name": "service", "value": service.name},
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        ],
    }


def background_analysis(service: ServiceConfig) -> dict[str, Any] | None:
    """Analysis running beside the steps from the first one (`analysis.background`), or None."""
    return {**analysis_ref(service), "startingStep": 1} if service.analysis.background else None


def real_share(replicas: int, weight: int) -> float:
    """The share of traffic a canary really gets at `setWeight: weight` without a traffic router.

    Traffic follows pods: Argo Rollouts picks canary and stable pod counts whose ratio comes closest
    to the weight within replicas plus the default 25% surge, with at least one canary pod. So
    `setWeight: 10` is 50% of the traffic with 1 replica, 25% with 3, 10% with 10.
    """
    if weight >= 100:
        return 1.0
    total = replicas + math.ceil(replicas * 0.25)
    best = min(
        ((c, s) for c in range(1, total) for s in range(1, total - c + 1)),
        key=lambda cs: (abs(cs[0] / (cs[0] + cs[1]) - weight / 100), -(cs[0] + cs[1])),
    )
    return best[0] / (best[0] + best[1])


def real_shares(service: ServiceConfig) -> dict[int, float]:
    """setWeight -> the share of traffic the canary really gets, for each weight step."""
    return {s.set_weight: round(real_share(service.replicas, s.set_weight), 3) for s in service.canary.steps if s.set_weight is not None}


def first_step_warning(services: list[ServiceConfig]) -> str | None:
    """One warning for every service whose first canary step really sends at least twice its
    weight (traffic follows pod counts without a traffic router), or None."""
    heavy = []
    for service in services:
        shares = real_shares(service)
        first = min(shares) if shares else None
        if first is not None and shares[first] >= 2 * first / 100:
            heavy.append(f"{service.name} (setWeight {first} sends {shares[first]:.0%} with {service.replicas} replica{'' if service.replicas == 1 else 's'})")
    if not heavy:
        return None
    return (
        f"The first canary step of {len(heavy)} service{'s' if len(heavy) > 1 else ''} really sends at least twice its weight: "
        f"{', '.join(heavy)}. Without a traffic router, traffic follows pod counts: add replicas or start with a larger weight "
        "(stack output canaryTrafficShares has every step)."
    )


def canary_steps(service: ServiceConfig) -> list[dict[str, Any]]:
    analysis = analysis_ref(service)
    steps: list[dict[str, Any]] = []
    for step in service.canary.steps:
        if step.set_weight is not None:
            steps.append({"setWeight": step.set_weight})
        elif step.pause is not None:
            steps.append({"pause": {"duration": step.pause}})
        else:
            steps.append({"analysis": analysis})
    return steps
