"""Canary delivery as data: the Rollout strategy and the AnalysisTemplate that judges it.

No traffic is neither a pass nor a failure. Both conditions require a number: an empty result
(the canary has not been scraped yet) or NaN (0 requests / 0 requests) satisfies neither, so the
measurement is Inconclusive; past `inconclusiveLimit` the AnalysisRun is Inconclusive and Argo
Rollouts pauses the rollout for a human to promote or abort.
"""

from __future__ import annotations

import math
from typing import Any

from ..conventions import ANALYSIS_WINDOW, RECORD_ERROR_RATIO
from ..lib import promql as q
from .config import ServiceConfig

ARGS = ("namespace", "service", "canary-version")


def template_name(service: ServiceConfig) -> str:
    return f"{service.name}-canary"


CANARY = [q.eq("namespace", "{{args.namespace}}"), q.eq("service", "{{args.service}}"), q.eq("version", "{{args.canary-version}}")]


def conditions(threshold: float) -> tuple[str, str]:
    """(successCondition, failureCondition) for 'below `threshold` is healthy'."""
    known = "len(result) > 0 && !isNaN(result[0])"
    return f"{known} && result[0] < {threshold:g}", f"{known} && result[0] >= {threshold:g}"


def analysis_template_spec(service: ServiceConfig, prometheus_url: Any, sigv4_region: str | None = None) -> dict[str, Any]:
    """The canary's metrics; with `sigv4_region` the controller signs its queries with its IRSA
    role (an AMP workspace). The queries are the same text whichever backend answers them."""
    a = service.analysis
    provider: dict[str, Any] = {"address": prometheus_url}
    if sigv4_region:
        provider["authentication"] = {"sigv4": {"region": sigv4_region}}
    metrics = []
    # p95 from the canary's buckets, only while an analysis runs (no rule records it for every
    # version all the time); the error ratio is the recorded one, which the dashboard shows too.
    for name, query, threshold in (
        ("p95-latency", q.histogram_quantile(0.95, service.metrics.duration_metric, ANALYSIS_WINDOW, CANARY, []), a.latency_p95_seconds),
        ("error-ratio", q.selector(RECORD_ERROR_RATIO, CANARY), a.error_ratio),
    ):
        success, failure = conditions(threshold)
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
    """The AnalysisTemplate with this rollout's args, as steps and background analysis name it."""
    return {
        "templates": [{"templateName": template_name(service)}],
        "args": [
            {"name": "namespace", "value": service.namespace},
            {"name": "service", "value": service.name},
            {"name": "canary-version", "value": service.version},
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
