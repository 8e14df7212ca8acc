"""Canary analysis decisions: the AnalysisTemplate's queries on the canary's own series (by pod
template hash), judged with Argo Rollouts' success/failure/inconclusive semantics."""

from __future__ import annotations

from typing import Any

import pytest

from components.services.canary import Sprt, error_test, latency_test
from tests import promtool
from tests.argo_expr import phase
from tests.services.support import rule_groups, service_stack
from tools.detection import reference_service

SERIES = 'namespace="orders", service="orders-api", method="GET", path="/v1/videos"'
# As prometheus_client (and Prometheus 3 on ingestion) write them: whole numbers as floats.
BUCKETS = ("0.05", "0.1", "0.25", "0.3", "0.5", "1.0", "+Inf")
CANARY_HASH, STABLE_HASH = "6d9f8c7b5", "5c8e7a6f4"


def _traffic(version: str, template: str, ok: int, errors: int, buckets: tuple[int, ...]) -> list[dict[str, str]]:
    """Counters growing by these amounts per minute (ok/5xx requests, cumulative bucket counts).

    As client libraries do, a `status="500"` series exists only once the pod has failed.
    """
    labels = f'{SERIES}, version="{version}", rollouts_pod_template_hash="{template}"'
    series = [{"series": f'http_requests_total{{{labels}, status="200"}}', "values": f"0+{ok}x20"}]
    if errors:
        series.append({"series": f'http_requests_total{{{labels}, status="500"}}', "values": f"0+{errors}x20"})
    series += [
        {"series": f'http_request_duration_seconds_bucket{{{labels}, status="200", le="{le}"}}', "values": f"0+{n}x20"}
        for le, n in zip(BUCKETS, buckets, strict=True)
    ]
    series.append({"series": f'http_request_duration_seconds_count{{{labels}, status="200"}}', "values": f"0+{buckets[-1]}x20"})
    return series


FAST = (0, 60, 60, 60, 60, 60, 60)
# Stable (1.8.1) is deliberately bad: the canary's verdict must come from canary series only.
STABLE = _traffic("1.8.1", STABLE_HASH, 30, 30, (0, 0, 0, 0, 0, 0, 60))
CANARIES = {
    # name: (series, (requests, bad) after 10 minutes for p95 and 5xx, p95 verdict, error verdict)
    "healthy": (_traffic("1.8.2", CANARY_HASH, 60, 0, FAST), ((600, 0), (600, 0)), "Successful", "Successful"),
    # 0.5% 5xx, the SLO itself: a few errors are no evidence.
    "at-the-slo": (_traffic("1.8.2", CANARY_HASH, 199, 1, (0, 200, 200, 200, 200, 200, 200)), ((2000, 0), (2000, 10)), "Successful", "Successful"),
    # 3 requests a minute, one of them failed once: one bad request among 30 aborted rollouts before.
    "one-bad-request-at-low-traffic": (_traffic("1.8.2", CANARY_HASH, 3, 0, (0, 3, 3, 3, 3, 3, 3)), ((30, 0), (30, 0)), "Successful", "Successful"),
    "slow": (_traffic("1.8.2", CANARY_HASH, 60, 0, (0, 0, 0, 57, 60, 60, 60)), ((600, 30), (600, 0)), "Failed", "Successful"),
    "erroring": (_traffic("1.8.2", CANARY_HASH, 57, 3, FAST), ((600, 0), (600, 30)), "Successful", "Failed"),
    # A pod change without a version bump: same version label as stable, its own template hash.
    "same-version-failing-15%": (_traffic("1.8.1", CANARY_HASH, 51, 9, FAST), ((600, 0), (600, 90)), "Successful", "Failed"),
    "idle": (_traffic("1.8.2", CANARY_HASH, 0, 0, (0, 0, 0, 0, 0, 0, 0)), None, "Inconclusive", "Inconclusive"),
}


def _argo_query(template: dict, metric: str) -> str:
    """The query as Argo sends it once the Rollout's args are substituted (the hash from podTemplateHashValue)."""
    query = next(m for m in template["spec"]["metrics"] if m["name"] == metric)["provider"]["prometheus"]["query"]
    for arg, value in (("namespace", "orders"), ("service", "orders-api"), ("canary-hash", CANARY_HASH)):
        query = query.replace(f"{{{{args.{arg}}}}}", value)
    return query


def _llr(test: Sprt, n: int, k: int) -> float:
    """The log-likelihood ratio as the query computes it, with the coefficients it prints."""
    return k * float(f"{test.bad - test.good:.9g}") + n * float(f"{test.good:.9g}")


