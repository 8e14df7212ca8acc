"""Canary analysis decisions: the AnalysisTemplate's queries on the rendered recording rules and the
canary's buckets, judged with Argo Rollouts' success/failure/inconclusive semantics."""

from __future__ import annotations

import math

import pytest

from tests import promtool
from tests.argo_expr import phase
from tests.services.support import rule_groups, service_stack

SERIES = 'namespace="orders", service="orders-api", method="GET", path="/v1/videos"'
# As prometheus_client (and Prometheus 3 on ingestion) write them: whole numbers as floats.
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1.0", "+Inf")


def _traffic(version: str, ok: int, errors: int, buckets: tuple[int, ...]) -> list[dict[str, str]]:
    """Counters growing by these amounts per minute (ok/5xx requests, cumulative bucket counts).

    As client libraries do, a `status="500"` series exists only once the version has failed.
    """
    labels = f'{SERIES}, version="{version}"'
    series = [{"series": f'http_requests_total{{{labels}, status="200"}}', "values": f"0+{ok}x20"}]
    if errors:
        series.append({"series": f'http_requests_total{{{labels}, status="500"}}', "values": f"0+{errors}x20"})
    series += [
        {"series": f'http_request_duration_seconds_bucket{{{labels}, status="200", le="{le}"}}', "values": f"0+{n}x20"}
        for le, n in zip(BUCKETS, buckets, strict=True)
    ]
    return series


# Stable (1.8.1) is deliberately bad: the canary's verdict must come from canary series only.
STABLE = _traffic("1.8.1", 300, 300, (0, 0, 0, 0, 0, 600))
CANARIES = {
    # name: (series, expected p95, expected 5xx ratio, p95 verdict, error verdict)
    "healthy": (_traffic("1.8.2", 600, 0, (0, 600, 600, 600, 600, 600)), 0.0975, 0.0, "Successful", "Successful"),
    "healthy-with-a-few-errors": (_traffic("1.8.2", 597, 3, (0, 600, 600, 600, 600, 600)), 0.0975, 0.005, "Successful", "Successful"),
    "slow": (_traffic("1.8.2", 600, 0, (0, 0, 0, 570, 600, 600)), 0.5, 0.0, "Failed", "Successful"),
    "erroring": (_traffic("1.8.2", 570, 30, (0, 600, 600, 600, 600, 600)), 0.0975, 0.05, "Successful", "Failed"),
    "idle": (_traffic("1.8.2", 0, 0, (0, 0, 0, 0, 0, 0)), math.nan, math.nan, "Inconclusive", "Inconclusive"),
}


def _argo_query(template: dict, metric: str) -> str:
    """The query as Argo sends it once the Rollout's args are substituted."""
    query = next(m for m in template["spec"]["metrics"] if m["name"] == metric)["provider"]["prometheus"]["query"]
    for arg, value in (("namespace", "orders"), ("service", "orders-api"), ("canary-version", "1.8.2")):
        query = query.replace(f"{{{{args.{arg}}}}}", value)
    return query