@pytest.mark.parametrize("canary", sorted(CANARIES))
def test_canary_analysis_decision(canary, prod):
    series, counts, p95_verdict, error_verdict = CANARIES[canary]
    template = service_stack(prod, "orders-api")["analysis"]
    service = reference_service()
    tests = {"p95-latency": latency_test(service), "error-ratio": error_test(service)}
    values: dict[str, list[float]] = {}
    checks: list[dict[str, Any]] = []
    for index, metric in enumerate(("p95-latency", "error-ratio")):
        query = _argo_query(template, metric)
        if counts is None:
            values[metric] = []
            checks.append({"expr": query, "eval_time": "10m", "exp_samples": []})
        else:
            values[metric] = [_llr(tests[metric], *counts[index])]
            checks.append({"expr": query, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": values[metric][0]}]})
    proc = promtool.test_rules(rule_groups(prod, "orders-api"), [{"interval": "1m", "input_series": STABLE + series, "promql_expr_test": checks}])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # What Argo Rollouts then decides for each measurement.
    verdicts = {}
    for metric in ("p95-latency", "error-ratio"):
        spec = next(m for m in template["spec"]["metrics"] if m["name"] == metric)
        verdicts[metric] = phase(spec["successCondition"], spec["failureCondition"], values[metric])
    assert verdicts == {"p95-latency": p95_verdict, "error-ratio": error_verdict}


def test_the_rollout_names_the_canary_by_its_pod_template(prod):
    """The hash comes from Argo (podTemplateHashValue: Latest) and the ServiceMonitor copies the pod's label."""
    stack = service_stack(prod, "orders-api")
    args = [a for step in stack["rollout"]["spec"]["strategy"]["canary"]["steps"] if "analysis" in step for a in step["analysis"]["args"]]
    assert {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}} in args
    (endpoint,) = stack["servicemonitor"]["spec"]["endpoints"]
    assert {
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"],
        "regex": "(.+)",
        "targetLabel": "rollouts_pod_template_hash",
    } in endpoint["relabelings"]


def test_canary_decision_bounds_false_aborts_and_the_old_one_did_not():
    """The simulation (tools/canarybench.py), small: a canary as good as the SLO is aborted in at most
    1% of rollouts at 0.2 and 1 request/s; the old ratio-over-2m decision aborted far more (planted)."""
    from tools.canarybench import canaries, simulate

    service = reference_service()
    good, errors, slow = canaries(service)
    for rps in (0.2, 1.0):
        assert simulate(service, good, rps, "sprt", 4000).aborted <= 0.01
    assert simulate(service, good, 0.2, "ratio", 4000).aborted > 0.05
    # A bad canary still fails: within two intervals at 5 requests/s, during the rollout at 1.
    assert simulate(service, errors, 5.0, "sprt", 2000).aborted_early >= 0.99
    assert simulate(service, slow, 1.0, "sprt", 2000).aborted_early >= 0.99
    assert simulate(service, errors, 1.0, "sprt", 2000).aborted >= 0.99


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
        "eks-observability:services[0] (orders-api).replicas: got 1; the first canary step (setWeight 10) really sends 50% of the traffic "
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


def test_the_platform_knows_the_package_buckets():
    """slo.latencySeconds and analysis.latencyP95Seconds are checked against these bounds."""
    from service_contract.contract import BUCKETS

    from components.conventions import DEFAULT_BUCKETS

    assert DEFAULT_BUCKETS == BUCKETS


def test_one_warning_lists_every_service_whose_first_step_is_heavy():
    """One line for the whole stack, not one per service (a render of nine services printed nine)."""
    from components.services.canary import first_step_warning
    from components.services.config import ServiceConfig

    def service(name: str, replicas: int, first: int) -> ServiceConfig:
        steps = [{"setWeight": first}, {"pause": "1m"}, {"setWeight": 100}]
        return ServiceConfig.model_validate(
            {"name": name, "namespace": name, "port": 8080, "image": "r.example.com/a:1.0.0", "version": "1.0.0", "replicas": replicas,
             "canary": {"steps": steps}}
        )  # fmt: skip

    services = [service("solo-api", 1, 10), service("fine-api", 9, 10), service("pair-api", 2, 10)]
    assert first_step_warning(services) == (
        "The first canary step of 2 services really sends at least twice its weight: solo-api (setWeight 10 sends 50% with 1 "
        "replica), pair-api (setWeight 10 sends 33% with 2 replicas). Without a traffic router, traffic follows pod counts: add replicas "
        "or start with a larger weight (stack output canaryTrafficShares has every step)."
    )
    assert first_step_warning([services[1]]) is None