@pytest.mark.parametrize("canary", sorted(CANARIES))
def test_canary_analysis_decision(canary, prod):
    series, p95, ratio, p95_verdict, error_verdict = CANARIES[canary]
    template = service_stack(prod, "orders-api")["analysis"]
    queries = {"p95-latency": _argo_query(template, "p95-latency"), "error-ratio": _argo_query(template, "error-ratio")}
    checks = []
    for metric, value in (("p95-latency", p95), ("error-ratio", ratio)):
        query = queries[metric]
        if math.isnan(value):
            # promtool cannot compare NaN with NaN: prove "one sample, and it is NaN" instead.
            checks += [
                {"expr": f"count({query})", "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 1}]},
                {"expr": f"count({query} == {query})", "eval_time": "10m", "exp_samples": []},
            ]
        else:
            # A recorded series keeps its name and labels; the p95, computed from the buckets, has none.
            record = query.split("{")[0]
            labels = "{}" if "(" in record else f'{record}{{namespace="orders", service="orders-api", version="1.8.2"}}'
            checks.append({"expr": query, "eval_time": "10m", "exp_samples": [{"labels": labels, "value": value}]})
    tests = [{"interval": "1m", "input_series": STABLE + series, "promql_expr_test": checks}]
    proc = promtool.test_rules(rule_groups(prod, "orders-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # What Argo Rollouts then decides for each measurement.
    verdicts = {}
    for metric, value in (("p95-latency", p95), ("error-ratio", ratio)):
        spec = next(m for m in template["spec"]["metrics"] if m["name"] == metric)
        verdicts[metric] = phase(spec["successCondition"], spec["failureCondition"], [value])
    assert verdicts == {"p95-latency": p95_verdict, "error-ratio": error_verdict}


def test_canary_not_yet_scraped_is_inconclusive(prod):
    template = service_stack(prod, "orders-api")["analysis"]
    query = _argo_query(template, "error-ratio")
    proc = promtool.test_rules(
        rule_groups(prod, "orders-api"),
        [{"interval": "1m", "input_series": STABLE, "promql_expr_test": [{"expr": query, "eval_time": "10m", "exp_samples": []}]}],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = template["spec"]["metrics"][1]
    assert phase(spec["successCondition"], spec["failureCondition"], []) == "Inconclusive"


@pytest.mark.parametrize(
    ("replicas", "weight", "share"),
    [(1, 10, 0.5), (3, 10, 0.25), (10, 10, 0.1), (2, 50, 0.5), (4, 20, 0.2), (1, 100, 1.0)],
)
def test_real_traffic_share_follows_pod_counts(replicas, weight, share):
    from components.services.canary import real_share

    assert real_share(replicas, weight) == share


def test_real_shares_are_a_stack_output(prod):
    shares = prod.outputs["canaryTrafficShares"].value
    assert shares["orders-api"] == {"setWeight 10": 0.333, "setWeight 50": 0.5}  # 2 replicas
    assert shares["billing-api"] == {"setWeight 20": 0.333}


def test_prod_refuses_a_first_step_that_sends_half_the_traffic():
    from components.stack import ConfigError, load_stack_config
    from tests.stackfixtures import fixture_values, to_pulumi_config

    values = fixture_values("prod")
    values["services"][0]["replicas"] = 1
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(values))
    name = values["services"][0]["name"]
    assert err.value.issues == [
        "eks-observability:services[0].replicas: got 1; the first canary step (setWeight 10) really sends 50% of the traffic "
        "to the canary (traffic follows pod counts), over canary.maxFirstStepShare 0.45 (the prod default): run at least "
        "2 replicas (33%), or raise canary.maxFirstStepShare."
    ], name


@pytest.mark.parametrize(
    ("prod", "replicas", "limit", "refused"),
    [
        (False, 1, None, False),  # dev: no limit unless asked for (the preview warning still says 50%)
        (False, 2, 0.2, True),  # 33% over an explicit 20%
        (False, 3, 0.25, False),
        (True, 2, None, False),  # 33% is under the prod default
        (True, 1, 0.5, False),  # the operator accepted half
    ],
)
def test_first_step_share_limit(prod, replicas, limit, refused):
    from components.stack import ConfigError, load_stack_config
    from tests.stackfixtures import fixture_values, to_pulumi_config

    values = fixture_values(*(("prod",) if prod else ()))
    service = values["services"][0]
    service["replicas"] = replicas
    if limit is not None:
        service["canary"] = {**service.get("canary", {}), "maxFirstStepShare": limit}
    try:
        load_stack_config(*to_pulumi_config(values))
    except ConfigError as err:
        assert refused and all("canary.maxFirstStepShare" in issue for issue in err.issues), err.issues
    else:
        assert not refused
